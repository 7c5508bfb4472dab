/*
 * diskserver: the disk I/O server thread
 *
 * One thread makes every libsndfile call after start-up. Clients (read-ahead
 * and write-behind streams, from the audio, net or control context) post
 * requests into the server's multi-producer mailbox; each request names the
 * place its answer goes (`reply`: a stream's result ring, or its block
 * pool). The server moves waiting requests into an earliest-deadline-first
 * heap and always serves the most urgent one, so a stream with plenty
 * buffered never delays one about to run dry; requests of one stream keep
 * their order (a request's key is never earlier than its predecessor's).
 *
 * Real-time clients only push (no system call); they never wake the server,
 * which therefore sleeps at most `poll_ns` before looking again. Control
 * clients wake it.
 *
 * The request protocol (struct msg):
 *   OPEN_READ / OPEN_WRITE  ptr = struct diskfile, u64 = deadline (ns)
 *   READ    ptr = struct disk_block (pos, capacity set), u64 = deadline,
 *           reply = result ring; answer READ_DONE, arg = frames or -errno
 *   WRITE   ptr = struct disk_block (frames set), u64 = deadline,
 *           reply = the block's struct pool (the block goes back there)
 *   SEEK    ptr = diskfile, u64 = target frame (served at once)
 *   FLUSH   ptr = diskfile, arg = 1 to fsync too, u64 = deadline
 *   CLOSE   ptr = diskfile, u64 = deadline; served after every earlier
 *           request of the stream (pending reads of a read stream are
 *           dropped); the server then closes the file and calls the
 *           diskfile's destroy callback, which frees the stream.
 * The answer to OPEN_READ is OPENED (arg = 0 or -errno, u64 = length in
 * frames) on the stream's result ring. Write streams report through the
 * diskfile's status and counters.
 */
#ifndef RTB_DISKSERVER_H
#define RTB_DISKSERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/disk/diskfaults.h"
#include "bridge/disk/diskfile.h"
#include "bridge/disk/edfheap.h"
#include "bridge/msg/mailbox.h"
#include "bridge/msg/msg.h"

enum diskserver_cmd {
	DISKSERVER_OPEN_READ = 0x4401,
	DISKSERVER_OPEN_WRITE,
	DISKSERVER_READ,
	DISKSERVER_WRITE,
	DISKSERVER_SEEK,
	DISKSERVER_FLUSH,
	DISKSERVER_CLOSE,
	/* answers */
	DISKSERVER_OPENED,
	DISKSERVER_READ_DONE,
};

/* Current time in ns for deadlines; must be real-time safe. */
typedef int64_t (*diskserver_clock_fn)(void *arg);
/* Called on the disk thread just before a request is served (tests). */
typedef void (*diskserver_trace_fn)(void *arg, const struct msg *req,
                                    int64_t key);

struct diskserver_opts {
	size_t mailbox_capacity;         /* power of two; 0: 4096 */
	size_t max_pending;              /* heap entries; 0: 4096 */
	int64_t poll_ns;                 /* longest sleep; 0: 2 ms */
	int64_t header_interval_ns;      /* WAV/AIFF header refresh; 0: 1 s */
	const struct diskfaults *faults; /* NULL: parse RTBRIDGE_FAULTS */
	diskserver_clock_fn clock;       /* NULL: CLOCK_MONOTONIC */
	void *clock_arg;
	diskserver_trace_fn trace; /* NULL: none */
	void *trace_arg;
};

struct diskserver {
	struct mailbox mailbox;
	void *mailbox_mem;
	struct edfheap heap; /* disk thread only */
	struct edfheap_entry *heap_mem;
	struct diskserver_opts opts;
	struct diskfaults faults;
	pthread_t thread;
	_Atomic int stopping;
	uint64_t block_requests; /* disk thread only */
	struct diskfile *files;  /* open files, disk thread only */
	int64_t housekeeping_ns; /* disk thread only */
	_Atomic uint64_t served; /* requests served */
	_Atomic uint64_t stalls; /* injected stalls */
	_Atomic uint64_t injected_errors;
	int forced; /* streams closed by stop; after join */
	char errmsg[256];
};

/*
 * Start the server thread. Reads RTBRIDGE_FAULTS unless opts->faults is
 * given; a malformed value fails the start with -EINVAL and one line in
 * diskserver_error().
 *
 * Context: control
 * Return: 0, -EINVAL, -ENOMEM, or -errno from pthread_create
 */
int diskserver_start(struct diskserver *s, const struct diskserver_opts *opts);

/*
 * Serve every request already posted (closes included: recordings are
 * finalized), then end the thread and free the server's memory.
 *
 * Pre: no client posts any more; every stream has been closed.
 * Context: control; blocks until the thread has joined
 * Return: the number of streams that were still open and were closed and
 *         freed by force (0 when the owner kept the contract)
 */
int diskserver_stop(struct diskserver *s);

/* The message explaining a failed start. Context: control. */
const char *diskserver_error(const struct diskserver *s);

/*
 * Post a request. With `wake`, a server asleep is woken (one system call
 * when the mailbox was empty); real-time callers pass 0.
 *
 * Context: any; real-time safe when wake is 0
 * Return: 0, or -EAGAIN when the mailbox is full (nothing posted)
 */
int diskserver_post(struct diskserver *s, const struct msg *m, int wake);

/*
 * Post a request, retrying every millisecond while the mailbox is full,
 * for at most `timeout_ms`; wakes the server.
 *
 * Context: control (sleeps)
 * Return: 0, or -ETIMEDOUT
 */
int diskserver_send(struct diskserver *s, const struct msg *m, int timeout_ms);

/*
 * The deadline clock (CLOCK_MONOTONIC ns unless opts.clock was given).
 *
 * Context: any, real-time safe
 */
int64_t diskserver_now(const struct diskserver *s);

/* CLOCK_MONOTONIC in ns. Context: any, real-time safe (vDSO). */
int64_t diskserver_monotonic_ns(void);

#endif
