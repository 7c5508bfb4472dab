/*
 * diskserver: the disk thread's loop. Drains the mailbox into the
 * earliest-deadline-first heap, serves the most urgent request, and between
 * requests refreshes the headers of files being recorded. Only this thread
 * touches the heap, the file list and the diskfiles' disk-thread fields.
 */
#include "bridge/disk/diskserver.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/msg/pool.h"
#include "bridge/msg/ring.h"

#define DISKSERVER_HOUSEKEEPING_NS 50000000LL /* header check period, 50 ms */

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

static void diskserver__sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
	                      .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static struct diskfile *diskserver__file_of(const struct msg *m)
{
	if (m->cmd == DISKSERVER_READ || m->cmd == DISKSERVER_WRITE)
		return ((struct disk_block *)m->ptr)->file;
	return m->ptr;
}

static void diskserver__link(struct diskserver *s, struct diskfile *f)
{
	f->prev = NULL;
	f->next = s->files;
	if (s->files)
		s->files->prev = f;
	s->files = f;
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
}

/* Move waiting messages into the heap while it has room. */
static void diskserver__drain(struct diskserver *s)
{
	struct msg m;
	while (!edfheap_full(&s->heap) && mailbox_try_pop(&s->mailbox, &m)) {
		struct diskfile *f = diskserver__file_of(&m);
		int64_t key = m.cmd == DISKSERVER_SEEK ? diskserver_now(s)
		                                       : (int64_t)m.u64;
		if (m.cmd == DISKSERVER_OPEN_READ ||
		    m.cmd == DISKSERVER_OPEN_WRITE) {
			diskserver__link(s, f);
			f->last_key = INT64_MIN;
		}
		/* A read stream being closed wants no more data: its pending
		 * reads are dropped when they come up. */
		if (m.cmd == DISKSERVER_CLOSE && f->mode == DISKFILE_READ)
			f->closing = 1;
		/* Never earlier than the stream's previous request: keeps each
		 * stream first-in first-out (ties go by push order). */
		if (key < f->last_key)
			key = f->last_key;
		f->last_key = key;
		int rc = edfheap_push(&s->heap, key, &m);
		assert(rc == 0);
		(void)rc;
	}
}

/* Apply injected faults to the next block request. Return: 0 or -EIO. */
static int diskserver__faults(struct diskserver *s, struct diskfile *f)
{
	int fail = 0;
	uint64_t n = ++s->block_requests;
	uint32_t ms = diskfaults_for(&s->faults, n, &fail);
	if (ms > 0) {
		atomic_fetch_add_explicit(&s->stalls, 1, memory_order_relaxed);
		diskserver__sleep_ms(ms);
	}
	if (fail) {
		atomic_fetch_add_explicit(&s->injected_errors, 1,
		                          memory_order_relaxed);
		return diskfile_fail(f, -EIO,
		                     "%s: Input/output error (injected: "
		                     "disk_error_after=%llu)",
		                     f->path, (unsigned long long)n);
	}
	return 0;
}

static void diskserver__reply(void *ring, const struct msg *m)
{
	/* Result rings are sized for every block of the stream plus the open
	 * answer, so this cannot fail unless a stream broke its contract. */
	bool ok = ring_try_push(ring, m);
	assert(ok);
	(void)ok;
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
	if (s->opts.trace)
		s->opts.trace(s->opts.trace_arg, m, key);
	switch (m->cmd) {
	case DISKSERVER_OPEN_READ: {
		int rc = diskfile_open(f);
		struct msg r = {.cmd = DISKSERVER_OPENED,
		                .arg = rc,
		                .u64 = rc == 0 ? f->length : 0,
		                .ptr = f};
		diskserver__reply(f->reply, &r);
		break;
	}
	case DISKSERVER_OPEN_WRITE:
		diskfile_open(f);
		f->header_ns = diskserver_monotonic_ns();
		/* Release: the outcome (status, errmsg) is visible to an owner
		 * that sees open_done with acquire. */
		atomic_store_explicit(&f->open_done, 1, memory_order_release);
		break;
	case DISKSERVER_READ: {
		struct disk_block *b = m->ptr;
		if (f->closing)
			break;
		int rc = atomic_load_explicit(&f->status, memory_order_relaxed);
		if (rc == 0)
			rc = diskserver__faults(s, f);
		if (rc == 0)
			rc = diskfile_read(f, b->pos, b->data, b->capacity);
		b->frames = rc > 0 ? (uint32_t)rc : 0;
		struct msg r = {.cmd = DISKSERVER_READ_DONE,
		                .arg = rc,
		                .u64 = b->pos,
		                .ptr = b};
		diskserver__reply(m->reply, &r);
		break;
	}
	case DISKSERVER_WRITE: {
		struct disk_block *b = m->ptr;
		int rc = atomic_load_explicit(&f->status, memory_order_relaxed);
		if (rc == 0)
			rc = diskserver__faults(s, f);
		if (rc == 0)
			diskfile_write(f, b->data, b->frames);
		/* The block's pool return stack publishes the block back to
		 * its owner (release inside pool_return). */
		pool_return(m->reply, b);
		break;
	}
	case DISKSERVER_SEEK:
		if (!f->closing &&
		    atomic_load_explicit(&f->status, memory_order_relaxed) == 0)
			diskfile_seek(f, m->u64);
		break;
	case DISKSERVER_FLUSH:
		if (atomic_load_explicit(&f->status, memory_order_relaxed) == 0)
			diskfile_flush(f, m->arg, diskserver_monotonic_ns());
		break;
	case DISKSERVER_CLOSE:
		diskserver__close(s, f);
		break;
	default:
		break;
	}
	atomic_fetch_add_explicit(&s->served, 1, memory_order_relaxed);
}

/* Keep recordings playable: refresh headers at most every interval. */
static void diskserver__housekeeping(struct diskserver *s)
{
	int64_t now = diskserver_monotonic_ns();
	if (now - s->housekeeping_ns < DISKSERVER_HOUSEKEEPING_NS)
		return;
	s->housekeeping_ns = now;
	for (struct diskfile *f = s->files; f; f = f->next) {
		if (f->mode == DISKFILE_WRITE && f->sf && f->header_dirty &&
		    now - f->header_ns >= s->opts.header_interval_ns &&
		    atomic_load_explicit(&f->status, memory_order_relaxed) == 0)
			diskfile_flush(f, 0, now);
	}
}

static void *diskserver__main(void *arg)
{
	struct diskserver *s = arg;
	struct msg m;
	int64_t key;
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
		mailbox_wait(&s->mailbox, s->opts.poll_ns);
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
	if (s->opts.poll_ns <= 0)
		s->opts.poll_ns = 2000000;
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
	atomic_init(&s->stopping, 0);
	atomic_init(&s->served, 0);
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
	mailbox_wake(&s->mailbox);
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
		diskserver__sleep_ms(1);
	}
}
