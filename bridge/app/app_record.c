/*
 * app_record: checks and words about recordings (see app_record.h)
 */
#include "bridge/app/app_record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Create and remove a probe file in `dir`. Return: 0 or -errno. */
static int app_record__probe(const char *dir)
{
	char probe[4200];
	int n = snprintf(probe, sizeof(probe), "%s/.rtbridge-probe-%ld", dir,
	                 (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(probe))
		return -ENAMETOOLONG;
	int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	(void)unlink(probe);
	return 0;
}

/* Return: 0, or -errno with why set. */
static int app_record__dir(const char *dir, char *why, size_t n)
{
	struct stat st;
	if (stat(dir, &st) < 0) {
		int err = errno;
		if (err == ENOENT)
			snprintf(why, n, "no such directory");
		else
			snprintf(why, n, "%s", strerror(err));
		return -err;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, n, "not a directory");
		return -ENOTDIR;
	}
	int rc = app_record__probe(dir);
	if (rc < 0)
		snprintf(why, n, "cannot create files there: %s",
		         strerror(-rc));
	return rc;
}

int app_record_check_dir(const char *cmd, const char *dir)
{
	char why[160];
	int rc = app_record__dir(dir, why, sizeof(why));
	if (rc < 0)
		fprintf(stderr, "rtbridge %s: --record-dir %s: %s\n", cmd, dir,
		        why);
	return rc;
}

int app_record_check_file(const char *cmd, const char *path)
{
	char why[160] = "", dir[4096] = "";
	struct stat st;
	int rc = 0;

	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			snprintf(why, sizeof(why), "is a directory");
			rc = -EISDIR;
		} else {
			/* Opened without O_TRUNC: nothing changes yet. */
			int fd = open(path, O_WRONLY | O_CLOEXEC);
			if (fd < 0) {
				rc = -errno;
				snprintf(why, sizeof(why),
				         "cannot write it: %s", strerror(-rc));
			} else {
				close(fd);
			}
		}
	} else {
		const char *slash = strrchr(path, '/');
		if (!slash)
			snprintf(dir, sizeof(dir), ".");
		else if (slash == path)
			snprintf(dir, sizeof(dir), "/");
		else
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path),
			         path);
		rc = app_record__dir(dir, why, sizeof(why));
	}
	if (rc < 0)
		fprintf(stderr, "rtbridge %s: --record %s: %s%s%s\n", cmd, path,
		        dir, dir[0] ? ": " : "", why);
	return rc;
}

void app_record_say_stopped(const char *cmd, const struct disktap *t)
{
	fprintf(stderr,
	        "rtbridge %s: %s "
	        "(recording stopped; the file keeps %llu frames)\n",
	        cmd, disktap_error(t),
	        (unsigned long long)disktap_frames_written(t));
}

bool app_record_check_stopped(const char *cmd, const struct disktap *t,
                              bool *reported)
{
	if (*reported || t->closed || !t->wb || writebehind_status(t->wb) == 0)
		return false;
	*reported = true;
	app_record_say_stopped(cmd, t);
	return true;
}

/* The disk's message without the path it starts with. */
static const char *app_record__why(const char *path, const char *msg)
{
	size_t len = strlen(path);
	if (!strncmp(msg, path, len) && !strncmp(msg + len, ": ", 2))
		return msg + len + 2;
	return msg;
}

bool app_record_failed(const char *cmd, const char *path,
                       const struct disktap *t, int rc, bool reported)
{
	if (rc >= 0)
		return false;
	if (!reported)
		fprintf(stderr, "rtbridge %s: %s: recording failed: %s\n", cmd,
		        path,
		        writebehind_result_done(&t->result) &&
		                        t->result.message[0]
		                ? app_record__why(path, t->result.message)
		        : rc == -ETIMEDOUT
		                ? "the disk did not finish it in time"
		                : strerror(-rc));
	return true;
}

char *app_record_outcome(char *buf, size_t n, const char *path,
                         const struct disktap *t, int rc)
{
	uint64_t dropped = disktap_dropped(t);
	size_t used;

	if (!writebehind_result_done(&t->result)) {
		snprintf(buf, n, "not finished: %s",
		         rc == -ETIMEDOUT ? "the disk did not finish it in time"
		                          : strerror(-rc));
		return buf;
	}
	used = (size_t)snprintf(buf, n, "%llu frames",
	                        (unsigned long long)t->result.frames);
	if (dropped > 0 && used < n)
		used += (size_t)snprintf(buf + used, n - used, ", dropped %llu",
		                         (unsigned long long)dropped);
	if (rc < 0 && used < n)
		snprintf(buf + used, n - used, ", stopped early: %s",
		         t->result.message[0]
		                 ? app_record__why(path, t->result.message)
		                 : strerror(-rc));
	return buf;
}
