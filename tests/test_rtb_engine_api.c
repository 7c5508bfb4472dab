/*
 * test_rtb_engine_api: the engine of the public C API (rtbridge/engine.h)
 * with receivers on it, through librtbridge.so
 *
 * A mix recording that stopped (its writes fail past RLIMIT_FSIZE, as on
 * a full disk) while a receiver polled the runtime's engine inside the
 * library is still reported by rtb_engine_poll, once; the disk thread
 * runs only once something needs it (here the first receiver that
 * records).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <rtbridge/rtbridge.h>

#include "tests/rtb_api_run.h"
#include "tests/threadname.h"

TestSuite(rtb_engine_api, .timeout = 60);

/* The mix recording stops by itself (writes past RLIMIT_FSIZE fail with
   EFBIG, as a full disk would fail them) while the application does not
   poll; the receiver's stop then polls the runtime's engine from inside
   the library, which takes the stop's one-shot event first. The next
   rtb_engine_poll still reports it, once. */
Test(rtb_engine_api, a_mix_recording_stop_is_reported_after_a_receiver_polled)
{
	char dir[] = "/tmp/rtb_engine_api_XXXXXX", rec[64];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(rec, sizeof(rec), "%s/mix.wav", dir);
	struct rtb_engine_config ec = {.clock = RTB_CLOCK_EXTERNAL,
	                               .record = rec};
	struct rtb_engine *e = NULL;
	struct rtb_receiver *r = NULL;
	struct rtb_sender *s = NULL;
	struct rtb_record_status rs;
	static float in[PERIOD * CH], out[PERIOD * CH];

	r = l16_receiver(&e, &ec, NULL);
	s = l16_sender(r, 5);
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	long k = 0;
	run(e, &s, 1, 30, &t, &k);
	struct rtb_receiver_counters c;
	rtb_receiver_counters(r, &c);
	cr_assert_eq(c.streams_alive, 1, "the stream plays");

	/* From now on the file cannot grow. This process only (criterion
	   runs each test in its own). */
	struct rlimit lim;
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &lim), 0);
	lim.rlim_cur = 1;
	(void)signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (int i = 0; i < 30; i++) { /* no poll */
		(void)rtb_sender_push(s, in, PERIOD);
		(void)rtb_engine_process(e, out, PERIOD);
		next_period(&t);
	}
	/* The disk thread's write fails meanwhile; the receiver's stop
	   polls the runtime's engine while its stream plays out (the
	   stream is linked: it waits at least its delay). */
	rtb_sender_destroy(s);
	rtb_receiver_stop(r, 200);
	cr_assert_eq(rtb_engine_poll(e), -EIO, "the stop is reported");
	cr_assert(strstr(rtb_engine_error(e), "the recording stopped"), "%s",
	          rtb_engine_error(e));
	cr_assert_eq(rtb_engine_poll(e), 0, "once");
	rtb_engine_record_status(e, &rs);
	cr_assert(rs.stopped);
	/* The stream leaves as the mix plays on. */
	for (int i = 0; i < 200 && c.streams_alive; i++) {
		(void)rtb_engine_process(e, out, PERIOD);
		cr_assert_eq(rtb_engine_poll(e), 0);
		rtb_receiver_counters(r, &c);
		next_period(&t);
	}
	cr_assert_eq(c.streams_alive, 0);
	rtb_receiver_destroy(r);
	(void)rtb_engine_stop(e);
	rtb_engine_destroy(e);
	unlink(rec);
	rmdir(dir);
}

/* The disk thread runs only when something writes or reads files: not
   for an engine without archives or a mix recording, nor for a receiver
   that does not record; the first receiver with record_dir starts it. */
Test(rtb_engine_api, the_disk_thread_starts_with_the_first_recording_receiver)
{
	char dir[] = "/tmp/rtb_engine_api_XXXXXX", why[256] = "";
	struct rtb_engine *e = NULL;
	struct rtb_receiver *r2 = NULL;

	cr_assert_not_null(mkdtemp(dir));
	struct rtb_receiver *r = l16_receiver(&e, NULL, NULL);
	cr_assert(!threadname_exists("rtb-disk"));
	struct rtb_receiver_config rc = {.listen = "127.0.0.1:0",
	                                 .codec = RTB_CODEC_L16,
	                                 .record_dir = dir};
	cr_assert_eq(rtb_receiver_create(e, &rc, &r2, why, sizeof(why)), 0,
	             "%s", why);
	cr_assert(threadname_exists("rtb-disk"));
	rtb_receiver_destroy(r2);
	rtb_receiver_destroy(r);
	rtb_engine_destroy(e);
	rmdir(dir);
}
