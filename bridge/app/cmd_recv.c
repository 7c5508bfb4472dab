/*
 * cmd_recv: `rtbridge recv`, receive RTP streams, play, record and mix them
 *
 * Set-up on the control thread, in order: disk server, archive sources
 * (--mix) and the mix recorder (--record), the mixer, the device (PortAudio
 * or the virtual clock), the net thread and the receiver's socket. Then the
 * control loop, every 5 ms: drain the mixer's hand-backs, take each new
 * stream the net thread reports (a source that passed probation; it came
 * with one of the spare streams allocated ahead, already receiving: open
 * its recording tap and mixer_link it; without a spare, set one up and
 * receiver_install it), top the spares up again, sweep the streams the
 * net thread let go of (silent longer than --timeout, superseded, taken
 * over) and move every stream along its lifecycle (cmd_recv_impl.h),
 * write the JSON lines and the terminal status, and watch for the end
 * (signal, --duration, --idle-exit). Tear-down runs in reverse: the
 * socket closes first so the net thread lets go of every stream, then
 * the device stops, the mixer hands everything back, and every recording
 * is finalized and waited for. Exit status: 0, 1 on a runtime error, 2
 * on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/app/app_signal.h"
#include "bridge/app/cmd_recv_impl.h"
#include "bridge/app/cmds.h"
#include "bridge/rtcheck/rthook.h"

static void recv__loop(struct recv *p)
{
	const struct timespec tick = {0, RECV_POLL_NS};
	struct app_status status;
	struct receiver_new n;
	uint64_t timeout_ns = (uint64_t)(p->o.timeout_s * 1e9);
	uint64_t json_ns = (uint64_t)p->o.stats_ms * 1000000u;
	uint64_t next_sweep = 0, next_json = p->t0 + json_ns;

	app_status_init(&status, stderr, p->o.force_status);
	for (;;) {
		uint64_t now = netloop_now_ns();
		mixer_poll(&p->m, &p->st);
		while (receiver_poll_new(&p->rx, &n))
			cmd_recv_streams_add(p, &n);
		cmd_recv_streams_spare(p);
		if (now >= next_sweep) {
			cmd_recv_streams_sweep(p, timeout_ns);
			next_sweep = now + RECV_SWEEP_NS;
		}
		cmd_recv_streams_tick(p);
		if (now >= next_json) {
			cmd_recv_streams_json(p);
			next_json += json_ns;
		}
		if (app_status_due(&status))
			cmd_recv_streams_draw(p, &status);
		if (app_signal_stop_requested())
			break;
		if (p->o.duration_s > 0 && cmd_recv_secs(p) >= p->o.duration_s)
			break;
		/* Read after the clock: the net thread may have stamped a
		   datagram since `now` was taken above. */
		uint64_t last = receiver_last_rx_ns(&p->rx);
		now = netloop_now_ns();
		if (p->o.idle_exit_s > 0 && last && now > last &&
		    (double)(now - last) / 1e9 >= p->o.idle_exit_s)
			break;
		if (p->rec_open && writebehind_status(p->rec.wb) < 0) {
			app_status_end(&status);
			fprintf(stderr,
			        "rtbridge recv: recording stopped: %s\n",
			        disktap_error(&p->rec));
			p->rc = -EIO;
			break;
		}
		nanosleep(&tick, NULL);
	}
	app_status_end(&status);
}

static int recv__open_mix(struct recv *p)
{
	struct disksource_opts so = {.channels = p->channels,
	                             .rate = RECV_RATE};
	for (int i = 0; i < p->o.nmix; i++) {
		int rc = disksource_open(&p->mix[i], &p->srv, p->o.mix[i], &so);
		if (rc < 0) {
			fprintf(stderr, "rtbridge recv: %s: %s\n", p->o.mix[i],
			        strerror(-rc));
			return rc;
		}
		p->nmix = i + 1;
	}
	for (int i = 0; i < p->o.nmix; i++) {
		int rc = disksource_wait_ready(&p->mix[i], RECV_OPEN_MS);
		if (rc < 0) {
			const char *why = disksource_error(&p->mix[i]);
			fprintf(stderr, "rtbridge recv: %s\n",
			        why[0] ? why : strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static int recv__open_record(struct recv *p)
{
	struct disktap_opts to = {.channels = p->channels, .rate = RECV_RATE};
	int rc = disktap_open(&p->rec, &p->srv, p->o.record, &to);
	if (rc == 0) {
		p->rec_open = true;
		rc = disktap_wait_open(&p->rec, RECV_OPEN_MS);
	}
	if (rc < 0)
		fprintf(stderr, "rtbridge recv: %s\n",
		        p->rec_open && disktap_error(&p->rec)[0]
		                ? disktap_error(&p->rec)
		                : strerror(-rc));
	return rc;
}

static int recv__open_mixer(struct recv *p)
{
	struct mixer_config mc;
	mixer_config_default(&mc);
	mc.rate = RECV_RATE;
	mc.channels = p->channels;
	mc.max_sources = p->o.max_streams * 2u + (unsigned)p->o.nmix + 4u;
	int rc = mixer_init(&p->m, &mc);
	if (rc == 0) {
		p->mixer_ready = true;
		rc = mixer_stats_init(&p->st, &p->m);
		p->stats_ready = rc == 0;
	}
	for (int i = 0; rc == 0 && i < p->nmix; i++)
		rc = mixer_link(&p->m, &p->mix[i].src, 1.0f);
	if (rc == 0 && p->rec_open)
		rc = mixer_link_tap(&p->m, &p->rec.tap, MIXER_TAP_OUTPUT);
	if (rc < 0)
		fprintf(stderr, "rtbridge recv: cannot set up the mixer: %s\n",
		        strerror(-rc));
	return rc;
}

static int recv__open_device(struct recv *p)
{
	struct devcfg dc;
	devcfg_default(&dc);
	dc.rate = RECV_RATE;
	dc.period = p->o.period;
	dc.out_channels = p->channels;
	dc.callback = mixer_process;
	dc.user = &p->m;
	enum device_kind kind = p->o.play ? DEVICE_PORTAUDIO : DEVICE_VCLOCK;
	dc.mode = VCLOCK_REALTIME;
	if (p->o.device) {
		devcfg_select(&dc, p->o.device, p->dev_name,
		              sizeof(p->dev_name));
	}
	int rc = device_open(&p->dev, kind, &dc);
	if (rc < 0) {
		const char *why = device_error(&p->dev);
		if (p->o.device)
			fprintf(stderr, "rtbridge recv: device '%s': %s\n",
			        p->o.device, why[0] ? why : strerror(-rc));
		else
			fprintf(stderr,
			        "rtbridge recv: no usable audio device (%s): "
			        "use --no-play to receive and record without "
			        "one\n",
			        why[0] ? why : strerror(-rc));
		device_close(&p->dev);
		return rc;
	}
	p->dev_open = true;
	return 0;
}

static int recv__open_net(struct recv *p)
{
	struct receiver_opts ro = {
	        .listen = p->o.listen,
	        .pt = p->o.pt,
	        .max_streams = p->o.max_streams,
	        .allow = p->o.allow,
	        .nallow = (size_t)p->o.nallow,
	        .rcvbuf = 1 << 20,
	        .max_datagram = cmd_recv_streams_datagram_max(&p->o),
	        .min_sequential = p->o.probation,
	};
	int rc = receiver_init(&p->rx, &ro);
	if (rc < 0) {
		fprintf(stderr, "rtbridge recv: receiver: %s\n", strerror(-rc));
		return rc;
	}
	p->rx_ready = true;
	cmd_recv_streams_spare(p);
	rc = netloop_start(&p->nl, 64);
	if (rc < 0) {
		fprintf(stderr, "rtbridge recv: net thread: %s\n",
		        strerror(-rc));
		return rc;
	}
	p->nl_running = true;
	rc = receiver_open(&p->rx, &p->nl);
	if (rc < 0) {
		fprintf(stderr, "rtbridge recv: %s\n", receiver_error(&p->rx));
		return rc;
	}
	char a[ADDR_TEXT_MAX];
	struct sockaddr_storage ss = p->o.listen;
	unsigned port = receiver_port(&p->rx);
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
	fprintf(stderr, "rtbridge recv: listening on %s (%s, pt %d)\n",
	        addr_format((const struct sockaddr *)&ss, a, sizeof(a)),
	        codec_kind_name(p->o.codec.kind), p->o.pt);
	return 0;
}

/* Tear down in reverse; every recording is finalized and waited for. */
static void recv__teardown(struct recv *p)
{
	if (p->rx_ready)
		receiver_close(&p->rx);
	if (p->nl_running)
		netloop_stop(&p->nl);
	p->nl_running = false;
	if (p->rx_ready)
		cmd_recv_streams_net_closed(p);
	if (p->dev_open)
		device_stop(&p->dev);
	if (p->mixer_ready) {
		mixer_poll(&p->m, &p->st);
		mixer_clear(&p->m); /* hands back every source and tap */
		p->mixer_ready = false;
	}
	cmd_recv_streams_finish(p);
	for (int i = 0; i < p->nmix; i++)
		disksource_close(&p->mix[i]);
	if (p->rec_open) {
		disktap_close(&p->rec);
		int rc = disktap_wait_closed(&p->rec, RECV_CLOSE_MS);
		if (rc < 0) {
			fprintf(stderr,
			        "rtbridge recv: %s: recording failed: %s\n",
			        p->o.record,
			        p->rec.result.message[0] ? p->rec.result.message
			                                 : strerror(-rc));
			p->rc = rc;
		}
	}
	if (p->srv_running)
		(void)diskserver_stop(&p->srv);
	p->srv_running = false;
}

static void recv__free(struct recv *p)
{
	if (p->dev_open)
		device_close(&p->dev);
	if (p->stats_ready)
		mixer_stats_clear(&p->st);
	if (p->rx_ready)
		receiver_clear(&p->rx);
	cmd_recv_streams_free(p);
	app_stats_close(&p->json);
}

int cmd_recv(int argc, char **argv)
{
	static struct recv p;
	int rc = cmd_recv_opts_parse(&p.o, argc, argv);
	if (rc == 1) {
		cmd_recv_opts_usage(stdout);
		return 0;
	}
	if (rc < 0)
		return 2;
	p.channels = p.o.codec.channels > 2 ? (unsigned)p.o.codec.channels : 2u;
	if (p.channels > 2 && p.o.nmix > 0) {
		fprintf(stderr, "rtbridge recv: --mix needs streams of 1 or 2 "
		                "channels\n");
		return 2;
	}
	if (p.o.play < 0)
		p.o.play =
		        1; /* the default; device_open says if there is none */
	p.drift = p.o.drift != 0;
	if (cmd_recv_streams_check(&p) < 0)
		return 2;
	if (app_stats_open(&p.json, p.o.stats_json) < 0)
		return 1;
	(void)rthook_init();
	cmd_recv_streams_memory();
	p.t0 = netloop_now_ns();

	rc = diskserver_start(&p.srv, NULL);
	if (rc < 0)
		fprintf(stderr, "rtbridge recv: disk server: %s\n",
		        diskserver_error(&p.srv));
	else
		p.srv_running = true;
	if (rc == 0)
		rc = recv__open_mix(&p);
	if (rc == 0 && p.o.record)
		rc = recv__open_record(&p);
	if (rc == 0)
		rc = recv__open_mixer(&p);
	if (rc == 0)
		rc = recv__open_device(&p);
	if (rc == 0)
		rc = recv__open_net(&p);
	if (rc == 0) {
		rc = app_signal_install();
		if (rc < 0)
			fprintf(stderr, "rtbridge recv: signals: %s\n",
			        strerror(-rc));
	}
	if (rc == 0) {
		rc = device_start(&p.dev);
		if (rc < 0)
			fprintf(stderr,
			        "rtbridge recv: cannot start the device: %s\n",
			        device_error(&p.dev));
	}
	bool ran = rc == 0;
	if (ran)
		recv__loop(&p);
	recv__teardown(&p);
	if (ran)
		cmd_recv_streams_summary(&p);
	app_signal_restore();
	recv__free(&p);
	if (rc < 0 || p.rc < 0)
		return 1;
	return 0;
}
