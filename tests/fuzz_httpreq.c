/*
 * libFuzzer target: the metrics endpoint's request parser on arbitrary
 * bytes, whole and as the net thread sees them (in pieces: the head's end
 * searched after every piece, resuming where the last search stopped).
 * The answer must be a status the server knows and the head must lie
 * within the input. Built only with -DRTB_FUZZ=ON (clang).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "bridge/net/httpreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	size_t scanned = 0, head = 0, step, at;
	struct httpreq r;

	/* Pieces of 1..16 bytes, sized by the first byte. */
	step = size ? (size_t)(data[0] % 16) + 1 : 1;
	for (at = step; head == 0; at += step) {
		size_t n = at < size ? at : size;
		head = httpreq_head_end(buf, n, scanned, &scanned);
		if (n == size)
			break;
	}
	size_t once = 0;
	if (httpreq_head_end(buf, size, 0, &once) != head)
		abort(); /* found in pieces and whole alike */
	if (head > size)
		abort();
	int status = httpreq_parse(&r, buf, head ? head : size);
	if (status != 200 && status != 400 && status != 404 && status != 405 &&
	    status != 505)
		abort();
	if (r.head_len != (head ? head : size))
		abort();
	return 0;
}
