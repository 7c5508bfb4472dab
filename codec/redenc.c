/*
 * redenc: RFC 2198 RED payloads of the sender (see redenc.h)
 *
 * The kept payloads are a ring of `kept` entries; entry `next` is the
 * oldest, overwritten by each new primary.
 */
#include "codec/redenc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int redenc_init(struct redenc *r, unsigned distance, unsigned lag, uint8_t pt,
                size_t cap)
{
	memset(r, 0, sizeof(*r));
	if (distance < 1 || distance > RED_MAX_DISTANCE || pt > 127 ||
	    (lag && (lag < 2 || lag > RED_MAX_LAG || distance != 1)))
		return -EINVAL;
	if (cap > RED_BLOCK_LEN_MAX)
		cap = RED_BLOCK_LEN_MAX;
	r->first = lag ? lag : 1;
	r->last = lag ? lag : distance;
	r->kept = r->last;
	r->mem = malloc(r->kept * cap);
	if (!r->mem)
		return -ENOMEM;
	r->pt = pt;
	r->cap = cap;
	return 0;
}

void redenc_clear(struct redenc *r)
{
	free(r->mem);
	r->mem = NULL;
}

size_t redenc_max_size(const struct redenc *r, size_t primary_max)
{
	return (r->last - r->first + 1) * (RED_HEADER_BYTES + r->cap) +
	       RED_LAST_BYTES + primary_max;
}

int redenc_write(struct redenc *r, uint16_t seq, uint32_t ts, uint32_t ticks,
                 const uint8_t *primary, size_t len, uint8_t *out, size_t cap)
{
	struct red_block b[RED_MAX_DISTANCE];
	struct red_block pr = {.pt = r->pt, .data = primary, .len = len};
	size_t n = 0;

	if (len == 0)
		return -EINVAL;
	/* Oldest first: k from last down to first. */
	for (unsigned k = r->last; k >= r->first; k--) {
		for (unsigned i = 0; i < r->kept; i++) {
			const struct redenc_entry *e = &r->e[i];
			uint64_t off = (uint64_t)k * ticks;
			if (e->len == 0 || (uint16_t)(seq - e->seq) != k ||
			    ts - e->ts != off || off == 0 ||
			    off > RED_TS_OFFSET_MAX)
				continue;
			b[n++] = (struct red_block){
			        .pt = r->pt,
			        .ts_offset = (uint16_t)off,
			        .data = r->mem + i * r->cap,
			        .len = e->len,
			};
			break;
		}
	}
	int w = red_write(b, n, &pr, out, cap);
	if (w < 0)
		return w;
	/* Keep it, if a block can hold it (a longer one is never copied). */
	struct redenc_entry *e = &r->e[r->next];
	e->len = len <= r->cap ? len : 0;
	e->ts = ts;
	e->seq = seq;
	if (e->len)
		memcpy(r->mem + r->next * r->cap, primary, len);
	r->next = (r->next + 1) % r->kept;
	return w;
}
