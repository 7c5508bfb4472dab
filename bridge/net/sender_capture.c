/*
 * sender_capture: the live-input FIFO of a sender (see sender.h)
 *
 * Blocks circulate in a closed loop: the audio callback takes an empty
 * block from the `empty` ring, fills it and pushes it onto `filled`; the
 * net thread reads it, frame by frame across packet boundaries, and pushes
 * it back onto `empty`. Both rings hold every block, so neither push can
 * fail. The audio side holds no block between callbacks: a block is
 * queued at the end of the callback that filled it, whatever its length,
 * so the latency added here is one callback period at most.
 */
#include "bridge/net/sender.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int sender_capture_init(struct sender_capture *c, size_t nblocks,
                        uint32_t block_frames, int channels)
{
	int rc = -ENOMEM;

	memset(c, 0, sizeof *c);
	if (nblocks < 2 || (nblocks & (nblocks - 1)) != 0 ||
	    block_frames == 0 || channels < 1 || channels > CODEC_MAX_CHANNELS)
		return -EINVAL;
	c->nblocks = nblocks;
	c->block_frames = block_frames;
	c->channels = channels;
	c->blocks = calloc(nblocks, sizeof *c->blocks);
	c->samples = calloc(nblocks * block_frames * (size_t)channels,
	                    sizeof(float));
	c->filled_mem = malloc(
	        ring_storage_size(sizeof(struct sender_block *), nblocks));
	c->empty_mem = malloc(
	        ring_storage_size(sizeof(struct sender_block *), nblocks));
	if (!c->blocks || !c->samples || !c->filled_mem || !c->empty_mem)
		goto fail;
	rc = ring_init(&c->filled, c->filled_mem, sizeof(struct sender_block *),
	               nblocks);
	if (rc < 0)
		goto fail;
	rc = ring_init(&c->empty, c->empty_mem, sizeof(struct sender_block *),
	               nblocks);
	if (rc < 0)
		goto fail;
	for (size_t i = 0; i < nblocks; i++) {
		struct sender_block *b = &c->blocks[i];
		b->frames = 0;
		b->data = c->samples + i * block_frames * (size_t)channels;
		/* Before any other thread sees the FIFO: cannot fail. */
		(void)ring_try_push(&c->empty, &b);
	}
	return 0;

fail:
	sender_capture_clear(c);
	return rc;
}

void sender_capture_clear(struct sender_capture *c)
{
	free(c->blocks);
	free(c->samples);
	free(c->filled_mem);
	free(c->empty_mem);
	memset(c, 0, sizeof *c);
}

size_t sender_capture_push(struct sender_capture *c, const float *in,
                           size_t frames)
{
	size_t done = 0;
	size_t ch = (size_t)c->channels;

	while (done < frames) {
		struct sender_block *b;
		if (!ring_try_pop(&c->empty, &b))
			break;
		size_t n = frames - done;
		if (n > c->block_frames)
			n = c->block_frames;
		memcpy(b->data, in + done * ch, n * ch * sizeof(float));
		b->frames = (uint32_t)n;
		/* Cannot fail: the ring has room for every block. */
		(void)ring_try_push(&c->filled, &b);
		done += n;
	}
	if (done > 0) {
		uint64_t total = atomic_load_explicit(&c->frames_in,
		                                      memory_order_relaxed);
		/* Release pairs with the acquire in sender_capture_read: a
		 * consumer that sees this count also sees the blocks that
		 * carry it in the filled ring (pushed above). */
		atomic_store_explicit(&c->frames_in, total + done,
		                      memory_order_release);
	}
	if (done < frames) {
		uint64_t o = atomic_load_explicit(&c->overruns,
		                                  memory_order_relaxed);
		uint64_t d = atomic_load_explicit(&c->dropped_in,
		                                  memory_order_relaxed);
		atomic_store_explicit(&c->overruns, o + 1,
		                      memory_order_relaxed);
		atomic_store_explicit(&c->dropped_in, d + (frames - done),
		                      memory_order_relaxed);
	}
	return done;
}

/* Copy (out != NULL) or skip up to n frames from the queued blocks.
 * Return: frames taken. */
static size_t sender_capture__take(struct sender_capture *c, float *out,
                                   size_t n)
{
	size_t ch = (size_t)c->channels;
	size_t got = 0;

	while (got < n) {
		if (c->cur == NULL && !ring_try_pop(&c->filled, &c->cur))
			break;
		size_t k = c->cur->frames - c->cur_pos;
		if (k > n - got)
			k = n - got;
		if (out != NULL)
			memcpy(out + got * ch,
			       c->cur->data + (size_t)c->cur_pos * ch,
			       k * ch * sizeof(float));
		c->cur_pos += (uint32_t)k;
		got += k;
		if (c->cur_pos == c->cur->frames) {
			(void)ring_try_push(&c->empty, &c->cur);
			c->cur = NULL;
			c->cur_pos = 0;
		}
	}
	return got;
}

size_t sender_capture_read(struct sender_capture *c, float *out, size_t frames,
                           uint64_t max_backlog)
{
	/* Acquire pairs with the release in sender_capture_push: every frame
	 * counted here is in a block already visible in the filled ring. */
	uint64_t in = atomic_load_explicit(&c->frames_in, memory_order_acquire);
	uint64_t taken =
	        atomic_load_explicit(&c->frames_out, memory_order_relaxed);
	uint64_t backlog = in - taken;

	if (!c->primed || backlog > max_backlog) {
		/* Start (or catch up) with the newest audio: drop what the
		 * callback queued before the first packet, or beyond the
		 * latency bound after the device ran faster than the pacer. */
		uint64_t keep = c->primed ? max_backlog / 2 : frames;
		if (keep < frames)
			keep = frames;
		if (backlog > keep) {
			size_t skip = sender_capture__take(
			        c, NULL, (size_t)(backlog - keep));
			taken += skip;
			backlog -= skip;
			if (c->primed) {
				uint64_t t = atomic_load_explicit(
				        &c->trimmed, memory_order_relaxed);
				atomic_store_explicit(&c->trimmed, t + skip,
				                      memory_order_relaxed);
			}
		}
		c->primed = true;
	}
	size_t got = 0;
	if (backlog >= frames)
		got = sender_capture__take(c, out, frames);
	atomic_store_explicit(&c->frames_out, taken + got,
	                      memory_order_relaxed);
	return got;
}

uint64_t sender_capture_backlog(const struct sender_capture *c)
{
	uint64_t in = atomic_load_explicit(&c->frames_in, memory_order_relaxed);
	uint64_t out =
	        atomic_load_explicit(&c->frames_out, memory_order_relaxed);

	return in > out ? in - out : 0;
}
