/*
 * cmd_recv_metrics: the metrics page of `rtbridge recv --metrics` (see
 * app_metrics.h)
 *
 * Once a second the control loop takes each playing stream's figures
 * (rtb_receiver_stream_stats, as for --stats-json) and the receiver's
 * counters, and writes them as a page for the library's metrics endpoint,
 * served by the receiver's net thread (--sap: the SAP listener's, which
 * outlives the sessions' receivers). Per stream: one row
 * labelled with its SSRC (8 hex digits) and its sender's address; a stream that
 * has left has no row (its series end). The audio callback's worst time and the
 * real-time violations are the process's, not a stream's: they carry no labels.
 *
 * Context: control (main) thread.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "bridge/app/cmd_recv.h"
#include "bridge/rtcheck/rthook.h"

#define RECV_STAT(f) offsetof(struct rtb_stream_stats, f)
#define RECV_COUNT(nm, f, text)                                                \
	{                                                                      \
		.name = (nm), .counter = true, .help = (text),                 \
		.off = RECV_STAT(f), .scale = 1.0                              \
	}
#define RECV_GAUGE(nm, f, sc, text)                                            \
	{                                                                      \
		.name = (nm), .help = (text), .off = RECV_STAT(f),             \
		.is_double = true, .scale = (sc)                               \
	}

static const struct app_metrics_family recv_metrics__streams[] = {
        RECV_COUNT("rtbridge_stream_received_packets", received,
                   "packets that reached the jitter buffer"),
        RECV_COUNT("rtbridge_stream_lost_packets", lost,
                   "packets missing at their playout time"),
        RECV_COUNT("rtbridge_stream_recovered_packets", recovered,
                   "lost packets restored from the redundant copies later "
                   "ones carried (RFC 2198 RED) or from parity packets "
                   "(ULPFEC)"),
        RECV_COUNT("rtbridge_stream_late_repairs", late_repairs,
                   "lost packets restored after their playout time "
                   "(dropped; the delay rises to wait for repairs while "
                   "packets are lost)"),
        RECV_COUNT("rtbridge_stream_late_packets", late,
                   "packets that arrived after their playout time"),
        RECV_COUNT("rtbridge_stream_duplicate_packets", duplicate,
                   "copies of packets already received"),
        RECV_COUNT("rtbridge_stream_reordered_packets", reordered,
                   "packets that arrived out of order"),
        RECV_COUNT("rtbridge_stream_concealed_frames", concealed_frames,
                   "frames made by concealment or FEC (inserted and "
                   "recovered ones included)"),
        RECV_COUNT("rtbridge_stream_inserted_frames", inserted_frames,
                   "frames of concealment inserted to grow the buffer"),
        RECV_COUNT("rtbridge_stream_recovered_frames", recovered_frames,
                   "frames restored from the next packet's Opus in-band "
                   "FEC"),
        RECV_COUNT("rtbridge_stream_underruns", underruns,
                   "times the buffer ran dry and a packet followed"),
        RECV_COUNT("rtbridge_stream_rebuffers", rebuffers,
                   "restarts after running dry"),
        RECV_COUNT("rtbridge_stream_resyncs", resyncs,
                   "sender restarts followed"),
        RECV_COUNT("rtbridge_stream_skips", skips,
                   "times playout skipped ahead to shed a long buffer"),
        RECV_COUNT("rtbridge_stream_decode_errors", decode_errors,
                   "payloads the decoder refused"),
        RECV_COUNT("rtbridge_stream_dropped_packets", rx_dropped,
                   "packets dropped on arrival (pool empty or ring full)"),
        RECV_COUNT("rtbridge_stream_invalid_packets", rx_invalid,
                   "packets refused on arrival (too big, bad sequence)"),
        RECV_COUNT("rtbridge_stream_fec_packets", fec_packets,
                   "ULPFEC packets taken (not media: never lost or late)"),
        RECV_GAUGE("rtbridge_stream_buffer_seconds", buffer_ms, 1e-3,
                   "current playout delay"),
        RECV_GAUGE("rtbridge_stream_target_seconds", target_ms, 1e-3,
                   "target playout delay"),
        RECV_GAUGE("rtbridge_stream_jitter_seconds", jitter_ms, 1e-3,
                   "RFC 3550 interarrival jitter"),
        RECV_GAUGE("rtbridge_stream_drift_ppm", drift_ppm, 1.0,
                   "sender clock against ours, parts per million (+: "
                   "sender fast)"),
        RECV_GAUGE("rtbridge_stream_sender_ppm", sender_ppm, 1.0,
                   "its part: the sender's clock against the local one"),
        RECV_GAUGE("rtbridge_stream_device_ppm", device_ppm, 1.0,
                   "its part: the consumer's clock against the local one"),
};

/* The receiver's drops, by reason: a field each. */
static const struct {
	const char *reason;
	size_t off;
} recv_metrics__drops[] = {
        {"malformed", offsetof(struct rtb_receiver_counters, malformed)},
        {"too_big", offsetof(struct rtb_receiver_counters, too_big)},
        {"unknown_pt", offsetof(struct rtb_receiver_counters, unknown_pt)},
        {"not_allowed", offsetof(struct rtb_receiver_counters, not_allowed)},
        {"over_max_streams",
         offsetof(struct rtb_receiver_counters, over_max_streams)},
        {"setting_up", offsetof(struct rtb_receiver_counters, setting_up)},
        {"refused", offsetof(struct rtb_receiver_counters, refused)},
        {"stream", offsetof(struct rtb_receiver_counters, stream_dropped)},
        {"probation",
         offsetof(struct rtb_receiver_counters, probation_dropped)},
        {"ssrc_conflict",
         offsetof(struct rtb_receiver_counters, ssrc_conflicts)},
        {"notify", offsetof(struct rtb_receiver_counters, notify_dropped)},
        {"srtp_auth_failed",
         offsetof(struct rtb_receiver_counters, auth_failed)},
        {"srtp_replayed", offsetof(struct rtb_receiver_counters, replayed)},
};

/* The figures taken once, written in both spellings. */
struct recv_metrics {
	struct recv_cmd *p;
	struct rtb_receiver_counters c;
	double cb_max_s;
	unsigned long rtv;
};

static void recv_metrics__build(struct app_metrics_text *w, void *arg)
{
	const struct recv_metrics *x = arg;
	const struct app_metrics *m = &x->p->metrics;
	char labels[48];

	app_metrics_one(w, "rtbridge_streams", false, "streams playing",
	                (double)m->nrows);
	app_metrics_families(w, recv_metrics__streams,
	                     sizeof(recv_metrics__streams) /
	                             sizeof(recv_metrics__streams[0]),
	                     m->rows, m->nrows);
	app_metrics_one(w, "rtbridge_callback_max_seconds", false,
	                "longest audio callback so far", x->cb_max_s);
	app_metrics_one(w, "rtbridge_rt_violations", true,
	                "real-time rules broken on the audio thread (with "
	                "the checker loaded)",
	                (double)x->rtv);
	app_metrics_one(w, "rtbridge_recv_datagrams", true,
	                "datagrams the socket delivered",
	                (double)x->c.datagrams);
	app_metrics_one(w, "rtbridge_recv_streams_seen", true, "new SSRCs seen",
	                (double)x->c.streams_seen);
	app_metrics_head(w, "rtbridge_recv_dropped_datagrams", true,
	                 "datagrams dropped, by reason");
	for (size_t i = 0;
	     i < sizeof(recv_metrics__drops) / sizeof(recv_metrics__drops[0]);
	     i++) {
		uint64_t v;
		memcpy(&v, (const char *)&x->c + recv_metrics__drops[i].off,
		       sizeof(v));
		snprintf(labels, sizeof(labels), "reason=\"%s\"",
		         recv_metrics__drops[i].reason);
		app_metrics_sample(w, "rtbridge_recv_dropped_datagrams", true,
		                   labels, (double)v);
	}
}

/* A row per stream of r, from snap[used] on. Return: used, with the
   rows taken. */
static unsigned recv_metrics__rows(struct recv_cmd *p, struct rtb_receiver *r,
                                   struct rtb_stream_stats *snap, unsigned used)
{
	uint64_t ids[RECEIVER_MAX_STREAMS];
	char ssrc[16];

	unsigned n = rtb_receiver_list(r, ids, RECEIVER_MAX_STREAMS);
	for (unsigned i = 0;
	     i < n && i < RECEIVER_MAX_STREAMS && used < RECEIVER_MAX_STREAMS;
	     i++) {
		struct rtb_stream_info info;
		if (rtb_receiver_stream_info(r, ids[i], &info) < 0 ||
		    rtb_receiver_stream_stats(r, ids[i], &snap[used]) < 0)
			continue;
		struct app_metrics_row *row = app_metrics_row(&p->metrics);
		if (!row)
			return RECEIVER_MAX_STREAMS; /* no more rows */
		snprintf(ssrc, sizeof(ssrc), "%08x", (unsigned)info.ssrc);
		app_metrics_label(row, "ssrc", ssrc);
		app_metrics_label(row, "source", info.from);
		row->values = &snap[used++];
	}
	return used;
}

void cmd_recv_metrics_publish(struct recv_cmd *p, int64_t now)
{
	static struct rtb_stream_stats snap[RECEIVER_MAX_STREAMS];
	struct rtb_receiver *rs[RECV_SAP_OLD + 1];
	struct recv_metrics x = {.p = p};
	struct rtb_engine_stats es;
	unsigned used = 0; /* of snap */

	/* The current session's streams, and those of the ones before
	   still playing out (--sap). */
	unsigned nr = cmd_recv_receivers(p, rs);
	for (unsigned k = 0; k < nr; k++)
		used = recv_metrics__rows(p, rs[k], snap, used);
	cmd_recv_stats_counters(p, &x.c);
	rtb_engine_stats(p->e, &es);
	x.cb_max_s = es.callback_max_us * 1e-6;
	x.rtv = rthook_violations();
	(void)app_metrics_publish(&p->metrics, now, recv_metrics__build, &x);
}

int cmd_recv_metrics_open(struct recv_cmd *p)
{
	if (!p->o.metrics)
		return 0;
	/* No thread of its own: the net thread of what outlives every
	   stream of the run. */
	struct rtb_metrics_config host = {.sap = cmd_recv_sap_listener(p)};
	if (!host.sap)
		host.receiver = p->r;
	/* Rows for every stream the table holds, and the ones leaving. */
	int rc = app_metrics_open(&p->metrics, "recv",
	                          (const struct sockaddr *)&p->o.metrics_addr,
	                          host, p->o.max_streams + RECV_SPARES);
	if (rc == 0)
		cmd_recv_metrics_publish(p, (int64_t)netloop_now_ns());
	return rc;
}

void cmd_recv_metrics_close(struct recv_cmd *p)
{
	app_metrics_clear(&p->metrics);
}
