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
 * Reads of consecutive blocks of one file, and writes to one file, that
 * wait in the heap together are coalesced: up to `coalesce_max` blocks join
 * the oldest waiting request of their stream and are served with it, one
 * disk request for all (one seek on a real disk). A stream's blocks are
 * sized to its read-ahead or write-behind (diskserver_block_frames), so it
 * asks a few times a second, and a busy disk merges what piles up.
 *
 * Real-time clients only push (no system call); they never wake the server,
 * which therefore looks at its mailbox periodically while any stream is
 * open: every sixteenth of the shortest stream slack (the time its requests
 * may wait, diskfile.slack_ns), between 2 and 100 ms. With no stream open
 * it sleeps until a control client wakes it (opens and closes do).
 *
 * The request protocol (struct msg):
 *   OPEN_READ / OPEN_WRITE  ptr = struct diskfile, u64 = deadline (ns)
 *   READ    ptr = struct disk_block (pos, capacity set), u64 = deadline,
 *           reply = result ring; answer READ_DONE, arg = frames or -errno,
 *           one per block, in the order asked
 *   WRITE   ptr = struct disk_block (frames set), u64 = deadline,
 *           reply = the block's struct pool (the block goes back there;
 *           after a write error its frames are counted in frames_dropped)
 *   SEEK    ptr = diskfile, u64 = target frame (served at once)
 *   FLUSH   ptr = diskfile, arg = 1 to fsync too, u64 = deadline
 *   CLOSE   ptr = diskfile, u64 = deadline; served after every earlier
 *           request of the stream (pending reads of a read stream are
 *           dropped); the server then closes the file and calls the
 *           diskfile's destroy callback, which frees the stream.
 *   NOP     nothing (wakes the server)
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
	DISKSERVER_NOP,
	/* answers */
	DISKSERVER_OPENED,
	DISKSERVER_READ_DONE,
};

/* Frames per block of a stream by default: an eighth of its read-ahead or
 * write-behind window, at least DISKSERVER_MIN_BLOCK (never more than the
 * window itself). */
#define DISKSERVER_MIN_BLOCK 8192u
/* Read-ahead and write-behind window by default, seconds. */
#define DISKSERVER_DEFAULT_WINDOW_S 2.0
/* Blocks one disk request may serve by default. */
#define DISKSERVER_DEFAULT_COALESCE 4u

/* Current time in ns for deadlines; must be real-time safe. */
typedef int64_t (*diskserver_clock_fn)(void *arg);
/* Wait out an injected delay of `ns` (disk thread; tests and benchmarks
 * give a virtual disk here). */
typedef void (*diskserver_sleep_fn)(void *arg, int64_t ns);
/* Called on the disk thread with 1 just before the server waits for its
 * mailbox with nothing queued, with 0 when it wakes. */
typedef void (*diskserver_idle_fn)(void *arg, int idle);
/* Called on the disk thread just before a request is served (tests). */
typedef void (*diskserver_trace_fn)(void *arg, const struct msg *req,
                                    int64_t key);

struct diskserver_opts {
	size_t mailbox_capacity; /* power of two; 0: 4096 */
	size_t max_pending;      /* heap entries; 0: 4096 */
	/* 0: look at the mailbox as the streams' slack requires, sleep
	 * while none is open; > 0: every poll_ns, always (the old way) */
	int64_t poll_ns;
	/* Every client wakes the server with each request (diskserver_post
	 * with wake, readahead_opts.wake): with poll_ns 0 it sleeps until
	 * woken even while files are open (no wake-up for nothing). */
	bool woken;
	int64_t header_interval_ns;      /* WAV/AIFF header refresh; 0: 1 s */
	unsigned coalesce_max;           /* blocks per request; 0: 4; 1: none */
	const struct diskfaults *faults; /* NULL: parse RTBRIDGE_FAULTS */
	diskserver_clock_fn clock;       /* NULL: CLOCK_MONOTONIC */
	void *clock_arg;
	diskserver_sleep_fn sleep; /* NULL: nanosleep */
	void *sleep_arg;
	diskserver_idle_fn idle; /* NULL: none */
	void *idle_arg;
	diskserver_trace_fn trace; /* NULL: none; called once per block */
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
	/* Disk thread only. */
	uint64_t blocks;         /* blocks served, for the fault counter */
	struct diskfile *files;  /* open files */
	int64_t housekeeping_ns; /* last header check */
	int64_t poll_cur_ns;     /* mailbox period while files are open */
	int64_t next_stall_ns;   /* next periodic stall (faults) */
	/* Counters, any thread. */
	_Atomic uint64_t served;   /* messages served (blocks one each) */
	_Atomic uint64_t requests; /* disk requests (coalesced blocks: one) */
	_Atomic uint64_t stalls;   /* injected stalls */
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

/*
 * Default frames per block for a stream whose window (read-ahead or
 * write-behind) is `window_frames`: an eighth of it, at least
 * DISKSERVER_MIN_BLOCK, at most the window (and 2^20).
 *
 * Context: any (pure)
 */
uint32_t diskserver_block_frames(uint64_t window_frames);

#endif
