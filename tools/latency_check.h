/*
 * latency_check's shared parts: the test signal, the paced RTP sender, the
 * click detector and the summary of the measured latencies. Used by the
 * rtbridge receive path (latency_check.c) and by the GStreamer reference
 * (latency_gst.c), so that both are measured against the same sender in
 * the same way.
 *
 * The signal, 48 kHz stereo: the right channel is silent except for a 1 ms
 * click every 200 ms (at sender position m * 9600 frames, a packet
 * boundary for every packet time measured); the left channel counts frames
 * (a ramp of 2^14 steps of one L16 step each), so that a bit-exact receiver can
 * tell a gap or a repeat from the samples alone.
 *
 * Every function runs on the thread that calls it; a struct lat_send is
 * read-only once its thread runs.
 */
#ifndef RTB_TOOLS_LATENCY_CHECK_H
#define RTB_TOOLS_LATENCY_CHECK_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

#define LAT_RATE        48000
#define LAT_CH          2
#define LAT_CLICK_EVERY 9600          /* frames: 200 ms */
#define LAT_SETTLE_NS   1000000000ull /* clicks before t0 + 1 s ignored */
#define LAT_MAX_ONSETS  4096
#define LAT_PT          96
#define LAT_COUNTER_MOD 16384 /* the left channel's count wraps here */

/* Monotonic clock, ns; sleep until an absolute time on it. */
uint64_t lat_now_ns(void);
void lat_sleep_until(uint64_t ns);

/* The signal's left (counter) and right (click) samples at frame f. */
float lat_counter(uint64_t f);
float lat_click(uint64_t f);

/* The paced sender: packet k (frames kF .. kF+F-1) leaves at
   t0 + (k+1) F / rate, as a live source's would, until end_ns. */
struct lat_send {
	enum codec_kind kind; /* CODEC_L16, CODEC_L24 or CODEC_OPUS */
	int frame;            /* frames per packet */
	int fd;               /* a UDP socket */
	struct sockaddr_in dst;
	uint64_t t0, end_ns;
	_Atomic bool *failed; /* set on an error; the sender stops when set */
	bool rt;              /* SCHED_FIFO as rtbridge send's net thread */
};

/* Thread body; arg is a struct lat_send. */
void *lat_sender(void *arg);

/* Onsets of clicks in an output: armed by 10 ms below 0.01, the first
   sample above 0.1 after that is an onset (the rising edge passes between
   the two thresholds first). */
struct lat_detect {
	uint64_t onset[LAT_MAX_ONSETS]; /* output times, ns */
	size_t n;
	uint64_t quiet;
	bool armed;
};

/* One output sample x (the click channel) output at time t_ns. */
void lat_detect_sample(struct lat_detect *d, float x, uint64_t t_ns);

struct lat_summary {
	size_t n; /* clicks counted (after the settling second) */
	double med_ms, min_ms, max_ms;
};

/* Latency of each onset after t0 + LAT_SETTLE_NS: its time minus the time
   the sender's clock reached the click (t0 + position / rate). */
void lat_summarize(const struct lat_detect *d, uint64_t t0,
                   struct lat_summary *s);

/* A UDP socket on 127.0.0.1, port 0 (bound) or unbound (bind false);
 *a gets its address. Return: the descriptor, or -errno. */
int lat_udp(bool bind_it, struct sockaddr_in *a);

/* The codec's name as the table prints it ("l16", "l24", "opus"). */
const char *lat_codec_name(enum codec_kind kind);

/*
 * The GStreamer reference (latency_gst.c): udpsrc ! rtpjitterbuffer
 * latency=L ! rtpL16depay/rtpL24depay ! audioconvert ! fdsink sync=true,
 * fed by the same sender; its output is read from a pipe as it is
 * rendered; with rt, the pipeline's threads run SCHED_FIFO at the
 * priority of rtbridge's net thread (as latency_check's own do). Tries L = 0,
 * 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100 ms and reports the lowest that
 * works: every frame after the first one received arrives, none twice, and the
 * clicks are all there.
 */
struct lat_gst_result {
	unsigned latency_ms; /* rtpjitterbuffer latency that worked */
	unsigned tried;      /* settings tried */
	struct lat_summary sum;
	uint64_t gaps; /* of the lower settings, gaps in the last one */
};

/*
 * Return: 0 (res set), -ENOENT without gst-launch-1.0, -ERANGE when no
 * setting worked, -errno
 */
int lat_gst_measure(enum codec_kind kind, int frame, double seconds, bool rt,
                    struct lat_gst_result *res);

#endif
