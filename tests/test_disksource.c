/*
 * test_disksource: disk sources and recorder taps in the mixer
 *
 * The test writes 16-bit WAV files of seeded integer noise (every sample
 * k / 32768 with k != 0, so silence inserted by an underrun can be told
 * from the signal), plays them through read-ahead streams into the mixer
 * on the virtual clock, and checks the output sample by sample: sums are
 * exact in float, so the mix of two files is their exact sum, and the
 * recording of the mix (float WAV through a write-behind stream) is what
 * the device got. The real-time checker watches every callback,
 * including while the disk server stalls on purpose.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sndfile.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/audio/disksource.h"
#include "bridge/audio/disktap.h"
#include "bridge/audio/mixer.h"
#include "bridge/audio/vclock.h"
#include "tests/rtcheck_assert.h"

#define CH     2
#define PERIOD 128
#define RATE   48000

static char tmpdir[256];
static float *rig_mem; /* the rig's capture, freed at teardown */
static struct diskserver srv;
static bool srv_running;

static void sleep_us(long us)
{
	struct timespec ts = {.tv_sec = us / 1000000,
	                      .tv_nsec = (us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* A test file's sample: frame k, channel c, never 0 unless `mask` drops
 * the channel; |value| <= 12000 / 32768, so two of them never clip. */
struct sig {
	uint64_t seed;
	unsigned mask; /* channels that carry noise */
	int dc;        /* non-zero: this constant (in 1/32768) instead */
};

static float sig_value(const struct sig *s, uint64_t k, unsigned c)
{
	if (!(s->mask & (1u << c)))
		return 0.0f;
	if (s->dc)
		return (float)s->dc / 32768.0f;
	uint64_t h = splitmix(s->seed * 0x100000001b3ull ^ (k * CH + c));
	int v = (int)(h % 12000u) + 1;
	if (h & (1ull << 40))
		v = -v;
	return (float)v / 32768.0f;
}

static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", tmpdir, name);
}

static void write_wav16(const char *path, const struct sig *s, long frames)
{
	SF_INFO info = {.samplerate = RATE,
	                .channels = CH,
	                .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	cr_assert_not_null(sf, "%s", sf_strerror(NULL));
	short buf[1024 * CH];
	for (long i = 0; i < frames; i += 1024) {
		long n = frames - i < 1024 ? frames - i : 1024;
		for (long k = 0; k < n; k++)
			for (unsigned c = 0; c < CH; c++)
				buf[k * CH + c] = (short)lrintf(
				        sig_value(s, (uint64_t)(i + k), c) *
				        32768.0f);
		cr_assert_eq(sf_writef_short(sf, buf, n), n);
	}
	sf_close(sf);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rtb_disksource_XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	srv_running = false;
}

static void teardown(void)
{
	if (srv_running)
		cr_expect_eq(diskserver_stop(&srv), 0, "streams left open");
	srv_running = false;
	free(rig_mem);
	rig_mem = NULL;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	(void)!system(cmd);
}

static void start_server(const struct diskfaults *faults)
{
	static const struct diskfaults none = {0};
	struct diskserver_opts o = {.faults = faults ? faults : &none};
	cr_assert_eq(diskserver_start(&srv, &o), 0, "%s",
	             diskserver_error(&srv));
	srv_running = true;
}

static void open_ready(struct disksource *s, const char *path, double prefetch,
                       bool loop)
{
	struct disksource_opts o = {.channels = CH,
	                            .rate = RATE,
	                            .prefetch_s = prefetch,
	                            .block_frames = 256,
	                            .loop = loop};
	cr_assert_eq(disksource_open(s, &srv, path, &o), 0);
	int rc = disksource_wait_ready(s, 10000);
	cr_assert_eq(rc, 0, "%s: %d %s", path, rc, disksource_error(s));
}

static bool same(float a, float b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

/* ---- rig: mixer + virtual clock + capture of the device output ---- */

struct rig {
	struct mixer m;
	struct vclock v;
	struct mixer_stats st;
	float *out; /* cap frames */
	size_t cap;
	size_t frames;
	/* Checked in the callback: channel 0 must be `ref` with gaps. */
	const struct sig *ref;
	uint64_t ref_len;
	uint64_t ref_pos;
	uint64_t ref_bad;
	_Atomic bool stop;
};

static int rig_cb(void *user, const float *in, float *out, size_t frames)
{
	struct rig *r = user;
	int ret = mixer_process(&r->m, in, out, frames);
	if (r->ref) {
		for (size_t f = 0; f < frames; f++) {
			float x = out[f * CH];
			if (r->ref_pos < r->ref_len &&
			    same(x, sig_value(r->ref, r->ref_pos, 0)))
				r->ref_pos++;
			else if (!same(x, 0.0f))
				r->ref_bad++;
		}
	}
	size_t n = frames;
	if (r->frames + n > r->cap)
		n = r->cap - r->frames;
	memcpy(r->out + r->frames * CH, out, n * CH * sizeof(float));
	r->frames += n;
	return ret;
}

static void rig_init(struct rig *r, size_t cap)
{
	struct mixer_config mc;
	struct devcfg dc;
	memset(r, 0, sizeof(*r));
	RTCHECK_INIT();
	RTCHECK_ASSERT_LOADED();
	mixer_config_default(&mc);
	cr_assert_eq(mixer_init(&r->m, &mc), 0);
	cr_assert_eq(mixer_stats_init(&r->st, &r->m), 0);
	r->cap = cap;
	r->out = calloc(cap * CH, sizeof(float));
	cr_assert_not_null(r->out);
	rig_mem = r->out;
	devcfg_default(&dc);
	dc.callback = rig_cb;
	dc.user = r;
	dc.mode = VCLOCK_MANUAL;
	cr_assert_eq(vclock_open(&r->v, &dc), 0);
	cr_assert_eq(vclock_start(&r->v), 0);
}

static void rig_clear(struct rig *r)
{
	vclock_close(&r->v);
	mixer_clear(&r->m);
	mixer_stats_clear(&r->st);
}

static void step(struct rig *r, size_t n)
{
	cr_assert_eq(vclock_step(&r->v, n), (int)n);
}

/* Read a float or 16-bit file back as float. Return: frames read. */
static size_t read_back(const char *path, float *buf, size_t cap, int *format)
{
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	cr_assert_not_null(sf, "%s: %s", path, sf_strerror(NULL));
	cr_assert_eq(info.channels, CH);
	cr_assert_eq(info.samplerate, RATE);
	if (format)
		*format = info.format;
	sf_count_t n = sf_readf_float(sf, buf, (sf_count_t)cap);
	sf_close(sf);
	return (size_t)n;
}

TestSuite(disksource, .init = setup, .fini = teardown, .timeout = 60);

Test(disksource, two_files_mix_to_the_exact_sum_and_the_recording_matches)
{
	enum { LA = 20000, LB = 13001, PERIODS = 170 };
	static struct rig r;
	static struct disksource a, b;
	static struct disktap rec;
	static float back[PERIODS * PERIOD * CH];
	const struct sig sa = {.seed = 1, .mask = 3},
	                 sb = {.seed = 2, .mask = 3};
	char pa[300], pb[300], pr[300];
	path_in(pa, sizeof(pa), "a.wav");
	path_in(pb, sizeof(pb), "b.wav");
	path_in(pr, sizeof(pr), "mix.wav");
	write_wav16(pa, &sa, LA);
	write_wav16(pb, &sb, LB);
	start_server(NULL);
	rig_init(&r, PERIODS * PERIOD);
	open_ready(&a, pa, 0, false);
	open_ready(&b, pb, 0, false);
	cr_assert_eq(disksource_length(&a), LA);
	cr_assert_eq(disksource_length(&b), LB);
	struct disktap_opts to = {
	        .channels = CH, .rate = RATE, .encoding = DISKFILE_ENC_FLOAT};
	cr_assert_eq(disktap_open(&rec, &srv, pr, &to), 0);
	cr_assert_eq(disktap_wait_open(&rec, 5000), 0, "%s",
	             disktap_error(&rec));
	cr_assert_eq(mixer_link(&r.m, &a.src, 1.0f), 0);
	cr_assert_eq(mixer_link(&r.m, &b.src, 1.0f), 0);
	cr_assert_eq(mixer_link_tap(&r.m, &rec.tap, MIXER_TAP_OUTPUT), 0);

	RTCHECK_RESET();
	step(&r, PERIODS);
	RTCHECK_ASSERT_ZERO();
	mixer_poll(&r.m, &r.st);
	cr_assert(a.released && b.released, "ended sources came back");
	cr_assert(disksource_ended(&a) && disksource_ended(&b));
	cr_assert_eq(a.final_underruns + b.final_underruns, 0);
	for (size_t f = 0; f < r.frames; f++) {
		for (unsigned c = 0; c < CH; c++) {
			float want = 0.0f;
			if (f < LA)
				want += sig_value(&sa, f, c);
			if (f < LB)
				want += sig_value(&sb, f, c);
			cr_assert(same(r.out[f * CH + c], want),
			          "frame %zu ch %u: %a != %a", f, c,
			          r.out[f * CH + c], want);
		}
	}
	rig_clear(&r);
	cr_assert_eq(disktap_wait_closed(&rec, 10000), 0, "%s",
	             rec.result.message);
	cr_assert_eq(rec.result.frames, PERIODS * PERIOD);
	cr_assert_eq(disktap_dropped(&rec), 0);
	int fmt = 0;
	size_t n = read_back(pr, back, PERIODS * PERIOD, &fmt);
	cr_assert_eq(fmt & SF_FORMAT_SUBMASK, SF_FORMAT_FLOAT);
	cr_assert_eq(n, PERIODS * PERIOD);
	for (size_t i = 0; i < n * CH; i++)
		cr_assert(same(back[i], r.out[i]), "recorded sample %zu", i);
}

Test(disksource, a_looping_file_plays_gaplessly_and_a_16_bit_recording_is_exact)
{
	enum { LEN = 1000, PERIODS = 30 };
	static struct rig r;
	static struct disksource a;
	static struct disktap rec;
	static float back[PERIODS * PERIOD * CH];
	const struct sig s = {.seed = 5, .mask = 3};
	char p[300], pr[300];
	path_in(p, sizeof(p), "loop.wav");
	path_in(pr, sizeof(pr), "rec16.wav");
	write_wav16(p, &s, LEN);
	start_server(NULL);
	rig_init(&r, PERIODS * PERIOD);
	open_ready(&a, p, 0.1, true);
	struct disktap_opts to = {
	        .channels = CH, .rate = RATE, .encoding = DISKFILE_ENC_PCM16};
	cr_assert_eq(disktap_open(&rec, &srv, pr, &to), 0);
	cr_assert_eq(disktap_wait_open(&rec, 5000), 0);
	/* Recorded as the source's tap: the frames as pulled. */
	a.src.tap = &rec.tap;
	cr_assert_eq(mixer_link(&r.m, &a.src, 0.5f), 0);
	RTCHECK_RESET();
	for (int i = 0; i < PERIODS; i++) {
		step(&r, 1);
		sleep_us(200); /* let the disk server keep up with the loop */
	}
	RTCHECK_ASSERT_ZERO();
	cr_assert_not(disksource_ended(&a));
	uint64_t under = disksource_underruns(&a);
	cr_assert_eq(under, 0, "the test stays within the first read-ahead");
	for (size_t f = 0; f < r.frames; f++)
		for (unsigned c = 0; c < CH; c++)
			cr_assert(same(r.out[f * CH + c],
			               0.5f * sig_value(&s, f % LEN, c)),
			          "frame %zu", f);
	rig_clear(&r); /* releases the source; its tap is closed by us */
	cr_assert(a.released);
	disktap_close(&rec);
	cr_assert_eq(disktap_wait_closed(&rec, 10000), 0);
	size_t n = read_back(pr, back, PERIODS * PERIOD, NULL);
	cr_assert_eq(n, PERIODS * PERIOD);
	for (size_t f = 0; f < n; f++)
		for (unsigned c = 0; c < CH; c++)
			cr_assert(same(back[f * CH + c],
			               sig_value(&s, f % LEN, c)),
			          "recorded frame %zu", f);
}

static double max_step(const float *x, size_t n)
{
	double m = 0;
	for (size_t i = 1; i < n; i++) {
		double d = fabs((double)x[i * CH] - x[(i - 1) * CH]);
		m = d > m ? d : m;
	}
	return m;
}

Test(disksource, gain_ramps_on_a_disk_source_have_no_discontinuity)
{
	static struct rig r;
	static struct disksource dc;
	const struct sig s = {.mask = 3, .dc = 16384}; /* 0.5 */
	char p[300];
	path_in(p, sizeof(p), "dc.wav");
	write_wav16(p, &s, 48000);
	start_server(NULL);
	rig_init(&r, 40 * PERIOD);
	open_ready(&dc, p, 0, false);
	cr_assert_eq(mixer_link(&r.m, &dc.src, 0.0f), 0);
	RTCHECK_RESET();
	step(&r, 2);
	cr_assert_eq(mixer_set_gain(&r.m, &dc.src, 1.0f, 10), 0);
	step(&r, 8);
	cr_assert_eq(mixer_set_gain(&r.m, &dc.src, 0.25f, -1), 0);
	step(&r, 8);
	cr_assert_eq(mixer_unlink(&r.m, &dc.src, true), 0);
	step(&r, 8);
	RTCHECK_ASSERT_ZERO();
	mixer_poll(&r.m, &r.st);
	cr_assert(dc.released, "faded source left after the ramp");
	double bound = 0.5 / 480 * 1.001 + 1e-7;
	cr_assert_leq(max_step(r.out, r.frames), bound, "largest step %g",
	              max_step(r.out, r.frames));
	cr_assert(same(r.out[(2 * PERIOD + 479) * CH], 0.5f));
	cr_assert(same(r.out[(10 * PERIOD + 479) * CH], 0.125f));
	cr_assert(same(r.out[(r.frames - 1) * CH], 0.0f));
	rig_clear(&r);
}

/* ---- a paced audio thread for the concurrent tests ---- */

struct pacer {
	struct rig *r;
	long sleep_us;
	int max_periods;
	int periods;
};

static void *pacer_main(void *arg)
{
	struct pacer *p = arg;
	while (p->periods < p->max_periods &&
	       !atomic_load_explicit(&p->r->stop, memory_order_relaxed)) {
		if (vclock_step(&p->r->v, 1) != 1)
			break;
		p->periods++;
		sleep_us(p->sleep_us);
	}
	return NULL;
}

Test(disksource, linking_and_unlinking_disk_sources_never_glitches_the_others)
{
	enum { LA = 192000, LB = 9000, ROUNDS = 12 };
	static struct rig r;
	static struct disksource a, b[ROUNDS];
	const struct sig sa = {.seed = 9, .mask = 1};
	const struct sig sb = {.seed = 10, .mask = 2}; /* right only */
	char pa[300], pb[300];
	path_in(pa, sizeof(pa), "a.wav");
	path_in(pb, sizeof(pb), "b.wav");
	write_wav16(pa, &sa, LA);
	write_wav16(pb, &sb, LB);
	start_server(NULL);
	rig_init(&r, LA + 64 * PERIOD);
	open_ready(&a, pa, 5.0, false); /* whole file in memory */
	r.ref = &sa;
	r.ref_len = LA;
	cr_assert_eq(mixer_link(&r.m, &a.src, 1.0f), 0);

	RTCHECK_RESET();
	struct pacer p = {
	        .r = &r, .sleep_us = 300, .max_periods = LA / PERIOD + 64};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, pacer_main, &p), 0);
	for (int i = 0; i < ROUNDS; i++) {
		open_ready(&b[i], pb, 0, false);
		cr_assert_eq(mixer_link(&r.m, &b[i].src, 1.0f), 0);
		sleep_us(5000 + 1000 * i);
		cr_assert_eq(mixer_unlink(&r.m, &b[i].src, i % 2 == 0), 0);
		for (int k = 0; k < 1000 && !b[i].released; k++) {
			mixer_poll(&r.m, &r.st);
			sleep_us(1000);
		}
		cr_assert(b[i].released, "round %d: source came back", i);
	}
	cr_assert_not(disksource_ended(&a), "A was playing throughout");
	for (int k = 0; k < 10000 && !disksource_ended(&a); k++)
		sleep_us(1000);
	atomic_store_explicit(&r.stop, true, memory_order_relaxed);
	pthread_join(th, NULL);
	RTCHECK_ASSERT_ZERO();
	cr_assert(disksource_ended(&a), "A played to its end");
	cr_assert_eq(r.ref_bad, 0, "left channel is A exactly, gaps aside");
	cr_assert_eq(r.ref_pos, LA, "every frame of A came out");
	cr_assert_eq(disksource_underruns(&a), 0);
	rig_clear(&r);
}

Test(disksource, stalled_disk_gives_counted_silence_and_no_rt_violation)
{
	enum { LEN = 24000 };
	static struct rig r;
	static struct disksource a;
	const struct sig s = {.seed = 13, .mask = 3};
	char p[300];
	path_in(p, sizeof(p), "stall.wav");
	write_wav16(p, &s, LEN);
	struct diskfaults f;
	cr_assert_eq(diskfaults_parse("disk_stall_ms=15,disk_stall_every=4", &f,
	                              NULL, 0),
	             0);
	start_server(&f);
	rig_init(&r, LEN * 6);
	open_ready(&a, p, 0.01, false);
	r.ref = &s;
	r.ref_len = LEN;
	cr_assert_eq(mixer_link(&r.m, &a.src, 1.0f), 0);
	RTCHECK_RESET();
	struct pacer pc = {
	        .r = &r, .sleep_us = 1000, .max_periods = LEN * 6 / PERIOD};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, pacer_main, &pc), 0);
	for (int k = 0; k < 20000 && !disksource_ended(&a); k++)
		sleep_us(1000);
	atomic_store_explicit(&r.stop, true, memory_order_relaxed);
	pthread_join(th, NULL);
	RTCHECK_ASSERT_ZERO();
	cr_assert(disksource_ended(&a), "played to the end despite stalls");
	cr_assert_eq(r.ref_bad, 0, "only the file or silence came out");
	cr_assert_eq(r.ref_pos, LEN, "an underrun delays, never skips");
	cr_log_info("stalls %llu, underruns %llu (%llu frames)",
	            (unsigned long long)atomic_load(&srv.stalls),
	            (unsigned long long)disksource_underruns(&a),
	            (unsigned long long)disksource_underrun_frames(&a));
	cr_assert_gt(atomic_load(&srv.stalls), 0);
	rig_clear(&r);
}

Test(disksource, missing_and_non_audio_files_fail_with_a_message)
{
	static struct disksource s;
	struct disksource_opts o = {.channels = CH, .rate = RATE};
	char p[300];
	start_server(NULL);
	path_in(p, sizeof(p), "nope.wav");
	cr_assert_eq(disksource_open(&s, &srv, p, &o), 0);
	cr_assert_eq(disksource_wait_ready(&s, 5000), -ENOENT);
	cr_assert_str_not_empty(disksource_error(&s));
	disksource_close(&s);
	path_in(p, sizeof(p), "text.wav");
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs("this is not a sound file\n", f);
	fclose(f);
	cr_assert_eq(disksource_open(&s, &srv, p, &o), 0);
	int rc = disksource_wait_ready(&s, 5000);
	cr_assert(rc < 0 && rc != -ETIMEDOUT, "rc %d", rc);
	cr_assert_str_not_empty(disksource_error(&s));
	disksource_close(&s);
	o.channels = 3;
	cr_assert_eq(disksource_open(&s, &srv, p, &o), -EINVAL);
}

Test(disksource, a_disk_error_ends_the_source_and_the_others_play_on)
{
	enum { LEN = 48000, PERIODS = 400 };
	static struct rig r;
	static struct disksource a, b;
	const struct sig sa = {.seed = 21, .mask = 1},
	                 sb = {.seed = 22, .mask = 2};
	char pa[300], pb[300];
	path_in(pa, sizeof(pa), "a.wav");
	path_in(pb, sizeof(pb), "b.wav");
	write_wav16(pa, &sa, LEN);
	write_wav16(pb, &sb, LEN);
	struct diskfaults f;
	/* b's whole file (1 s read-ahead: 188 blocks) is requested first,
	 * then a's first 10 blocks; one of a's later reads fails. */
	cr_assert_eq(diskfaults_parse("disk_error_after=250", &f, NULL, 0), 0);
	start_server(&f);
	rig_init(&r, PERIODS * PERIOD);
	open_ready(&b, pb, 1.0, false);
	open_ready(&a, pa, 0.05, false);
	cr_assert_eq(mixer_link(&r.m, &a.src, 1.0f), 0);
	cr_assert_eq(mixer_link(&r.m, &b.src, 1.0f), 0);
	RTCHECK_RESET();
	for (int i = 0; i < PERIODS && !disksource_ended(&b); i++) {
		step(&r, 1);
		sleep_us(300);
	}
	RTCHECK_ASSERT_ZERO();
	mixer_poll(&r.m, &r.st);
	cr_assert(a.released, "the failed source was handed back");
	cr_assert_eq(a.final_state, READAHEAD_ERROR);
	for (size_t k = 0; k < r.frames && k < LEN; k++)
		cr_assert(same(r.out[k * CH + 1], sig_value(&sb, k, 1)),
		          "frame %zu of b", k);
	rig_clear(&r);
}
