/*
 * librtcheck core: state, public API, real-function lookup, allocator and
 * lock wrappers
 *
 * Each interposed function asks rtcheck__hit() whether the calling thread is
 * real-time (a thread-local depth, set by rtcheck_rt_enter) and, if so,
 * counts a violation in a global relaxed atomic; then it calls the real
 * function found with dlsym(RTLD_NEXT). Any thread may call anything here;
 * the counters are shared by the whole process, the depth is per thread.
 *
 * Bootstrap: dlsym itself may allocate. While this library is inside dlsym
 * and the real allocator is not known yet, allocations are served from a
 * small static arena that is never reused; free() recognises and ignores
 * arena pointers, realloc() moves them to the real heap.
 */
#define _GNU_SOURCE
#undef _FORTIFY_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/rtcheck/rtcheck.h"
#include "bridge/rtcheck/rtcheck_internal.h"

__thread int rtcheck__depth __attribute__((tls_model("initial-exec")));

/* Non-zero while this thread is inside dlsym for us (bootstrap). */
static __thread int rtcheck__resolving
        __attribute__((tls_model("initial-exec")));

/*
 * Set once by the constructor, before main() and before any thread that
 * could declare itself real-time exists; read-only afterwards.
 */
static int rtcheck__disabled;
static int rtcheck__abort_on_violation;

/*
 * Counters and the first offender. All relaxed: each is an independent
 * statistic, and the first offender is a pointer to a string literal, whose
 * bytes are immutable, so publishing the pointer needs no ordering.
 */
static _Atomic unsigned long rtcheck__counts[RTCHECK__NCAT];
static _Atomic unsigned long rtcheck__total;
static _Atomic(const char *) rtcheck__first;

/* Addresses of the real functions; relaxed: a code address is all they hold. */
static _Atomic(void *) rtcheck__real[RTCHECK__NSYM];

#define RTCHECK__NAME(name) #name,
static const char *const rtcheck__names[RTCHECK__NSYM] = {
        RTCHECK__SYMBOLS(RTCHECK__NAME)};
#undef RTCHECK__NAME

/* Bootstrap arena: 64 KiB, bump-allocated, each block after a 16-byte header
 * holding its size in bytes. */
#define RTCHECK__ARENA_BYTES (64u * 1024u)
#define RTCHECK__HEADER      16u
static _Alignas(64) unsigned char rtcheck__arena[RTCHECK__ARENA_BYTES];
static _Atomic size_t rtcheck__arena_used;

/* Write a message to stderr with the real write(), if it is known. */
static void rtcheck__say(const char *a, const char *b, const char *c)
{
	ssize_t (*wr)(int, const void *, size_t);
	char buf[256];
	size_t n = 0;
	const char *parts[3] = {a, b, c};

	for (int i = 0; i < 3; i++)
		for (const char *s = parts[i]; *s != '\0' && n < sizeof(buf);
		     s++)
			buf[n++] = *s;
	wr = (ssize_t(*)(int, const void *, size_t))atomic_load_explicit(
	        &rtcheck__real[RTCHECK__ID_write], memory_order_relaxed);
	if (wr != NULL)
		(void)wr(STDERR_FILENO, buf, n);
}

static void *rtcheck__resolve(enum rtcheck__id id)
{
	void *p;

	rtcheck__resolving++;
	p = dlsym(RTLD_NEXT, rtcheck__names[id]);
	rtcheck__resolving--;
	if (p != NULL)
		atomic_store_explicit(&rtcheck__real[id], p,
		                      memory_order_relaxed);
	return p;
}

void *rtcheck__sym(enum rtcheck__id id)
{
	void *p =
	        atomic_load_explicit(&rtcheck__real[id], memory_order_relaxed);

	if (p == NULL)
		p = rtcheck__resolve(id);
	if (p == NULL) {
		rtcheck__say("rtcheck: cannot find the real ",
		             rtcheck__names[id], "\n");
		abort();
	}
	return p;
}

/*
 * The real allocator function id, or NULL while this thread is inside dlsym
 * and it is not known yet (the caller then uses the arena).
 */
static void *rtcheck__alloc_sym(enum rtcheck__id id)
{
	void *p =
	        atomic_load_explicit(&rtcheck__real[id], memory_order_relaxed);

	if (p == NULL && rtcheck__resolving == 0)
		p = rtcheck__sym(id);
	return p;
}

/* Return: a block of size bytes aligned to align (a power of two >= 16),
 *         zero-filled, or NULL when the arena is exhausted. */
static void *rtcheck__arena_alloc(size_t size, size_t align)
{
	size_t start, p, end;

	if (align < RTCHECK__HEADER)
		align = RTCHECK__HEADER;
	if (size > RTCHECK__ARENA_BYTES || align > RTCHECK__ARENA_BYTES)
		return NULL;
	start = atomic_load_explicit(&rtcheck__arena_used,
	                             memory_order_relaxed);
	do {
		p = (start + RTCHECK__HEADER + align - 1) & ~(align - 1);
		end = p + size;
		if (end > RTCHECK__ARENA_BYTES)
			return NULL;
	} while (!atomic_compare_exchange_weak_explicit(
	        &rtcheck__arena_used, &start, end, memory_order_relaxed,
	        memory_order_relaxed));
	memcpy(rtcheck__arena + p - RTCHECK__HEADER, &size, sizeof(size));
	return rtcheck__arena + p;
}

static int rtcheck__in_arena(const void *p)
{
	uintptr_t a = (uintptr_t)p, base = (uintptr_t)rtcheck__arena;

	return a >= base && a < base + RTCHECK__ARENA_BYTES;
}

static size_t rtcheck__arena_size(const void *p)
{
	size_t size;

	memcpy(&size, (const unsigned char *)p - RTCHECK__HEADER, sizeof(size));
	return size;
}

void rtcheck__violation(enum rtcheck__cat cat, const char *name)
{
	const char *none = NULL;

	if (rtcheck__disabled)
		return;
	atomic_fetch_add_explicit(&rtcheck__counts[cat], 1,
	                          memory_order_relaxed);
	atomic_fetch_add_explicit(&rtcheck__total, 1, memory_order_relaxed);
	atomic_compare_exchange_strong_explicit(&rtcheck__first, &none, name,
	                                        memory_order_relaxed,
	                                        memory_order_relaxed);
	if (rtcheck__abort_on_violation) {
		rtcheck__say("rtcheck: ", name,
		             "() called on a real-time thread, aborting\n");
		abort();
	}
}

static int rtcheck__env_flag(const char *name)
{
	const char *s = getenv(name);

	return s != NULL && s[0] != '\0' && strcmp(s, "0") != 0;
}

static void rtcheck__expect(int ok, const char *what)
{
	if (!ok) {
		rtcheck__say("rtcheck: bootstrap self-test failed: ", what,
		             "\n");
		abort();
	}
}

/*
 * RTCHECK_SELFTEST_BOOTSTRAP=1: the glibc this was written on does not
 * allocate inside dlsym, so the arena would go untested. Recreate the
 * bootstrap state (inside dlsym, real allocator unknown) and allocate as
 * dlsym might; every block must come from the arena and keep its contract.
 * Runs in the constructor, before any other thread of ours exists.
 */
static void rtcheck__selftest_bootstrap(void)
{
	static const enum rtcheck__id ids[] = {
	        RTCHECK__ID_malloc, RTCHECK__ID_calloc, RTCHECK__ID_realloc,
	        RTCHECK__ID_free, RTCHECK__ID_posix_memalign};
	unsigned char *p, *q;
	void *r = NULL;

	(void)rtcheck__resolve(RTCHECK__ID_write); /* for rtcheck__say */
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		atomic_store_explicit(&rtcheck__real[ids[i]], NULL,
		                      memory_order_relaxed);
	rtcheck__resolving++;
	p = malloc(100);
	q = calloc(25, 4);
	rtcheck__expect(p != NULL && rtcheck__in_arena(p),
	                "malloc outside the arena");
	rtcheck__expect(q != NULL && rtcheck__in_arena(q),
	                "calloc outside the arena");
	for (int i = 0; i < 100; i++)
		rtcheck__expect(q[i] == 0, "calloc block not zeroed");
	memset(p, 0xab, 100);
	p = realloc(p, 300);
	rtcheck__expect(p != NULL && rtcheck__in_arena(p),
	                "realloc outside the arena");
	rtcheck__expect(malloc_usable_size(p) == 300, "wrong arena block size");
	for (int i = 0; i < 100; i++)
		rtcheck__expect(p[i] == 0xab, "realloc lost the contents");
	rtcheck__expect(posix_memalign(&r, 64, 10) == 0 &&
	                        ((uintptr_t)r & 63) == 0,
	                "posix_memalign misaligned");
	rtcheck__resolving--;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		(void)rtcheck__resolve(ids[i]);
	/* The real allocator is known again: free() must still recognise arena
	 * blocks (the real free would abort on them), and realloc() must move
	 * them to the real heap. */
	free(q);
	free(r);
	q = realloc(p, 400);
	rtcheck__expect(q != NULL && !rtcheck__in_arena(q),
	                "realloc kept an arena block");
	for (int i = 0; i < 100; i++)
		rtcheck__expect(q[i] == 0xab,
		                "realloc to the heap lost the contents");
	free(q);
	rtcheck__say("rtcheck: bootstrap self-test passed (", "arena", ")\n");
}

/* Runs when the library is loaded, before main(): read the environment and
 * resolve every real function (some may not exist in this libc: they stay
 * NULL and are looked up again if ever called). */
__attribute__((constructor)) static void rtcheck__load(void)
{
	rtcheck__disabled = rtcheck__env_flag("RTCHECK_DISABLE");
	rtcheck__abort_on_violation = rtcheck__env_flag("RTCHECK_ABORT");
	if (rtcheck__env_flag("RTCHECK_SELFTEST_BOOTSTRAP"))
		rtcheck__selftest_bootstrap();
	for (int id = 0; id < RTCHECK__NSYM; id++)
		if (atomic_load_explicit(&rtcheck__real[id],
		                         memory_order_relaxed) == NULL)
			(void)rtcheck__resolve((enum rtcheck__id)id);
}

void rtcheck_rt_enter(void)
{
	rtcheck__depth++;
}

void rtcheck_rt_leave(void)
{
	if (rtcheck__depth > 0)
		rtcheck__depth--;
}

void rtcheck_get(struct rtcheck_counts *out)
{
	const char *first =
	        atomic_load_explicit(&rtcheck__first, memory_order_relaxed);
	size_t n = 0;

	out->alloc = atomic_load_explicit(&rtcheck__counts[RTCHECK__ALLOC],
	                                  memory_order_relaxed);
	out->lock = atomic_load_explicit(&rtcheck__counts[RTCHECK__LOCK],
	                                 memory_order_relaxed);
	out->syscall = atomic_load_explicit(&rtcheck__counts[RTCHECK__SYSCALL],
	                                    memory_order_relaxed);
	out->total =
	        atomic_load_explicit(&rtcheck__total, memory_order_relaxed);
	if (first != NULL)
		for (; first[n] != '\0' && n + 1 < sizeof(out->first); n++)
			out->first[n] = first[n];
	out->first[n] = '\0';
}

void rtcheck_reset(void)
{
	for (int c = 0; c < RTCHECK__NCAT; c++)
		atomic_store_explicit(&rtcheck__counts[c], 0,
		                      memory_order_relaxed);
	atomic_store_explicit(&rtcheck__total, 0, memory_order_relaxed);
	atomic_store_explicit(&rtcheck__first, NULL, memory_order_relaxed);
}

/*
 * Allocator. free(NULL) is a no-op in every libc and is not counted; every
 * other call from a real-time thread is.
 */
void *malloc(size_t size)
{
	void *(*fn)(size_t) =
	        (__typeof__(fn))rtcheck__alloc_sym(RTCHECK__ID_malloc);

	if (fn == NULL)
		return rtcheck__arena_alloc(size, RTCHECK__HEADER);
	rtcheck__hit(RTCHECK__ALLOC, "malloc");
	return fn(size);
}

void *calloc(size_t n, size_t size)
{
	void *(*fn)(size_t, size_t) =
	        (__typeof__(fn))rtcheck__alloc_sym(RTCHECK__ID_calloc);
	size_t bytes;

	if (fn == NULL) {
		if (__builtin_mul_overflow(n, size, &bytes))
			return NULL;
		return rtcheck__arena_alloc(bytes, RTCHECK__HEADER);
	}
	rtcheck__hit(RTCHECK__ALLOC, "calloc");
	return fn(n, size);
}

/* Move an arena block to a new block of size bytes (arena blocks are never
 * released). */
static void *rtcheck__arena_move(void *old, size_t size)
{
	void *(*fn)(size_t) =
	        (__typeof__(fn))rtcheck__alloc_sym(RTCHECK__ID_malloc);
	size_t keep = rtcheck__arena_size(old);
	void *p;

	p = fn != NULL ? fn(size) : rtcheck__arena_alloc(size, RTCHECK__HEADER);
	if (p != NULL)
		memcpy(p, old, keep < size ? keep : size);
	return p;
}

void *realloc(void *old, size_t size)
{
	void *(*fn)(void *, size_t);

	rtcheck__hit(RTCHECK__ALLOC, "realloc");
	if (old != NULL && rtcheck__in_arena(old))
		return rtcheck__arena_move(old, size);
	fn = (__typeof__(fn))rtcheck__alloc_sym(RTCHECK__ID_realloc);
	if (fn == NULL)
		return rtcheck__arena_alloc(size, RTCHECK__HEADER);
	return fn(old, size);
}

void *reallocarray(void *old, size_t n, size_t size)
{
	size_t bytes;

	rtcheck__hit(RTCHECK__ALLOC, "reallocarray");
	if (__builtin_mul_overflow(n, size, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	if (old != NULL && rtcheck__in_arena(old))
		return rtcheck__arena_move(old, bytes);
	return RTCHECK__REAL(reallocarray)(old, n, size);
}

void free(void *p)
{
	void (*fn)(void *);

	if (p == NULL || rtcheck__in_arena(p))
		return;
	rtcheck__hit(RTCHECK__ALLOC, "free");
	fn = (__typeof__(fn))rtcheck__alloc_sym(RTCHECK__ID_free);
	if (fn != NULL)
		fn(p);
}

size_t malloc_usable_size(void *p)
{
	if (p != NULL && rtcheck__in_arena(p))
		return rtcheck__arena_size(p);
	return RTCHECK__REAL(malloc_usable_size)(p);
}

int posix_memalign(void **out, size_t align, size_t size)
{
	int (*fn)(void **, size_t, size_t) =
	        (__typeof__(fn))rtcheck__alloc_sym(RTCHECK__ID_posix_memalign);

	if (fn == NULL) {
		if (align == 0 || (align & (align - 1)) != 0 ||
		    align % sizeof(void *) != 0)
			return EINVAL;
		*out = rtcheck__arena_alloc(size, align);
		return *out != NULL ? 0 : ENOMEM;
	}
	rtcheck__hit(RTCHECK__ALLOC, "posix_memalign");
	return fn(out, align, size);
}

void *aligned_alloc(size_t align, size_t size)
{
	void *(*fn)(size_t, size_t) =
	        (__typeof__(fn))rtcheck__alloc_sym(RTCHECK__ID_aligned_alloc);

	if (fn == NULL)
		return (align & (align - 1)) == 0
		               ? rtcheck__arena_alloc(size, align)
		               : NULL;
	rtcheck__hit(RTCHECK__ALLOC, "aligned_alloc");
	return fn(align, size);
}

void *memalign(size_t align, size_t size)
{
	void *(*fn)(size_t, size_t) =
	        (__typeof__(fn))rtcheck__alloc_sym(RTCHECK__ID_memalign);

	if (fn == NULL)
		return (align & (align - 1)) == 0
		               ? rtcheck__arena_alloc(size, align)
		               : NULL;
	rtcheck__hit(RTCHECK__ALLOC, "memalign");
	return fn(align, size);
}

RTCHECK__FORWARD(void *, RTCHECK__ALLOC, valloc, (size_t size), (size))
RTCHECK__FORWARD(void *, RTCHECK__ALLOC, pvalloc, (size_t size), (size))

/* Locks and waits; the try- variants never block and are not counted. */
RTCHECK__FORWARD(int, RTCHECK__LOCK, pthread_mutex_lock, (pthread_mutex_t * m),
                 (m))
RTCHECK__FORWARD(int, RTCHECK__LOCK, pthread_mutex_timedlock,
                 (pthread_mutex_t *restrict m,
                  const struct timespec *restrict t),
                 (m, t))
RTCHECK__FORWARD(int, RTCHECK__LOCK, pthread_mutex_clocklock,
                 (pthread_mutex_t *restrict m, clockid_t c,
                  const struct timespec *restrict t),
                 (m, c, t))
RTCHECK__FORWARD(int, RTCHECK__LOCK, pthread_cond_wait,
                 (pthread_cond_t *restrict cv, pthread_mutex_t *restrict m),
                 (cv, m))
RTCHECK__FORWARD(int, RTCHECK__LOCK, pthread_cond_timedwait,
                 (pthread_cond_t *restrict cv, pthread_mutex_t *restrict m,
                  const struct timespec *restrict t),
                 (cv, m, t))
RTCHECK__FORWARD(int, RTCHECK__LOCK, pthread_cond_clockwait,
                 (pthread_cond_t *restrict cv, pthread_mutex_t *restrict m,
                  clockid_t c, const struct timespec *restrict t),
                 (cv, m, c, t))
RTCHECK__FORWARD(int, RTCHECK__LOCK, pthread_rwlock_rdlock,
                 (pthread_rwlock_t * l), (l))
RTCHECK__FORWARD(int, RTCHECK__LOCK, pthread_rwlock_wrlock,
                 (pthread_rwlock_t * l), (l))
RTCHECK__FORWARD(int, RTCHECK__LOCK, pthread_rwlock_timedrdlock,
                 (pthread_rwlock_t *restrict l,
                  const struct timespec *restrict t),
                 (l, t))
RTCHECK__FORWARD(int, RTCHECK__LOCK, pthread_rwlock_timedwrlock,
                 (pthread_rwlock_t *restrict l,
                  const struct timespec *restrict t),
                 (l, t))
RTCHECK__FORWARD(int, RTCHECK__LOCK, pthread_rwlock_clockrdlock,
                 (pthread_rwlock_t *restrict l, clockid_t c,
                  const struct timespec *restrict t),
                 (l, c, t))
RTCHECK__FORWARD(int, RTCHECK__LOCK, pthread_rwlock_clockwrlock,
                 (pthread_rwlock_t *restrict l, clockid_t c,
                  const struct timespec *restrict t),
                 (l, c, t))
RTCHECK__FORWARD(int, RTCHECK__LOCK, pthread_join, (pthread_t t, void **ret),
                 (t, ret))
RTCHECK__FORWARD(int, RTCHECK__LOCK, pthread_barrier_wait,
                 (pthread_barrier_t * b), (b))
RTCHECK__FORWARD(int, RTCHECK__LOCK, sem_wait, (sem_t * s), (s))
RTCHECK__FORWARD(int, RTCHECK__LOCK, sem_timedwait,
                 (sem_t *restrict s, const struct timespec *restrict t), (s, t))
RTCHECK__FORWARD(int, RTCHECK__LOCK, sem_clockwait,
                 (sem_t *restrict s, clockid_t c,
                  const struct timespec *restrict t),
                 (s, c, t))
