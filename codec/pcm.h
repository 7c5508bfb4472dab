/*
 * Linear PCM payloads: L16 and L24 in network byte order (RFC 3551), and
 * the float <-> integer sample conversions behind them
 *
 * Pure functions on caller buffers: no state, no allocation, callable from
 * any thread including the audio callback. Float samples are scaled by
 * 2^15 (L16) or 2^23 (L24), rounded to nearest and clipped, so an integer
 * sample converted to float and back is bit-exact.
 */
#ifndef RTB_CODEC_PCM_H
#define RTB_CODEC_PCM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Convert n float samples to 16-bit big-endian (2n bytes); NaN becomes 0
 *
 * Context: any, real-time safe
 */
void pcm_float_to_s16be(const float *in, size_t n, uint8_t *out);

/*
 * Convert n 16-bit big-endian samples (2n bytes) to float in [-1, 1)
 *
 * Context: any, real-time safe
 */
void pcm_s16be_to_float(const uint8_t *in, size_t n, float *out);

/*
 * Convert n float samples to 24-bit big-endian (3n bytes); NaN becomes 0
 *
 * Context: any, real-time safe
 */
void pcm_float_to_s24be(const float *in, size_t n, uint8_t *out);

/*
 * Convert n 24-bit big-endian samples (3n bytes) to float in [-1, 1)
 *
 * Context: any, real-time safe
 */
void pcm_s24be_to_float(const uint8_t *in, size_t n, float *out);

/*
 * Bytes per sample of an L16 (16) or L24 (24) payload
 *
 * Return: 2 or 3, or -EINVAL for another bit depth
 * Context: any
 */
int pcm_sample_bytes(int bits);

/*
 * Pack interleaved float frames into an L16/L24 payload
 *
 * Return: bytes written, -EINVAL for bad bits/channels, -ENOBUFS if cap is
 *         too small
 * Context: any, real-time safe
 */
int pcm_encode(int bits, int channels, const float *pcm, size_t frames,
               uint8_t *out, size_t cap);

/*
 * Unpack an L16/L24 payload into interleaved float frames
 *
 * Return: frames written, -EINVAL for bad bits/channels, -EBADMSG if len is
 *         not a whole number of frames, -ENOBUFS if the payload has more
 *         than max_frames frames
 * Context: any, real-time safe
 */
int pcm_decode(int bits, int channels, const uint8_t *payload, size_t len,
               float *pcm, size_t max_frames);

#endif
