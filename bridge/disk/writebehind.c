/*
 * writebehind: producer side of a recording stream, and the disk thread's
 * destroy callback that reports the outcome. The producer keeps full
 * blocks the mailbox could not take in order in `unsent` (it can hold
 * every block, so it never overflows) and retries them first.
 */
#include "bridge/disk/writebehind.h"

#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WRITEBEHIND_SEND_TIMEOUT_MS 5000

static void writebehind__sleep_1ms(void)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = 1000000L};
	nanosleep(&ts, NULL);
}

static struct msg writebehind__write_msg(struct writebehind *s,
                                         struct disk_block *b)
{
	/* If the disk gives every block back within the slack of its
	 * posting, no more than the pool less the block being filled is
	 * ever out, and the producer never runs dry. (The free list alone
	 * would say less: blocks given back wait on the pool's return stack
	 * until the list is empty, and writes would look more urgent than
	 * they are.) */
	struct msg m = {
	        .cmd = DISKSERVER_WRITE,
	        .u64 = (uint64_t)(diskserver_now(s->server) + s->file.slack_ns),
	        .ptr = b,
	        .reply = &s->pool,
	};
	return m;
}

/* Post blocks the mailbox refused earlier, oldest first. Return: how many
 * remain. */
static size_t writebehind__resend(struct writebehind *s)
{
	while (s->unsent_len > 0) {
		struct msg m =
		        writebehind__write_msg(s, s->unsent[s->unsent_head]);
		if (diskserver_post(s->server, &m, 0) < 0)
			break;
		s->unsent_head = (s->unsent_head + 1) % s->nblocks;
		s->unsent_len--;
	}
	return s->unsent_len;
}

static void writebehind__post(struct writebehind *s, struct disk_block *b)
{
	if (writebehind__resend(s) == 0) {
		struct msg m = writebehind__write_msg(s, b);
		if (diskserver_post(s->server, &m, 0) == 0)
			return;
	}
	s->unsent[(s->unsent_head + s->unsent_len) % s->nblocks] = b;
	s->unsent_len++;
}

static void writebehind__drop(struct writebehind *s, size_t frames)
{
	/* Relaxed: plain counters. */
	atomic_fetch_add_explicit(&s->dropped_frames, frames,
	                          memory_order_relaxed);
	atomic_fetch_add_explicit(&s->drop_events, 1, memory_order_relaxed);
}

size_t writebehind_write(struct writebehind *s, const float *in, size_t frames)
{
	writebehind__resend(s);
	if (frames == 0)
		return 0;
	/* Acquire: pairs with diskfile_fail's release; nothing else is read. */
	if (atomic_load_explicit(&s->file.status, memory_order_acquire) != 0) {
		writebehind__drop(s, frames);
		return 0;
	}
	size_t ch = (size_t)s->channels;
	size_t done = 0;
	while (done < frames) {
		if (!s->cur) {
			s->cur = pool_get(&s->pool);
			if (!s->cur) {
				writebehind__drop(s, frames - done);
				break;
			}
			s->cur->frames = 0;
		}
		size_t n = s->block_frames - s->cur->frames;
		if (n > frames - done)
			n = frames - done;
		memcpy(s->cur->data + (size_t)s->cur->frames * ch,
		       in + done * ch, n * ch * sizeof(float));
		s->cur->frames += (uint32_t)n;
		done += n;
		if (s->cur->frames == s->block_frames) {
			writebehind__post(s, s->cur);
			s->cur = NULL;
		}
	}
	return done;
}

int writebehind_flush(struct writebehind *s)
{
	if (s->cur && s->cur->frames > 0) {
		writebehind__post(s, s->cur);
		s->cur = NULL;
	}
	if (writebehind__resend(s) > 0)
		return -EAGAIN;
	struct msg m = {.cmd = DISKSERVER_FLUSH,
	                .u64 = (uint64_t)diskserver_now(s->server),
	                .ptr = &s->file};
	return diskserver_post(s->server, &m, 0);
}

static void writebehind__destroy(struct diskfile *f)
{
	struct writebehind *s = (struct writebehind *)f;
	struct writebehind_result *r = s->result;
	if (r) {
		r->status =
		        atomic_load_explicit(&f->status, memory_order_relaxed);
		r->frames = atomic_load_explicit(&f->frames_done,
		                                 memory_order_relaxed);
		r->dropped = atomic_load_explicit(&s->dropped_frames,
		                                  memory_order_relaxed) +
		             atomic_load_explicit(&f->frames_dropped,
		                                  memory_order_relaxed);
		r->bytes = f->bytes;
		memcpy(r->message, f->errmsg, sizeof(r->message));
		r->message[sizeof(r->message) - 1] = '\0';
		/* Release: publishes the fields above to
		 * writebehind_result_done. */
		atomic_store_explicit(&r->done, 1, memory_order_release);
	}
	pool_clear(&s->pool);
	free(s->unsent);
	free(s->pool_mem);
	diskfile_clear(&s->file);
	free(s);
}

int writebehind_close(struct writebehind *s, struct writebehind_result *result)
{
	int rc;
	if (result) {
		memset(result, 0, sizeof(*result));
		atomic_init(&result->done, 0);
	}
	/* Written before the close request is posted, read by the disk thread
	 * after popping it: the mailbox orders the two. */
	s->result = result;
	/* The partial block joins the queue of blocks to send (which has room
	 * for every block of the pool). */
	if (s->cur && s->cur->frames > 0) {
		s->unsent[(s->unsent_head + s->unsent_len) % s->nblocks] =
		        s->cur;
		s->unsent_len++;
	}
	s->cur = NULL;
	while (s->unsent_len > 0) {
		struct msg m =
		        writebehind__write_msg(s, s->unsent[s->unsent_head]);
		rc = diskserver_send(s->server, &m,
		                     WRITEBEHIND_SEND_TIMEOUT_MS);
		if (rc < 0)
			return rc;
		s->unsent_head = (s->unsent_head + 1) % s->nblocks;
		s->unsent_len--;
	}
	struct msg m = {.cmd = DISKSERVER_CLOSE,
	                .u64 = (uint64_t)diskserver_now(s->server),
	                .ptr = &s->file};
	return diskserver_send(s->server, &m, WRITEBEHIND_SEND_TIMEOUT_MS);
}

int writebehind_result_done(const struct writebehind_result *result)
{
	/* Acquire: pairs with the release in writebehind__destroy. */
	return atomic_load_explicit(&result->done, memory_order_acquire);
}

int writebehind_wait_closed(struct writebehind_result *result, int timeout_ms)
{
	for (int i = 0; !writebehind_result_done(result); i++) {
		if (i >= timeout_ms)
			return -ETIMEDOUT;
		writebehind__sleep_1ms();
	}
	return result->status;
}

int writebehind_wait_open(struct writebehind *s, int timeout_ms)
{
	/* Acquire: pairs with the release after the open in the server. */
	for (int i = 0;
	     !atomic_load_explicit(&s->file.open_done, memory_order_acquire);
	     i++) {
		if (i >= timeout_ms)
			return -ETIMEDOUT;
		writebehind__sleep_1ms();
	}
	return writebehind_status(s);
}

int writebehind_state(const struct writebehind *s)
{
	int st = writebehind_status(s);
	if (st == -ENOSPC || st == -EDQUOT)
		return WRITEBEHIND_DISK_FULL;
	if (st < 0)
		return WRITEBEHIND_FAILED;
	/* Acquire: pairs with the release after the open in the server. */
	if (!atomic_load_explicit(&s->file.open_done, memory_order_acquire))
		return WRITEBEHIND_OPENING;
	return WRITEBEHIND_RECORDING;
}

int writebehind_status(const struct writebehind *s)
{
	/* Acquire: pairs with diskfile_fail's release of the message. */
	return atomic_load_explicit(&s->file.status, memory_order_acquire);
}

const char *writebehind_error(const struct writebehind *s)
{
	if (writebehind_status(s) == 0)
		return "";
	return s->file.errmsg;
}

uint64_t writebehind_frames_written(const struct writebehind *s)
{
	return atomic_load_explicit(&s->file.frames_done, memory_order_relaxed);
}

uint64_t writebehind_dropped_frames(const struct writebehind *s)
{
	/* Relaxed: counters. Dropped here (no block, or after an error) and
	 * by the disk thread (blocks already sent when the error came). */
	return atomic_load_explicit(&s->dropped_frames, memory_order_relaxed) +
	       atomic_load_explicit(&s->file.frames_dropped,
	                            memory_order_relaxed);
}

uint64_t writebehind_drop_events(const struct writebehind *s)
{
	return atomic_load_explicit(&s->drop_events, memory_order_relaxed);
}

int writebehind_open(struct diskserver *srv, const char *path, int channels,
                     int rate, const struct writebehind_opts *opts,
                     struct writebehind **out)
{
	static const struct writebehind_opts defaults = {0};
	const struct writebehind_opts *o = opts ? opts : &defaults;
	double buffer_s =
	        o->buffer_s > 0 ? o->buffer_s : DISKSERVER_DEFAULT_WINDOW_S;
	if (channels < 1 || channels > 64 || rate < 1000 || rate > 768000 ||
	    o->buffer_s < 0 || buffer_s > 600 || o->block_frames > 1u << 20 ||
	    o->encoding < 0 || o->encoding > DISKFILE_ENC_FLOAT)
		return -EINVAL;
	uint64_t window = (uint64_t)ceil(buffer_s * rate);
	uint32_t block_frames = o->block_frames
	                                ? o->block_frames
	                                : diskserver_block_frames(window);

	int rc = -ENOMEM;
	struct writebehind *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	rc = diskfile_init(&s->file, path, DISKFILE_WRITE);
	if (rc < 0)
		goto fail_stream;
	s->server = srv;
	s->channels = channels;
	s->rate = rate;
	s->block_frames = block_frames;
	s->file.channels = channels;
	s->file.rate = rate;
	s->file.encoding = o->encoding;
	s->file.destroy = writebehind__destroy;
	s->file.opened = o->opened;
	s->file.opened_arg = o->opened_arg;
	atomic_init(&s->dropped_frames, 0);
	atomic_init(&s->drop_events, 0);

	/* The window in full blocks waiting for the disk, plus the block
	 * being filled. */
	size_t nblocks =
	        (size_t)((window + block_frames - 1) / block_frames) + 1;
	if (nblocks < 2)
		nblocks = 2;
	/* A full block may wait while the others fill (one is being filled,
	 * the newest just went out); at least half a block. */
	uint64_t slack = (uint64_t)(nblocks - 2) * block_frames;
	if (slack < block_frames / 2)
		slack = block_frames / 2;
	s->file.slack_ns = (int64_t)(slack * 1000000000ULL / (uint64_t)rate);
	size_t node = sizeof(struct disk_block) +
	              (size_t)block_frames * (size_t)channels * sizeof(float);
	size_t psize = pool_storage_size(node, nblocks);
	psize = (psize + alignof(max_align_t) - 1) / alignof(max_align_t) *
	        alignof(max_align_t);
	rc = -ENOMEM;
	s->pool_mem = aligned_alloc(alignof(max_align_t), psize);
	s->unsent = calloc(nblocks, sizeof(*s->unsent));
	if (!s->pool_mem || !s->unsent)
		goto fail_mem;
	rc = pool_init(&s->pool, s->pool_mem, node, nblocks);
	if (rc < 0)
		goto fail_mem;
	s->nblocks = nblocks;
	for (size_t i = 0; i < nblocks; i++) {
		struct disk_block *b = pool_get(&s->pool);
		b->file = &s->file;
		b->capacity = block_frames;
		s->unsent[i] = b;
	}
	for (size_t i = 0; i < nblocks; i++)
		pool_put(&s->pool, s->unsent[i]);

	struct msg m = {.cmd = DISKSERVER_OPEN_WRITE,
	                .u64 = (uint64_t)diskserver_now(srv),
	                .ptr = &s->file};
	rc = diskserver_send(srv, &m, WRITEBEHIND_SEND_TIMEOUT_MS);
	if (rc < 0)
		goto fail_pool;
	*out = s;
	return 0;

fail_pool:
	pool_clear(&s->pool);
fail_mem:
	free(s->unsent);
	free(s->pool_mem);
	diskfile_clear(&s->file);
fail_stream:
	free(s);
	return rc;
}
