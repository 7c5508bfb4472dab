/*
 * diskserver: the disk thread's loop. Drains the mailbox into the
 * earliest-deadline-first heap (coalescing blocks into the request of their
 * stream that still waits), serves the most urgent request, and between
 * requests refreshes the headers of files being recorded. Only this thread
 * touches the heap, the file list and the diskfiles' disk-thread fields.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "bridge/disk/diskserver.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/msg/pool.h"
#include "bridge/msg/ring.h"

#define DISKSERVER_HOUSEKEEPING_NS 50000000LL  /* header check period, 50 ms */
#define DISKSERVER_POLL_MIN_NS     2000000LL   /* 2 ms */
#define DISKSERVER_POLL_MAX_NS     100000000LL /* 100 ms */
#define DISKSERVER_STOP_TIMEOUT_MS 1000

int64_t diskserver_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t diskserver_now(const struct diskserver *s)
{
	if (s->opts.clock)
		return s->opts.clock(s->opts.clock_arg);
	return diskserver_monotonic_ns();
}

uint32_t diskserver_block_frames(uint64_t window_frames)
{
	uint64_t b = (window_frames + 7) / 8;
	if (b < DISKSERVER_MIN_BLOCK)
		b = DISKSERVER_MIN_BLOCK;
	if (b > window_frames)
		b = window_frames;
	if (b > 1u << 20)
		b = 1u << 20;
	return b > 0 ? (uint32_t)b : 1;
}

static void diskserver__sleep_ns(int64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000LL),
	                      .tv_nsec = (long)(ns % 1000000000LL)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* An injected delay: the virtual disk of a test, or a real sleep. */
static void diskserver__delay(struct diskserver *s, int64_t ns)
{
	if (s->opts.sleep)
		s->opts.sleep(s->opts.sleep_arg, ns);
	else
		diskserver__sleep_ns(ns);
}

static struct diskfile *diskserver__file_of(const struct msg *m)
{
	if (m->cmd == DISKSERVER_READ || m->cmd == DISKSERVER_WRITE)
		return ((struct disk_block *)m->ptr)->file;
	return m->ptr;
}

/* How long to wait for the mailbox while files are open: a sixteenth of the
 * shortest slack, so that a request posted without a wake-up waits only a
 * small part of the time it may wait. */
static void diskserver__update_poll(struct diskserver *s)
{
	int64_t slack = INT64_MAX;
	for (struct diskfile *f = s->files; f; f = f->next) {
		int64_t x = f->slack_ns > 0 ? f->slack_ns : 0;
		if (x < slack)
			slack = x;
	}
	int64_t p = slack / 16;
	if (p < DISKSERVER_POLL_MIN_NS)
		p = DISKSERVER_POLL_MIN_NS;
	if (p > DISKSERVER_POLL_MAX_NS)
		p = DISKSERVER_POLL_MAX_NS;
	s->poll_cur_ns = p;
}

static void diskserver__link(struct diskserver *s, struct diskfile *f)
{
	f->prev = NULL;
	f->next = s->files;
	if (s->files)
		s->files->prev = f;
	s->files = f;
	diskserver__update_poll(s);
}

static void diskserver__unlink(struct diskserver *s, struct diskfile *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else if (s->files == f)
		s->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	f->next = f->prev = NULL;
	diskserver__update_poll(s);
}

/* Add a block to the waiting request of its stream, if it follows on.
 * Return: true when it joined (no heap entry of its own). */
static bool diskserver__join(struct diskserver *s, struct diskfile *f,
                             const struct msg *m)
{
	struct disk_block *b = m->ptr, *t = f->batch_tail;
	if (!f->batch_head || f->batch_len >= s->opts.coalesce_max)
		return false;
	if (m->cmd == DISKSERVER_READ && b->pos != t->pos + t->capacity)
		return false;
	b->batch_next = NULL;
	t->batch_next = b;
	f->batch_tail = b;
	f->batch_len++;
	return true;
}

/* Move waiting messages into the heap while it has room. */
static void diskserver__drain(struct diskserver *s)
{
	struct msg m;
	while (!edfheap_full(&s->heap) && mailbox_try_pop(&s->mailbox, &m)) {
		if (m.cmd == DISKSERVER_NOP)
			continue;
		struct diskfile *f = diskserver__file_of(&m);
		int blocks =
		        m.cmd == DISKSERVER_READ || m.cmd == DISKSERVER_WRITE;
		if (m.cmd == DISKSERVER_OPEN_READ ||
		    m.cmd == DISKSERVER_OPEN_WRITE) {
			diskserver__link(s, f);
			f->last_key = INT64_MIN;
			f->batch_head = NULL;
		}
		/* A read stream being closed wants no more data: its pending
		 * reads are dropped when they come up. */
		if (m.cmd == DISKSERVER_CLOSE && f->mode == DISKFILE_READ)
			f->closing = 1;
		if (blocks && diskserver__join(s, f, &m))
			continue;
		int64_t key = m.cmd == DISKSERVER_SEEK ? diskserver_now(s)
		                                       : (int64_t)m.u64;
		/* Never earlier than the stream's previous request: keeps each
		 * stream first-in first-out (ties go by push order). */
		if (key < f->last_key)
			key = f->last_key;
		f->last_key = key;
		int rc = edfheap_push(&s->heap, key, &m);
		assert(rc == 0);
		(void)rc;
		/* Later blocks may join this request; anything else of the
		 * stream ends the chance (it must be served after them). */
		if (blocks) {
			struct disk_block *b = m.ptr;
			b->batch_next = NULL;
			f->batch_head = f->batch_tail = b;
			f->batch_len = 1;
		} else {
			f->batch_head = NULL;
		}
	}
}

/* One disk request begins: count it, and make it cost what the injected
 * faults say (a seek, or the periodic stall). */
static void diskserver__request(struct diskserver *s, struct diskfile *f)
{
	/* Relaxed: counters. */
	atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&f->requests, 1, memory_order_relaxed);
	int64_t ns = (int64_t)s->faults.latency_ms * 1000000;
	uint32_t stall = diskfaults_period_stall(&s->faults, diskserver_now(s),
	                                         &s->next_stall_ns);
	if (stall > 0) {
		atomic_fetch_add_explicit(&s->stalls, 1, memory_order_relaxed);
		ns += (int64_t)stall * 1000000;
	}
	if (ns > 0)
		diskserver__delay(s, ns);
}

/* Apply the per-block faults to the next block. Return: 0 or -EIO. */
static int diskserver__block_faults(struct diskserver *s, struct diskfile *f)
{
	int fail = 0;
	uint64_t n = ++s->blocks;
	uint32_t ms = diskfaults_for(&s->faults, n, &fail);
	if (ms > 0) {
		atomic_fetch_add_explicit(&s->stalls, 1, memory_order_relaxed);
		diskserver__delay(s, (int64_t)ms * 1000000);
	}
	if (!fail)
		return 0;
	atomic_fetch_add_explicit(&s->injected_errors, 1, memory_order_relaxed);
	char why[96];
	snprintf(why, sizeof(why),
	         "Input/output error (injected: disk_error_after=%llu)",
	         (unsigned long long)n);
	if (f->mode == DISKFILE_WRITE)
		return diskfile_write_failed(f, -EIO, why);
	return diskfile_fail(f, -EIO, "%s: %s", f->path, why);
}

static void diskserver__reply(void *ring, const struct msg *m)
{
	/* Result rings are sized for every block of the stream plus the open
	 * answer, so this cannot fail unless a stream broke its contract. */
	bool ok = ring_try_push(ring, m);
	assert(ok);
	(void)ok;
}

static int diskserver__status(const struct diskfile *f)
{
	/* Relaxed: only this thread writes it. */
	return atomic_load_explicit(&f->status, memory_order_relaxed);
}

static void diskserver__trace(struct diskserver *s, const struct msg *head,
                              struct disk_block *b, int64_t key)
{
	if (!s->opts.trace)
		return;
	struct msg m = *head;
	m.ptr = b;
	s->opts.trace(s->opts.trace_arg, &m, key);
}

/* A read request: each block is answered on its own, in order. */
static void diskserver__serve_reads(struct diskserver *s, const struct msg *m,
                                    int64_t key)
{
	struct disk_block *b = m->ptr;
	struct diskfile *f = b->file;
	if (f->closing)
		return; /* the blocks are freed with the stream */
	if (diskserver__status(f) == 0)
		diskserver__request(s, f);
	while (b) {
		/* Read the link first: once answered, the block is the
		 * consumer's. */
		struct disk_block *next = b->batch_next;
		diskserver__trace(s, m, b, key);
		int rc = diskserver__status(f);
		if (rc == 0)
			rc = diskserver__block_faults(s, f);
		if (rc == 0)
			rc = diskfile_read(f, b->pos, b->data, b->capacity);
		b->frames = rc > 0 ? (uint32_t)rc : 0;
		struct msg r = {.cmd = DISKSERVER_READ_DONE,
		                .arg = rc,
		                .u64 = b->pos,
		                .ptr = b};
		diskserver__reply(m->reply, &r);
		atomic_fetch_add_explicit(&s->served, 1, memory_order_relaxed);
		b = next;
	}
}

/* A write request: blocks in order, each back to its pool once written
 * (or, after an error, counted as dropped). */
static void diskserver__serve_writes(struct diskserver *s, const struct msg *m,
                                     int64_t key)
{
	struct disk_block *b = m->ptr;
	struct diskfile *f = b->file;
	if (diskserver__status(f) == 0)
		diskserver__request(s, f);
	while (b) {
		struct disk_block *next = b->batch_next;
		diskserver__trace(s, m, b, key);
		uint64_t before = atomic_load_explicit(&f->frames_done,
		                                       memory_order_relaxed);
		int rc = diskserver__status(f);
		if (rc == 0)
			rc = diskserver__block_faults(s, f);
		if (rc == 0)
			rc = diskfile_write(f, b->data, b->frames);
		if (rc < 0) {
			uint64_t kept =
			        atomic_load_explicit(&f->frames_done,
			                             memory_order_relaxed) -
			        before;
			atomic_fetch_add_explicit(&f->frames_dropped,
			                          b->frames - kept,
			                          memory_order_relaxed);
		}
		/* The block's pool return stack publishes the block back to
		 * its owner (release inside pool_return). */
		pool_return(m->reply, b);
		atomic_fetch_add_explicit(&s->served, 1, memory_order_relaxed);
		b = next;
	}
	/* The header refresh rides along with the writes it describes. */
	int64_t now = diskserver_monotonic_ns();
	if (f->header_dirty && diskserver__status(f) == 0 &&
	    now - f->header_ns >= s->opts.header_interval_ns)
		diskfile_flush(f, 0, now);
}

static void diskserver__close(struct diskserver *s, struct diskfile *f)
{
	diskfile_close(f);
	diskserver__unlink(s, f);
	f->destroy(f);
}

static void diskserver__serve(struct diskserver *s, const struct msg *m,
                              int64_t key)
{
	struct diskfile *f = diskserver__file_of(m);
	if (m->cmd == DISKSERVER_READ || m->cmd == DISKSERVER_WRITE) {
		/* Being served: no more blocks may join it. */
		if (f->batch_head == m->ptr)
			f->batch_head = NULL;
		if (m->cmd == DISKSERVER_READ)
			diskserver__serve_reads(s, m, key);
		else
			diskserver__serve_writes(s, m, key);
		return;
	}
	if (s->opts.trace)
		s->opts.trace(s->opts.trace_arg, m, key);
	switch (m->cmd) {
	case DISKSERVER_OPEN_READ: {
		diskserver__request(s, f);
		int rc = diskfile_open(f);
		struct msg r = {.cmd = DISKSERVER_OPENED,
		                .arg = rc,
		                .u64 = rc == 0 ? f->length : 0,
		                .ptr = f};
		diskserver__reply(f->reply, &r);
		break;
	}
	case DISKSERVER_OPEN_WRITE:
		diskserver__request(s, f);
		diskfile_open(f);
		f->header_ns = diskserver_monotonic_ns();
		/* Release: the outcome (status, errmsg) is visible to an owner
		 * that sees open_done with acquire. */
		atomic_store_explicit(&f->open_done, 1, memory_order_release);
		if (f->opened)
			f->opened(f->opened_arg);
		break;
	case DISKSERVER_SEEK:
		if (!f->closing && diskserver__status(f) == 0)
			diskfile_seek(f, m->u64);
		break;
	case DISKSERVER_FLUSH:
		if (diskserver__status(f) == 0) {
			diskserver__request(s, f);
			diskfile_flush(f, m->arg, diskserver_monotonic_ns());
		}
		break;
	case DISKSERVER_CLOSE:
		diskserver__close(s, f);
		break;
	default:
		break;
	}
	atomic_fetch_add_explicit(&s->served, 1, memory_order_relaxed);
}

/* Keep recordings playable: refresh the headers of files that have not
 * been written for a while (writes refresh their own). */
static void diskserver__housekeeping(struct diskserver *s)
{
	int64_t now = diskserver_monotonic_ns();
	if (now - s->housekeeping_ns < DISKSERVER_HOUSEKEEPING_NS)
		return;
	s->housekeeping_ns = now;
	for (struct diskfile *f = s->files; f; f = f->next) {
		if (f->mode == DISKFILE_WRITE && f->sf && f->header_dirty &&
		    now - f->header_ns >= s->opts.header_interval_ns &&
		    diskserver__status(f) == 0)
			diskfile_flush(f, 0, now);
	}
}

/* Wait for the mailbox: a fixed period if asked for; else, while streams
 * are open, the period their slack allows; with none, or clients that all
 * wake the server, until woken. */
static void diskserver__wait(struct diskserver *s)
{
	int64_t t = s->opts.poll_ns > 0          ? s->opts.poll_ns
	            : s->files && !s->opts.woken ? s->poll_cur_ns
	                                         : -1;
	if (s->opts.idle)
		s->opts.idle(s->opts.idle_arg, 1);
	mailbox_wait(&s->mailbox, t);
	if (s->opts.idle)
		s->opts.idle(s->opts.idle_arg, 0);
}

static void *diskserver__main(void *arg)
{
	struct diskserver *s = arg;
	struct msg m;
	int64_t key;

	pthread_setname_np(pthread_self(), "rtb-disk");
	for (;;) {
		diskserver__drain(s);
		if (edfheap_pop(&s->heap, &m, &key)) {
			diskserver__serve(s, &m, key);
			diskserver__housekeeping(s);
			continue;
		}
		diskserver__housekeeping(s);
		/* Acquire: pairs with the release in diskserver_stop, after
		 * which every request has been posted; one more drain takes
		 * them all. */
		if (atomic_load_explicit(&s->stopping, memory_order_acquire)) {
			diskserver__drain(s);
			if (edfheap_len(&s->heap) == 0)
				break;
			continue;
		}
		diskserver__wait(s);
	}
	/* Streams the owner never closed: finalize their files and free them
	 * so that nothing leaks and recordings stay complete. */
	while (s->files) {
		s->forced++;
		diskserver__close(s, s->files);
	}
	return NULL;
}

int diskserver_start(struct diskserver *s, const struct diskserver_opts *opts)
{
	static const struct diskserver_opts defaults = {0};
	int rc;
	memset(s, 0, sizeof(*s));
	s->opts = opts ? *opts : defaults;
	if (!s->opts.mailbox_capacity)
		s->opts.mailbox_capacity = 4096;
	if (!s->opts.max_pending)
		s->opts.max_pending = 4096;
	if (s->opts.poll_ns < 0)
		s->opts.poll_ns = 0;
	if (!s->opts.coalesce_max)
		s->opts.coalesce_max = DISKSERVER_DEFAULT_COALESCE;
	if (s->opts.header_interval_ns <= 0)
		s->opts.header_interval_ns = 1000000000LL;
	if (s->opts.faults) {
		s->faults = *s->opts.faults;
	} else {
		rc = diskfaults_parse(getenv(DISKFAULTS_ENV), &s->faults,
		                      s->errmsg, sizeof(s->errmsg));
		if (rc < 0)
			return rc;
	}
	s->opts.faults = NULL;
	s->poll_cur_ns = DISKSERVER_POLL_MIN_NS;
	if (s->faults.stall_period_ms > 0)
		s->next_stall_ns = diskserver_now(s) +
		                   (int64_t)s->faults.stall_period_ms * 1000000;
	atomic_init(&s->stopping, 0);
	atomic_init(&s->served, 0);
	atomic_init(&s->requests, 0);
	atomic_init(&s->stalls, 0);
	atomic_init(&s->injected_errors, 0);

	s->mailbox_mem =
	        aligned_alloc(RING_CACHE_LINE,
	                      (mailbox_storage_size(s->opts.mailbox_capacity) +
	                       RING_CACHE_LINE - 1) /
	                              RING_CACHE_LINE * RING_CACHE_LINE);
	s->heap_mem = calloc(s->opts.max_pending, sizeof(*s->heap_mem));
	rc = -ENOMEM;
	if (!s->mailbox_mem || !s->heap_mem) {
		snprintf(s->errmsg, sizeof(s->errmsg),
		         "disk server: out of memory");
		goto fail_mem;
	}
	rc = mailbox_init(&s->mailbox, s->mailbox_mem,
	                  s->opts.mailbox_capacity);
	if (rc < 0) {
		snprintf(s->errmsg, sizeof(s->errmsg),
		         "disk server: mailbox capacity %zu is not a power of "
		         "two >= 2",
		         s->opts.mailbox_capacity);
		goto fail_mem;
	}
	edfheap_init(&s->heap, s->heap_mem, s->opts.max_pending);
	rc = -pthread_create(&s->thread, NULL, diskserver__main, s);
	if (rc < 0) {
		snprintf(s->errmsg, sizeof(s->errmsg),
		         "disk server: cannot start thread: %s", strerror(-rc));
		goto fail_mailbox;
	}
	return 0;

fail_mailbox:
	mailbox_clear(&s->mailbox);
fail_mem:
	free(s->heap_mem);
	free(s->mailbox_mem);
	s->heap_mem = NULL;
	s->mailbox_mem = NULL;
	return rc;
}

int diskserver_stop(struct diskserver *s)
{
	/* Release: every request posted before this store is visible to the
	 * thread once it sees `stopping` (acquire in diskserver__main). */
	atomic_store_explicit(&s->stopping, 1, memory_order_release);
	/* A server with no stream open sleeps until a message arrives. If
	 * the mailbox stays full, the server is busy and sees `stopping`. */
	struct msg nop = {.cmd = DISKSERVER_NOP};
	(void)diskserver_send(s, &nop, DISKSERVER_STOP_TIMEOUT_MS);
	pthread_join(s->thread, NULL);
	edfheap_clear(&s->heap);
	mailbox_clear(&s->mailbox);
	free(s->heap_mem);
	free(s->mailbox_mem);
	s->heap_mem = NULL;
	s->mailbox_mem = NULL;
	return s->forced;
}

const char *diskserver_error(const struct diskserver *s)
{
	return s->errmsg;
}

int diskserver_post(struct diskserver *s, const struct msg *m, int wake)
{
	int rc = mailbox_push(&s->mailbox, m);
	if (rc < 0)
		return rc;
	if (rc == 1 && wake)
		mailbox_wake(&s->mailbox);
	return 0;
}

int diskserver_send(struct diskserver *s, const struct msg *m, int timeout_ms)
{
	for (int i = 0;; i++) {
		if (diskserver_post(s, m, 1) == 0)
			return 0;
		if (i >= timeout_ms)
			return -ETIMEDOUT;
		/* Full: the server is working through it; nudge it anyway. */
		mailbox_wake(&s->mailbox);
		diskserver__sleep_ns(1000000);
	}
}
