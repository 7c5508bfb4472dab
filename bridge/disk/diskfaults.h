/*
 * diskfaults: fault injection settings for the disk server
 *
 * Parsed once at diskserver_start from the environment variable
 * RTBRIDGE_FAULTS (or given directly by a test), then read only by the disk
 * thread. Syntax: comma-separated key=value pairs, values decimal integers:
 *
 *   disk_latency_ms=N       every request costs N ms (0..60000) before it
 *                           is served, like a seek
 *   disk_stall_ms=N         sleep N ms (0..60000) ...
 *   disk_stall_every=K      ... before every K-th block (1..1000000000;
 *                           default 1 when disk_stall_ms is given alone)
 *   disk_stall_period_ms=P  ... or once every P ms of wall time (1..3600000):
 *                           the first request at or after each multiple of
 *                           P since the server started
 *   disk_error_after=K      the K-th block (1..) fails with EIO
 *
 * Requests are what the server does for a stream in one go: an open, a
 * read or a write of consecutive blocks of one file (the server coalesces
 * up to diskserver_opts.coalesce_max of them), an explicit flush. Blocks
 * are the audio blocks read and written, counted together from 1 over the
 * server's life. An empty string means no faults.
 */
#ifndef RTB_DISKFAULTS_H
#define RTB_DISKFAULTS_H

#include <stddef.h>
#include <stdint.h>

#define DISKFAULTS_ENV "RTBRIDGE_FAULTS"

struct diskfaults {
	uint32_t stall_ms;        /* 0: no stall */
	uint32_t stall_every;     /* stall before every K-th block */
	uint64_t error_after;     /* 0: never; else the K-th block fails */
	uint32_t latency_ms;      /* cost of every request */
	uint32_t stall_period_ms; /* stall once per period (instead of K) */
};

/*
 * Parse a fault specification. On error, `err` (when not NULL) receives one
 * line naming the offending item.
 *
 * Context: any
 * Return: 0 with *out filled (zeros for an empty or NULL spec), or -EINVAL
 */
int diskfaults_parse(const char *spec, struct diskfaults *out, char *err,
                     size_t errlen);

/*
 * Decide what the n-th block (n counted from 1) must suffer.
 *
 * Context: any (pure)
 * Return: the stall in ms (0 for none); *fail set to 1 when it must fail
 */
uint32_t diskfaults_for(const struct diskfaults *f, uint64_t n, int *fail);

/*
 * The wall-clock stall of a request that starts at `now_ns`. `*next_ns`
 * is the caller's state: the time of the next stall, set to origin + P
 * when the server starts; it moves to the first multiple of P after
 * `now_ns` each time a stall is due.
 *
 * Context: any (pure but for *next_ns)
 * Return: the stall in ms (0 for none, and always 0 without a period)
 */
uint32_t diskfaults_period_stall(const struct diskfaults *f, int64_t now_ns,
                                 int64_t *next_ns);

#endif
