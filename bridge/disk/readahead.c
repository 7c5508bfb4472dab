/*
 * readahead: consumer side of a read-ahead stream. The consumer keeps a
 * queue of its blocks in request order: a prefix of discarded entries
 * (stale after a seek, or already played, waiting for their answer before
 * they can go back to the pool), then the blocks that make up the frames
 * from play_pos on, contiguous, each either requested or ready. Answers
 * come back in request order (the server keeps each stream first-in
 * first-out), but an answer is matched to its entry by block pointer.
 */
#include "bridge/disk/readahead.h"

#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define READAHEAD_SEND_TIMEOUT_MS 5000

static struct readahead_entry *readahead__at(struct readahead *s, size_t i)
{
	return &s->q[(s->qhead + i) % s->qcap];
}

static void readahead__set_state(struct readahead *s, int state)
{
	s->state = state;
	/* Release: a thread that reads ERROR with acquire also sees the error
	 * message, which reached this thread through the result ring. */
	atomic_store_explicit(&s->state_pub, state, memory_order_release);
}

static void readahead__publish_position(struct readahead *s)
{
	uint64_t p = s->play_pos;
	if (s->loop && s->length > 0)
		p %= s->length;
	else if (s->length > 0 && p > s->length)
		p = s->length;
	atomic_store_explicit(&s->position_pub, p, memory_order_relaxed);
}

/* Give ready discarded entries at the front back to the pool. */
static void readahead__purge(struct readahead *s)
{
	while (s->ndiscard > 0) {
		struct readahead_entry *e = readahead__at(s, 0);
		if (!e->ready)
			break;
		pool_put(&s->pool, e->block);
		s->qhead = (s->qhead + 1) % s->qcap;
		s->qlen--;
		s->ndiscard--;
		if (s->match_hint > 0)
			s->match_hint--;
	}
}

/* Mark the first live entry as done with (it becomes part of the discarded
 * prefix). */
static void readahead__retire_front(struct readahead *s)
{
	s->ndiscard++;
	readahead__purge(s);
}

static void readahead__results(struct readahead *s)
{
	struct msg m;
	while (ring_try_pop(&s->results, &m)) {
		if (m.cmd == DISKSERVER_OPENED) {
			if (m.arg < 0) {
				readahead__set_state(s, READAHEAD_ERROR);
				continue;
			}
			s->length = m.u64;
			atomic_store_explicit(&s->length_pub, m.u64,
			                      memory_order_relaxed);
			s->channels = s->file.out_channels;
			if (s->state == READAHEAD_OPENING)
				readahead__set_state(s, READAHEAD_BUFFERING);
			continue;
		}
		if (m.cmd != DISKSERVER_READ_DONE)
			continue;
		struct disk_block *b = m.ptr;
		/* The server answers a stream's reads in the order they were
		 * asked, so the answer is for the entry after the last one
		 * answered; look further only if it is not (a constant-time
		 * match, however many blocks are queued). */
		size_t i = s->match_hint;
		if (i >= s->qlen || readahead__at(s, i)->block != b)
			for (i = 0; i < s->qlen; i++)
				if (readahead__at(s, i)->block == b)
					break;
		if (i < s->qlen) {
			readahead__at(s, i)->ready = 1;
			s->match_hint = i + 1;
		}
		if (m.arg < 0 && i < s->qlen && i >= s->ndiscard)
			readahead__set_state(s, READAHEAD_ERROR);
	}
	readahead__purge(s);
}

/* Send read requests until the read-ahead window is covered. */
static void readahead__fill(struct readahead *s, int wake)
{
	if (s->state == READAHEAD_ERROR || s->state == READAHEAD_EOF)
		return;
	int64_t now = -1;
	while (s->qlen < s->qcap &&
	       s->next_pos - s->play_pos < s->prefetch_frames) {
		if (!s->loop && s->state != READAHEAD_OPENING &&
		    s->next_pos >= s->length)
			break;
		struct disk_block *b = pool_get(&s->pool);
		if (!b) {
			atomic_fetch_add_explicit(&s->deferred, 1,
			                          memory_order_relaxed);
			break;
		}
		if (now < 0)
			now = diskserver_now(s->server);
		b->pos = s->next_pos;
		b->frames = 0;
		/* The stream runs dry when playback reaches this block. */
		uint64_t ahead = s->next_pos - s->play_pos;
		struct msg m = {
		        .cmd = DISKSERVER_READ,
		        .u64 = (uint64_t)now +
		               ahead * 1000000000ULL / (uint64_t)s->rate,
		        .ptr = b,
		        .reply = &s->results,
		};
		if (diskserver_post(s->server, &m, wake) < 0) {
			pool_put(&s->pool, b);
			atomic_fetch_add_explicit(&s->deferred, 1,
			                          memory_order_relaxed);
			break;
		}
		struct readahead_entry *e = readahead__at(s, s->qlen);
		e->block = b;
		e->ready = 0;
		e->discard = 0;
		s->qlen++;
		s->next_pos += s->block_frames;
	}
}

/* Frames ready from play_pos on, contiguous. */
static uint64_t readahead__ready_ahead(const struct readahead *s)
{
	uint64_t pos = s->play_pos;
	for (size_t i = s->ndiscard; i < s->qlen; i++) {
		const struct readahead_entry *e =
		        &s->q[(s->qhead + i) % s->qcap];
		if (!e->ready || e->block->pos > pos)
			break;
		uint64_t end = e->block->pos + e->block->frames;
		if (end > pos)
			pos = end;
		if (e->block->frames < e->block->capacity)
			break;
	}
	return pos - s->play_pos;
}

static void readahead__update(struct readahead *s)
{
	if (s->state == READAHEAD_ERROR || s->state == READAHEAD_OPENING)
		return;
	if (!s->loop && s->play_pos >= s->length) {
		if (s->state != READAHEAD_EOF)
			readahead__set_state(s, READAHEAD_EOF);
		return;
	}
	if (s->state == READAHEAD_BUFFERING) {
		uint64_t need = readahead_wanted(s);
		if (s->loop && s->length == 0) {
			readahead__set_state(s, READAHEAD_EOF);
			return;
		}
		if (readahead__ready_ahead(s) >= need)
			readahead__set_state(s, READAHEAD_STREAMING);
	}
}

uint64_t readahead_buffered(const struct readahead *s)
{
	return readahead__ready_ahead(s);
}

uint64_t readahead_wanted(const struct readahead *s)
{
	uint64_t need = s->prefetch_frames;
	if (!s->loop && s->length - s->play_pos < need)
		need = s->play_pos < s->length ? s->length - s->play_pos : 0;
	return need;
}

int readahead_poll(struct readahead *s)
{
	readahead__results(s);
	readahead__fill(s, s->wake);
	readahead__update(s);
	return s->state;
}

int readahead_wait_while(struct readahead *s, int state, unsigned ms)
{
	const struct timespec tick = {0, 1000000L};
	int st = readahead_poll(s);

	/* The server posts no wake-up to a control thread: look every ms. */
	for (unsigned i = 0; i < ms && st == state; i++) {
		nanosleep(&tick, NULL);
		st = readahead_poll(s);
	}
	return st;
}

size_t readahead_read(struct readahead *s, float *out, size_t frames)
{
	readahead__results(s);
	readahead__update(s);
	size_t ch = (size_t)s->channels;
	size_t copied = 0;
	if (s->state == READAHEAD_STREAMING) {
		while (copied < frames && s->ndiscard < s->qlen) {
			struct readahead_entry *e =
			        readahead__at(s, s->ndiscard);
			if (!e->ready)
				break;
			struct disk_block *b = e->block;
			uint64_t end = b->pos + b->frames;
			if (s->play_pos >= end || s->play_pos < b->pos) {
				readahead__retire_front(s);
				continue;
			}
			size_t n = (size_t)(end - s->play_pos);
			if (n > frames - copied)
				n = frames - copied;
			memcpy(out + copied * ch,
			       b->data + (size_t)(s->play_pos - b->pos) * ch,
			       n * ch * sizeof(float));
			copied += n;
			s->play_pos += n;
			if (s->play_pos == end)
				readahead__retire_front(s);
		}
		if (copied < frames && (s->loop || s->play_pos < s->length)) {
			/* Relaxed: plain counters, no data hangs off them. */
			atomic_fetch_add_explicit(&s->underruns, 1,
			                          memory_order_relaxed);
			atomic_fetch_add_explicit(&s->underrun_frames,
			                          frames - copied,
			                          memory_order_relaxed);
		}
		readahead__publish_position(s);
	}
	if (copied < frames && ch > 0)
		memset(out + copied * ch, 0,
		       (frames - copied) * ch * sizeof(float));
	readahead__fill(s, s->wake);
	readahead__update(s);
	return copied;
}

int readahead_seek(struct readahead *s, uint64_t frame)
{
	readahead__results(s);
	if (s->state == READAHEAD_ERROR)
		return -EIO;
	uint64_t v = frame;
	int known = s->state != READAHEAD_OPENING;
	if (known && s->loop && s->length > 0) {
		uint64_t base = s->play_pos - s->play_pos % s->length;
		v = base + frame % s->length;
		if (v < s->play_pos)
			v += s->length;
	} else if (known && v > s->length) {
		v = s->length;
	}
	int in_range = 0;
	if (known && s->ndiscard < s->qlen && v < s->next_pos &&
	    v >= readahead__at(s, s->ndiscard)->block->pos)
		in_range = 1;
	if (in_range) {
		/* Keep the block holding v and everything after it. */
		while (s->ndiscard < s->qlen) {
			struct disk_block *b =
			        readahead__at(s, s->ndiscard)->block;
			if (b->pos + s->block_frames > v)
				break;
			readahead__retire_front(s);
		}
		s->play_pos = v;
		if (s->state == READAHEAD_EOF)
			readahead__set_state(s, READAHEAD_BUFFERING);
	} else {
		s->ndiscard = s->qlen;
		readahead__purge(s);
		s->play_pos = v;
		s->next_pos = v;
		if (known) {
			readahead__set_state(s, READAHEAD_BUFFERING);
			/* A hint so the server positions the file before the
			 * reads arrive; the reads carry their position anyway.
			 */
			struct msg m = {.cmd = DISKSERVER_SEEK,
			                .u64 = v,
			                .ptr = &s->file};
			if (s->loop || v < s->length)
				(void)diskserver_post(s->server, &m, s->wake);
		}
	}
	readahead__publish_position(s);
	readahead__fill(s, s->wake);
	readahead__update(s);
	return 0;
}

static void readahead__destroy(struct diskfile *f)
{
	struct readahead *s = (struct readahead *)f;
	ring_clear(&s->results);
	pool_clear(&s->pool);
	free(s->q);
	free(s->ring_mem);
	free(s->pool_mem);
	diskfile_clear(&s->file);
	free(s);
}

static size_t readahead__pow2(size_t n)
{
	size_t p = 2;
	while (p < n)
		p *= 2;
	return p;
}

static size_t readahead__round(size_t n, size_t a)
{
	return (n + a - 1) / a * a;
}

int readahead_open(struct diskserver *srv, const char *path,
                   const struct readahead_opts *opts, struct readahead **out)
{
	static const struct readahead_opts defaults = {0};
	const struct readahead_opts *o = opts ? opts : &defaults;
	int rate = o->rate ? o->rate : 48000;
	double prefetch_s =
	        o->prefetch_s > 0 ? o->prefetch_s : DISKSERVER_DEFAULT_WINDOW_S;
	if (o->channels < 0 || o->channels > 2 || rate < 1000 ||
	    rate > 768000 || o->prefetch_s < 0 || prefetch_s > 600 ||
	    o->block_frames > 1u << 20)
		return -EINVAL;
	uint64_t prefetch_frames = (uint64_t)ceil(prefetch_s * rate);
	uint32_t block_frames =
	        o->block_frames ? o->block_frames
	                        : diskserver_block_frames(prefetch_frames);

	int rc = -ENOMEM;
	struct readahead *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	rc = diskfile_init(&s->file, path, DISKFILE_READ);
	if (rc < 0)
		goto fail_stream;
	s->server = srv;
	s->rate = rate;
	s->loop = o->loop != 0;
	s->wake = o->wake != 0;
	s->block_frames = block_frames;
	s->channels = o->channels;
	s->prefetch_frames = prefetch_frames;
	if (s->prefetch_frames < block_frames)
		s->prefetch_frames = block_frames;
	/* A block is asked for when less than the read-ahead is queued, so
	 * its answer may take about the read-ahead less one block (at least
	 * half a block). */
	uint64_t slack = s->prefetch_frames - block_frames;
	if (slack < block_frames / 2)
		slack = block_frames / 2;
	s->file.slack_ns = (int64_t)(slack * 1000000000ULL / (uint64_t)rate);
	s->file.channels = o->channels;
	s->file.rate = rate;
	s->file.loop = s->loop;
	s->file.reply = &s->results;
	s->file.destroy = readahead__destroy;
	atomic_init(&s->state_pub, READAHEAD_OPENING);
	atomic_init(&s->position_pub, 0);
	atomic_init(&s->length_pub, 0);
	atomic_init(&s->underruns, 0);
	atomic_init(&s->underrun_frames, 0);
	atomic_init(&s->deferred, 0);

	/* Enough blocks to cover the window from anywhere inside a block,
	 * plus one being played. */
	size_t nblocks = (size_t)((s->prefetch_frames + block_frames - 1) /
	                          block_frames) +
	                 2;
	int pool_ch = o->channels ? o->channels : 2;
	size_t node = sizeof(struct disk_block) +
	              (size_t)block_frames * (size_t)pool_ch * sizeof(float);
	size_t psize = readahead__round(pool_storage_size(node, nblocks),
	                                alignof(max_align_t));
	s->pool_mem = aligned_alloc(alignof(max_align_t), psize);
	if (!s->pool_mem)
		goto fail_file;
	rc = pool_init(&s->pool, s->pool_mem, node, nblocks);
	if (rc < 0)
		goto fail_pool_mem;
	s->q = calloc(nblocks, sizeof(*s->q));
	if (!s->q) {
		rc = -ENOMEM;
		goto fail_pool;
	}
	s->qcap = nblocks;
	/* Stamp each block with its stream and size (every node passes
	 * through the queue array once, as scratch). */
	for (size_t i = 0; i < nblocks; i++) {
		struct disk_block *b = pool_get(&s->pool);
		b->file = &s->file;
		b->capacity = block_frames;
		s->q[i].block = b;
	}
	for (size_t i = 0; i < nblocks; i++)
		pool_put(&s->pool, s->q[i].block);
	memset(s->q, 0, nblocks * sizeof(*s->q));

	/* Room for every block's answer plus the open answer. */
	size_t rcap = readahead__pow2(nblocks + 2);
	size_t rsize = readahead__round(
	        ring_storage_size(sizeof(struct msg), rcap), RING_CACHE_LINE);
	s->ring_mem = aligned_alloc(RING_CACHE_LINE, rsize);
	rc = -ENOMEM;
	if (!s->ring_mem)
		goto fail_q;
	rc = ring_init(&s->results, s->ring_mem, sizeof(struct msg), rcap);
	if (rc < 0)
		goto fail_ring_mem;

	s->state = READAHEAD_OPENING;
	struct msg m = {.cmd = DISKSERVER_OPEN_READ,
	                .u64 = (uint64_t)diskserver_now(srv),
	                .ptr = &s->file};
	rc = diskserver_send(srv, &m, READAHEAD_SEND_TIMEOUT_MS);
	if (rc < 0)
		goto fail_ring;
	/* From here the server may free the stream only after a close. */
	readahead__fill(s, 1);
	*out = s;
	return 0;

fail_ring:
	ring_clear(&s->results);
fail_ring_mem:
	free(s->ring_mem);
fail_q:
	free(s->q);
fail_pool:
	pool_clear(&s->pool);
fail_pool_mem:
	free(s->pool_mem);
fail_file:
	diskfile_clear(&s->file);
fail_stream:
	free(s);
	return rc;
}

int readahead_close(struct readahead *s)
{
	struct msg m = {.cmd = DISKSERVER_CLOSE,
	                .u64 = (uint64_t)diskserver_now(s->server),
	                .ptr = &s->file};
	return diskserver_send(s->server, &m, READAHEAD_SEND_TIMEOUT_MS);
}

int readahead_state(const struct readahead *s)
{
	/* Acquire: pairs with readahead__set_state (see there). */
	return atomic_load_explicit(&s->state_pub, memory_order_acquire);
}

uint64_t readahead_position(const struct readahead *s)
{
	return atomic_load_explicit(&s->position_pub, memory_order_relaxed);
}

uint64_t readahead_length(const struct readahead *s)
{
	/* Relaxed: a value set once, carrying nothing else. */
	return atomic_load_explicit(&s->length_pub, memory_order_relaxed);
}

int readahead_channels(const struct readahead *s)
{
	return s->channels;
}

const char *readahead_error(const struct readahead *s)
{
	if (atomic_load_explicit(&s->state_pub, memory_order_acquire) !=
	    READAHEAD_ERROR)
		return "";
	return s->file.errmsg;
}

uint64_t readahead_underruns(const struct readahead *s)
{
	return atomic_load_explicit(&s->underruns, memory_order_relaxed);
}

uint64_t readahead_underrun_frames(const struct readahead *s)
{
	return atomic_load_explicit(&s->underrun_frames, memory_order_relaxed);
}

uint64_t readahead_deferred(const struct readahead *s)
{
	return atomic_load_explicit(&s->deferred, memory_order_relaxed);
}
