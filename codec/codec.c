/*
 * The codec interface: configuration checks, names, and the Opus and PCM
 * encoders/decoders behind one set of calls
 *
 * Set-up (init/clear) runs on the control thread and is the only place that
 * allocates: the Opus states come from opus_*_create, the PCM concealment
 * hold buffer from calloc. Encode/decode/conceal work in that memory only.
 * OPUS_* return codes are mapped to negated errno here, at the edge, and the
 * raw code is kept in lib_error for codec_lib_error().
 */
#include "codec/codec.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <opus/opus.h>

#include "codec/pcm.h"

/* PCM concealment fades the repeated tail to silence over this long. */
#define CODEC_FADE_MS 20
/* PCM concealment keeps at most this much of the last packet. */
#define CODEC_HOLD_MS 20

void codec_config_default(struct codec_config *cfg, enum codec_kind kind)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->kind = kind;
	cfg->rate = 48000;
	cfg->channels = 2;
	cfg->application = CODEC_APP_AUDIO;
	if (kind == CODEC_OPUS) {
		cfg->frame_us = 20000;
		cfg->bitrate = 128000;
		cfg->complexity = 10;
	} else {
		cfg->frame_us = 5000;
	}
}

static int codec_bad(const char **why, const char *text, int err)
{
	if (why)
		*why = text;
	return err;
}

/* PCM packets last from 0.125 ms (rounded up to whole frames: 6 at
   48 kHz) to 20 ms; the products stay in 64 bits for any int rate. */
static bool codec_pcm_frames_ok(int rate, int frames)
{
	int64_t ns = (int64_t)frames * 1000000000;

	return frames > 0 && ns >= (int64_t)CODEC_PCM_MIN_PTIME_NS * rate &&
	       ns <= (int64_t)CODEC_PCM_MAX_PTIME_NS * rate;
}

int codec_config_check(const struct codec_config *cfg, const char **why)
{
	if (why)
		*why = "";
	switch (cfg->kind) {
	case CODEC_OPUS:
		if (cfg->rate != 8000 && cfg->rate != 12000 &&
		    cfg->rate != 16000 && cfg->rate != 24000 &&
		    cfg->rate != 48000)
			return codec_bad(why,
			                 "opus rate must be 8000, 12000, "
			                 "16000, 24000 or 48000 Hz",
			                 -EINVAL);
		if (cfg->channels != 1 && cfg->channels != 2)
			return codec_bad(why, "opus needs 1 or 2 channels",
			                 -EINVAL);
		if ((cfg->frame_us != 2500 && cfg->frame_us != 5000 &&
		     cfg->frame_us != 10000 && cfg->frame_us != 20000) ||
		    (cfg->frames > 0 &&
		     (int64_t)cfg->frames * 1000000 !=
		             (int64_t)cfg->rate * cfg->frame_us))
			return codec_bad(
			        why, "opus frame must be 2.5, 5, 10 or 20 ms",
			        -EINVAL);
		if (cfg->bitrate != 0 &&
		    (cfg->bitrate < 6000 || cfg->bitrate > 510000))
			return codec_bad(why,
			                 "opus bitrate must be 0 (auto) or "
			                 "6000..510000 bit/s",
			                 -EINVAL);
		if (cfg->complexity < 0 || cfg->complexity > 10)
			return codec_bad(why, "opus complexity must be 0..10",
			                 -EINVAL);
		if (cfg->application != CODEC_APP_AUDIO &&
		    cfg->application != CODEC_APP_LOWDELAY)
			return codec_bad(
			        why,
			        "opus application must be audio or lowdelay",
			        -EINVAL);
		if (cfg->loss_pct < 0 || cfg->loss_pct > 100)
			return codec_bad(why, "expected loss must be 0..100 %",
			                 -EINVAL);
		return 0;
	case CODEC_L16:
	case CODEC_L24:
		if (cfg->rate < 1000 || cfg->rate > 768000)
			return codec_bad(why,
			                 "pcm rate must be 1000..768000 Hz",
			                 -EINVAL);
		if (cfg->channels < 1 || cfg->channels > CODEC_MAX_CHANNELS)
			return codec_bad(why, "pcm needs 1 to 8 channels",
			                 -EINVAL);
		/* A packet holds a whole number of frames: given as such,
		   or as a duration that is one. */
		if (cfg->frames <= 0 &&
		    (cfg->frame_us <= 0 ||
		     ((int64_t)cfg->rate * cfg->frame_us) % 1000000 != 0))
			return codec_bad(why,
			                 "frame duration is not a whole number "
			                 "of samples at this rate",
			                 -EINVAL);
		if (!codec_pcm_frames_ok(cfg->rate, codec_config_frames(cfg)))
			return codec_bad(why,
			                 "pcm packet must last 0.125 to 20 ms",
			                 -EINVAL);
		if (codec_max_payload(cfg) > CODEC_MAX_PAYLOAD)
			return codec_bad(why,
			                 "pcm packet would exceed the largest "
			                 "UDP datagram",
			                 -EMSGSIZE);
		return 0;
	default:
		return codec_bad(why, "unknown codec (use opus, l16 or l24)",
		                 -EINVAL);
	}
}

int codec_config_frames(const struct codec_config *cfg)
{
	if (cfg->frames > 0)
		return cfg->frames;
	return (int)((int64_t)cfg->rate * cfg->frame_us / 1000000);
}

void codec_config_set_frames(struct codec_config *cfg, int frames)
{
	cfg->frames = frames;
	cfg->frame_us =
	        (int)(((int64_t)frames * 1000000 + cfg->rate / 2) / cfg->rate);
}

double codec_config_ptime_ms(const struct codec_config *cfg)
{
	return (double)codec_config_frames(cfg) * 1000.0 / cfg->rate;
}

int codec_frames_of_ms(double ms, int rate, int *nearest)
{
	double exact = ms * rate / 1000.0;
	double n = floor(exact + 0.5);

	if (nearest)
		*nearest = n >= 1.0 && n <= INT_MAX ? (int)n : 1;
	/* NaN fails the first comparison. */
	if (!(exact >= 0.5 && exact <= INT_MAX) || fabs(exact - n) > 0.01)
		return -EINVAL;
	return (int)n;
}

int codec_rtp_rate(const struct codec_config *cfg)
{
	return cfg->kind == CODEC_OPUS ? CODEC_OPUS_RTP_RATE : cfg->rate;
}

uint32_t codec_rtp_ticks(const struct codec_config *cfg, size_t frames)
{
	if (cfg->kind == CODEC_OPUS)
		return (uint32_t)((uint64_t)frames * CODEC_OPUS_RTP_RATE /
		                  (uint64_t)cfg->rate);
	return (uint32_t)frames;
}

size_t codec_max_payload(const struct codec_config *cfg)
{
	if (cfg->kind == CODEC_OPUS)
		return CODEC_OPUS_MAX_PACKET;
	int bps = cfg->kind == CODEC_L16 ? 2 : 3;
	return (size_t)codec_config_frames(cfg) * (size_t)cfg->channels *
	       (size_t)bps;
}

int codec_kind_parse(const char *name)
{
	if (!name)
		return -EINVAL;
	if (strcasecmp(name, "opus") == 0)
		return CODEC_OPUS;
	if (strcasecmp(name, "l16") == 0)
		return CODEC_L16;
	if (strcasecmp(name, "l24") == 0)
		return CODEC_L24;
	return -EINVAL;
}

const char *codec_kind_name(enum codec_kind kind)
{
	switch (kind) {
	case CODEC_OPUS:
		return "opus";
	case CODEC_L16:
		return "l16";
	case CODEC_L24:
		return "l24";
	default:
		return "none";
	}
}

int codec_app_parse(const char *name)
{
	if (!name)
		return -EINVAL;
	if (strcasecmp(name, "audio") == 0)
		return CODEC_APP_AUDIO;
	if (strcasecmp(name, "lowdelay") == 0 ||
	    strcasecmp(name, "restricted-lowdelay") == 0)
		return CODEC_APP_LOWDELAY;
	return -EINVAL;
}

const char *codec_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -EINVAL:
		return "invalid argument or configuration";
	case -ENOMEM:
		return "out of memory";
	case -ENOBUFS:
		return "output buffer too small";
	case -EBADMSG:
		return "malformed payload or packet";
	case -EMSGSIZE:
		return "packet too large";
	case -EPROTONOSUPPORT:
		return "unsupported RTP version";
	case -ENOTSUP:
		return "not supported by this codec";
	case -EIO:
		return "internal codec error";
	case -EAGAIN:
		return "sequence in probation";
	case -ERANGE:
		return "sequence jump, packet dropped";
	default:
		return "unknown error";
	}
}

const char *codec_lib_error(int lib_error)
{
	return lib_error == 0 ? "" : opus_strerror(lib_error);
}

/* Map an OPUS_* error code to a negated errno. */
static int codec_opus_errno(int err)
{
	switch (err) {
	case OPUS_BAD_ARG:
		return -EINVAL;
	case OPUS_BUFFER_TOO_SMALL:
		return -ENOBUFS;
	case OPUS_INVALID_PACKET:
		return -EBADMSG;
	case OPUS_UNIMPLEMENTED:
		return -ENOTSUP;
	case OPUS_ALLOC_FAIL:
		return -ENOMEM;
	case OPUS_INVALID_STATE:
	case OPUS_INTERNAL_ERROR:
	default:
		return -EIO;
	}
}

/* Apply one encoder setting, keeping the first failure. */
static int codec_opus_set(struct codec_encoder *enc, int err)
{
	if (err != OPUS_OK) {
		enc->lib_error = err;
		return codec_opus_errno(err);
	}
	return 0;
}

int codec_encoder_init(struct codec_encoder *enc,
                       const struct codec_config *cfg)
{
	int err;

	memset(enc, 0, sizeof(*enc));
	err = codec_config_check(cfg, NULL);
	if (err < 0)
		return err;
	enc->cfg = *cfg;
	enc->frames = codec_config_frames(cfg);
	if (cfg->kind != CODEC_OPUS)
		return 0;

	int app = cfg->application == CODEC_APP_LOWDELAY
	                  ? OPUS_APPLICATION_RESTRICTED_LOWDELAY
	                  : OPUS_APPLICATION_AUDIO;
	int oerr = OPUS_OK;
	enc->opus = opus_encoder_create(cfg->rate, cfg->channels, app, &oerr);
	if (!enc->opus) {
		enc->lib_error = oerr;
		return oerr == OPUS_OK ? -ENOMEM : codec_opus_errno(oerr);
	}
	OpusEncoder *o = enc->opus;
	err = codec_opus_set(
	        enc, opus_encoder_ctl(
	                     o, OPUS_SET_BITRATE(cfg->bitrate ? cfg->bitrate
	                                                      : OPUS_AUTO)));
	if (!err)
		err = codec_opus_set(
		        enc, opus_encoder_ctl(
		                     o, OPUS_SET_COMPLEXITY(cfg->complexity)));
	if (!err)
		err = codec_opus_set(
		        enc, opus_encoder_ctl(
		                     o, OPUS_SET_INBAND_FEC(cfg->fec ? 1 : 0)));
	if (!err)
		err = codec_opus_set(
		        enc, opus_encoder_ctl(o, OPUS_SET_PACKET_LOSS_PERC(
		                                         cfg->loss_pct)));
	if (err < 0)
		goto fail_opus;
	return 0;

fail_opus:
	opus_encoder_destroy(enc->opus);
	enc->opus = NULL;
	return err;
}

void codec_encoder_clear(struct codec_encoder *enc)
{
	if (enc->opus)
		opus_encoder_destroy(enc->opus);
	enc->opus = NULL;
}

int codec_encode(struct codec_encoder *enc, const float *pcm, size_t frames,
                 uint8_t *out, size_t cap)
{
	switch (enc->cfg.kind) {
	case CODEC_L16:
		return pcm_encode(16, enc->cfg.channels, pcm, frames, out, cap);
	case CODEC_L24:
		return pcm_encode(24, enc->cfg.channels, pcm, frames, out, cap);
	case CODEC_OPUS:
		break;
	default:
		return -EINVAL;
	}
	if (!enc->opus || frames > INT_MAX)
		return -EINVAL;
	if (cap > CODEC_OPUS_MAX_PACKET)
		cap = CODEC_OPUS_MAX_PACKET;
	int n = opus_encode_float(enc->opus, pcm, (int)frames, out,
	                          (opus_int32)cap);
	if (n < 0) {
		enc->lib_error = n;
		return codec_opus_errno(n);
	}
	return n;
}

int codec_encoder_lookahead(struct codec_encoder *enc)
{
	opus_int32 la = 0;

	if (!enc->opus)
		return 0;
	if (opus_encoder_ctl(enc->opus, OPUS_GET_LOOKAHEAD(&la)) != OPUS_OK)
		return 0;
	return (int)la;
}

int codec_decoder_init(struct codec_decoder *dec,
                       const struct codec_config *cfg)
{
	int err;

	memset(dec, 0, sizeof(*dec));
	err = codec_config_check(cfg, NULL);
	if (err < 0)
		return err;
	dec->cfg = *cfg;
	dec->frames = codec_config_frames(cfg);
	if (cfg->kind == CODEC_OPUS) {
		int oerr = OPUS_OK;
		dec->opus =
		        opus_decoder_create(cfg->rate, cfg->channels, &oerr);
		if (!dec->opus) {
			dec->lib_error = oerr;
			return oerr == OPUS_OK ? -ENOMEM
			                       : codec_opus_errno(oerr);
		}
		return 0;
	}
	size_t cap = (size_t)cfg->rate * CODEC_HOLD_MS / 1000;
	if (cap < (size_t)dec->frames)
		cap = (size_t)dec->frames;
	dec->hold = calloc(cap * (size_t)cfg->channels, sizeof(float));
	if (!dec->hold)
		return -ENOMEM;
	dec->hold_cap = cap;
	return 0;
}

void codec_decoder_clear(struct codec_decoder *dec)
{
	if (dec->opus)
		opus_decoder_destroy(dec->opus);
	dec->opus = NULL;
	free(dec->hold);
	dec->hold = NULL;
	dec->hold_cap = 0;
	dec->hold_frames = 0;
}

void codec_decoder_reset(struct codec_decoder *dec)
{
	if (dec->opus)
		opus_decoder_ctl(dec->opus, OPUS_RESET_STATE);
	dec->hold_frames = 0;
	dec->hold_pos = 0;
	dec->concealed = 0;
}

/* Keep the tail of a decoded PCM packet for concealment. */
static void codec_hold(struct codec_decoder *dec, const float *pcm,
                       size_t frames)
{
	size_t ch = (size_t)dec->cfg.channels;
	size_t keep = frames < dec->hold_cap ? frames : dec->hold_cap;

	memcpy(dec->hold, pcm + (frames - keep) * ch,
	       keep * ch * sizeof(float));
	dec->hold_frames = keep;
	dec->hold_pos = 0;
	dec->concealed = 0;
}

int codec_decode(struct codec_decoder *dec, const uint8_t *payload, size_t len,
                 float *pcm, size_t max_frames)
{
	int n;

	switch (dec->cfg.kind) {
	case CODEC_L16:
	case CODEC_L24:
		n = pcm_decode(dec->cfg.kind == CODEC_L16 ? 16 : 24,
		               dec->cfg.channels, payload, len, pcm,
		               max_frames);
		if (n > 0)
			codec_hold(dec, pcm, (size_t)n);
		return n;
	case CODEC_OPUS:
		break;
	default:
		return -EINVAL;
	}
	if (!dec->opus)
		return -EINVAL;
	/* A NULL or empty payload would silently run concealment inside
	   opus_decode: from the network it is a malformed packet. */
	if (!payload || len == 0 || len > INT32_MAX)
		return -EBADMSG;
	if (max_frames > INT_MAX)
		max_frames = INT_MAX;
	n = opus_decode_float(dec->opus, payload, (opus_int32)len, pcm,
	                      (int)max_frames, 0);
	if (n < 0) {
		dec->lib_error = n;
		return codec_opus_errno(n);
	}
	return n;
}

/* Check that a concealment length is a multiple of 2.5 ms (Opus rule). */
static int codec_opus_span_ok(const struct codec_decoder *dec, size_t frames)
{
	size_t quantum = (size_t)dec->cfg.rate / 400;

	return frames > 0 && frames <= INT_MAX && frames % quantum == 0;
}

int codec_conceal(struct codec_decoder *dec, float *pcm, size_t frames)
{
	size_t ch = (size_t)dec->cfg.channels;

	if (dec->cfg.kind == CODEC_OPUS) {
		if (!dec->opus || !codec_opus_span_ok(dec, frames))
			return -EINVAL;
		int n = opus_decode_float(dec->opus, NULL, 0, pcm, (int)frames,
		                          0);
		if (n < 0) {
			dec->lib_error = n;
			return codec_opus_errno(n);
		}
		return n;
	}
	if (dec->cfg.kind != CODEC_L16 && dec->cfg.kind != CODEC_L24)
		return -EINVAL;
	if (frames > INT_MAX)
		return -EINVAL;

	/* Repeat the held tail, gain falling linearly from 1 to 0 over the
	   fade time (counted in frames, so it ends exactly); then silence
	   until the next good packet. */
	size_t fade = (size_t)dec->cfg.rate * CODEC_FADE_MS / 1000;
	size_t i = 0;
	for (; i < frames && dec->hold_frames && dec->concealed < fade; i++) {
		float gain = 1.0f - (float)dec->concealed / (float)fade;
		const float *src = dec->hold + dec->hold_pos * ch;
		for (size_t c = 0; c < ch; c++)
			pcm[i * ch + c] = src[c] * gain;
		dec->concealed++;
		if (++dec->hold_pos == dec->hold_frames)
			dec->hold_pos = 0;
	}
	if (i < frames)
		memset(pcm + i * ch, 0, (frames - i) * ch * sizeof(float));
	return (int)frames;
}

int codec_decode_fec(struct codec_decoder *dec, const uint8_t *next, size_t len,
                     float *pcm, size_t frames)
{
	if (dec->cfg.kind != CODEC_OPUS)
		return dec->cfg.kind == CODEC_NONE ? -EINVAL : -ENOTSUP;
	if (!dec->opus || !codec_opus_span_ok(dec, frames))
		return -EINVAL;
	if (!next || len == 0 || len > INT32_MAX)
		return -EBADMSG;
	int n = opus_decode_float(dec->opus, next, (opus_int32)len, pcm,
	                          (int)frames, 1);
	if (n < 0) {
		dec->lib_error = n;
		return codec_opus_errno(n);
	}
	return n;
}
