/*
 * bench_floor: the least work a stream of 10 ms packets costs on this
 * machine, the floor tools/bench_cpu.py sets rtbridge against
 *
 *   bench_floor send --to ADDR:PORT [--bytes N] [--packet-ms MS]
 *   bench_floor recv [--listen ADDR:PORT] [--wake-ms MS]
 *
 * send: one thread that wakes on an absolute CLOCK_MONOTONIC schedule, one
 * wake-up per packet, writes the RTP header, converts one packet of
 * 16-bit stereo samples to network byte order and sends the datagram
 * (1932 bytes by default: 12 of header and 10 ms of L16 stereo at 48 kHz)
 * with one sendto. Nothing else: no file, no encoder, no second thread.
 *
 * recv: one thread that wakes every --wake-ms (absolute schedule; 0: at
 * every datagram, a blocking read) and reads what is queued with
 * recvmmsg, 16 datagrams per call, copying each into a ring of records
 * (what a jitter buffer needs at least). It prints "bench_floor recv:
 * listening on ADDR:PORT" once bound, like `rtbridge recv`.
 *
 * Both run until SIGINT or SIGTERM and then print what they did. Loopback
 * or whatever the caller gives: this program is meant for 127.0.0.1.
 */
#define _GNU_SOURCE /* recvmmsg */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FLOOR_BATCH   16
#define FLOOR_RX_MAX  2048
#define FLOOR_RECORDS 256 /* records in the ring, a power of two */

static volatile sig_atomic_t floor_quit;

static void floor_on_signal(int sig)
{
	(void)sig;
	floor_quit = 1;
}

static int64_t floor_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* Sleep until `t` (CLOCK_MONOTONIC ns). Return: false once told to quit. */
static int floor_sleep_until(int64_t t)
{
	struct timespec ts = {(time_t)(t / 1000000000ll),
	                      (long)(t % 1000000000ll)};

	while (!floor_quit) {
		int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
		                         NULL);
		if (rc == 0)
			return 1;
		if (rc != EINTR)
			return 0;
	}
	return 0;
}

/* "A.B.C.D:PORT" into an IPv4 address. Return: 0, or -1 (said why). */
static int floor_addr(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	memset(a, 0, sizeof *a);
	a->sin_family = AF_INET;
	if (colon == NULL || (size_t)(colon - s) >= sizeof host)
		goto bad;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 0 || port > 65535 ||
	    inet_pton(AF_INET, host, &a->sin_addr) != 1)
		goto bad;
	a->sin_port = htons((uint16_t)port);
	return 0;
bad:
	fprintf(stderr, "bench_floor: '%s' is not an IPv4 ADDR:PORT\n", s);
	return -1;
}

static int floor_send(const struct sockaddr_in *to, size_t bytes,
                      unsigned packet_ms)
{
	static uint8_t pkt[65536];
	static int16_t pcm[32768];
	size_t samples = (bytes - 12) / 2;
	uint64_t sent = 0, failed = 0;
	uint16_t seq = 0;
	uint32_t ts = 0;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0) {
		perror("bench_floor: socket");
		return 1;
	}
	for (size_t i = 0; i < samples; i++)
		pcm[i] = (int16_t)(i * 997u);
	int64_t t = floor_now() + 1000000;
	while (floor_sleep_until(t)) {
		pkt[0] = 0x80;
		pkt[1] = 96;
		pkt[2] = (uint8_t)(seq >> 8);
		pkt[3] = (uint8_t)seq;
		pkt[4] = (uint8_t)(ts >> 24);
		pkt[5] = (uint8_t)(ts >> 16);
		pkt[6] = (uint8_t)(ts >> 8);
		pkt[7] = (uint8_t)ts;
		memcpy(pkt + 8, "\x12\x34\x56\x78", 4);
		for (size_t i = 0; i < samples; i++) {
			uint16_t v = (uint16_t)pcm[i];
			pkt[12 + 2 * i] = (uint8_t)(v >> 8);
			pkt[13 + 2 * i] = (uint8_t)v;
		}
		if (sendto(fd, pkt, bytes, 0, (const struct sockaddr *)to,
		           sizeof *to) == (ssize_t)bytes)
			sent++;
		else
			failed++;
		seq++;
		ts += 48u * packet_ms;
		t += (int64_t)packet_ms * 1000000;
	}
	close(fd);
	printf("bench_floor send: %llu datagrams, %llu failed\n",
	       (unsigned long long)sent, (unsigned long long)failed);
	return 0;
}

static int floor_recv(const struct sockaddr_in *at, unsigned wake_ms)
{
	static uint8_t buf[FLOOR_BATCH][FLOOR_RX_MAX];
	static uint8_t ring[FLOOR_RECORDS][FLOOR_RX_MAX];
	struct mmsghdr msgs[FLOOR_BATCH];
	struct iovec iov[FLOOR_BATCH];
	struct sockaddr_in me;
	socklen_t len = sizeof me;
	uint64_t got = 0, wakes = 0, head = 0;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (const struct sockaddr *)at, sizeof *at) != 0 ||
	    getsockname(fd, (struct sockaddr *)&me, &len) != 0) {
		perror("bench_floor: socket");
		return 1;
	}
	printf("bench_floor recv: listening on 127.0.0.1:%u\n",
	       ntohs(me.sin_port));
	fflush(stdout);
	memset(msgs, 0, sizeof msgs);
	for (int i = 0; i < FLOOR_BATCH; i++) {
		iov[i].iov_base = buf[i];
		iov[i].iov_len = FLOOR_RX_MAX;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	int64_t t = floor_now();
	while (!floor_quit) {
		if (wake_ms > 0) {
			t += (int64_t)wake_ms * 1000000;
			if (!floor_sleep_until(t))
				break;
		}
		wakes++;
		for (;;) {
			int n = recvmmsg(fd, msgs, FLOOR_BATCH,
			                 wake_ms > 0 ? MSG_DONTWAIT : MSG_WAITFORONE,
			                 NULL);
			if (n <= 0)
				break;
			for (int i = 0; i < n; i++) {
				memcpy(ring[head++ % FLOOR_RECORDS], buf[i],
				       msgs[i].msg_len);
				got++;
			}
			if (n < FLOOR_BATCH)
				break;
		}
	}
	close(fd);
	printf("bench_floor recv: %llu datagrams in %llu wake-ups\n",
	       (unsigned long long)got, (unsigned long long)wakes);
	return 0;
}

static int floor_usage(void)
{
	fprintf(stderr, "usage: bench_floor send --to ADDR:PORT [--bytes N] "
	                "[--packet-ms MS]\n"
	                "       bench_floor recv [--listen ADDR:PORT] "
	                "[--wake-ms MS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr;
	struct sigaction sa;
	const char *where = "127.0.0.1:0";
	unsigned long bytes = 1932, packet_ms = 10, wake_ms = 5;
	char *end;

	if (argc < 2)
		return floor_usage();
	for (int i = 2; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned long *num = NULL;
		if (v == NULL)
			return floor_usage();
		if (!strcmp(argv[i], "--to") || !strcmp(argv[i], "--listen"))
			where = v;
		else if (!strcmp(argv[i], "--bytes"))
			num = &bytes;
		else if (!strcmp(argv[i], "--packet-ms"))
			num = &packet_ms;
		else if (!strcmp(argv[i], "--wake-ms"))
			num = &wake_ms;
		else
			return floor_usage();
		if (num != NULL) {
			*num = strtoul(v, &end, 10);
			if (*end != '\0' || *num > 65507) {
				fprintf(stderr, "bench_floor: bad %s '%s'\n",
				        argv[i], v);
				return 2;
			}
		}
		i++;
	}
	if (bytes < 12 || packet_ms == 0 || packet_ms > 1000 || wake_ms > 1000)
		return floor_usage();
	if (floor_addr(where, &addr) < 0)
		return 2;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = floor_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!strcmp(argv[1], "send"))
		return floor_send(&addr, bytes, (unsigned)packet_ms);
	if (!strcmp(argv[1], "recv"))
		return floor_recv(&addr, (unsigned)wake_ms);
	return floor_usage();
}
