/*
 * Live input through a real device, as `rtbridge send --capture` does it:
 * a private jackd (dummy backend, paced like a sound card) feeds
 * PortAudio's JACK input on the engine's device (input only); a tap on
 * the mixer's input queues each period in the sender's capture FIFO; the
 * net thread encodes and sends on its pacer. A loopback receiver checks
 * the stream (consecutive sequence numbers, timestamps one packet apart,
 * about one packet per 10 ms), and the real-time checker asserts that the
 * capture callback made no allocation, lock or blocking system call. The
 * command itself (`rtbridge send --capture --device JACK:`) is run too and
 * its packets counted, and the same capture through the public library
 * (rtb_engine_capture: the library's own tap).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bridge/app/engine.h"
#include "bridge/net/addr.h"
#include "bridge/net/sender.h"
#include "codec/rtp.h"
#include "tests/jackd_fixture.h"
#include "tests/rtcheck_assert.h"
#include <rtbridge/rtbridge.h>

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
	                      .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

enum { RX_MAX = 400 };
static struct rtp_header rx_hdr[RX_MAX];
static _Atomic size_t rx_n;
static struct udpsock rxsock;
static struct sockaddr_storage rx_addr;

static void on_rx(struct udpsock *s, const uint8_t *data, size_t len,
                  const struct sockaddr *from, uint64_t now, void *user)
{
	const uint8_t *pl;
	size_t plen;
	(void)s, (void)from, (void)now, (void)user;
	size_t n = atomic_load_explicit(&rx_n, memory_order_relaxed);
	if (n >= RX_MAX || rtp_parse(data, len, &rx_hdr[n], &pl, &plen) < 0)
		return;
	/* Release pairs with the acquire in the test body: the header is
	 * stored before it is counted. */
	atomic_store_explicit(&rx_n, n + 1, memory_order_release);
}

static int open_rx(struct netloop *l, void *arg)
{
	struct udpsock_opts o;
	struct sockaddr_storage bind;
	(void)arg;
	if (addr_parse(&bind, NULL, "127.0.0.1:0",
	               ADDR_PORT_ZERO | ADDR_NUMERIC, NULL, 0) < 0)
		return -EINVAL;
	udpsock_opts_init(&o);
	o.bind = (const struct sockaddr *)&bind;
	o.on_recv = on_rx;
	int rc = udpsock_open(&rxsock, l, &o);
	return rc < 0 ? rc : udpsock_local(&rxsock, &rx_addr);
}

/* The mixer's input, queued for the sender (as cmd_send.c does). */
struct cap_tap {
	struct tap tap;
	struct sender_capture *cap;
};

static void cap_write(struct tap *t, const float *frames, size_t n)
{
	(void)sender_capture_push(((struct cap_tap *)t)->cap, frames, n);
}

static const struct tap_ops cap_ops = {.write = cap_write};

TestSuite(sendcap, .timeout = 60);

Test(sendcap, jack_input_is_sent_paced_from_a_real_time_safe_callback,
     .fini = jackd_fixture_down)
{
	static struct netloop nl;
	static struct engine e;
	struct sender_capture cap;
	struct cap_tap tap = {.tap = {.ops = &cap_ops, .channels = 2},
	                      .cap = &cap};
	struct sender_opts o;
	struct sender s;
	struct sender_stats st;

	jackd_fixture_up("rtb_sendcap");
	RTCHECK_INIT();
	RTCHECK_ASSERT_LOADED();
	cr_assert_eq(netloop_start(&nl, 64), 0);
	cr_assert_eq(netloop_call_wait(&nl, open_rx, NULL), 0);
	cr_assert_eq(sender_capture_init(&cap, 64, 1024, 2), 0);
	sender_opts_init(&o);
	memcpy(&o.to, &rx_addr, sizeof rx_addr);
	o.ssrc = 7;
	o.seq0 = 100;
	o.ts0 = 1000;
	cr_assert_eq(sender_init(&s, &o), 0, "%s", sender_error(&s));

	struct engine_config ec = {
	        .clock = ENGINE_DEVICE,
	        .device = "JACK:",
	        .channels = 2,
	        .in_channels = 2,
	        .no_output = true,
	};
	int err = engine_open(&e, &ec);
	cr_assert_eq(err, 0, "open: %d %s", err, engine_error(&e));
	cr_assert_eq(engine_link_tap(&e, &tap.tap, MIXER_TAP_INPUT), 0);
	cr_assert_eq(sender_start_capture(&s, &nl, &cap), 0, "%s",
	             sender_error(&s));
	RTCHECK_RESET();
	cr_assert_eq(engine_start(&e), 0, "%s", engine_error(&e));
	sleep_ms(1000);
	(void)engine_poll(&e);
	uint64_t frames = engine_frames(&e);
	uint64_t callbacks = device_callbacks(&e.dev);
	cr_assert_eq(engine_stop(&e), 0, "%s", engine_error(&e));
	RTCHECK_ASSERT_ZERO();
	sender_stop(&s);
	sender_stats(&s, &st);

	size_t n = atomic_load_explicit(&rx_n, memory_order_acquire);
	cr_log_info("jack capture: %llu callbacks, %llu frames, %zu packets "
	            "received, "
	            "underruns %llu, trimmed %llu, overruns %llu",
	            (unsigned long long)callbacks, (unsigned long long)frames,
	            n, (unsigned long long)st.underruns,
	            (unsigned long long)cap.trimmed,
	            (unsigned long long)cap.overruns);
	cr_assert_geq(frames, 24000, "the input ran");
	cr_assert_geq(n, 50, "about 100 packets in a second, got %zu", n);
	cr_assert_leq(n, 150);
	cr_assert_eq(st.packets, n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(rx_hdr[i].seq, (uint16_t)(100 + i));
		cr_assert_eq(rx_hdr[i].ssrc, 7);
		if (i > 0)
			cr_assert_eq(
			        (uint32_t)(rx_hdr[i].ts - rx_hdr[i - 1].ts) %
			                480,
			        0);
	}
	cr_assert_eq(atomic_load_explicit(&cap.overruns, memory_order_relaxed),
	             0);
	engine_clear(&e);
	sender_clear(&s);
	netloop_stop(&nl);
	sender_capture_clear(&cap);
}

/* The same through the public library, as `rtbridge send --capture`
 * does it: an engine with a device input pushes every period to a pushing
 * sender from its callback (rtb_engine_capture, the library's capture
 * tap), under the real-time checker. The engine refuses a sender of
 * another rate or other channels first. */
Test(sendcap, public_engine_pushes_its_input_to_a_sender_real_time_safe,
     .fini = jackd_fixture_down)
{
	static struct netloop nl;
	char to[64], a[ADDR_TEXT_MAX], why[256] = "";
	struct rtb_engine *e = NULL;
	struct rtb_sender *s = NULL, *bad = NULL;
	struct rtb_sender_stats st;

	jackd_fixture_up("rtb_sendcap_api");
	RTCHECK_INIT();
	RTCHECK_ASSERT_LOADED();
	atomic_store(&rx_n, 0);
	cr_assert_eq(netloop_start(&nl, 64), 0);
	cr_assert_eq(netloop_call_wait(&nl, open_rx, NULL), 0);
	snprintf(to, sizeof(to), "%s",
	         addr_format((const struct sockaddr *)&rx_addr, a, sizeof(a)));

	struct rtb_engine_config ec = {.clock = RTB_CLOCK_DEVICE,
	                               .device = "JACK:",
	                               .channels = 2,
	                               .in_channels = 2,
	                               .no_output = true};
	cr_assert_eq(rtb_engine_create(&ec, &e, why, sizeof(why)), 0, "%s",
	             why);
	struct rtb_sender_config sc = {
	        .to = to, .codec = RTB_CODEC_L16, .ssrc = 12, .rate = 44100};
	cr_assert_eq(rtb_sender_create_push(&sc, &bad, why, sizeof(why)), 0,
	             "%s", why);
	cr_assert_eq(rtb_engine_capture(e, bad), -EINVAL, "another rate");
	rtb_sender_destroy(bad);
	sc.rate = 0; /* 48000, the engine's */
	sc.channels = 1;
	cr_assert_eq(rtb_sender_create_push(&sc, &bad, why, sizeof(why)), 0,
	             "%s", why);
	cr_assert_eq(rtb_engine_capture(e, bad), -EINVAL, "other channels");
	rtb_sender_destroy(bad);
	sc.codec = RTB_CODEC_OPUS;
	sc.ssrc = 11; /* the refused ones sent silence as SSRC 12 */
	sc.channels = 0;
	cr_assert_eq(rtb_sender_create_push(&sc, &s, why, sizeof(why)), 0, "%s",
	             why);
	cr_assert_eq(rtb_engine_capture(e, s), 0);
	RTCHECK_RESET();
	cr_assert_eq(rtb_engine_start(e), 0, "%s", rtb_engine_error(e));
	for (int i = 0; i < 20; i++)
		(void)rtb_engine_run(e, 50);
	cr_assert_eq(rtb_engine_stop(e), 0, "%s", rtb_engine_error(e));
	RTCHECK_ASSERT_ZERO();
	cr_assert_eq(rtb_engine_capture(e, NULL), 0);
	cr_assert_eq(rtb_sender_stop(s, why, sizeof(why)), 0, "%s", why);
	rtb_sender_stats(s, &st);
	size_t n = atomic_load_explicit(&rx_n, memory_order_acquire), got = 0;
	for (size_t i = 0; i < n; i++)
		got += rx_hdr[i].ssrc == 11;
	cr_log_info("public capture: %llu packets sent, %zu received, "
	            "overruns %llu, trimmed %llu, underruns %llu",
	            (unsigned long long)st.packets, got,
	            (unsigned long long)st.overruns,
	            (unsigned long long)st.trimmed,
	            (unsigned long long)st.underruns);
	cr_assert_geq(st.packets, 50, "about 100 packets in a second");
	/* Packets of the device's input, not the silence of a sender that
	   nothing feeds. */
	cr_assert_geq(st.packets - st.underruns, 40, "%llu of %llu fed",
	              (unsigned long long)(st.packets - st.underruns),
	              (unsigned long long)st.packets);
	cr_assert_geq(got, 50, "about 100 packets received, got %zu", got);
	cr_assert_eq(st.overruns, 0);
	rtb_sender_destroy(s);
	rtb_engine_destroy(e);
	netloop_stop(&nl);
}

#ifdef RTBRIDGE_PATH
/* The command: `rtbridge send --capture --device JACK: --duration 0.5`
 * sends about 50 packets of 10 ms to the loopback receiver and exits 0. */
Test(sendcap, send_capture_command_sends_the_jack_input,
     .fini = jackd_fixture_down)
{
	static struct netloop nl;
	char to[64], a[ADDR_TEXT_MAX];
	pid_t pid;
	int status;

	jackd_fixture_up("rtb_sendcap_cli");
	atomic_store(&rx_n, 0);
	cr_assert_eq(netloop_start(&nl, 64), 0);
	cr_assert_eq(netloop_call_wait(&nl, open_rx, NULL), 0);
	snprintf(to, sizeof(to), "%s",
	         addr_format((const struct sockaddr *)&rx_addr, a, sizeof(a)));
	char *argv[] = {(char *)RTBRIDGE_PATH,
	                "send",
	                "--capture",
	                "--device",
	                "JACK:",
	                "--to",
	                to,
	                "--duration",
	                "0.5",
	                "--quiet",
	                "--ssrc",
	                "9",
	                NULL};
	cr_assert_eq(
	        posix_spawn(&pid, RTBRIDGE_PATH, NULL, NULL, argv, environ), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	          "rtbridge send --capture failed (status %d)", status);
	sleep_ms(100);
	size_t n = atomic_load_explicit(&rx_n, memory_order_acquire);
	cr_log_info("send --capture: %zu packets", n);
	cr_assert_geq(n, 45, "0.5 s of 10 ms packets, got %zu", n);
	cr_assert_leq(n, 55);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(rx_hdr[i].ssrc, 9);
	netloop_stop(&nl);
}
#endif
