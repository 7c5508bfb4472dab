/*
 * app_record: checks and words about recordings (see app_record.h)
 */
#include "bridge/app/app_record.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bridge/disk/diskcheck.h"

/* One line for a refused target (msg names it). Return: rc. */
static int app_record__refused(const char *cmd, const char *opt, int rc,
                               const char *msg)
{
	if (rc < 0)
		fprintf(stderr, "rtbridge %s: %s %s\n", cmd, opt, msg);
	return rc;
}

int app_record_check_dir(const char *cmd, const char *dir)
{
	char msg[400];
	return app_record__refused(cmd, "--record-dir",
	                           diskcheck_dir(dir, msg, sizeof(msg)), msg);
}

int app_record_check_file(const char *cmd, const char *path)
{
	char msg[400];
	return app_record__refused(cmd, "--record",
	                           diskcheck_file(path, msg, sizeof(msg)), msg);
}

void app_record_say_stopped(const char *cmd, const char *error)
{
	fprintf(stderr, "rtbridge %s: %s; the recording stopped there\n", cmd,
	        error);
}

void app_record_say_failed(const char *cmd, const char *path, const char *why)
{
	fprintf(stderr, "rtbridge %s: %s: recording failed: %s\n", cmd, path,
	        why);
}

bool app_record_stopped_now(const struct disktap *t, bool *reported)
{
	if (*reported || t->closed || !t->wb || writebehind_status(t->wb) == 0)
		return false;
	*reported = true;
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

char *app_record_failure(char *buf, size_t n, const char *path,
                         const struct disktap *t, int rc)
{
	snprintf(buf, n, "%s",
	         writebehind_result_done(&t->result) && t->result.message[0]
	                 ? app_record__why(path, t->result.message)
	         : rc == -ETIMEDOUT ? "the disk did not finish it in time"
	                            : strerror(-rc));
	return buf;
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
