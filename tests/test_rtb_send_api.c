/*
 * test_rtb_send_api: the sender of the public C API (rtbridge/sender.h)
 * through librtbridge.so, as `rtbridge send` and an application use it
 *
 * The settings 0.2 added are checked and refused with a reason (a packet
 * time in ms for PCM packets whole microseconds cannot say); a file is
 * sent from start_s with the DSCP asked, to a socket of the test's on
 * 127.0.0.1, wakes a poller at its end (rtb_sender_fd) and stops with
 * final figures (position and length too); the SDP describes the stream;
 * an SRTP sender's packets carry the 10-byte tag; RTB_PT_ZERO is payload
 * type 0; ULPFEC packets interleave; and a binary built against 0.1 (its
 * shorter structs, through the RTBRIDGE_0 versions of the changed
 * functions) keeps working.
 */
#define _GNU_SOURCE /* dlvsym */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rtbridge/rtbridge.h>

TestSuite(rtb_send_api, .timeout = 60);

static const uint8_t key30[30] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                  11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                                  21, 22, 23, 24, 25, 26, 27, 28, 29, 30};

/* A UDP socket on 127.0.0.1 that reports the TOS byte; *to = its
   "ADDR:PORT". */
static int listener(char *to, size_t len)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t n = sizeof(a);
	int one = 1;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &n), 0);
	cr_assert_eq(setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one)),
	             0);
	snprintf(to, len, "127.0.0.1:%u", ntohs(a.sin_port));
	return fd;
}

/* The next datagram within ms: its length, TOS into *tos; 0 on time-out. */
static ssize_t take(int fd, uint8_t *buf, size_t cap, int *tos, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char ctl[64];
	struct iovec v = {.iov_base = buf, .iov_len = cap};
	struct msghdr m = {.msg_iov = &v,
	                   .msg_iovlen = 1,
	                   .msg_control = ctl,
	                   .msg_controllen = sizeof(ctl)};

	if (poll(&p, 1, ms) != 1)
		return 0;
	ssize_t n = recvmsg(fd, &m, 0);
	*tos = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS)
			*tos = *(unsigned char *)CMSG_DATA(c);
	return n;
}

/* 0.2 s of stereo 16-bit silence at 48 kHz as a WAV file. */
static void write_wav(const char *path)
{
	static const unsigned char head[44] = {
	        'R', 'I', 'F',  'F',  0x24, 0x96, 0,    0,    'W',  'A', 'V',
	        'E', 'f', 'm',  't',  ' ',  16,   0,    0,    0,    1,   0,
	        2,   0,   0x80, 0xbb, 0,    0,    0x00, 0xee, 0x02, 0,   4,
	        0,   16,  0,    'd',  'a',  't',  'a',  0x00, 0x96, 0,   0};
	static unsigned char zeros[38400];
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(head, 1, sizeof(head), f), sizeof(head));
	cr_assert_eq(fwrite(zeros, 1, sizeof(zeros), f), sizeof(zeros));
	cr_assert_eq(fclose(f), 0);
}

static void sleep_ms(int ms)
{
	struct timespec t = {.tv_sec = ms / 1000,
	                     .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&t, NULL);
}

/* c is refused by rtb_sender_check with a line that says `says`. */
static void refused(const struct rtb_sender_config *c, const char *says)
{
	char why[256] = "";

	cr_assert_eq(rtb_sender_check(c, why, sizeof(why)), -EINVAL, "%s",
	             says);
	cr_assert(strstr(why, says), "want '%s': %s", says, why);
}

Test(rtb_send_api, new_settings_are_checked_and_refused_with_a_reason)
{
	const struct rtb_sender_config good = {.to = "127.0.0.1:9", .ssrc = -1};
	struct rtb_sender_config c;
	char why[256];

	cr_assert_eq(rtb_sender_check(&good, why, sizeof(why)), 0, "%s", why);
	c = good;
	c.ttl = 256;
	refused(&c, "ttl");
	c = good;
	c.dscp = 64;
	refused(&c, "dscp");
	c = good;
	c.session = "two\nlines";
	refused(&c, "session");
	c = good;
	c.announce = true;
	c.announce_group = "127.0.0.1";
	refused(&c, "multicast");
	c.announce_group = NULL;
	c.srtp_key = key30;
	c.srtp_key_len = sizeof(key30);
	refused(&c, "SRTP");
	c.announce = false;
	cr_assert_eq(rtb_sender_check(&c, why, sizeof(why)), 0, "%s", why);
	c.srtp_suite = RTB_SRTP_AEAD_AES_128_GCM; /* takes 28 bytes */
	refused(&c, "28");
	c = good;
	c.announce_interval_s = 0.01;
	refused(&c, "announce_interval_s");
	/* Interleaved RED: one copy, 2..8 packets back. */
	c = good;
	c.red_distance = 1;
	c.red_lag = 5;
	cr_assert_eq(rtb_sender_check(&c, why, sizeof(why)), 0, "%s", why);
	c.red_lag = 9;
	refused(&c, "lag");
	c.red_lag = 3;
	c.red_distance = 2;
	refused(&c, "lag");
	/* 213 frames at 48 kHz: 4.4375 ms, which frame_us cannot say. */
	c = good;
	c.codec = RTB_CODEC_L24;
	c.frame_us = 4438;
	refused(&c, "213 frames");
	c.frame_ms = 4.4375;
	cr_assert_eq(rtb_sender_check(&c, why, sizeof(why)), 0, "%s", why);
	c = good;
	c.ttl = RTB_TTL_HOST_ONLY;
	c.dscp = 46;
	c.media_clock = true;
	c.session = "a name";
	cr_assert_eq(rtb_sender_check(&c, why, sizeof(why)), 0, "%s", why);
}

Test(rtb_send_api, a_file_is_sent_from_start_s_and_stops_with_final_figures)
{
	char path[] = "/tmp/rtb_send_api_XXXXXX", wav[64], to[32], why[256];
	struct rtb_sender *s = NULL;
	struct rtb_sender_stats st;
	uint8_t pkt[2048];
	int tos, n = 0;

	cr_assert_not_null(mkdtemp(path));
	snprintf(wav, sizeof(wav), "%s/a.wav", path);
	write_wav(wav);
	int fd = listener(to, sizeof(to));
	struct rtb_sender_config c = {.to = to,
	                              .codec = RTB_CODEC_L16,
	                              .ssrc = 77,
	                              .start_s = 5,
	                              .dscp = 46};
	cr_assert_eq(rtb_sender_create_file(&c, wav, &s, why, sizeof(why)),
	             -ERANGE);
	cr_assert_null(s);
	cr_assert(strstr(why, "past the end") && strstr(why, "a.wav"), "%s",
	          why);
	c.start_s = 0.1;
	cr_assert_eq(rtb_sender_create_file(&c, wav, &s, why, sizeof(why)), 0,
	             "%s", why);
	struct pollfd end = {.fd = rtb_sender_fd(s), .events = POLLIN};
	cr_assert_geq(end.fd, 0);
	cr_assert_eq(poll(&end, 1, 0), 0, "readable before the end");
	while (take(fd, pkt, sizeof(pkt), &tos, 1000) > 0) {
		cr_assert_eq(pkt[1] & 0x7f, 96);
		cr_assert_eq(pkt[11], 77);
		cr_assert_eq(tos, 46 << 2, "TOS %d", tos);
		n++;
	}
	cr_assert(rtb_sender_finished(s));
	cr_assert_eq(poll(&end, 1, 0), 1, "not readable at the end");
	cr_assert_eq(rtb_sender_stop(s, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rtb_sender_stop(s, why, sizeof(why)), 0, "%s", why);
	rtb_sender_stats(s, &st);
	/* The last 0.1 s: 10 packets of 10 ms. */
	cr_assert_eq(n, 10, "packets %d", n);
	cr_assert_eq(st.packets, 10);
	cr_assert_eq(st.frames, 4800);
	cr_assert_eq(st.length, 9600);
	cr_assert_eq(st.position, 9600);
	cr_assert_eq(st.ssrc, 77);
	rtb_sender_destroy(s);
	close(fd);
	unlink(wav);
	rmdir(path);
}

Test(rtb_send_api, sdp_describes_the_stream_and_srtp_adds_its_tag)
{
	char to[32], why[256], sdp[1024];
	struct rtb_sender *s = NULL;
	uint8_t pkt[2048];
	int tos;

	int fd = listener(to, sizeof(to));
	struct rtb_sender_config c = {.to = to,
	                              .codec = RTB_CODEC_L16,
	                              .channels = 1,
	                              .frame_us = 5000,
	                              .pt = 97,
	                              .ssrc = -1,
	                              .media_clock = true,
	                              .session = "api test"};
	cr_assert_eq(rtb_sender_create_push(&c, &s, why, sizeof(why)), 0, "%s",
	             why);
	int n = rtb_sender_sdp(s, sdp, sizeof(sdp));
	cr_assert_gt(n, 0);
	cr_assert_eq((size_t)n, strlen(sdp));
	cr_assert(strstr(sdp, "s=api test\r\n"), "%s", sdp);
	cr_assert(strstr(sdp, "RTP/AVP 97\r\n"), "%s", sdp);
	cr_assert(strstr(sdp, "a=rtpmap:97 L16/48000/1\r\n"), "%s", sdp);
	cr_assert(strstr(sdp, "a=ts-refclk:ntp=/traceable/"), "%s", sdp);
	cr_assert_eq(rtb_sender_sdp(s, sdp, 40), -ENOBUFS);
	/* Pushed nothing: silence, 5 ms of mono L16 a packet. */
	cr_assert_eq(take(fd, pkt, sizeof(pkt), &tos, 1000), 12 + 480);
	rtb_sender_destroy(s);

	c.srtp_key = key30;
	c.srtp_key_len = sizeof(key30);
	cr_assert_eq(rtb_sender_create_push(&c, &s, why, sizeof(why)), 0, "%s",
	             why);
	cr_assert_eq(rtb_sender_sdp(s, sdp, sizeof(sdp)), -ENOTSUP);
	while (take(fd, pkt, sizeof(pkt), &tos, 0) == 12 + 480)
		; /* the plain sender's last packets */
	cr_assert_eq(take(fd, pkt, sizeof(pkt), &tos, 1000), 12 + 480 + 10);
	rtb_sender_destroy(s);

	/* Payload type 0 itself, which a zeroed pt cannot say. */
	c.srtp_key = NULL;
	c.pt = RTB_PT_ZERO;
	cr_assert_eq(rtb_sender_create_push(&c, &s, why, sizeof(why)), 0, "%s",
	             why);
	while (take(fd, pkt, sizeof(pkt), &tos, 0) == 12 + 480 + 10)
		; /* the SRTP sender's last packets */
	cr_assert_eq(take(fd, pkt, sizeof(pkt), &tos, 1000), 12 + 480);
	cr_assert_eq(pkt[1] & 0x7f, 0);
	rtb_sender_destroy(s);
	c.pt = RTB_PT_ZERO + 1;
	refused(&c, "payload type");

	/* ULPFEC at 50 %: an FEC packet (type 101, the stream's SSRC, the
	   next sequence number) after every two media packets. */
	c.pt = 0;
	c.ssrc = 99;
	c.ulpfec_percent = 50;
	cr_assert_eq(rtb_sender_create_push(&c, &s, why, sizeof(why)), 0, "%s",
	             why);
	while (take(fd, pkt, sizeof(pkt), &tos, 0) > 0)
		; /* the last sender's */
	int media = 0, fec = 0, seq = -1;
	while (media + fec < 30 && take(fd, pkt, sizeof(pkt), &tos, 1000) > 0) {
		if (pkt[8] || pkt[9] || pkt[10] || pkt[11] != 99)
			continue; /* the last sender's, late */
		int n16 = pkt[2] << 8 | pkt[3];
		cr_assert(seq < 0 || n16 == ((seq + 1) & 0xffff), "seq %d %d",
		          seq, n16);
		seq = n16;
		if ((pkt[1] & 0x7f) == 101)
			fec++;
		else
			media++;
	}
	rtb_sender_destroy(s);
	cr_assert(fec >= 9 && media >= 2 * fec - 2, "media %d, FEC %d", media,
	          fec);
	c.red_distance = 1;
	refused(&c, "ULPFEC");
	close(fd);
}

/* The 0.1 layouts, as a binary built against them has them. */
struct config_0_1 {
	const char *to;
	enum rtb_codec codec;
	int rate, channels;
	unsigned frame_us;
	int bitrate, pt;
	int64_t ssrc;
	bool loop;
	double duration_s;
	unsigned red_distance;
	int red_pt;
};

struct stats_0_1 {
	uint64_t packets, bytes, frames, underruns, late, send_errors,
	        dropped_in;
	uint32_t ssrc;
};

Test(rtb_send_api, a_binary_built_against_0_1_keeps_working)
{
	typedef int create_fn(const struct config_0_1 *, struct rtb_sender **,
	                      char *, size_t);
	typedef void stats_fn(const struct rtb_sender *, struct stats_0_1 *);
	create_fn *create = (create_fn *)dlvsym(
	        RTLD_DEFAULT, "rtb_sender_create_push", "RTBRIDGE_0");
	stats_fn *stats = (stats_fn *)dlvsym(RTLD_DEFAULT, "rtb_sender_stats",
	                                     "RTBRIDGE_0");
	cr_assert_not_null(create, "%s", dlerror());
	cr_assert_not_null(stats, "%s", dlerror());
	cr_assert_neq((void *)create, (void *)rtb_sender_create_push);

	/* Whatever lies beyond the old struct must not be read as 0.2's
	   fields: a guard of 0xff bytes after it (ttl -1, dscp -1 ...
	   would be refused). */
	struct {
		struct config_0_1 c;
		unsigned char guard[256];
	} in;
	memset(&in, 0xff, sizeof(in));
	in.c = (struct config_0_1){
	        .to = "127.0.0.1:9", .codec = RTB_CODEC_L16, .ssrc = 4321};
	struct {
		struct stats_0_1 st;
		unsigned char guard[64];
	} out;
	memset(&out, 0xab, sizeof(out));
	struct rtb_sender *s = NULL;
	char why[256] = "";

	cr_assert_eq(create(&in.c, &s, why, sizeof(why)), 0, "%s", why);
	sleep_ms(100);
	stats(s, &out.st);
	for (size_t i = 0; i < sizeof(out.guard); i++)
		cr_assert_eq(out.guard[i], 0xab, "written past 0.1's stats");
	cr_assert_eq(out.st.ssrc, 4321);
	cr_assert_gt(out.st.packets, 0);
	rtb_sender_destroy(s);
}
