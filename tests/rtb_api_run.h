/*
 * rtb_api_run: an application's audio callback for the tests of the public
 * API (tests/test_rtb_*_api.c): a tone pushed to pushing senders, the
 * engine's mix played (RTB_CLOCK_EXTERNAL), the control thread's poll
 * between, at the pace of a sound card's 10 ms periods; the engine and
 * L16 receiver, and the L16 sender, they set up
 */
#ifndef RTB_TESTS_RTB_API_RUN_H
#define RTB_TESTS_RTB_API_RUN_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <rtbridge/rtbridge.h>

#include "bridge/rtcheck/rthook.h"
#include "tests/period_sleep.h"

#define CH     2
#define RATE   48000
#define PERIOD 480 /* frames per callback: 10 ms */
#define TWO_PI 6.283185307179586

/* Sleep until *t + 10 ms (an audio callback's period), and step *t. */
static inline void next_period(struct timespec *t)
{
	period_sleep(t, 10000000L);
}

/* n periods of the application's callback: push a tone to the senders
   (NULL: none), play the mix; the control thread's poll between. */
static inline void run(struct rtb_engine *e, struct rtb_sender **s, int ns,
                       int n, struct timespec *t, long *k)
{
	static float in[PERIOD * CH], out[PERIOD * CH];

	for (int i = 0; i < n; i++) {
		for (int j = 0; j < PERIOD; j++, (*k)++)
			for (int c = 0; c < CH; c++)
				in[j * CH + c] =
				        0.5f * (float)sin(TWO_PI * 1000.0 *
				                          (double)*k / RATE);
		rthook_rt_enter();
		for (int j = 0; j < ns; j++)
			(void)rtb_sender_push(s[j], in, PERIOD);
		(void)rtb_engine_process(e, out, PERIOD);
		rthook_rt_leave();
		cr_assert_eq(rtb_engine_poll(e), 0, "%s", rtb_engine_error(e));
		next_period(t);
	}
}

/* A started engine of ec (NULL: the application's callback,
   RTB_CLOCK_EXTERNAL, with the defaults) into *e, and a receiver of rc
   (NULL: the defaults) on it, for L16 on 127.0.0.1 port 0 unless rc
   names another address or codec. */
static inline struct rtb_receiver *
l16_receiver(struct rtb_engine **e, const struct rtb_engine_config *ec,
             const struct rtb_receiver_config *rc)
{
	const struct rtb_engine_config dflt = {.clock = RTB_CLOCK_EXTERNAL};
	struct rtb_receiver_config c = {0};
	struct rtb_receiver *r = NULL;
	char why[256] = "";

	if (rc)
		c = *rc;
	if (!c.listen)
		c.listen = "127.0.0.1:0";
	if (!c.codec)
		c.codec = RTB_CODEC_L16;
	cr_assert_eq(rtb_engine_create(ec ? ec : &dflt, e, why, sizeof(why)), 0,
	             "%s", why);
	cr_assert_eq(rtb_engine_start(*e), 0, "%s", rtb_engine_error(*e));
	cr_assert_eq(rtb_receiver_create(*e, &c, &r, why, sizeof(why)), 0, "%s",
	             why);
	return r;
}

/* A pushing L16 sender of SSRC ssrc to r's port on 127.0.0.1. */
static inline struct rtb_sender *l16_sender(const struct rtb_receiver *r,
                                            int64_t ssrc)
{
	char to[32], why[256] = "";
	struct rtb_sender *s = NULL;

	snprintf(to, sizeof(to), "127.0.0.1:%u", rtb_receiver_port(r));
	struct rtb_sender_config sc = {
	        .to = to, .codec = RTB_CODEC_L16, .ssrc = ssrc};
	cr_assert_eq(rtb_sender_create_push(&sc, &s, why, sizeof(why)), 0, "%s",
	             why);
	return s;
}

#endif
