/*
 * test_padevice: the PortAudio backend, through a real JACK server
 *
 * The test starts its own jackd with the dummy backend (paced like a sound
 * card, no hardware) under a private server name, so that parallel runs do
 * not meet, plays the mixer through PortAudio's JACK host API for about a
 * second and stops jackd by its PID.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bridge/audio/memsource.h"
#include "bridge/audio/memtap.h"
#include "bridge/audio/mixer.h"
#include "bridge/audio/padevice.h"
#include "tests/jackd_fixture.h"
#include "tests/rtcheck_assert.h"
#include "tests/threadname.h"

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
	                      .tv_nsec = (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static int silent_cb(void *user, const float *in, float *out, size_t frames)
{
	(void)user;
	(void)in;
	memset(out, 0, frames * 2 * sizeof(float));
	return 0;
}

/* padevice_each's callback: *arg turns true at a JACK device. */
static void note_jack(void *arg, const struct padevice_info *info)
{
	*(bool *)arg |= strstr(info->host_api, "JACK") != NULL;
}

TestSuite(padevice, .timeout = 60);

Test(padevice, unknown_device_name_gives_enodev_and_a_message)
{
	struct devcfg cfg;
	struct padevice p;
	devcfg_default(&cfg);
	cfg.callback = silent_cb;
	cfg.name = "no-such-device-xyz";
	cr_assert_eq(padevice_open(&p, &cfg), -ENODEV);
	cr_assert(strstr(p.error, "no-such-device-xyz") != NULL, "error: %s",
	          p.error);
	padevice_close(&p);
	cfg.name = NULL;
	cfg.index = 100000;
	cr_assert_eq(padevice_open(&p, &cfg), -ENODEV);
	cr_assert(strstr(p.error, "100000") != NULL, "error: %s", p.error);
	padevice_close(&p);
}

Test(padevice, plays_the_mixer_through_jack_dummy_at_the_audio_rate,
     .fini = jackd_fixture_down)
{
	enum { CH = 2, LOOP = 1000, CAP = 96000 };
	static float loop[LOOP * CH];
	static float rec[CAP * CH];
	static struct mixer m;
	struct mixer_config mc;
	struct mixer_stats st;
	struct memsource src;
	struct memtap tap;
	struct devcfg cfg;
	struct padevice p;

	jackd_fixture_up("rtb_audio");
	RTCHECK_INIT();
	RTCHECK_ASSERT_LOADED();

	bool jack_listed = false;
	char why[256];
	int n = padevice_each(note_jack, &jack_listed, why, sizeof(why));
	cr_assert_geq(n, 1, "PortAudio sees the JACK server's device: %s",
	              n < 0 ? why : "none");
	cr_assert(jack_listed, "the list names the JACK host API");

	for (int i = 0; i < LOOP * CH; i++)
		loop[i] = (float)((i * 37) % 256 - 128) / 1024.0f;
	memsource_init(&src, loop, LOOP, CH, true);
	memtap_init(&tap, rec, CAP, CH);
	mixer_config_default(&mc);
	cr_assert_eq(mixer_init(&m, &mc), 0);
	cr_assert_eq(mixer_stats_init(&st, &m), 0);
	cr_assert_eq(mixer_link(&m, &src.src, 1.0f), 0);
	cr_assert_eq(mixer_link_tap(&m, &tap.tap, MIXER_TAP_OUTPUT), 0);

	devcfg_default(&cfg);
	cfg.callback = mixer_process;
	cfg.user = &m;
	cfg.host_api = "JACK";
	int err = padevice_open(&p, &cfg);
	cr_assert_eq(err, 0, "open: %d %s", err, p.error);
	RTCHECK_RESET();
	cr_assert_eq(padevice_start(&p), 0, "%s", p.error);
	cr_assert(threadname_exists("rtb-audio"),
	          "the callback thread is named once it has called back");
	for (int i = 0; i < 10; i++) {
		sleep_ms(100);
		mixer_poll(&m, &st);
	}
	cr_assert_eq(padevice_stop(&p), 0, "%s", p.error);
	RTCHECK_ASSERT_ZERO();
	mixer_poll(&m, &st);

	uint64_t calls = padevice_callbacks(&p), frames = padevice_frames(&p);
	cr_log_info("%llu callbacks, %llu frames, %llu xruns, rate %.0f, %llu "
	            "reports, "
	            "callback p99 %.1f us max %.1f us",
	            (unsigned long long)calls, (unsigned long long)frames,
	            (unsigned long long)padevice_xruns(&p), p.actual_rate,
	            (unsigned long long)st.reports, st.cb_us_p99_all,
	            st.cb_us_max);
	/* About one second at 48 kHz: loose bounds, startup included. */
	cr_assert_geq(frames, 24000);
	cr_assert_leq(frames, 72000);
	cr_assert_geq(calls, frames / 256);
	cr_assert_geq(st.reports, 3, "meters reached the control thread");
	/* The tap got the mix, which is the looped source exactly. */
	cr_assert_eq(tap.used + tap.dropped, frames);
	for (size_t f = 0; f < tap.used; f++)
		for (int c = 0; c < CH; c++)
			cr_assert_eq(rec[f * CH + c], loop[(f % LOOP) * CH + c],
			             "frame %zu", f);
	padevice_close(&p);
	mixer_clear(&m);
	mixer_stats_clear(&st);
}
