/*
 * pool: preallocated nodes of one size, one owning context, closed loop
 *
 * The owner takes nodes with pool_get and gives them back with pool_put.
 * Any other context that was handed a node returns it with pool_return: a
 * lock-free push onto an intrusive return stack, which therefore can never
 * overflow. The owner reclaims everything returned in one atomic exchange
 * when its own free list runs dry. No allocation after pool_init; the node
 * memory is the caller's. Each node starts with a hidden link word; callers
 * see only the payload (`node_size` bytes, aligned to max_align_t).
 */
#ifndef RTB_POOL_H
#define RTB_POOL_H

#include <stdatomic.h>
#include <stddef.h>

struct pool_node;

struct pool {
	struct pool_node *free; /* owner only */
	_Atomic(struct pool_node *)
	        returned; /* pushed by others, taken by owner */
	unsigned char *base;
	size_t stride;    /* bytes per node including the link word */
	size_t count;     /* nodes in the pool */
	size_t available; /* owner's count of nodes on `free` */
};

/* Bytes of storage for `count` nodes of `node_size` payload bytes. */
size_t pool_storage_size(size_t node_size, size_t count);

/*
 * Pre: storage holds pool_storage_size(node_size, count) bytes aligned to
 *      max_align_t and outlives the pool. All nodes start free.
 * Return: 0, or -EINVAL
 */
int pool_init(struct pool *p, void *storage, size_t node_size, size_t count);
void pool_clear(struct pool *p);

/*
 * Take a free node's payload.
 *
 * Context: the owner only, real-time safe
 * Return: a payload pointer now owned by the caller, or NULL when every
 *         node is out (the caller counts that and carries on)
 */
void *pool_get(struct pool *p);

/*
 * Give a node back from the owning context.
 *
 * Context: the owner only, real-time safe
 */
void pool_put(struct pool *p, void *payload);

/*
 * Give a node back from another context.
 *
 * Context: any thread, lock-free, real-time safe
 */
void pool_return(struct pool *p, void *payload);

/*
 * Nodes the owner can hand out now without reclaiming (a lower bound of
 * what pool_get can deliver).
 *
 * Context: the owner only
 */
size_t pool_available(const struct pool *p);

/*
 * Whether a pointer is one of this pool's payloads (for assertions and
 * tests).
 *
 * Context: any
 */
int pool_owns(const struct pool *p, const void *payload);

#endif
