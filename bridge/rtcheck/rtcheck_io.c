/*
 * librtcheck: wrappers for blocking system calls and stdio
 *
 * File, socket, poll and sleep calls, with the 64-bit and fortified (_chk)
 * variants that libraries compiled with _FILE_OFFSET_BITS=64 or
 * _FORTIFY_SOURCE actually import, plus the stdio entry points: inside
 * glibc, stdio reaches write() through internal aliases that cannot be
 * interposed, so fopen, fwrite, printf and friends are counted themselves.
 * All count in the syscall category, except futex waits made through
 * syscall(), which are locks. Any thread may call these.
 */
#define _GNU_SOURCE
#undef _FORTIFY_SOURCE

#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "bridge/rtcheck/rtcheck_internal.h"

/* Fortified variants: declared by glibc only when _FORTIFY_SOURCE is on. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dir, const char *path, int flags);
int __openat64_2(int dir, const char *path, int flags);
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *restrict buf, size_t n, size_t buflen,
                       int flags, struct sockaddr *restrict addr,
                       socklen_t *restrict addrlen);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *timeout,
                const sigset_t *mask, size_t fdslen);
int __printf_chk(int flag, const char *restrict fmt, ...);
int __fprintf_chk(FILE *restrict f, int flag, const char *restrict fmt, ...);
int __dprintf_chk(int fd, int flag, const char *restrict fmt, ...);
int __vprintf_chk(int flag, const char *restrict fmt, va_list ap);
int __vfprintf_chk(FILE *restrict f, int flag, const char *restrict fmt,
                   va_list ap);
int __vdprintf_chk(int fd, int flag, const char *restrict fmt, va_list ap);

#define SYS RTCHECK__SYSCALL

/* The mode argument of open() exists only when the file may be created. */
static mode_t rtcheck__mode(int flags, va_list ap)
{
	if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE)
		return (mode_t)va_arg(ap, int);
	return 0;
}

#define RTCHECK__OPEN(name)                                                    \
	int name(const char *path, int flags, ...)                             \
	{                                                                      \
		va_list ap;                                                    \
		mode_t mode;                                                   \
		rtcheck__hit(SYS, #name);                                      \
		va_start(ap, flags);                                           \
		mode = rtcheck__mode(flags, ap);                               \
		va_end(ap);                                                    \
		return RTCHECK__REAL(name)(path, flags, mode);                 \
	}
RTCHECK__OPEN(open)
RTCHECK__OPEN(open64)

#define RTCHECK__OPENAT(name)                                                  \
	int name(int dir, const char *path, int flags, ...)                    \
	{                                                                      \
		va_list ap;                                                    \
		mode_t mode;                                                   \
		rtcheck__hit(SYS, #name);                                      \
		va_start(ap, flags);                                           \
		mode = rtcheck__mode(flags, ap);                               \
		va_end(ap);                                                    \
		return RTCHECK__REAL(name)(dir, path, flags, mode);            \
	}
RTCHECK__OPENAT(openat)
RTCHECK__OPENAT(openat64)

RTCHECK__FORWARD(int, SYS, __open_2, (const char *p, int f), (p, f))
RTCHECK__FORWARD(int, SYS, __open64_2, (const char *p, int f), (p, f))
RTCHECK__FORWARD(int, SYS, __openat_2, (int d, const char *p, int f), (d, p, f))
RTCHECK__FORWARD(int, SYS, __openat64_2, (int d, const char *p, int f),
                 (d, p, f))
RTCHECK__FORWARD(int, SYS, creat, (const char *p, mode_t m), (p, m))
RTCHECK__FORWARD(int, SYS, creat64, (const char *p, mode_t m), (p, m))
RTCHECK__FORWARD(int, SYS, close, (int fd), (fd))

RTCHECK__FORWARD(ssize_t, SYS, read, (int fd, void *b, size_t n), (fd, b, n))
RTCHECK__FORWARD(ssize_t, SYS, write, (int fd, const void *b, size_t n),
                 (fd, b, n))
RTCHECK__FORWARD(ssize_t, SYS, pread, (int fd, void *b, size_t n, off_t o),
                 (fd, b, n, o))
RTCHECK__FORWARD(ssize_t, SYS, pread64, (int fd, void *b, size_t n, off64_t o),
                 (fd, b, n, o))
RTCHECK__FORWARD(ssize_t, SYS, pwrite,
                 (int fd, const void *b, size_t n, off_t o), (fd, b, n, o))
RTCHECK__FORWARD(ssize_t, SYS, pwrite64,
                 (int fd, const void *b, size_t n, off64_t o), (fd, b, n, o))
RTCHECK__FORWARD(ssize_t, SYS, readv, (int fd, const struct iovec *v, int n),
                 (fd, v, n))
RTCHECK__FORWARD(ssize_t, SYS, writev, (int fd, const struct iovec *v, int n),
                 (fd, v, n))
RTCHECK__FORWARD(ssize_t, SYS, preadv,
                 (int fd, const struct iovec *v, int n, off_t o), (fd, v, n, o))
RTCHECK__FORWARD(ssize_t, SYS, preadv64,
                 (int fd, const struct iovec *v, int n, off64_t o),
                 (fd, v, n, o))
RTCHECK__FORWARD(ssize_t, SYS, pwritev,
                 (int fd, const struct iovec *v, int n, off_t o), (fd, v, n, o))
RTCHECK__FORWARD(ssize_t, SYS, pwritev64,
                 (int fd, const struct iovec *v, int n, off64_t o),
                 (fd, v, n, o))
RTCHECK__FORWARD(ssize_t, SYS, __read_chk,
                 (int fd, void *b, size_t n, size_t bl), (fd, b, n, bl))
RTCHECK__FORWARD(ssize_t, SYS, __pread_chk,
                 (int fd, void *b, size_t n, off_t o, size_t bl),
                 (fd, b, n, o, bl))
RTCHECK__FORWARD(ssize_t, SYS, __pread64_chk,
                 (int fd, void *b, size_t n, off64_t o, size_t bl),
                 (fd, b, n, o, bl))
RTCHECK__FORWARD(int, SYS, fsync, (int fd), (fd))
RTCHECK__FORWARD(int, SYS, fdatasync, (int fd), (fd))

/* ioctl's third argument is one word (an integer or a pointer) in practice. */
int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;

	rtcheck__hit(SYS, "ioctl");
	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	return RTCHECK__REAL(ioctl)(fd, request, arg);
}

/*
 * syscall(2): the generic entry, used e.g. for futex. A futex wait is a lock;
 * a futex wake never blocks and is allowed (a real-time producer may wake a
 * sleeping consumer); gettid is harmless; anything else counts as a system
 * call. The kernel takes at most six word-sized arguments; reading six is
 * what the libc entry itself does with the registers.
 */
long syscall(long number, ...)
{
	va_list ap;
	long a[6];

	va_start(ap, number);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (number == SYS_futex) {
		int op = (int)a[1] & FUTEX_CMD_MASK;

		if (op == FUTEX_WAIT || op == FUTEX_WAIT_BITSET ||
		    op == FUTEX_LOCK_PI || op == FUTEX_WAIT_REQUEUE_PI)
			rtcheck__hit(RTCHECK__LOCK, "syscall(futex wait)");
	} else if (number != SYS_gettid) {
		rtcheck__hit(SYS, "syscall");
	}
	return RTCHECK__REAL(syscall)(number, a[0], a[1], a[2], a[3], a[4],
	                              a[5]);
}

RTCHECK__FORWARD(ssize_t, SYS, recv, (int fd, void *b, size_t n, int fl),
                 (fd, b, n, fl))
RTCHECK__FORWARD(ssize_t, SYS, recvfrom,
                 (int fd, void *restrict b, size_t n, int fl,
                  struct sockaddr *restrict a, socklen_t *restrict al),
                 (fd, b, n, fl, a, al))
RTCHECK__FORWARD(ssize_t, SYS, recvmsg, (int fd, struct msghdr *m, int fl),
                 (fd, m, fl))
RTCHECK__FORWARD(int, SYS, recvmmsg,
                 (int fd, struct mmsghdr *v, unsigned int n, int fl,
                  struct timespec *t),
                 (fd, v, n, fl, t))
RTCHECK__FORWARD(ssize_t, SYS, __recv_chk,
                 (int fd, void *b, size_t n, size_t bl, int fl),
                 (fd, b, n, bl, fl))
RTCHECK__FORWARD(ssize_t, SYS, __recvfrom_chk,
                 (int fd, void *restrict b, size_t n, size_t bl, int fl,
                  struct sockaddr *restrict a, socklen_t *restrict al),
                 (fd, b, n, bl, fl, a, al))
RTCHECK__FORWARD(ssize_t, SYS, send, (int fd, const void *b, size_t n, int fl),
                 (fd, b, n, fl))
RTCHECK__FORWARD(ssize_t, SYS, sendto,
                 (int fd, const void *b, size_t n, int fl,
                  const struct sockaddr *a, socklen_t al),
                 (fd, b, n, fl, a, al))
RTCHECK__FORWARD(ssize_t, SYS, sendmsg,
                 (int fd, const struct msghdr *m, int fl), (fd, m, fl))
RTCHECK__FORWARD(int, SYS, sendmmsg,
                 (int fd, struct mmsghdr *v, unsigned int n, int fl),
                 (fd, v, n, fl))
RTCHECK__FORWARD(int, SYS, accept,
                 (int fd, struct sockaddr *restrict a, socklen_t *restrict al),
                 (fd, a, al))
RTCHECK__FORWARD(int, SYS, accept4,
                 (int fd, struct sockaddr *restrict a, socklen_t *restrict al,
                  int fl),
                 (fd, a, al, fl))
RTCHECK__FORWARD(int, SYS, connect,
                 (int fd, const struct sockaddr *a, socklen_t al), (fd, a, al))

RTCHECK__FORWARD(int, SYS, poll, (struct pollfd * f, nfds_t n, int t),
                 (f, n, t))
RTCHECK__FORWARD(int, SYS, ppoll,
                 (struct pollfd * f, nfds_t n, const struct timespec *t,
                  const sigset_t *m),
                 (f, n, t, m))
RTCHECK__FORWARD(int, SYS, __poll_chk,
                 (struct pollfd * f, nfds_t n, int t, size_t fl), (f, n, t, fl))
RTCHECK__FORWARD(int, SYS, __ppoll_chk,
                 (struct pollfd * f, nfds_t n, const struct timespec *t,
                  const sigset_t *m, size_t fl),
                 (f, n, t, m, fl))
RTCHECK__FORWARD(int, SYS, select,
                 (int n, fd_set *restrict r, fd_set *restrict w,
                  fd_set *restrict e, struct timeval *restrict t),
                 (n, r, w, e, t))
RTCHECK__FORWARD(int, SYS, pselect,
                 (int n, fd_set *restrict r, fd_set *restrict w,
                  fd_set *restrict e, const struct timespec *restrict t,
                  const sigset_t *restrict m),
                 (n, r, w, e, t, m))
RTCHECK__FORWARD(int, SYS, epoll_wait,
                 (int fd, struct epoll_event *e, int n, int t), (fd, e, n, t))
RTCHECK__FORWARD(int, SYS, epoll_pwait,
                 (int fd, struct epoll_event *e, int n, int t,
                  const sigset_t *m),
                 (fd, e, n, t, m))

RTCHECK__FORWARD(int, SYS, nanosleep,
                 (const struct timespec *t, struct timespec *rem), (t, rem))
RTCHECK__FORWARD(int, SYS, clock_nanosleep,
                 (clockid_t c, int fl, const struct timespec *t,
                  struct timespec *rem),
                 (c, fl, t, rem))
RTCHECK__FORWARD(int, SYS, usleep, (useconds_t us), (us))
RTCHECK__FORWARD(unsigned int, SYS, sleep, (unsigned int s), (s))

/* stdio */
RTCHECK__FORWARD(FILE *, SYS, fopen,
                 (const char *restrict p, const char *restrict m), (p, m))
RTCHECK__FORWARD(FILE *, SYS, fopen64,
                 (const char *restrict p, const char *restrict m), (p, m))
RTCHECK__FORWARD(FILE *, SYS, freopen,
                 (const char *restrict p, const char *restrict m,
                  FILE *restrict f),
                 (p, m, f))
RTCHECK__FORWARD(FILE *, SYS, freopen64,
                 (const char *restrict p, const char *restrict m,
                  FILE *restrict f),
                 (p, m, f))
RTCHECK__FORWARD(FILE *, SYS, fdopen, (int fd, const char *m), (fd, m))
RTCHECK__FORWARD(int, SYS, fclose, (FILE * f), (f))
RTCHECK__FORWARD(int, SYS, fflush, (FILE * f), (f))
RTCHECK__FORWARD(size_t, SYS, fread,
                 (void *restrict b, size_t s, size_t n, FILE *restrict f),
                 (b, s, n, f))
RTCHECK__FORWARD(size_t, SYS, fwrite,
                 (const void *restrict b, size_t s, size_t n, FILE *restrict f),
                 (b, s, n, f))
RTCHECK__FORWARD(char *, SYS, fgets,
                 (char *restrict s, int n, FILE *restrict f), (s, n, f))
RTCHECK__FORWARD(int, SYS, fgetc, (FILE * f), (f))
RTCHECK__FORWARD(int, SYS, getc, (FILE * f), (f))
RTCHECK__FORWARD(int, SYS, fputs, (const char *restrict s, FILE *restrict f),
                 (s, f))
RTCHECK__FORWARD(int, SYS, fputc, (int c, FILE *f), (c, f))
RTCHECK__FORWARD(int, SYS, putc, (int c, FILE *f), (c, f))
RTCHECK__FORWARD(int, SYS, puts, (const char *s), (s))
RTCHECK__FORWARD(int, SYS, putchar, (int c), (c))
RTCHECK__FORWARD(int, SYS, fseek, (FILE * f, long o, int w), (f, o, w))
RTCHECK__FORWARD(int, SYS, fseeko, (FILE * f, off_t o, int w), (f, o, w))
RTCHECK__FORWARD(int, SYS, fseeko64, (FILE * f, off64_t o, int w), (f, o, w))
RTCHECK__FORWARD(int, SYS, vprintf, (const char *restrict fmt, va_list ap),
                 (fmt, ap))
RTCHECK__FORWARD(int, SYS, vfprintf,
                 (FILE *restrict f, const char *restrict fmt, va_list ap),
                 (f, fmt, ap))
RTCHECK__FORWARD(int, SYS, vdprintf,
                 (int fd, const char *restrict fmt, va_list ap), (fd, fmt, ap))
RTCHECK__FORWARD(int, SYS, __vprintf_chk,
                 (int fl, const char *restrict fmt, va_list ap), (fl, fmt, ap))
RTCHECK__FORWARD(int, SYS, __vfprintf_chk,
                 (FILE *restrict f, int fl, const char *restrict fmt,
                  va_list ap),
                 (f, fl, fmt, ap))
RTCHECK__FORWARD(int, SYS, __vdprintf_chk,
                 (int fd, int fl, const char *restrict fmt, va_list ap),
                 (fd, fl, fmt, ap))

void perror(const char *s)
{
	rtcheck__hit(SYS, "perror");
	RTCHECK__REAL(perror)(s);
}

/* The variadic printf family forwards to the real v- variant. */
#define RTCHECK__PRINTF(name, vname, params, last, args)                       \
	int name params                                                        \
	{                                                                      \
		va_list ap;                                                    \
		int r;                                                         \
		rtcheck__hit(SYS, #name);                                      \
		va_start(ap, last);                                            \
		r = RTCHECK__REAL(vname) args;                                 \
		va_end(ap);                                                    \
		return r;                                                      \
	}
RTCHECK__PRINTF(printf, vprintf, (const char *restrict fmt, ...), fmt,
                (fmt, ap))
RTCHECK__PRINTF(fprintf, vfprintf,
                (FILE *restrict f, const char *restrict fmt, ...), fmt,
                (f, fmt, ap))
RTCHECK__PRINTF(dprintf, vdprintf, (int fd, const char *restrict fmt, ...), fmt,
                (fd, fmt, ap))
RTCHECK__PRINTF(__printf_chk, __vprintf_chk,
                (int fl, const char *restrict fmt, ...), fmt, (fl, fmt, ap))
RTCHECK__PRINTF(__fprintf_chk, __vfprintf_chk,
                (FILE *restrict f, int fl, const char *restrict fmt, ...), fmt,
                (f, fl, fmt, ap))
RTCHECK__PRINTF(__dprintf_chk, __vdprintf_chk,
                (int fd, int fl, const char *restrict fmt, ...), fmt,
                (fd, fl, fmt, ap))
