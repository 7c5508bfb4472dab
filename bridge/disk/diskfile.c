/*
 * diskfile: libsndfile and libsamplerate calls for one stream. Everything
 * past diskfile_init/diskfile_clear runs on the disk server thread, which
 * may block and allocate; results reach the owner as described in the
 * header.
 */
#include "bridge/disk/diskfile.h"

#include "bridge/disk/diskcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DISKFILE_CHUNK 1024 /* frames per libsndfile call */

int diskfile_init(struct diskfile *f, const char *path, int mode)
{
	if (!path || !*path ||
	    (mode != DISKFILE_READ && mode != DISKFILE_WRITE))
		return -EINVAL;
	memset(f, 0, sizeof(*f));
	size_t n = strlen(path) + 1;
	f->path = malloc(n);
	if (!f->path)
		return -ENOMEM;
	memcpy(f->path, path, n);
	f->mode = mode;
	f->fd = -1;
	atomic_init(&f->status, 0);
	atomic_init(&f->frames_done, 0);
	atomic_init(&f->frames_dropped, 0);
	atomic_init(&f->requests, 0);
	atomic_init(&f->open_done, 0);
	return 0;
}

void diskfile_clear(struct diskfile *f)
{
	free(f->path);
	f->path = NULL;
}

int diskfile_fail(struct diskfile *f, int err, const char *fmt, ...)
{
	/* Only the first error is kept: the owner may already be reading the
	 * message once status is non-zero. */
	if (atomic_load_explicit(&f->status, memory_order_relaxed) != 0)
		return err;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->errmsg, sizeof(f->errmsg), fmt, ap);
	va_end(ap);
	/* Release: publishes errmsg to an owner that loads status with
	   acquire. */
	atomic_store_explicit(&f->status, err, memory_order_release);
	return err;
}

/* Map a failed sf_open to an errno value, looking at the path itself. */
static int diskfile__open_errno(const char *path, int sferr, int saved_errno)
{
	if (access(path, F_OK) != 0)
		return -errno;
	if (access(path, R_OK) != 0)
		return -errno;
	switch (sferr) {
	case SF_ERR_UNRECOGNISED_FORMAT:
	case SF_ERR_MALFORMED_FILE:
		return -EINVAL;
	case SF_ERR_UNSUPPORTED_ENCODING:
		return -ENOTSUP;
	default:
		return saved_errno ? -saved_errno : -EIO;
	}
}

static int diskfile__open_read(struct diskfile *f)
{
	SF_INFO info;
	memset(&info, 0, sizeof(info));
	errno = 0;
	f->sf = sf_open(f->path, SFM_READ, &info);
	if (!f->sf) {
		int saved = errno;
		int sferr = sf_error(NULL);
		int err = diskfile__open_errno(f->path, sferr, saved);
		return diskfile_fail(f, err, "%s: %s", f->path,
		                     err == -ENOENT ? "No such file"
		                                    : sf_strerror(NULL));
	}
	if (info.channels < 1 || info.samplerate < 1 || info.frames < 0)
		return diskfile_fail(f, -EINVAL,
		                     "%s: bad header (%d channels, %d Hz)",
		                     f->path, info.channels, info.samplerate);
	if (info.frames >=
	    (sf_count_t)(INT64_MAX / 4 / (f->rate > 0 ? f->rate : 1)))
		return diskfile_fail(f, -ENOTSUP, "%s: unknown or huge length",
		                     f->path);
	f->file_rate = info.samplerate;
	f->file_channels = info.channels;
	f->out_channels =
	        f->channels ? f->channels : (info.channels >= 2 ? 2 : 1);
	f->chunk = DISKFILE_CHUNK;
	f->scratch = malloc(f->chunk * (size_t)info.channels * sizeof(float));
	if (!f->scratch)
		return diskfile_fail(f, -ENOMEM, "%s: out of memory", f->path);
	if (info.samplerate == f->rate) {
		f->length = (uint64_t)info.frames;
		f->ratio = 1.0;
	} else {
		f->ratio = (double)f->rate / (double)info.samplerate;
		if (!src_is_valid_ratio(f->ratio))
			return diskfile_fail(
			        f, -ENOTSUP,
			        "%s: cannot convert %d Hz to %d Hz", f->path,
			        info.samplerate, f->rate);
		f->length = ((uint64_t)info.frames * (uint64_t)f->rate +
		             (uint64_t)info.samplerate / 2) /
		            (uint64_t)info.samplerate;
		int e = 0;
		f->src = src_new(SRC_SINC_MEDIUM_QUALITY, f->out_channels, &e);
		if (!f->src)
			return diskfile_fail(f, -ENOMEM,
			                     "%s: libsamplerate: %s", f->path,
			                     src_strerror(e));
		f->rsbuf = malloc(f->chunk * (size_t)f->out_channels *
		                  sizeof(float));
		if (!f->rsbuf)
			return diskfile_fail(f, -ENOMEM, "%s: out of memory",
			                     f->path);
	}
	f->cursor = 0;
	return 0;
}

static int diskfile__open_write(struct diskfile *f)
{
	int enc = f->encoding ? f->encoding : DISKFILE_ENC_PCM24;
	char why[DISKFILE_ERRMSG_MAX];
	int major = diskcheck_container(f->path, why, sizeof(why));
	if (major < 0)
		return diskfile_fail(f, -EINVAL, "%s", why);
	int pcm = (major & SF_FORMAT_TYPEMASK) != SF_FORMAT_OGG;
	if (major == SF_FORMAT_FLAC && enc == DISKFILE_ENC_FLOAT)
		return diskfile_fail(f, -ENOTSUP,
		                     "%s: FLAC cannot hold float samples",
		                     f->path);
	if (!pcm)
		enc = DISKFILE_ENC_FLOAT;
	f->wenc = enc;
	SF_INFO info;
	memset(&info, 0, sizeof(info));
	info.samplerate = f->rate;
	info.channels = f->channels;
	info.format = major;
	if (pcm)
		info.format |= enc == DISKFILE_ENC_PCM16   ? SF_FORMAT_PCM_16
		               : enc == DISKFILE_ENC_FLOAT ? SF_FORMAT_FLOAT
		                                           : SF_FORMAT_PCM_24;
	if (!sf_format_check(&info))
		return diskfile_fail(f, -ENOTSUP,
		                     "%s: libsndfile cannot write this format "
		                     "at %d Hz, %d channels",
		                     f->path, f->rate, f->channels);
	/* Our own descriptor: a failed write is cut back with ftruncate. */
	int fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0)
		return diskfile_fail(f, -errno, "%s: %s", f->path,
		                     strerror(errno));
	errno = 0;
	f->sf = sf_open_fd(fd, SFM_WRITE, &info, SF_TRUE);
	if (!f->sf) {
		int saved = errno;
		close(fd);
		return diskfile_fail(f, saved ? -saved : -EIO, "%s: %s",
		                     f->path, sf_strerror(NULL));
	}
	f->fd = fd;
	struct stat st;
	if (pcm && (major == SF_FORMAT_WAV || major == SF_FORMAT_AIFF) &&
	    fstat(fd, &st) == 0) {
		/* The header is written at open: the frames start here. */
		f->data_offset = (uint64_t)st.st_size;
		f->frame_bytes = (size_t)f->channels *
		                 (enc == DISKFILE_ENC_PCM16   ? 2u
		                  : enc == DISKFILE_ENC_FLOAT ? 4u
		                                              : 3u);
	}
	f->chunk = DISKFILE_CHUNK;
	f->scratch = malloc(f->chunk * (size_t)f->channels * sizeof(int32_t));
	if (!f->scratch)
		return diskfile_fail(f, -ENOMEM, "%s: out of memory", f->path);
	return 0;
}

int diskfile_open(struct diskfile *f)
{
	if (f->mode == DISKFILE_READ) {
		if (f->channels < 0 || f->channels > 2 || f->rate < 1)
			return diskfile_fail(f, -EINVAL,
			                     "%s: bad stream configuration",
			                     f->path);
		return diskfile__open_read(f);
	}
	if (f->channels < 1 || f->rate < 1)
		return diskfile_fail(f, -EINVAL, "%s: bad stream configuration",
		                     f->path);
	return diskfile__open_write(f);
}

/* Map `frames` frames of file channels in `in` to the stream's channels. */
static void diskfile__remix(const struct diskfile *f, const float *in,
                            float *out, size_t frames)
{
	int fc = f->file_channels;
	if (f->out_channels == 1) {
		for (size_t i = 0; i < frames; i++)
			out[i] = fc == 1 ? in[i]
			                 : 0.5f * (in[i * fc] + in[i * fc + 1]);
	} else {
		for (size_t i = 0; i < frames; i++) {
			out[2 * i] = in[i * fc];
			out[2 * i + 1] = fc == 1 ? in[i] : in[i * fc + 1];
		}
	}
}

static int diskfile__read_error(struct diskfile *f)
{
	return diskfile_fail(f, -EIO, "%s: read error: %s", f->path,
	                     sf_strerror(f->sf));
}

/* Read [pos, pos + n) without resampling; pads with silence when the file
 * holds fewer frames than its header announced. */
static int diskfile__read_direct(struct diskfile *f, uint64_t pos, float *dst,
                                 size_t n)
{
	size_t oc = (size_t)f->out_channels;
	if (f->cursor != pos) {
		if (sf_seek(f->sf, (sf_count_t)pos, SEEK_SET) < 0)
			return diskfile_fail(
			        f, -EIO, "%s: seek to frame %llu failed: %s",
			        f->path, (unsigned long long)pos,
			        sf_strerror(f->sf));
		f->cursor = pos;
		f->in_eof = 0;
	}
	/* The file's channels as they are: read straight into dst. */
	bool same = (size_t)f->file_channels == oc;
	size_t done = 0;
	while (done < n) {
		size_t want = n - done < f->chunk ? n - done : f->chunk;
		float *into = same ? dst + done * oc : f->scratch;
		sf_count_t got = f->in_eof ? 0
		                           : sf_readf_float(f->sf, into,
		                                            (sf_count_t)want);
		if (got < 0 || (got < (sf_count_t)want &&
		                sf_error(f->sf) != SF_ERR_NO_ERROR))
			return diskfile__read_error(f);
		if (got < (sf_count_t)want)
			f->in_eof = 1;
		if (!same)
			diskfile__remix(f, f->scratch, dst + done * oc,
			                (size_t)got);
		memset(dst + (done + (size_t)got) * oc, 0,
		       (want - (size_t)got) * oc * sizeof(float));
		done += want;
		f->cursor += want;
	}
	return 0;
}

/* Read [pos, pos + n) of the resampled stream; pads with silence once the
 * resampler has nothing more to give. */
static int diskfile__read_resampled(struct diskfile *f, uint64_t pos,
                                    float *dst, size_t n)
{
	size_t oc = (size_t)f->out_channels;
	if (f->cursor != pos) {
		uint64_t in = (uint64_t)llround((double)pos / f->ratio);
		if (sf_seek(f->sf, (sf_count_t)in, SEEK_SET) < 0)
			return diskfile_fail(
			        f, -EIO, "%s: seek to frame %llu failed: %s",
			        f->path, (unsigned long long)in,
			        sf_strerror(f->sf));
		src_reset(f->src);
		f->rs_avail = 0;
		f->in_eof = 0;
		f->cursor = pos;
	}
	size_t done = 0;
	while (done < n) {
		if (f->rs_avail == 0 && !f->in_eof) {
			sf_count_t got = sf_readf_float(f->sf, f->scratch,
			                                (sf_count_t)f->chunk);
			if (got < 0 ||
			    (got == 0 && sf_error(f->sf) != SF_ERR_NO_ERROR))
				return diskfile__read_error(f);
			if (got == 0)
				f->in_eof = 1;
			diskfile__remix(f, f->scratch, f->rsbuf, (size_t)got);
			f->rs_off = 0;
			f->rs_avail = (size_t)got;
		}
		SRC_DATA d = {
		        .data_in = f->rsbuf + f->rs_off * oc,
		        .input_frames = (long)f->rs_avail,
		        .data_out = dst + done * oc,
		        .output_frames = (long)(n - done),
		        .end_of_input = f->in_eof,
		        .src_ratio = f->ratio,
		};
		int e = src_process(f->src, &d);
		if (e)
			return diskfile_fail(f, -EIO, "%s: libsamplerate: %s",
			                     f->path, src_strerror(e));
		f->rs_off += (size_t)d.input_frames_used;
		f->rs_avail -= (size_t)d.input_frames_used;
		done += (size_t)d.output_frames_gen;
		f->cursor += (uint64_t)d.output_frames_gen;
		if (d.output_frames_gen == 0 && f->in_eof && f->rs_avail == 0) {
			memset(dst + done * oc, 0,
			       (n - done) * oc * sizeof(float));
			f->cursor += n - done;
			done = n;
		}
	}
	return 0;
}

static int diskfile__read_at(struct diskfile *f, uint64_t pos, float *dst,
                             size_t n)
{
	if (f->src)
		return diskfile__read_resampled(f, pos, dst, n);
	return diskfile__read_direct(f, pos, dst, n);
}

int diskfile_read(struct diskfile *f, uint64_t vpos, float *dst,
                  uint32_t frames)
{
	if (!f->sf)
		return -EBADF;
	size_t oc = (size_t)f->out_channels;
	uint64_t len = f->length;
	if (!f->loop || len == 0) {
		if (vpos >= len)
			return 0;
		size_t n = len - vpos < frames ? (size_t)(len - vpos) : frames;
		int rc = diskfile__read_at(f, vpos, dst, n);
		return rc < 0 ? rc : (int)n;
	}
	size_t done = 0;
	while (done < frames) {
		uint64_t p = (vpos + done) % len;
		size_t n = frames - done;
		if (len - p < n)
			n = (size_t)(len - p);
		int rc = diskfile__read_at(f, p, dst + done * oc, n);
		if (rc < 0)
			return rc;
		done += n;
	}
	return (int)frames;
}

int diskfile_seek(struct diskfile *f, uint64_t frame)
{
	if (!f->sf || f->mode != DISKFILE_READ)
		return -EBADF;
	if (f->length > 0 && f->loop)
		frame %= f->length;
	if (frame >= f->length || frame == f->cursor)
		return 0;
	if (f->src) {
		uint64_t in = (uint64_t)llround((double)frame / f->ratio);
		if (sf_seek(f->sf, (sf_count_t)in, SEEK_SET) < 0)
			return diskfile_fail(f, -EIO, "%s: seek failed: %s",
			                     f->path, sf_strerror(f->sf));
		src_reset(f->src);
		f->rs_avail = 0;
	} else if (sf_seek(f->sf, (sf_count_t)frame, SEEK_SET) < 0) {
		return diskfile_fail(f, -EIO, "%s: seek failed: %s", f->path,
		                     sf_strerror(f->sf));
	}
	f->in_eof = 0;
	f->cursor = frame;
	return 0;
}

int diskfile_write_failed(struct diskfile *f, int err, const char *why)
{
	if (atomic_load_explicit(&f->status, memory_order_relaxed) != 0)
		return err;
	uint64_t n =
	        atomic_load_explicit(&f->frames_done, memory_order_relaxed);
	if (f->sf && f->frame_bytes > 0) {
		/* A short write may have left part of a frame: cut back to
		 * whole frames, then let libsndfile write the header for the
		 * length it now finds (it reads the size from the file). The
		 * header lies before the data, so this needs no free space. */
		off_t len = (off_t)(f->data_offset + n * f->frame_bytes);
		if (ftruncate(f->fd, len) == 0)
			sf_command(f->sf, SFC_UPDATE_HEADER_NOW, NULL, 0);
	}
	f->header_dirty = 0;
	if (err == -ENOSPC || err == -EDQUOT)
		return diskfile_fail(f, err,
		                     "%s: disk full after %llu frames (%s)",
		                     f->path, (unsigned long long)n, why);
	return diskfile_fail(f, err, "%s: write failed after %llu frames: %s",
	                     f->path, (unsigned long long)n, why);
}

static int diskfile__write_error(struct diskfile *f, int saved_errno)
{
	int err = saved_errno == ENOSPC || saved_errno == EDQUOT ||
	                          saved_errno == EFBIG
	                  ? -saved_errno
	                  : -EIO;
	return diskfile_write_failed(f, err,
	                             saved_errno ? strerror(saved_errno)
	                                         : sf_strerror(f->sf));
}

int diskfile_write(struct diskfile *f, const float *src, uint32_t frames)
{
	if (!f->sf || f->mode != DISKFILE_WRITE)
		return -EBADF;
	size_t ch = (size_t)f->channels;
	size_t done = 0;
	while (done < frames) {
		size_t n = frames - done < f->chunk ? frames - done : f->chunk;
		const float *in = src + done * ch;
		sf_count_t put;
		errno = 0;
		if (f->wenc == DISKFILE_ENC_PCM16) {
			short *o = f->scratch;
			for (size_t i = 0; i < n * ch; i++) {
				float y = in[i] * 32768.0f;
				y = y != y          ? 0.0f
				    : y < -32768.0f ? -32768.0f
				    : y > 32767.0f  ? 32767.0f
				                    : y;
				o[i] = (short)lrintf(y);
			}
			put = sf_writef_short(f->sf, o, (sf_count_t)n);
		} else if (f->wenc == DISKFILE_ENC_PCM24) {
			int32_t *o = f->scratch;
			for (size_t i = 0; i < n * ch; i++) {
				float y = in[i] * 8388608.0f;
				y = y != y            ? 0.0f
				    : y < -8388608.0f ? -8388608.0f
				    : y > 8388607.0f  ? 8388607.0f
				                      : y;
				/* libsndfile's int samples are full-scale
				 * 32-bit. */
				o[i] = (int32_t)lrintf(y) * 256;
			}
			put = sf_writef_int(f->sf, (const int *)o,
			                    (sf_count_t)n);
		} else {
			put = sf_writef_float(f->sf, in, (sf_count_t)n);
		}
		if (put != (sf_count_t)n) {
			int saved = errno;
			/* What libsndfile did write counts: the file keeps it.
			 */
			if (put > 0)
				atomic_fetch_add_explicit(&f->frames_done,
				                          (uint64_t)put,
				                          memory_order_relaxed);
			return diskfile__write_error(f, saved);
		}
		done += n;
		f->header_dirty = 1;
		atomic_fetch_add_explicit(&f->frames_done, n,
		                          memory_order_relaxed);
	}
	return 0;
}

int diskfile_flush(struct diskfile *f, int sync, int64_t now_ns)
{
	if (!f->sf || f->mode != DISKFILE_WRITE)
		return -EBADF;
	f->header_ns = now_ns;
	if (f->header_dirty) {
		/* WAV and AIFF rewrite their length fields; other containers
		 * ignore the command. */
		sf_command(f->sf, SFC_UPDATE_HEADER_NOW, NULL, 0);
		f->header_dirty = 0;
	}
	if (sync) {
		errno = 0;
		sf_write_sync(f->sf);
		if (sf_error(f->sf) != SF_ERR_NO_ERROR)
			return diskfile__write_error(f, errno);
	}
	return 0;
}

int diskfile_close(struct diskfile *f)
{
	int rc = 0;
	if (f->sf) {
		/* Closes the write descriptor too (sf_open_fd with close). */
		int e = sf_close(f->sf);
		f->sf = NULL;
		f->fd = -1;
		if (e != 0 && f->mode == DISKFILE_WRITE)
			rc = diskfile_fail(f, -EIO, "%s: closing failed: %s",
			                   f->path, sf_error_number(e));
		if (f->mode == DISKFILE_WRITE) {
			struct stat st;
			if (stat(f->path, &st) == 0)
				f->bytes = (uint64_t)st.st_size;
		}
	}
	if (f->src)
		src_delete(f->src);
	f->src = NULL;
	free(f->scratch);
	f->scratch = NULL;
	free(f->rsbuf);
	f->rsbuf = NULL;
	return rc;
}
