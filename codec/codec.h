/*
 * One interface over the payload codecs: Opus (RFC 7587) and linear PCM
 * L16/L24 (RFC 3551)
 *
 * Audio is float32, interleaved, nominally in [-1, 1]. A configuration says
 * which codec, at what rate and channel count, and how long one packet is.
 * The encoder and decoder are caller-allocated structs: init/clear run on the
 * control thread and may allocate; encode, decode and conceal never allocate,
 * lock or make system calls, so they may run on the audio or net thread.
 * Each encoder or decoder belongs to one thread at a time. Nothing here keeps
 * global state.
 *
 * Errors are negated errno values; for Opus the library's own code is kept
 * in the struct (lib_error) and its text is available from codec_lib_error().
 */
#ifndef RTB_CODEC_CODEC_H
#define RTB_CODEC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct OpusEncoder;
struct OpusDecoder;

enum codec_kind {
	CODEC_NONE = 0,
	CODEC_OPUS,
	CODEC_L16,
	CODEC_L24,
};

enum codec_app {
	CODEC_APP_AUDIO = 0, /* OPUS_APPLICATION_AUDIO */
	CODEC_APP_LOWDELAY,  /* OPUS_APPLICATION_RESTRICTED_LOWDELAY */
};

/* Limits shared by the codecs. */
#define CODEC_MAX_CHANNELS     8
#define CODEC_PCM_MIN_PTIME_NS 125000   /* AES67's shortest packet time */
#define CODEC_PCM_MAX_PTIME_NS 20000000 /* longest PCM packet: 20 ms */
#define CODEC_OPUS_RTP_RATE    48000    /* RFC 7587: always 48 kHz ticks */
#define CODEC_OPUS_MAX_PACKET  4000     /* bytes; 3 * 1275 + 7 rounded up */
#define CODEC_MAX_PAYLOAD      65495    /* bytes: UDP maximum - RTP header */

struct codec_config {
	enum codec_kind kind;
	int rate;       /* Hz; Opus: 8000, 12000, 16000, 24000, 48000 */
	int channels;   /* 1..8; Opus: 1 or 2 */
	int frame_us;   /* packet duration in microseconds; Opus:
	                   2500, 5000, 10000 or 20000 */
	int frames;     /* PCM: frames per packet when > 0 (then it rules and
	                   frame_us is only its rounded duration); 0: taken
	                   from frame_us, which must be whole frames */
	int bitrate;    /* Opus, bit/s; 0 = the library's choice */
	int complexity; /* Opus, 0..10 */
	enum codec_app application; /* Opus */
	bool fec;                   /* Opus in-band FEC */
	int loss_pct;               /* Opus expected packet loss, 0..100 % */
};

struct codec_encoder {
	struct codec_config cfg;
	int frames;               /* frames per packet */
	struct OpusEncoder *opus; /* NULL for PCM */
	int lib_error;            /* last OPUS_* code, 0 if none */
};

struct codec_decoder {
	struct codec_config cfg;
	int frames;               /* nominal frames per packet */
	struct OpusDecoder *opus; /* NULL for PCM */
	int lib_error;            /* last OPUS_* code, 0 if none */
	/* PCM concealment: the tail of the last good packet, repeated with a
	   fade-out. hold has hold_cap frames of storage. */
	float *hold;
	size_t hold_cap;
	size_t hold_frames; /* valid frames in hold */
	size_t hold_pos;    /* next frame of hold to repeat */
	size_t concealed;   /* frames concealed since the last packet */
};

/*
 * Fill a configuration with the defaults for a codec: 48 kHz stereo; Opus
 * 20 ms, 128 kbit/s, complexity 10, audio, no FEC; L16/L24 5 ms (a packet
 * that fits an Ethernet MTU)
 *
 * Context: any
 */
void codec_config_default(struct codec_config *cfg, enum codec_kind kind);

/*
 * Check a configuration
 *
 * Return: 0 if usable, -EINVAL (or -EMSGSIZE for a PCM packet too large for
 *         UDP) otherwise
 * Post: if why is not NULL, *why is a one-line static explanation ("" when
 *       the configuration is fine)
 * Context: any
 */
int codec_config_check(const struct codec_config *cfg, const char **why);

/*
 * Frames (samples per channel) in one packet of this configuration
 *
 * Pre: codec_config_check(cfg) == 0
 * Context: any
 */
int codec_config_frames(const struct codec_config *cfg);

/*
 * Give the packet length as a whole number of frames (PCM: any count
 * from 0.125 ms to 20 ms worth, e.g. 213 frames = 4.4375 ms at 48 kHz):
 * sets frames, and frame_us to that duration rounded to the microsecond
 *
 * Pre: cfg->rate > 0
 * Context: any
 */
void codec_config_set_frames(struct codec_config *cfg, int frames);

/*
 * Packet duration in ms (what SDP's a=ptime says: 4.4375 for 213 frames
 * at 48 kHz)
 *
 * Pre: codec_config_check(cfg) == 0
 * Context: any
 */
double codec_config_ptime_ms(const struct codec_config *cfg);

/*
 * Frames per packet for a packet time in ms at `rate` Hz, when that is a
 * whole number of frames (within 1/100 of a frame, so that 1.0884 ms at
 * 44.1 kHz is 48 frames)
 *
 * Return: the frame count, or -EINVAL when ms is no whole number of frames
 *         (*nearest, when not NULL, is the closest count, at least 1)
 * Context: any
 */
int codec_frames_of_ms(double ms, int rate, int *nearest);

/*
 * RTP clock rate of the payload: 48000 for Opus, the sample rate for PCM
 *
 * Context: any
 */
int codec_rtp_rate(const struct codec_config *cfg);

/*
 * RTP timestamp ticks spanned by a number of frames at the codec's rate
 *
 * Pre: codec_config_check(cfg) == 0
 * Context: any
 */
uint32_t codec_rtp_ticks(const struct codec_config *cfg, size_t frames);

/*
 * Largest payload in bytes one packet of this configuration can produce
 *
 * Pre: codec_config_check(cfg) == 0
 * Context: any
 */
size_t codec_max_payload(const struct codec_config *cfg);

/*
 * Parse a codec name: "opus", "l16" or "l24" (any case)
 *
 * Return: the kind, or -EINVAL for an unknown name
 * Context: any
 */
int codec_kind_parse(const char *name);

/*
 * Return: the lower-case name of a kind ("opus", "l16", "l24"), or "none"
 * Context: any
 */
const char *codec_kind_name(enum codec_kind kind);

/*
 * Parse an Opus application name: "audio" or "lowdelay"
 *
 * Return: the application, or -EINVAL
 * Context: any
 */
int codec_app_parse(const char *name);

/*
 * One-line text for an error returned by this module
 *
 * Return: a static string
 * Context: any
 */
const char *codec_strerror(int err);

/*
 * The codec library's own text for a lib_error value (opus_strerror)
 *
 * Return: a static string; "" for 0
 * Context: any
 */
const char *codec_lib_error(int lib_error);

/*
 * Set up an encoder
 *
 * Return: 0, -EINVAL for a bad configuration, -ENOMEM
 * Post: on success enc must be cleared with codec_encoder_clear()
 * Context: control thread (allocates)
 */
int codec_encoder_init(struct codec_encoder *enc,
                       const struct codec_config *cfg);

/*
 * Release an encoder; clearing a zeroed or cleared struct is a no-op
 *
 * Context: control thread (frees)
 */
void codec_encoder_clear(struct codec_encoder *enc);

/*
 * Encode one packet
 *
 * Pre: pcm holds frames * channels samples; Opus: frames is a valid Opus
 *      frame size (2.5..60 ms) at the configured rate
 * Return: payload bytes written to out, -EINVAL for a bad frame count,
 *         -ENOBUFS if cap is too small, -EIO for an internal codec failure
 * Context: any (audio or net thread), real-time safe: never allocates
 */
int codec_encode(struct codec_encoder *enc, const float *pcm, size_t frames,
                 uint8_t *out, size_t cap);

/*
 * Codec delay in frames at the configured rate (Opus look-ahead; 0 for PCM)
 *
 * Context: any, real-time safe
 */
int codec_encoder_lookahead(struct codec_encoder *enc);

/*
 * Set up a decoder
 *
 * Return: 0, -EINVAL for a bad configuration, -ENOMEM
 * Post: on success dec must be cleared with codec_decoder_clear()
 * Context: control thread (allocates)
 */
int codec_decoder_init(struct codec_decoder *dec,
                       const struct codec_config *cfg);

/*
 * Release a decoder; clearing a zeroed or cleared struct is a no-op
 *
 * Context: control thread (frees)
 */
void codec_decoder_clear(struct codec_decoder *dec);

/*
 * Decode one payload (bytes from the network: every length is checked)
 *
 * Return: frames written to pcm (max_frames * channels samples of room),
 *         -EBADMSG for a malformed payload (PCM: not a whole number of
 *         frames; Opus: invalid packet), -ENOBUFS if it holds more than
 *         max_frames frames
 * Context: any (audio or net thread), real-time safe: never allocates
 */
int codec_decode(struct codec_decoder *dec, const uint8_t *payload, size_t len,
                 float *pcm, size_t max_frames);

/*
 * Fill a gap of lost audio: Opus packet loss concealment, PCM a fading
 * repeat of the last packet's tail (silence if there was none)
 *
 * Pre: Opus: frames is a multiple of 2.5 ms at the configured rate
 * Return: frames written (== frames), or -EINVAL
 * Context: any (audio or net thread), real-time safe: never allocates
 */
int codec_conceal(struct codec_decoder *dec, float *pcm, size_t frames);

/*
 * Recover a lost packet from the in-band FEC data of the packet after it
 * (Opus only); runs concealment if that packet carries no FEC
 *
 * Pre: frames is the lost duration, a multiple of 2.5 ms
 * Return: frames written, -EBADMSG, -EINVAL, or -ENOTSUP for PCM
 * Context: any (audio or net thread), real-time safe: never allocates
 */
int codec_decode_fec(struct codec_decoder *dec, const uint8_t *next, size_t len,
                     float *pcm, size_t frames);

/*
 * Forget the decoder's history (after a stream restart)
 *
 * Context: any, real-time safe
 */
void codec_decoder_reset(struct codec_decoder *dec);

#endif
