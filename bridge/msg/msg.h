/*
 * struct msg: the one message type the contexts exchange
 *
 * A message is a command code plus a few fields. Ownership of whatever
 * `ptr` points to moves with the message: the sender gives it up when the
 * push succeeds, the receiver owns it after the pop. Messages travel by
 * value in the fixed-size slots of a ring or mailbox (32 bytes on LP64).
 */
#ifndef RTB_MSG_H
#define RTB_MSG_H

#include <stdint.h>

struct msg {
	uint32_t cmd; /* what to do: a module-defined enum value, never 0 */
	int32_t arg;  /* small argument or result: a count, an id, or -errno */
	uint64_t u64; /* a frame position, a deadline (ns), a length (bytes) */
	void *ptr;    /* the object whose ownership moves with the message */
	void *reply;  /* where the answer goes (request with a result queue) */
};

#endif
