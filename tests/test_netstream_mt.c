/*
 * test_netstream_mt: the network source across real threads
 *
 * A net thread receives datagrams (netstream_receive: pool_get, ring push),
 * an audio thread pulls (ring pop, jitter buffer, decode, pool_return), and
 * the test thread reads the published statistics all the while. Time is
 * simulated but shared: the audio thread advances it by one block per pull;
 * the net thread delivers each packet once the clock has passed its
 * arrival time, and may lag the audio thread by up to LAG_NS, so the two
 * really run at the same time. A small pool makes records cycle through
 * pool_return and reclamation constantly. Labelled concurrency (TSan).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/net/netstream.h"
#include "codec/rtp.h"

#define RATE   48000
#define FRAME  240 /* 5 ms */
#define BLOCK  240
#define LAG_NS 10000000ull /* the net thread may be 10 ms behind */
#define DELAY  3000000ull  /* network delay, ns */
#if defined(__SANITIZE_THREAD__)
#define PACKETS 1000
#else
#define PACKETS 4000
#endif

static struct netstream ns;
static _Atomic uint64_t sim_now; /* ns, advanced by the audio thread */
static _Atomic uint64_t
        delivered_ns; /* net thread: all arrivals <= this are in */
static _Atomic int audio_done;
static _Atomic int failed;

static uint64_t sim_clock(void *arg)
{
	(void)arg;
	/* Acquire/release not needed for a lone value read by its writer. */
	return atomic_load_explicit(&sim_now, memory_order_relaxed);
}

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *net_main(void *arg)
{
	uint8_t buf[RTP_HEADER_MIN + 2 * FRAME];
	uint8_t payload[2 * FRAME];
	uint64_t deadline = wall_ns() + 60000000000ull;

	(void)arg;
	for (unsigned k = 0; k < PACKETS; k++) {
		uint64_t arrival = (uint64_t)k * 5000000ull + DELAY;
		/* Wait for the clock to pass the arrival time. Acquire pairs
		   with the audio thread's release: not needed for data, but
		   keeps the wait honest under TSan. */
		while (atomic_load_explicit(&sim_now, memory_order_acquire) <
		       arrival) {
			if (atomic_load_explicit(&audio_done,
			                         memory_order_relaxed) ||
			    wall_ns() > deadline) {
				atomic_store(&failed, 1);
				return NULL;
			}
			sched_yield();
		}
		struct rtp_header h;
		memset(&h, 0, sizeof(h));
		h.version = 2;
		h.pt = 96;
		h.seq = (uint16_t)(60000u + k);
		h.ts = 1000u + k * FRAME;
		h.ssrc = 7;
		for (unsigned i = 0; i < sizeof(payload); i++)
			payload[i] = (uint8_t)(k + i);
		int n = rtp_write(&h, payload, sizeof(payload), buf,
		                  sizeof(buf));
		if (n < 0 ||
		    netstream_receive(&ns, buf, (size_t)n, arrival) != 0)
			atomic_store(&failed, 1);
		/* Release publishes that every packet up to this arrival has
		   been pushed; the audio thread's acquire pairs with it. */
		atomic_store_explicit(&delivered_ns, arrival,
		                      memory_order_release);
	}
	atomic_store_explicit(&delivered_ns, UINT64_MAX, memory_order_release);
	return NULL;
}

static void *audio_main(void *arg)
{
	static float out[BLOCK];
	/* Stop when the last packet has arrived, before it is due: nothing
	   may be lost on the way. */
	uint64_t end = (uint64_t)PACKETS * 5000000ull;
	uint64_t deadline = wall_ns() + 60000000000ull;

	(void)arg;
	for (uint64_t t = 0; t < end;) {
		/* Let the net thread fall behind by LAG_NS at most. */
		while (t > LAG_NS &&
		       atomic_load_explicit(&delivered_ns,
		                            memory_order_acquire) <
		               t - LAG_NS) {
			if (wall_ns() > deadline) {
				atomic_store(&failed, 1);
				goto out;
			}
			sched_yield();
		}
		if (netstream_pull(&ns, out, BLOCK) != BLOCK)
			atomic_store(&failed, 1);
		t += (uint64_t)BLOCK * 1000000000ull / RATE;
		/* Release pairs with the net thread's acquire (see there). */
		atomic_store_explicit(&sim_now, t, memory_order_release);
	}
out:
	atomic_store(&audio_done, 1);
	return NULL;
}

Test(netstream_mt, net_and_audio_threads_move_every_packet_once, .timeout = 120)
{
	struct netstream_config cfg;
	pthread_t net, audio;

	netstream_config_default(&cfg, CODEC_L16);
	cfg.codec.channels = 1;
	cfg.jitter.adaptive = false;
	cfg.jitter.fixed_ms = 40;
	cfg.packets = 32; /* small: records must cycle */
	cfg.clock = sim_clock;
	cr_assert_eq(netstream_init(&ns, &cfg), 0);

	cr_assert_eq(pthread_create(&audio, NULL, audio_main, NULL), 0);
	cr_assert_eq(pthread_create(&net, NULL, net_main, NULL), 0);
	struct netstream_stats st, prev;
	memset(&prev, 0, sizeof(prev));
	unsigned reads = 0;
	while (!atomic_load(&audio_done)) {
		if (netstream_stats(&ns, &st) == 0) {
			reads++;
			cr_assert_geq(st.received, prev.received);
			cr_assert_geq(st.frames_out, prev.frames_out);
			cr_assert_eq(st.frames_out % BLOCK, 0);
			prev = st;
		}
		sched_yield();
	}
	pthread_join(net, NULL);
	pthread_join(audio, NULL);
	cr_assert_not(atomic_load(&failed));
	/* The threads are joined: take in the last packets from here. */
	static float tail[BLOCK];
	netstream_pull(&ns, tail, BLOCK);
	cr_assert_eq(netstream_stats(&ns, &st), 0);
	cr_log_info("stats read %u times; received %llu, lost %llu, "
	            "dropped %llu",
	            reads, (unsigned long long)st.received,
	            (unsigned long long)st.lost,
	            (unsigned long long)st.rx_dropped);
	cr_assert_eq(st.received, PACKETS);
	cr_assert_eq(st.rx_dropped + st.rx_invalid, 0);
	cr_assert_eq(st.lost + st.late + st.duplicate, 0);
	cr_assert_eq(st.frames_in,
	             (uint64_t)(PACKETS - jitter_held(&ns.jit)) * FRAME,
	             "every packet not still held was played once");
	netstream_clear(&ns);
}
