/*
 * bench_disk: many archive streams and recordings on one slow disk
 *
 * N archive files are played through disk sources into the mixer while
 * each source's frames are recorded through its own recorder tap (16-bit
 * WAV): N read-ahead and N write-behind streams on one disk server, whose
 * disk costs --latency ms per request and stalls --stall ms once every
 * --period ms (RTBRIDGE_FAULTS' disk_latency_ms, disk_stall_ms and
 * disk_stall_period_ms). The audio callback is the mixer's, run on the
 * virtual clock device in manual mode, 128 frames at 48 kHz.
 *
 * Time is virtual by default: the disk's injected delays pass on a
 * simulated clock that the audio side advances one period at a time,
 * waiting for the disk thread to finish what it would have done by then,
 * so a case runs as fast as the machine allows and gives the same result
 * on any machine (the real file I/O is taken as free). --realtime runs on
 * CLOCK_MONOTONIC with real sleeps, paced like a sound card.
 *
 * Reported per case: underruns, frames dropped by the recorders, whether
 * every recording equals its archive sample for sample, blocks and disk
 * requests per second per stream, and the disk thread's CPU. --table
 * searches, for each latency, stall period and stream count, the longest
 * stall that gives no underrun and no dropped frame, with the default
 * blocks (an eighth of the 2 s window, coalesced) and with the old ones
 * (1024 frames, one request each), in the same run.
 *
 * usage: bench_disk [--streams N] [--seconds S] [--latency MS]
 *        [--stall MS] [--period MS] [--block F] [--coalesce K]
 *        [--poll-ms P] [--realtime] [--table] [--smoke]
 *
 * --block 1024 --coalesce 1 --poll-ms 2 behaves as the disk server did
 * before blocks followed the window (for before/after comparisons).
 *
 * Exit status: 0, or 1 when the headline case is not clean.
 */
#include <errno.h>
#include <pthread.h>
#include <sndfile.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/audio/disksource.h"
#include "bridge/audio/disktap.h"
#include "bridge/audio/mixer.h"
#include "bridge/audio/vclock.h"
#include "tools/vdisk.h"

#define CH        2
#define RATE      48000
#define PERIOD    128
#define ARCHIVE_S 7 /* seconds per archive file (they loop) */
#define MAX_N     64
#define OLD_BLOCK 1024
#define PERIOD_NS ((int64_t)PERIOD * 1000000000 / RATE)
#define SETUP_S   120 /* virtual seconds allowed to open and buffer */

struct cfg {
	unsigned n;          /* archives, and as many recordings */
	double seconds;      /* played per case */
	unsigned latency_ms; /* per disk request */
	unsigned stall_ms, period_ms;
	uint32_t block;    /* frames per block; 0: the streams' default */
	unsigned coalesce; /* blocks per request; 0: the server's default */
	unsigned poll_ms;  /* fixed mailbox period (the old way); 0: adaptive */
	int realtime;
	int verify; /* compare every recording with its archive */
};

struct result {
	uint64_t underruns, underrun_frames, dropped;
	int exact; /* 1, 0, or -1 when not checked */
	double read_blocks_s, read_req_s, write_blocks_s, write_req_s;
	double disk_cpu; /* share of one core */
	uint32_t block;  /* frames per block */
	uint64_t stalls;
	int failed; /* set-up failed */
};

static char dir[] = "/tmp/bench_disk_XXXXXX";

/* ---- the rig ---- */

struct rig {
	const struct cfg *c;
	struct diskserver srv;
	struct vdisk vd; /* virtual time (unused in real time) */
	struct mixer m;
	struct vclock v;
	struct disksource src[MAX_N];
	struct disktap tap[MAX_N];
	unsigned nopen; /* sources and taps opened */
	int srv_up, mixer_up, vclock_up;
	int64_t next_ns; /* realtime: next period's deadline */
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One period of time passes (virtual, or slept through). */
static void rig_tick(struct rig *r)
{
	if (!r->c->realtime) {
		vdisk_advance(&r->vd, PERIOD_NS);
		return;
	}
	r->next_ns += PERIOD_NS;
	struct timespec ts = {.tv_sec = r->next_ns / 1000000000,
	                      .tv_nsec = r->next_ns % 1000000000};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

static void archive_path(char *out, size_t n, unsigned i)
{
	snprintf(out, n, "%s/a%02u.wav", dir, i);
}

static void record_path(char *out, size_t n, unsigned i)
{
	snprintf(out, n, "%s/r%02u.wav", dir, i);
}

/* Sample k of archive i: seeded noise, exact in 16 bits, never 0. */
static short sample(unsigned i, uint64_t k)
{
	uint64_t x = (k + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)(i + 1) << 40;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	int v = (int)(x % 16000u) + 1;
	return (short)(x & (1ull << 40) ? -v : v);
}

static int make_archives(unsigned n)
{
	static short buf[4800 * CH];
	for (unsigned i = 0; i < n; i++) {
		char p[128];
		archive_path(p, sizeof(p), i);
		SF_INFO info = {.samplerate = RATE,
		                .channels = CH,
		                .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
		SNDFILE *sf = sf_open(p, SFM_WRITE, &info);
		if (!sf) {
			fprintf(stderr, "bench_disk: %s: %s\n", p,
			        sf_strerror(NULL));
			return -EIO;
		}
		for (uint64_t f = 0; f < ARCHIVE_S * RATE; f += 4800) {
			for (int k = 0; k < 4800 * CH; k++)
				buf[k] = sample(i, f * CH + (uint64_t)k);
			sf_writef_short(sf, buf, 4800);
		}
		sf_close(sf);
	}
	return 0;
}

/* Recording i holds archive i, looped, from its first frame. */
static int verify(unsigned i, uint64_t frames)
{
	char p[128];
	record_path(p, sizeof(p), i);
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(p, SFM_READ, &info);
	if (!sf || info.frames != (sf_count_t)frames) {
		if (sf)
			sf_close(sf);
		return 0;
	}
	static short buf[4800 * CH];
	const uint64_t len = (uint64_t)ARCHIVE_S * RATE * CH;
	int ok = 1;
	for (uint64_t f = 0; ok && f < frames; f += 4800) {
		sf_count_t n = sf_readf_short(sf, buf, 4800);
		for (sf_count_t k = 0; ok && k < n * CH; k++)
			ok = buf[k] == sample(i, (f * CH + (uint64_t)k) % len);
	}
	sf_close(sf);
	return ok;
}

static int rig_ready(struct rig *r)
{
	for (unsigned i = 0; i < r->c->n; i++) {
		int st = readahead_poll(r->src[i].ra);
		if (st == READAHEAD_ERROR) {
			fprintf(stderr, "bench_disk: %s\n",
			        readahead_error(r->src[i].ra));
			return -1;
		}
		if (st != READAHEAD_STREAMING ||
		    disktap_state(&r->tap[i]) == WRITEBEHIND_OPENING)
			return 0;
	}
	return 1;
}

static int rig_open(struct rig *r)
{
	const struct cfg *c = r->c;
	struct diskfaults f = {.latency_ms = c->latency_ms,
	                       .stall_ms = c->stall_ms,
	                       .stall_period_ms =
	                               c->stall_ms ? c->period_ms : 0};
	struct diskserver_opts so = {.faults = &f,
	                             .coalesce_max = c->coalesce,
	                             .poll_ns = (int64_t)c->poll_ms * 1000000};
	vdisk_init(&r->vd, &r->srv);
	if (!c->realtime)
		vdisk_hook(&r->vd, &so);
	if (diskserver_start(&r->srv, &so) < 0) {
		fprintf(stderr, "bench_disk: %s\n", diskserver_error(&r->srv));
		return -1;
	}
	r->srv_up = 1;
	struct mixer_config mc;
	mixer_config_default(&mc);
	mc.max_sources = c->n;
	mc.max_block = PERIOD;
	while (mc.cmd_capacity < c->n + 8)
		mc.cmd_capacity *= 2;
	if (mixer_init(&r->m, &mc) < 0)
		return -1;
	r->mixer_up = 1;
	struct devcfg dc;
	devcfg_default(&dc);
	dc.period = PERIOD;
	dc.callback = mixer_process;
	dc.user = &r->m;
	dc.mode = VCLOCK_MANUAL;
	if (vclock_open(&r->v, &dc) < 0)
		return -1;
	r->vclock_up = 1;
	vclock_start(&r->v);
	struct disksource_opts o = {.channels = CH,
	                            .rate = RATE,
	                            .block_frames = c->block,
	                            .loop = true};
	struct disktap_opts to = {.channels = CH,
	                          .rate = RATE,
	                          .encoding = DISKFILE_ENC_PCM16,
	                          .block_frames = c->block};
	for (unsigned i = 0; i < c->n; i++) {
		char a[128], w[128];
		archive_path(a, sizeof(a), i);
		record_path(w, sizeof(w), i);
		if (disksource_open(&r->src[i], &r->srv, a, &o) < 0)
			return -1;
		if (disktap_open(&r->tap[i], &r->srv, w, &to) < 0) {
			disksource_close(&r->src[i]);
			return -1;
		}
		r->nopen = i + 1;
	}
	/* Open and buffer everything, time passing as it must. */
	r->next_ns = mono_ns();
	int rd;
	for (long k = 0; (rd = rig_ready(r)) == 0; k++) {
		if (k > (long)SETUP_S * RATE / PERIOD) {
			fprintf(stderr, "bench_disk: not buffered after %d s\n",
			        SETUP_S);
			return -1;
		}
		rig_tick(r);
	}
	return rd < 0 ? -1 : 0;
}

/* Close every tap, and drive time until the disk has finished them. */
static void rig_finish_taps(struct rig *r)
{
	for (unsigned i = 0; i < r->nopen; i++)
		disktap_close(&r->tap[i]);
	for (long k = 0; k < (long)SETUP_S * RATE / PERIOD; k++) {
		unsigned done = 0;
		for (unsigned i = 0; i < r->nopen; i++)
			done += r->tap[i].close_rc < 0 ||
			        writebehind_result_done(&r->tap[i].result);
		if (done == r->nopen)
			break;
		rig_tick(r);
	}
}

static void rig_close(struct rig *r)
{
	if (r->mixer_up)
		mixer_clear(&r->m); /* closes the linked sources */
	for (unsigned i = 0; i < r->nopen; i++)
		disksource_close(&r->src[i]);
	rig_finish_taps(r);
	if (r->vclock_up)
		vclock_close(&r->v);
	if (r->srv_up) {
		/* Whatever the disk still sleeps through passes at once. */
		vdisk_free_run(&r->vd);
		diskserver_stop(&r->srv);
	}
	vdisk_clear(&r->vd);
}

static double cpu_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run_case(const struct cfg *c, struct result *res)
{
	static struct rig r;
	memset(&r, 0, sizeof(r));
	memset(res, 0, sizeof(*res));
	r.c = c;
	res->exact = -1;
	if (rig_open(&r) < 0) {
		res->failed = 1;
		goto out;
	}
	uint64_t rreq0 = 0, wreq0 = 0;
	for (unsigned i = 0; i < c->n; i++) {
		r.src[i].src.tap = &r.tap[i].tap;
		if (mixer_link(&r.m, &r.src[i].src, 1.0f / (float)c->n) < 0) {
			res->failed = 1;
			goto out;
		}
		rreq0 += atomic_load(&r.src[i].ra->file.requests);
		wreq0 += atomic_load(&r.tap[i].wb->file.requests);
	}
	clockid_t cid;
	pthread_getcpuclockid(r.srv.thread, &cid);
	double cpu0 = cpu_s(cid);
	int64_t wall0 = mono_ns();
	long periods = (long)(c->seconds * RATE / PERIOD);
	uint64_t stalls0 = atomic_load(&r.srv.stalls);
	for (long k = 0; k < periods; k++) {
		rig_tick(&r);
		vclock_step(&r.v, 1);
		if ((k & 63) == 0)
			mixer_poll(&r.m, NULL);
	}
	double wall = (double)(mono_ns() - wall0) / 1e9;
	res->disk_cpu = (cpu_s(cid) - cpu0) / wall;
	res->stalls = atomic_load(&r.srv.stalls) - stalls0;
	uint64_t rreq = 0, wreq = 0;
	for (unsigned i = 0; i < c->n; i++) {
		res->underruns += disksource_underruns(&r.src[i]);
		res->underrun_frames += disksource_underrun_frames(&r.src[i]);
		rreq += atomic_load(&r.src[i].ra->file.requests);
		wreq += atomic_load(&r.tap[i].wb->file.requests);
	}
	double per = c->seconds * c->n;
	res->read_req_s = (double)(rreq - rreq0) / per;
	res->write_req_s = (double)(wreq - wreq0) / per;
	res->read_blocks_s = (double)RATE / r.src[0].ra->block_frames;
	res->write_blocks_s = (double)RATE / r.tap[0].wb->block_frames;
	res->block = r.src[0].ra->block_frames;
	mixer_clear(&r.m); /* closes the sources */
	r.mixer_up = 0;
	rig_finish_taps(&r);
	for (unsigned i = 0; i < c->n; i++)
		res->dropped += r.tap[i].result.dropped;
	if (c->verify) {
		res->exact = 1;
		for (unsigned i = 0; i < c->n; i++)
			if (!verify(i, (uint64_t)periods * PERIOD))
				res->exact = 0;
	}
out:
	rig_close(&r);
}

static int clean(const struct result *r)
{
	return !r->failed && r->underruns == 0 && r->dropped == 0 &&
	       r->exact != 0;
}

static void print_case(const char *what, const struct cfg *c,
                       const struct result *r)
{
	printf("%-8s %2u+%-2u %4u-frame blocks%s: underruns %llu (%llu "
	       "frames), dropped %llu, recordings %s\n"
	       "         per stream: reads %.1f blocks/s in %.2f requests/s, "
	       "writes %.1f blocks/s in %.2f requests/s; %llu stalls; disk "
	       "thread %.2f %% of a core%s\n",
	       what, c->n, c->n, r->block,
	       c->coalesce == 1 ? ", no coalescing" : "",
	       (unsigned long long)r->underruns,
	       (unsigned long long)r->underrun_frames,
	       (unsigned long long)r->dropped,
	       r->failed      ? "FAILED TO OPEN"
	       : r->exact < 0 ? "not compared"
	       : r->exact     ? "exact"
	                      : "NOT EXACT",
	       r->read_blocks_s, r->read_req_s, r->write_blocks_s,
	       r->write_req_s, (unsigned long long)r->stalls,
	       100.0 * r->disk_cpu,
	       c->realtime ? "" : " (per wall second of a virtual run)");
	fflush(stdout);
}

/* The longest stall in `stalls` (ascending) with a clean run; -1: none. */
static int longest_clean(struct cfg c, const unsigned *stalls, int n)
{
	int best = -1;
	for (int i = 0; i < n; i++) {
		struct result r;
		c.stall_ms = stalls[i];
		run_case(&c, &r);
		if (!clean(&r))
			break;
		best = (int)stalls[i];
	}
	return best;
}

static void table(const struct cfg *base, int smoke)
{
	static const unsigned stalls[] = {0,   100,  200,  300,  400,  500, 600,
	                                  750, 1000, 1250, 1500, 1750, 2000};
	static const unsigned periods[] = {500, 1000, 2000};
	static const unsigned streams[] = {1, 4, 8, 16};
	static const unsigned latencies[] = {0, 10};
	printf("\nlongest stall (ms) with no underrun and no dropped frame, "
	       "%.0f s per case;\ndefault: blocks from the 2 s window, "
	       "coalesced; old: %u-frame blocks, one request each\n\n",
	       base->seconds, OLD_BLOCK);
	printf("%10s %9s %8s | %8s %8s\n", "latency ms", "period ms", "streams",
	       "default", "old");
	for (size_t l = 0; l < 2; l++)
		for (size_t p = 0; p < 3; p++)
			for (size_t s = 0; s < 4; s++) {
				if (smoke &&
				    (latencies[l] != 10 || periods[p] != 1000 ||
				     streams[s] != 16))
					continue;
				struct cfg c = *base;
				c.verify = 0;
				c.latency_ms = latencies[l];
				c.period_ms = periods[p];
				c.n = streams[s];
				int nstall = (int)(sizeof(stalls) /
				                   sizeof(stalls[0]));
				c.block = 0;
				c.coalesce = 0;
				int a = longest_clean(c, stalls, nstall);
				c.block = OLD_BLOCK;
				c.coalesce = 1;
				int b = longest_clean(c, stalls, nstall);
				char sa[16], sb[16];
				snprintf(sa, sizeof(sa), a < 0 ? "none" : "%d",
				         a);
				snprintf(sb, sizeof(sb), b < 0 ? "none" : "%d",
				         b);
				printf("%10u %9u %5u+%-2u | %8s %8s\n",
				       latencies[l], periods[p], c.n, c.n, sa,
				       sb);
				fflush(stdout);
			}
	printf("\n(\"none\": underruns even without stalls; 2000: the "
	       "largest tried)\n");
}

static int usage(void)
{
	fprintf(stderr,
	        "usage: bench_disk [--streams N] [--seconds S] [--latency MS] "
	        "[--stall MS]\n"
	        "       [--period MS] [--block F] [--coalesce K] [--poll-ms "
	        "P]\n"
	        "       [--realtime] [--table] [--smoke]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct cfg c = {.n = 16,
	                .seconds = 30,
	                .latency_ms = 10,
	                .stall_ms = 300,
	                .period_ms = 1000,
	                .verify = 1};
	int do_table = 0, smoke = 0;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;
		long x = v ? strtol(v, &end, 10) : -1;
		int num = v && *v && end && *end == '\0' && x >= 0;
		if (!strcmp(argv[i], "--realtime"))
			c.realtime = 1;
		else if (!strcmp(argv[i], "--table"))
			do_table = 1;
		else if (!strcmp(argv[i], "--smoke"))
			smoke = do_table = 1;
		else if (!num)
			return usage();
		else if (!strcmp(argv[i], "--streams") && x >= 1 && x <= MAX_N)
			c.n = (unsigned)x, i++;
		else if (!strcmp(argv[i], "--seconds") && x >= 1 && x <= 3600)
			c.seconds = (double)x, i++;
		else if (!strcmp(argv[i], "--latency") && x <= 60000)
			c.latency_ms = (unsigned)x, i++;
		else if (!strcmp(argv[i], "--stall") && x <= 60000)
			c.stall_ms = (unsigned)x, i++;
		else if (!strcmp(argv[i], "--period") && x >= 1 && x <= 3600000)
			c.period_ms = (unsigned)x, i++;
		else if (!strcmp(argv[i], "--block") && x <= 1 << 20)
			c.block = (uint32_t)x, i++;
		else if (!strcmp(argv[i], "--coalesce") && x <= 64)
			c.coalesce = (unsigned)x, i++;
		else if (!strcmp(argv[i], "--poll-ms") && x <= 1000)
			c.poll_ms = (unsigned)x, i++;
		else
			return usage();
	}
	if (smoke)
		c.seconds = 10;
	if (!mkdtemp(dir)) {
		perror("bench_disk: mkdtemp");
		return 1;
	}
	unsigned most = do_table && c.n < 16 ? 16 : c.n;
	if (make_archives(most) < 0)
		return 1;
	printf("%u archives (%d s, looping) played and each recorded, "
	       "%.0f s, %s time; disk: %u ms per request, %u ms stall every "
	       "%u ms\n",
	       c.n, ARCHIVE_S, c.seconds, c.realtime ? "real" : "virtual",
	       c.latency_ms, c.stall_ms, c.period_ms);
	struct result r;
	run_case(&c, &r);
	print_case("this", &c, &r);
	int status = clean(&r) ? 0 : 1;
	if (!c.block && !c.coalesce && !c.poll_ms && !smoke) {
		/* The same case with the blocks of old, for comparison. */
		struct cfg old = c;
		old.block = OLD_BLOCK;
		old.coalesce = 1;
		old.poll_ms = 2;
		run_case(&old, &r);
		print_case("old", &old, &r);
	}
	if (do_table) {
		struct cfg t = c;
		if (smoke)
			t.seconds = 5;
		table(&t, smoke);
	}
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
	return status;
}
