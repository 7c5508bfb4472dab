/*
 * disktap: a write-behind stream behind the tap interface (see disktap.h).
 * The audio thread only calls writebehind_write (real-time safe); open,
 * close and the counters run on the control thread.
 */
#include "bridge/audio/disktap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void disktap__write(struct tap *tap, const float *frames, size_t n)
{
	struct disktap *t = (struct disktap *)tap;
	t->offered += n;
	(void)writebehind_write(t->wb, frames, n);
}

static void disktap__release(struct tap *tap)
{
	disktap_close((struct disktap *)tap);
}

static const struct tap_ops disktap__ops = {
        .write = disktap__write,
        .release = disktap__release,
};

int disktap_open(struct disktap *t, struct diskserver *srv, const char *path,
                 const struct disktap_opts *opts)
{
	memset(t, 0, sizeof(*t));
	t->closed = true;
	t->close_rc = -EINVAL;
	if (!opts || opts->channels < 1 || !path)
		return -EINVAL;
	struct writebehind_opts wo = {
	        .block_frames = opts->block_frames,
	        .buffer_s = opts->buffer_s,
	        .encoding = opts->encoding,
	        .opened = opts->opened,
	        .opened_arg = opts->opened_arg,
	};
	int rate = (int)(opts->rate ? opts->rate : 48000);
	int rc = writebehind_open(srv, path, (int)opts->channels, rate, &wo,
	                          &t->wb);
	if (rc < 0) {
		t->wb = NULL;
		t->close_rc = rc;
		return rc;
	}
	t->tap.ops = &disktap__ops;
	t->tap.channels = opts->channels;
	t->channels = opts->channels;
	t->close_rc = 0;
	t->closed = false;
	return 0;
}

int disktap_wait_open(struct disktap *t, int timeout_ms)
{
	if (!t->wb)
		return -EINVAL;
	int64_t t0 = diskserver_monotonic_ns();
	int rc = writebehind_wait_open(t->wb, timeout_ms);
	if (rc == -ETIMEDOUT)
		snprintf(t->wait_error, sizeof(t->wait_error),
		         "%s: disk too slow: not created after %.1f s",
		         t->wb->file.path,
		         (double)(diskserver_monotonic_ns() - t0) / 1e9);
	return rc;
}

const char *disktap_error(const struct disktap *t)
{
	if (t->wb && writebehind_error(t->wb)[0])
		return writebehind_error(t->wb);
	if (!t->wb && writebehind_result_done(&t->result) &&
	    t->result.message[0])
		return t->result.message;
	return t->wait_error;
}

int disktap_state(const struct disktap *t)
{
	if (t->wb)
		return writebehind_state(t->wb);
	if (t->close_rc < 0)
		return WRITEBEHIND_FAILED;
	if (!writebehind_result_done(&t->result))
		return WRITEBEHIND_CLOSING;
	int st = t->result.status;
	if (st == -ENOSPC || st == -EDQUOT)
		return WRITEBEHIND_DISK_FULL;
	return st < 0 ? WRITEBEHIND_FAILED : WRITEBEHIND_CLOSED;
}

void disktap_close(struct disktap *t)
{
	if (t->closed)
		return;
	t->final_dropped = writebehind_dropped_frames(t->wb);
	t->close_rc = writebehind_close(t->wb, &t->result);
	t->wb = NULL;
	t->closed = true;
}

int disktap_wait_closed(struct disktap *t, int timeout_ms)
{
	if (!t->closed)
		return -EINVAL;
	if (t->close_rc < 0)
		return t->close_rc;
	return writebehind_wait_closed(&t->result, timeout_ms);
}

uint64_t disktap_dropped(const struct disktap *t)
{
	if (t->wb)
		return writebehind_dropped_frames(t->wb);
	return writebehind_result_done(&t->result) ? t->result.dropped
	                                           : t->final_dropped;
}

uint64_t disktap_frames_written(const struct disktap *t)
{
	if (t->wb)
		return writebehind_frames_written(t->wb);
	return writebehind_result_done(&t->result) ? t->result.frames : 0;
}
