/*
 * diskcheck: checks of recording targets on the control thread, and the
 * extension-to-container table the disk thread also uses. Nothing here
 * keeps state; the probe file of diskcheck_dir is removed before return.
 */
#include "bridge/disk/diskcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
	const char *ext;
	int format;
} diskcheck__containers[] = {
        {"wav", SF_FORMAT_WAV},
        {"aiff", SF_FORMAT_AIFF},
        {"aif", SF_FORMAT_AIFF},
        {"flac", SF_FORMAT_FLAC},
        {"ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS},
        {"oga", SF_FORMAT_OGG | SF_FORMAT_VORBIS},
        {"opus", SF_FORMAT_OGG | SF_FORMAT_OPUS},
};

static const char *diskcheck__ext(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(path, '.');
	if (!dot || (slash && dot < slash))
		return "";
	return dot + 1;
}

int diskcheck_container(const char *path, char *msg, size_t len)
{
	const char *ext = diskcheck__ext(path);
	for (size_t i = 0; i < sizeof(diskcheck__containers) /
	                               sizeof(diskcheck__containers[0]);
	     i++)
		if (strcasecmp(ext, diskcheck__containers[i].ext) == 0)
			return diskcheck__containers[i].format;
	if (msg && len > 0)
		snprintf(
		        msg, len,
		        "%s: unknown extension '%s' (use .wav .aiff .flac .ogg "
		        ".opus)",
		        path, ext);
	return -EINVAL;
}

static int diskcheck__fail(char *msg, size_t len, const char *what, int err,
                           const char *why)
{
	if (msg && len > 0)
		snprintf(msg, len, "%s: %s", what, why ? why : strerror(err));
	return -err;
}

int diskcheck_dir(const char *dir, char *msg, size_t len)
{
	struct stat st;
	if (!dir || !*dir)
		return diskcheck__fail(msg, len, "\"\"", EINVAL,
		                       "an empty directory name");
	if (stat(dir, &st) != 0) {
		int e = errno;
		return diskcheck__fail(msg, len, dir, e,
		                       e == ENOENT ? "no such directory"
		                                   : NULL);
	}
	if (!S_ISDIR(st.st_mode))
		return diskcheck__fail(msg, len, dir, ENOTDIR,
		                       "not a directory");
	size_t n = strlen(dir) + sizeof("/.rtbridge-probe-XXXXXX");
	char *probe = malloc(n);
	if (!probe)
		return diskcheck__fail(msg, len, dir, ENOMEM, NULL);
	snprintf(probe, n, "%s/.rtbridge-probe-XXXXXX", dir);
	int fd = mkstemp(probe);
	int e = errno;
	if (fd >= 0) {
		close(fd);
		unlink(probe);
	}
	free(probe);
	if (fd < 0) {
		char why[160];
		snprintf(why, sizeof(why), "cannot record here: %s",
		         strerror(e));
		return diskcheck__fail(msg, len, dir, e, why);
	}
	return 0;
}

int diskcheck_file(const char *path, char *msg, size_t len)
{
	if (!path || !*path)
		return diskcheck__fail(msg, len, "\"\"", EINVAL,
		                       "an empty file name");
	if (diskcheck_container(path, msg, len) < 0)
		return -EINVAL;
	/* The directory part: "." for a bare name, "/" for "/x.wav". */
	const char *slash = strrchr(path, '/');
	size_t dlen = slash ? (size_t)(slash - path) : 0;
	char *dir = malloc(dlen + 2);
	if (!dir)
		return diskcheck__fail(msg, len, path, ENOMEM, NULL);
	if (!slash)
		strcpy(dir, ".");
	else if (dlen == 0)
		strcpy(dir, "/");
	else
		memcpy(dir, path, dlen), dir[dlen] = '\0';
	char dmsg[300];
	int rc = diskcheck_dir(dir, dmsg, sizeof(dmsg));
	free(dir);
	if (rc < 0) {
		if (msg && len > 0)
			snprintf(msg, len, "%s: cannot record: %s", path, dmsg);
		return rc;
	}
	struct stat st;
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return diskcheck__fail(msg, len, path, EISDIR,
			                       "is a directory");
		int fd = open(path, O_WRONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0) {
			int e = errno;
			char why[160];
			snprintf(why, sizeof(why), "cannot record: %s",
			         strerror(e));
			return diskcheck__fail(msg, len, path, e, why);
		}
		close(fd);
	}
	return 0;
}
