/*
 * rtb_play: receive RTP streams with librtbridge and play them through
 * this program's own PortAudio callback
 *
 * An example of the public API (rtbridge/rtbridge.h), built against the
 * installed package with pkg-config only:
 *
 *   cc -o rtb_play rtb_play.c \
 *      $(pkg-config --cflags --libs rtbridge portaudio-2.0) -lpthread
 *
 * The engine runs on an external clock: the PortAudio callback calls
 * rtb_engine_process, which mixes every stream the receiver took. With
 * --no-play a thread of this program plays that part instead, at the
 * audio rate, and the sound goes nowhere (headless machines, tests). The
 * main thread is the control thread: it waits in rtb_engine_run, where the
 * receiver's callbacks say when a stream comes, how it fares, and when it
 * goes.
 *
 *   rtb_play [--listen ADDR:PORT] [--codec opus|l16|l24] [--channels N]
 *            [--latency MS] [--duration S] [--no-play]
 *            [--expect-streams N]
 *
 * Exit status: 0; 1 on an error, or when --expect-streams N was given
 * and fewer than N streams played sound; 2 on bad usage.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <portaudio.h>
#include <rtbridge/rtbridge.h>

#define RATE     48000
#define CHANNELS 2
#define PERIOD   480 /* frames per callback: 10 ms */

struct play {
	struct rtb_engine *engine;
	_Atomic int peak_milli; /* output peak x 1000, audio -> control */
	_Atomic int stop_clock; /* --no-play: control -> clock thread */
	int added, removed, loud;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* The audio side, whoever calls it: mix, and note the peak. Real-time
   safe: no allocation, lock or system call. */
static void play_period(struct play *p, float *out, unsigned long frames)
{
	float peak = 0;

	rtb_engine_process(p->engine, out, frames);
	for (unsigned long i = 0; i < frames * CHANNELS; i++) {
		float v = out[i] < 0 ? -out[i] : out[i];
		peak = v > peak ? v : peak;
	}
	int milli = (int)(peak * 1000.0f);
	if (milli > atomic_load_explicit(&p->peak_milli, memory_order_relaxed))
		atomic_store_explicit(&p->peak_milli, milli,
		                      memory_order_relaxed);
}

/* PortAudio's callback: this program's audio thread. */
static int pa_callback(const void *in, void *out, unsigned long frames,
                       const PaStreamCallbackTimeInfo *ti,
                       PaStreamCallbackFlags flags, void *user)
{
	(void)in;
	(void)ti;
	(void)flags;
	play_period(user, out, frames);
	return paContinue;
}

/* --no-play: the audio thread without a device, one period every 10 ms
   on the monotonic clock. */
static void *clock_thread(void *arg)
{
	struct play *p = arg;
	static float out[PERIOD * CHANNELS];
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	while (!atomic_load_explicit(&p->stop_clock, memory_order_relaxed)) {
		play_period(p, out, PERIOD);
		t.tv_nsec += 1000000000L / (RATE / PERIOD);
		if (t.tv_nsec >= 1000000000L) {
			t.tv_nsec -= 1000000000L;
			t.tv_sec++;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t,
		                       NULL) == EINTR)
			;
	}
	return NULL;
}

static void on_added(void *arg, struct rtb_receiver *r,
                     const struct rtb_stream_info *s)
{
	struct play *p = arg;
	(void)r;
	p->added++;
	printf("stream %08x from %s: playing\n", (unsigned)s->ssrc, s->from);
	fflush(stdout);
}

static void on_removed(void *arg, struct rtb_receiver *r,
                       const struct rtb_stream_info *s,
                       const struct rtb_stream_stats *st)
{
	struct play *p = arg;
	(void)r;
	p->removed++;
	printf("stream %08x from %s: gone after %llu packets, %llu lost, "
	       "%llu late\n",
	       (unsigned)s->ssrc, s->from, (unsigned long long)st->received,
	       (unsigned long long)st->lost, (unsigned long long)st->late);
	fflush(stdout);
}

static void on_stats(void *arg, struct rtb_receiver *r,
                     const struct rtb_stream_info *s,
                     const struct rtb_stream_stats *st)
{
	struct play *p = arg;
	(void)r;
	int milli = atomic_exchange_explicit(&p->peak_milli, 0,
	                                     memory_order_relaxed);
	if (milli >= 10)
		p->loud = 1; /* some sound played (above -40 dBFS) */
	printf("stream %08x: received %llu lost %llu late %llu "
	       "buffer %.1f ms (target %.1f) jitter %.2f ms peak %.3f\n",
	       (unsigned)s->ssrc, (unsigned long long)st->received,
	       (unsigned long long)st->lost, (unsigned long long)st->late,
	       st->buffer_ms, st->target_ms, st->jitter_ms, milli / 1000.0);
	fflush(stdout);
}

static enum rtb_codec codec_of(const char *name)
{
	if (strcmp(name, "opus") == 0)
		return RTB_CODEC_OPUS;
	if (strcmp(name, "l16") == 0)
		return RTB_CODEC_L16;
	if (strcmp(name, "l24") == 0)
		return RTB_CODEC_L24;
	return (enum rtb_codec)0;
}

static int usage(void)
{
	fprintf(stderr,
	        "usage: rtb_play [--listen ADDR:PORT] [--codec opus|l16|l24] "
	        "[--channels N]\n"
	        "                [--latency MS] [--duration S] [--no-play] "
	        "[--expect-streams N]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static struct play p;
	struct rtb_receiver_config rc = {
	        .listen = "0.0.0.0:5004",
	        .codec = RTB_CODEC_OPUS,
	        .on_added = on_added,
	        .on_removed = on_removed,
	        .on_stats = on_stats,
	        .arg = &p,
	};
	struct rtb_engine_config ec = {.clock = RTB_CLOCK_EXTERNAL,
	                               .rate = RATE,
	                               .channels = CHANNELS};
	struct rtb_receiver *r = NULL;
	double duration = 0;
	int play = 1, expect = 0, status = 1;
	char why[256];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--no-play") == 0) {
			play = 0;
			continue;
		}
		if (!v)
			return usage();
		i++;
		if (strcmp(a, "--listen") == 0)
			rc.listen = v;
		else if (strcmp(a, "--codec") == 0 && codec_of(v))
			rc.codec = codec_of(v);
		else if (strcmp(a, "--channels") == 0)
			rc.channels = atoi(v);
		else if (strcmp(a, "--latency") == 0)
			rc.latency_ms = (unsigned)atoi(v);
		else if (strcmp(a, "--duration") == 0)
			duration = atof(v);
		else if (strcmp(a, "--expect-streams") == 0)
			expect = atoi(v);
		else
			return usage();
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	printf("rtb_play: librtbridge %s\n", rtb_version());
	if (rtb_engine_create(&ec, &p.engine, why, sizeof(why)) < 0 ||
	    rtb_engine_start(p.engine) < 0) {
		fprintf(stderr, "rtb_play: %s\n",
		        p.engine ? rtb_engine_error(p.engine) : why);
		goto out;
	}
	if (rtb_receiver_create(p.engine, &rc, &r, why, sizeof(why)) < 0) {
		fprintf(stderr, "rtb_play: %s\n", why);
		goto out;
	}
	printf("rtb_play: listening on port %u\n", rtb_receiver_port(r));
	fflush(stdout);

	PaStream *pa = NULL;
	pthread_t clock;
	int clock_running = 0;
	if (play) {
		PaError err = Pa_Initialize();
		if (err == paNoError)
			err = Pa_OpenDefaultStream(&pa, 0, CHANNELS, paFloat32,
			                           RATE, PERIOD, pa_callback,
			                           &p);
		if (err == paNoError)
			err = Pa_StartStream(pa);
		if (err != paNoError) {
			fprintf(stderr, "rtb_play: PortAudio: %s\n",
			        Pa_GetErrorText(err));
			goto out_pa;
		}
	} else if (pthread_create(&clock, NULL, clock_thread, &p) == 0) {
		clock_running = 1;
	} else {
		fprintf(stderr, "rtb_play: cannot start the clock thread\n");
		goto out_pa;
	}

	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (rtb_engine_run(p.engine, 100) < 0)
			fprintf(stderr, "rtb_play: %s\n",
			        rtb_engine_error(p.engine));
		clock_gettime(CLOCK_MONOTONIC, &now);
		double el = (double)(now.tv_sec - t0.tv_sec) +
		            (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
		if (stop_requested || (duration > 0 && el >= duration))
			break;
	}
	/* The streams leave while the audio side still plays them out. */
	rtb_receiver_destroy(r);
	r = NULL;
	status = expect > 0 && (p.added < expect || !p.loud) ? 1 : 0;
	printf("rtb_play: streams played %d, gone %d, sound %s\n", p.added,
	       p.removed, p.loud ? "yes" : "no");
out_pa:
	if (pa) {
		Pa_StopStream(pa);
		Pa_CloseStream(pa);
	}
	if (play)
		Pa_Terminate();
	if (clock_running) {
		atomic_store_explicit(&p.stop_clock, 1, memory_order_relaxed);
		pthread_join(clock, NULL);
	}
out:
	rtb_receiver_destroy(r); /* NULL: nothing */
	if (p.engine) {
		if (rtb_engine_stop(p.engine) < 0)
			fprintf(stderr, "rtb_play: %s\n",
			        rtb_engine_error(p.engine));
		rtb_engine_destroy(p.engine);
	}
	return status;
}
