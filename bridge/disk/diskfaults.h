/*
 * diskfaults: fault injection settings for the disk server
 *
 * Parsed once at diskserver_start from the environment variable
 * RTBRIDGE_FAULTS (or given directly by a test), then read only by the disk
 * thread. Syntax: comma-separated key=value pairs, values decimal integers:
 *
 *   disk_stall_ms=N      sleep N ms (0..60000) before a block request ...
 *   disk_stall_every=K   ... on every K-th block request (1..1000000000;
 *                        default 1 when disk_stall_ms is given)
 *   disk_error_after=K   the K-th block request (1..) fails with EIO
 *
 * Block requests are reads and writes of audio blocks, counted together
 * from 1 over the server's life. An empty string means no faults.
 */
#ifndef RTB_DISKFAULTS_H
#define RTB_DISKFAULTS_H

#include <stddef.h>
#include <stdint.h>

#define DISKFAULTS_ENV "RTBRIDGE_FAULTS"

struct diskfaults {
	uint32_t stall_ms;    /* 0: no stall */
	uint32_t stall_every; /* stall on every K-th block request */
	uint64_t error_after; /* 0: never; else the K-th block request fails */
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
 * Decide what the n-th block request (n counted from 1) must suffer.
 *
 * Context: any (pure)
 * Return: the stall in ms (0 for none); *fail set to 1 when it must fail
 */
uint32_t diskfaults_for(const struct diskfaults *f, uint64_t n, int *fail);

#endif
