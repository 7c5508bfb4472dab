/*
 * app_srtp: SRTP keys from the command line or a key file (see
 * app_srtp.h)
 */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "bridge/app/app_srtp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define APP_SRTP_FILE_MAX 256 /* bytes of a key file read */

const char *const app_srtp_suites[] = {"AES_CM_128_HMAC_SHA1_80",
                                       "AEAD_AES_128_GCM", NULL};

/* Read a key file's text into buf (NUL-terminated). Return: 0 or -errno
   after printing why. */
static int app_srtp__file(const char *cmd, const char *path, char *buf,
                          size_t cap)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		fprintf(stderr, "rtbridge %s: --srtp-key @%s: %s\n", cmd, path,
		        strerror(e));
		return -e;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)))
		fprintf(stderr,
		        "rtbridge %s: warning: key file %s is readable by "
		        "others (mode %04o): chmod 600 %s\n",
		        cmd, path, (unsigned)(st.st_mode & 07777), path);
	while (got + 1 < cap && (n = read(fd, buf + got, cap - 1 - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			fprintf(stderr, "rtbridge %s: --srtp-key @%s: %s\n",
			        cmd, path, strerror(e));
			return -e;
		}
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return 0;
}

int app_srtp_key(const char *cmd, const char *arg, const char *suite,
                 struct srtpkey *k)
{
	enum srtpkey_suite s = SRTPKEY_AES_CM_128_HMAC_SHA1_80;
	char text[APP_SRTP_FILE_MAX], err[160];
	int rc;

	srtpkey_clear(k);
	if (suite && srtpkey_suite_parse(suite, &s) < 0) {
		fprintf(stderr, "rtbridge %s: --srtp-suite '%s': unknown\n",
		        cmd, suite);
		return -EINVAL;
	}
	if (arg[0] == '@') {
		if (app_srtp__file(cmd, arg + 1, text, sizeof(text)) < 0)
			return -EINVAL;
		rc = srtpkey_from_base64(k, s, text, err, sizeof(err));
		explicit_bzero(text, sizeof(text));
		if (rc < 0) {
			fprintf(stderr, "rtbridge %s: --srtp-key @%s: %s\n",
			        cmd, arg + 1, err);
			return -EINVAL;
		}
		return 0;
	}
	rc = srtpkey_from_base64(k, s, arg, err, sizeof(err));
	/* Out of the process list (/proc/PID/cmdline) from now on; argv's
	   strings are the program's to modify. */
	memset((char *)arg, 'x', strlen(arg));
	if (rc < 0) {
		fprintf(stderr, "rtbridge %s: --srtp-key: %s\n", cmd, err);
		return -EINVAL;
	}
	return 0;
}
