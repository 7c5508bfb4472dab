/*
 * test_engine: the engine under play, recv and send --capture, driven
 * through its API
 *
 * Without a device (ENGINE_EXTERNAL) the test thread is the audio thread:
 * it calls engine_process as an application's own audio callback would,
 * under the real-time checker, and the recording of the mix of two
 * archive files is their exact sum (16-bit integer noise, 24-bit file),
 * ending when the longer one ends. With the virtual clock and idle_pause
 * the clock sleeps while nothing is linked and runs while something is.
 * engine_wake from another thread makes engine_fd readable. The virtual
 * clock's groups wait (devcfg.ready) for what the net thread plans: the
 * timed read before their look, or, reading at each arrival, an empty
 * socket queue. A missing
 * archive and an unwritable recording are refused by engine_open with a
 * line naming the file.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bridge/app/engine.h"
#include "bridge/audio/memsource.h"
#include "tests/rtcheck_assert.h"

#define CH   2
#define RATE 48000

static char tmpdir[128];

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rtb_engine_XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	(void)!system(cmd);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Sample k, channel c of file `seed`: an integer in [-12000, 12000]. */
static int sig(unsigned seed, long k, unsigned c)
{
	uint64_t x = (uint64_t)seed * 0x9e3779b97f4a7c15ull ^
	             (uint64_t)(k * CH + c) * 0xbf58476d1ce4e5b9ull;
	x ^= x >> 29;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 32;
	return (int)(x % 24001u) - 12000;
}

static void write_wav(const char *path, unsigned seed, long frames)
{
	SF_INFO info = {.samplerate = RATE,
	                .channels = CH,
	                .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	cr_assert_not_null(sf, "%s", sf_strerror(NULL));
	for (long k = 0; k < frames; k++) {
		short s[CH];
		for (unsigned c = 0; c < CH; c++)
			s[c] = (short)sig(seed, k, c);
		cr_assert_eq(sf_writef_short(sf, s, 1), 1);
	}
	sf_close(sf);
}

TestSuite(engine, .init = setup, .fini = teardown, .timeout = 60);

Test(engine, external_clock_records_the_exact_mix_of_two_archives)
{
	static struct engine e;
	char a[160], b[160], mix[160];
	const long len[2] = {30001, 20000};
	snprintf(a, sizeof(a), "%s/a.wav", tmpdir);
	snprintf(b, sizeof(b), "%s/b.wav", tmpdir);
	snprintf(mix, sizeof(mix), "%s/mix.wav", tmpdir);
	write_wav(a, 1, len[0]);
	write_wav(b, 2, len[1]);
	const char *files[] = {a, b};
	struct engine_config c = {
	        .clock = ENGINE_EXTERNAL,
	        .archives = files,
	        .narchives = 2,
	        .end_with_archives = true,
	        .record = mix,
	};
	RTCHECK_INIT();
	cr_assert_eq(engine_open(&e, &c), 0, "%s", engine_error(&e));
	cr_assert_eq(engine_start(&e), 0, "%s", engine_error(&e));
	float out[256 * CH];
	long frames = 0;
	int ended = 0;
	RTCHECK_RESET();
	for (int i = 0; i < 1000 && !ended; i++) {
		rthook_rt_enter();
		ended = engine_process(&e, NULL, out, 256);
		rthook_rt_leave();
		frames += 256;
		if (i % 8 == 0)
			(void)engine_poll(&e);
	}
	RTCHECK_ASSERT_ZERO();
	cr_assert_eq(ended, 1, "the archives never ended");
	cr_assert_geq(frames, len[0]);
	cr_assert_eq(engine_stop(&e), 0, "%s", engine_error(&e));
	cr_assert_eq(e.rec_rc, 0, "%s", disktap_error(&e.rec));
	engine_clear(&e);

	SF_INFO info = {0};
	SNDFILE *sf = sf_open(mix, SFM_READ, &info);
	cr_assert_not_null(sf, "%s", sf_strerror(NULL));
	cr_assert_eq(info.frames, frames);
	float x[CH];
	for (long k = 0; k < info.frames; k++) {
		cr_assert_eq(sf_readf_float(sf, x, 1), 1);
		for (unsigned ch = 0; ch < CH; ch++) {
			int want = (k < len[0] ? sig(1, k, ch) : 0) +
			           (k < len[1] ? sig(2, k, ch) : 0);
			if (x[ch] * 32768.0f != (float)want)
				cr_assert_fail("frame %ld ch %u: %g != %d", k,
				               ch, (double)(x[ch] * 32768.0f),
				               want);
		}
	}
	sf_close(sf);
}

Test(engine, idle_virtual_clock_sleeps_until_something_is_linked)
{
	static struct engine e;
	static float tone[4800 * CH];
	struct memsource m;
	struct engine_config c = {.clock = ENGINE_VCLOCK, .idle_pause = true};

	for (size_t i = 0; i < sizeof(tone) / sizeof(tone[0]); i++)
		tone[i] = 0.25f;
	cr_assert_eq(engine_open(&e, &c), 0, "%s", engine_error(&e));
	cr_assert_eq(engine_start(&e), 0);
	(void)engine_poll(&e);
	cr_assert(e.paused, "nothing linked: the clock sleeps");
	cr_assert_eq(engine_due_ns(&e), INT64_MAX);
	uint64_t n0 = device_callbacks(&e.dev);
	sleep_ms(50);
	cr_assert_eq(device_callbacks(&e.dev), n0, "the clock ran idle");

	memsource_init(&m, tone, 4800, CH, true);
	cr_assert_eq(engine_link(&e, &m.src, 1.0f), 0);
	cr_assert(!e.paused && e.running);
	sleep_ms(100);
	(void)engine_poll(&e);
	cr_assert_gt(device_callbacks(&e.dev), n0 + 10, "the clock runs");
	cr_assert_gt(e.st.out_peak, 0.2f, "and mixes the source");
	cr_assert_lt(engine_due_ns(&e), INT64_MAX);

	cr_assert_eq(engine_unlink(&e, &m.src), 0);
	for (int i = 0; i < 200 && !e.paused; i++) {
		sleep_ms(5);
		(void)engine_poll(&e);
	}
	cr_assert(e.paused, "the source came back: the clock sleeps again");
	cr_assert_eq(engine_stop(&e), 0);
	engine_clear(&e);
}

static void *poke(void *arg)
{
	sleep_ms(20);
	engine_wake(arg);
	return NULL;
}

Test(engine, wake_from_another_thread_makes_the_fd_readable)
{
	static struct engine e;
	struct engine_config c = {.clock = ENGINE_EXTERNAL};
	pthread_t t;

	cr_assert_eq(engine_open(&e, &c), 0, "%s", engine_error(&e));
	struct pollfd p = {.fd = engine_fd(&e), .events = POLLIN};
	cr_assert_eq(poll(&p, 1, 0), 0, "nothing posted yet");
	cr_assert_eq(pthread_create(&t, NULL, poke, &e), 0);
	cr_assert_eq(poll(&p, 1, 5000), 1, "woken");
	pthread_join(t, NULL);
	engine_woken(&e);
	cr_assert_eq(poll(&p, 1, 0), 0, "the wake-up was consumed");
	engine_clear(&e);
}

Test(engine, virtual_clock_groups_wait_for_what_the_net_thread_plans)
{
	static struct engine e;
	struct engine_config c = {.clock = ENGINE_VCLOCK, .vclock_wake_ms = 40};

	cr_assert_eq(engine_open(&e, &c), 0, "%s", engine_error(&e));
	const struct devcfg *dc = &e.dev.u.vc.cfg;
	cr_assert_not_null(dc->ready, "the virtual clock asks the engine");
	cr_assert_gt(dc->batch, 1, "groups of periods");
	bool (*ready)(void *, int64_t) = dc->ready;
	void *arg = dc->ready_arg;
	const int64_t look = 5000000000ll, group = 40000000ll;

	/* No net thread has said anything: nothing to wait for. */
	cr_assert(ready(arg, look));
	/* A timed read planned for the look: not done yet. Planned for the
	   next one: done (a look a rounding ns off is the same look). */
	engine_look_planned(&e, look, 9);
	cr_assert_not(ready(arg, look));
	cr_assert_not(ready(arg, look - 1));
	cr_assert_not(ready(arg, look + 1));
	cr_assert(ready(arg, look - group));
	engine_look_planned(&e, look + group + 1, 9);
	cr_assert(ready(arg, look));

	/* Reading at each arrival: ready while the socket's queue is empty,
	   not while a datagram waits in it, ready again once read. */
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	engine_look_planned(&e, INT64_MAX, fd);
	cr_assert(ready(arg, look));
	char b[64] = {1};
	cr_assert_eq(
	        sendto(fd, b, sizeof(b), 0, (struct sockaddr *)&a, sizeof(a)),
	        (ssize_t)sizeof(b));
	cr_assert_not(ready(arg, look), "a datagram is still in the queue");
	cr_assert_eq(recv(fd, b, sizeof(b), 0), (ssize_t)sizeof(b));
	cr_assert(ready(arg, look));
	/* The socket closing, or closed under the clock: nothing to wait
	   for. */
	engine_look_planned(&e, INT64_MAX, -1);
	cr_assert(ready(arg, look));
	engine_look_planned(&e, INT64_MAX, fd);
	close(fd);
	cr_assert(ready(arg, look));
	engine_clear(&e);

	/* Another clock: the engine leaves it alone. */
	struct engine_config x = {.clock = ENGINE_EXTERNAL};
	cr_assert_eq(engine_open(&e, &x), 0, "%s", engine_error(&e));
	engine_clear(&e);
	struct engine_config f = {.clock = ENGINE_VCLOCK_FAST};
	cr_assert_eq(engine_open(&e, &f), 0, "%s", engine_error(&e));
	cr_assert_null(e.dev.u.vc.cfg.ready);
	engine_clear(&e);
}

Test(engine, open_refuses_a_missing_archive_or_recording_naming_it)
{
	static struct engine e;
	char nope[160], rec[160];
	snprintf(nope, sizeof(nope), "%s/nope.wav", tmpdir);
	snprintf(rec, sizeof(rec), "%s/no/dir/mix.wav", tmpdir);
	const char *files[] = {nope};
	struct engine_config c = {
	        .clock = ENGINE_EXTERNAL, .archives = files, .narchives = 1};
	cr_assert_lt(engine_open(&e, &c), 0);
	cr_assert(strstr(engine_error(&e), nope), "%s", engine_error(&e));
	engine_clear(&e);

	struct engine_config r = {.clock = ENGINE_EXTERNAL, .record = rec};
	cr_assert_lt(engine_open(&e, &r), 0);
	cr_assert(strstr(engine_error(&e), rec), "%s", engine_error(&e));
	engine_clear(&e);
}
