/*
 * fuzz_input: the fuzz targets' reader of their input, a byte at a time
 *
 * A target turns libFuzzer's bytes into a script of operations; once the
 * input is used up every further byte reads as 0, so a script always
 * ends. Header only: each target is its own program.
 *
 * Context: the fuzz target's one thread
 */
#ifndef RTB_FUZZ_INPUT_H
#define RTB_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

struct fz_in {
	const uint8_t *p;
	size_t n;
};

/* Return: the next byte of the input, or 0 once it is used up */
static inline unsigned fz_byte(struct fz_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

#endif
