/*
 * Self-test of the real-time checker (librtcheck.so)
 *
 * Each case runs one action on a fresh thread that has declared itself
 * real-time and checks what was counted, in which category, and which
 * function was named first; the same actions on a plain thread, or after
 * rtcheck_rt_leave(), must count nothing. CTest also runs this binary with
 * RTCHECK_DISABLE=1 and expects it to fail: proof that the cases can fail.
 * The last cases run tools/rtcheck_demo under LD_PRELOAD.
 */
#define _GNU_SOURCE /* syscall() */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <malloc.h>
#include <opus.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sndfile.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bridge/rtcheck/rtcheck.h"
#include "bridge/rtcheck/rthook.h"
#include "tests/rtcheck_assert.h"

TestSuite(rtcheck, .timeout = 30);

/* What the helper thread does, and how many times it enters real-time. */
struct job {
	void (*fn)(void *arg);
	void *arg;
	int enters;
	int leaves;
};

static void *job_thread(void *p)
{
	struct job *j = p;

	for (int i = 0; i < j->enters; i++)
		rtcheck_rt_enter();
	j->fn(j->arg);
	for (int i = 0; i < j->leaves; i++)
		rtcheck_rt_leave();
	return NULL;
}

/* Run fn(arg) on a new thread entered `enters` times; return the counts. */
static struct rtcheck_counts run_on_thread(void (*fn)(void *), void *arg,
                                           int enters)
{
	struct job j = {fn, arg, enters, enters};
	struct rtcheck_counts c;
	pthread_t t;

	rtcheck_reset();
	cr_assert_eq(pthread_create(&t, NULL, job_thread, &j), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	rtcheck_get(&c);
	return c;
}

#define run_rt(fn, arg)    run_on_thread((fn), (arg), 1)
#define run_plain(fn, arg) run_on_thread((fn), (arg), 0)

/* Volatile so that the compiler keeps every malloc/free pair. */
static void *volatile sink;

static void do_malloc(void *arg)
{
	(void)arg;
	sink = malloc(100);
}

static void do_free(void *arg)
{
	free(arg);
}

static void do_mutex_lock(void *arg)
{
	pthread_mutex_lock(arg);
	pthread_mutex_unlock(arg);
}

static void do_mutex_trylock(void *arg)
{
	if (pthread_mutex_trylock(arg) == 0)
		pthread_mutex_unlock(arg);
}

static void do_write(void *arg)
{
	ssize_t r = write(*(int *)arg, "x", 1);

	(void)r;
}

static void do_nanosleep(void *arg)
{
	struct timespec ts = {0, 1000};

	(void)arg;
	nanosleep(&ts, NULL);
}

static void do_fopen(void *arg)
{
	*(FILE **)arg = fopen("/dev/null", "w");
}

static void do_fprintf(void *arg)
{
	fprintf(arg, "rtcheck %d\n", 42);
}

static void do_cond_timedwait(void *arg)
{
	static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	struct timespec ts;

	pthread_mutex_lock(arg);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&cv, arg, &ts);
	pthread_mutex_unlock(arg);
}

static void do_sem_wait(void *arg)
{
	sem_wait(arg);
}

/* A wake (allowed), then a wait that returns at once because the word
 * differs from the expected value (a lock all the same). */
static void do_futex(void *arg)
{
	syscall(SYS_futex, arg, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	syscall(SYS_futex, arg, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0);
}

static void do_opus_create(void *arg)
{
	int err;

	*(OpusEncoder **)arg =
	        opus_encoder_create(48000, 2, OPUS_APPLICATION_AUDIO, &err);
}

static void do_sf_open(void *arg)
{
	SF_INFO info;
	void **io = arg;

	memset(&info, 0, sizeof(info));
	io[1] = sf_open(io[0], SFM_READ, &info);
}

/* Arithmetic and atomics only: the real-time thread's allowed diet. */
static void do_arithmetic(void *arg)
{
	_Atomic uint64_t *acc = arg;
	uint64_t x = 88172645463325252u;

	for (int i = 0; i < 10000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		atomic_fetch_add_explicit(acc, x & 0xff, memory_order_relaxed);
	}
	/* Relaxed: pthread_join orders it before the reader. */
	atomic_store_explicit(acc, x, memory_order_relaxed);
}

/* Everything above, in one go, for the negative cases. */
static void do_everything(void *arg)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	int fd = *(int *)arg;
	FILE *f = NULL;

	do_malloc(NULL);
	do_free(sink);
	do_mutex_lock(&m);
	do_write(&fd);
	do_nanosleep(NULL);
	do_fopen(&f);
	if (f != NULL)
		fclose(f);
}

static void assert_one(const struct rtcheck_counts *c, unsigned long alloc,
                       unsigned long lock, unsigned long sys, const char *first)
{
	cr_assert_eq(c->alloc, alloc, "alloc %lu, expected %lu", c->alloc,
	             alloc);
	cr_assert_eq(c->lock, lock, "lock %lu, expected %lu", c->lock, lock);
	cr_assert_eq(c->syscall, sys, "syscall %lu, expected %lu", c->syscall,
	             sys);
	cr_assert_eq(c->total, alloc + lock + sys);
	cr_assert_str_eq(c->first, first);
}

Test(rtcheck, counts_malloc_on_real_time_thread)
{
	struct rtcheck_counts c = run_rt(do_malloc, NULL);

	free(sink);
	assert_one(&c, 1, 0, 0, "malloc");
}

Test(rtcheck, counts_free_on_real_time_thread)
{
	struct rtcheck_counts c = run_rt(do_free, malloc(100));

	assert_one(&c, 1, 0, 0, "free");
}

Test(rtcheck, counts_mutex_lock_but_not_unlock_or_trylock)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct rtcheck_counts c = run_rt(do_mutex_lock, &m);

	assert_one(&c, 0, 1, 0, "pthread_mutex_lock");
	c = run_rt(do_mutex_trylock, &m);
	assert_one(&c, 0, 0, 0, "");
}

Test(rtcheck, counts_condition_and_semaphore_waits_as_locks)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct rtcheck_counts c = run_rt(do_cond_timedwait, &m);
	sem_t s;

	assert_one(&c, 0, 2, 0, "pthread_mutex_lock");
	cr_assert_eq(sem_init(&s, 0, 1), 0);
	c = run_rt(do_sem_wait, &s);
	assert_one(&c, 0, 1, 0, "sem_wait");
	sem_destroy(&s);
}

Test(rtcheck, counts_futex_wait_but_not_wake_through_syscall)
{
	_Alignas(4) int word = 0;
	struct rtcheck_counts c = run_rt(do_futex, &word);

	assert_one(&c, 0, 1, 0, "syscall(futex wait)");
}

Test(rtcheck, counts_write_to_dev_null_as_syscall)
{
	int fd = open("/dev/null", O_WRONLY);
	struct rtcheck_counts c;

	cr_assert_geq(fd, 0);
	c = run_rt(do_write, &fd);
	close(fd);
	assert_one(&c, 0, 0, 1, "write");
}

Test(rtcheck, counts_nanosleep_as_syscall)
{
	struct rtcheck_counts c = run_rt(do_nanosleep, NULL);

	assert_one(&c, 0, 0, 1, "nanosleep");
}

Test(rtcheck, counts_fopen_as_syscall_and_its_allocation)
{
	FILE *f = NULL;
	struct rtcheck_counts c = run_rt(do_fopen, &f);

	cr_assert_not_null(f);
	fclose(f);
	cr_assert_geq(c.syscall, 1);
	cr_assert_geq(c.alloc, 1, "fopen allocates its FILE");
	cr_assert_str_eq(c.first, "fopen");
}

Test(rtcheck, counts_fprintf_as_syscall)
{
	FILE *f = fopen("/dev/null", "w");
	struct rtcheck_counts c;

	cr_assert_not_null(f);
	setvbuf(f, NULL, _IONBF, 0);
	c = run_rt(do_fprintf, f);
	fclose(f);
	cr_assert_geq(c.syscall, 1);
	cr_assert_eq(c.lock, 0);
	cr_assert(strstr(c.first, "printf") != NULL, "first: %s", c.first);
}

Test(rtcheck, counts_allocation_inside_opus)
{
	OpusEncoder *enc = NULL;
	struct rtcheck_counts c = run_rt(do_opus_create, &enc);

	cr_assert_not_null(enc);
	opus_encoder_destroy(enc);
	cr_assert_geq(c.alloc, 1);
	cr_assert_eq(c.lock + c.syscall, 0);
	cr_assert_str_eq(c.first, "malloc");
}

Test(rtcheck, counts_open_and_allocation_inside_libsndfile)
{
	char dir[] = "/tmp/rtcheck-XXXXXX";
	char path[64];
	short frames[2 * 480] = {0};
	SF_INFO info = {.samplerate = 48000,
	                .channels = 2,
	                .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	void *io[2];
	struct rtcheck_counts c;
	SNDFILE *sf;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a.wav", dir);
	sf = sf_open(path, SFM_WRITE, &info);
	cr_assert_not_null(sf, "%s", sf_strerror(NULL));
	cr_assert_eq(sf_writef_short(sf, frames, 480), 480);
	sf_close(sf);

	io[0] = path;
	io[1] = NULL;
	c = run_rt(do_sf_open, io);
	cr_assert_not_null(io[1], "%s", sf_strerror(NULL));
	sf_close(io[1]);
	unlink(path);
	rmdir(dir);
	cr_assert_geq(c.syscall, 1, "open/read inside sf_open");
	cr_assert_geq(c.alloc, 1, "allocation inside sf_open");
}

Test(rtcheck, counts_nothing_on_a_thread_that_is_not_real_time)
{
	int fd = open("/dev/null", O_WRONLY);
	struct rtcheck_counts c = run_plain(do_everything, &fd);

	close(fd);
	assert_one(&c, 0, 0, 0, "");
}

Test(rtcheck, counts_nothing_after_leave_and_nests)
{
	int fd = open("/dev/null", O_WRONLY);
	struct rtcheck_counts c;
	c = run_on_thread(do_everything, &fd, 1);
	cr_assert_geq(c.total, 6);

	/* Left as many times as entered: a plain thread again. */
	rtcheck_reset();
	rtcheck_rt_enter();
	rtcheck_rt_leave();
	do_everything(&fd);
	rtcheck_get(&c);
	assert_one(&c, 0, 0, 0, "");

	/* Entered twice, left once: still real-time. */
	rtcheck_reset();
	rtcheck_rt_enter();
	rtcheck_rt_enter();
	rtcheck_rt_leave();
	sink = malloc(10);
	rtcheck_rt_leave();
	free(sink);
	rtcheck_get(&c);
	assert_one(&c, 1, 0, 0, "malloc");
	close(fd);
}

Test(rtcheck, counts_nothing_for_arithmetic_and_atomics)
{
	_Atomic uint64_t acc = 0;
	struct rtcheck_counts c = run_rt(do_arithmetic, &acc);

	cr_assert_neq(atomic_load_explicit(&acc, memory_order_relaxed), 0);
	assert_one(&c, 0, 0, 0, "");
}

Test(rtcheck, reset_forgets_counts_and_first_offender)
{
	struct rtcheck_counts c = run_rt(do_malloc, NULL);

	free(sink);
	cr_assert_eq(c.total, 1);
	rtcheck_reset();
	rtcheck_get(&c);
	assert_one(&c, 0, 0, 0, "");
}

static void do_rthook_malloc(void *arg)
{
	(void)arg;
	rtcheck_rt_leave(); /* undo the job's enter: rthook does it instead */
	rthook_rt_enter();
	sink = malloc(10);
	rthook_rt_leave();
	rtcheck_rt_enter();
}

Test(rtcheck, rthook_finds_the_checker_and_forwards)
{
	struct rtcheck_counts c;

	cr_assert_eq(rthook_init(), 1);
	cr_assert_eq(rthook_loaded(), 1);
	RTCHECK_ASSERT_LOADED();
	c = run_rt(do_rthook_malloc, NULL);
	free(sink);
	assert_one(&c, 1, 0, 0, "malloc");
	cr_assert_eq(rthook_violations(), 1);
	RTCHECK_RESET();
	RTCHECK_ASSERT_ZERO();
}

/* Interposition must keep the allocator's contracts. */
Test(rtcheck, allocator_wrappers_keep_their_contracts)
{
	unsigned char *p = calloc(1000, 4);
	volatile size_t huge = SIZE_MAX / 2;
	void *q = NULL;

	cr_assert_not_null(p);
	for (int i = 0; i < 4000; i++)
		cr_assert_eq(p[i], 0);
	p = realloc(p, 100000);
	cr_assert_not_null(p);
	cr_assert_geq(malloc_usable_size(p), 100000);
	free(p);
	p = realloc(NULL, 16);
	cr_assert_not_null(p);
	free(p);
	free(NULL);
	cr_assert_eq(posix_memalign(&q, 256, 1000), 0);
	cr_assert_eq((uintptr_t)q % 256, 0);
	free(q);
	q = aligned_alloc(64, 640);
	cr_assert_eq((uintptr_t)q % 64, 0);
	free(q);
	errno = 0;
	cr_assert_null(calloc(huge, 4));
	cr_assert_eq(errno, ENOMEM);
}

Test(rtcheck, realloc_of_null_counts_and_free_of_null_does_not)
{
	struct rtcheck_counts c;
	void *volatile none =
	        NULL; /* else the compiler turns realloc into malloc */
	void *p;

	rtcheck_reset();
	rtcheck_rt_enter();
	free(none);
	p = realloc(none, 32);
	rtcheck_rt_leave();
	sink = p;
	free(p);
	rtcheck_get(&c);
	assert_one(&c, 1, 0, 0, "realloc");
}

/*
 * Run rtcheck_demo with envp; collect its stdout and stderr into out
 * (NUL-terminated).
 * Return: the wait status
 */
static int run_demo(char *const envp[], char *out, size_t size)
{
	posix_spawn_file_actions_t fa;
	char *const argv[] = {RTCHECK_DEMO_PATH, NULL};
	int fds[2], status = 0;
	size_t n = 0;
	pid_t pid;

	cr_assert_eq(pipe(fds), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
	cr_assert_eq(posix_spawn(&pid, argv[0], &fa, NULL, argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	/* At most size-1 bytes; the demo prints one line and exits. */
	for (int i = 0; i < 100 && n + 1 < size; i++) {
		ssize_t r = read(fds[0], out + n, size - 1 - n);

		if (r <= 0)
			break;
		n += (size_t)r;
	}
	out[n] = '\0';
	close(fds[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

Test(rtcheck, ld_preload_mode_counts_allocations_of_any_program)
{
	char *const envp[] = {"LD_PRELOAD=" RTCHECK_SO_PATH, NULL};
	char out[256];
	unsigned long alloc = 0;
	const char *s;
	int status = run_demo(envp, out, sizeof(out));

	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d",
	          status);
	s = strstr(out, "alloc=");
	cr_assert_not_null(s, "output: %s", out);
	cr_assert_eq(sscanf(s, "alloc=%lu", &alloc), 1);
	cr_assert_geq(alloc, 1, "output: %s", out);
	cr_assert_not_null(strstr(out, "loaded=1"), "output: %s", out);
}

Test(rtcheck, demo_without_preload_reports_no_checker)
{
	char *const envp[] = {NULL};
	char out[256];
	int status = run_demo(envp, out, sizeof(out));

	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d",
	          status);
	cr_assert_not_null(strstr(out, "loaded=0"), "output: %s", out);
}

Test(rtcheck, abort_mode_aborts_on_first_violation)
{
	char *const envp[] = {"LD_PRELOAD=" RTCHECK_SO_PATH, "RTCHECK_ABORT=1",
	                      NULL};
	char out[256];
	int status = run_demo(envp, out, sizeof(out));

	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
	          "status %d, output %s", status, out);
	cr_assert_not_null(strstr(out, "malloc() called on a real-time thread"),
	                   "output: %s", out);
}

/* glibc 2.36's dlsym does not allocate, so the library recreates the
 * bootstrap state on request and checks its arena. */
Test(rtcheck, bootstrap_arena_serves_allocations_made_inside_dlsym)
{
	char *const envp[] = {"LD_PRELOAD=" RTCHECK_SO_PATH,
	                      "RTCHECK_SELFTEST_BOOTSTRAP=1", NULL};
	char out[256];
	int status = run_demo(envp, out, sizeof(out));

	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	          "status %d, output %s", status, out);
	cr_assert_not_null(strstr(out, "bootstrap self-test passed"),
	                   "output: %s", out);
	cr_assert_not_null(strstr(out, "loaded=1 alloc=2"), "output: %s", out);
}
