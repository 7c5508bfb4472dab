/*
 * The codec interface: configuration checks, names, errors, RTP clock maths.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include <opus/opus.h>

#include "codec/codec.h"

TestSuite(codec, .timeout = 30);

Test(codec, defaults_are_valid)
{
	struct codec_config cfg;
	const char *why = NULL;

	for (enum codec_kind k = CODEC_OPUS; k <= CODEC_L24; k++) {
		codec_config_default(&cfg, k);
		cr_assert_eq(codec_config_check(&cfg, &why), 0, "%s: %s",
		             codec_kind_name(k), why);
		cr_assert_str_empty(why);
	}
	codec_config_default(&cfg, CODEC_OPUS);
	cr_assert_eq(codec_config_frames(&cfg), 960);
	codec_config_default(&cfg, CODEC_L24);
	cr_assert_eq(codec_config_frames(&cfg), 240);
	cr_assert_eq(codec_max_payload(&cfg), 240 * 2 * 3);
}

/* Expect a configuration to be refused with err and a reason containing
   the word given. */
static void refused(const struct codec_config *cfg, int err, const char *word)
{
	const char *why = NULL;

	cr_assert_eq(codec_config_check(cfg, &why), err);
	cr_assert_not_null(why);
	cr_assert(strstr(why, word) != NULL, "reason '%s' lacks '%s'", why,
	          word);
	cr_assert_null(strchr(why, '\n'));

	struct codec_encoder enc;
	struct codec_decoder dec;
	cr_assert_eq(codec_encoder_init(&enc, cfg), err);
	cr_assert_eq(codec_decoder_init(&dec, cfg), err);
	codec_encoder_clear(&enc);
	codec_decoder_clear(&dec);
}

Test(codec, refuses_unsupported_opus_settings)
{
	struct codec_config cfg;

	codec_config_default(&cfg, CODEC_OPUS);
	cfg.frame_us = 15000;
	refused(&cfg, -EINVAL, "2.5");
	cfg.frame_us = 40000;
	refused(&cfg, -EINVAL, "frame");
	codec_config_default(&cfg, CODEC_OPUS);
	cfg.channels = 3;
	refused(&cfg, -EINVAL, "channels");
	codec_config_default(&cfg, CODEC_OPUS);
	cfg.rate = 44100;
	refused(&cfg, -EINVAL, "rate");
	codec_config_default(&cfg, CODEC_OPUS);
	cfg.bitrate = 1000;
	refused(&cfg, -EINVAL, "bitrate");
	codec_config_default(&cfg, CODEC_OPUS);
	cfg.complexity = 11;
	refused(&cfg, -EINVAL, "complexity");
	codec_config_default(&cfg, CODEC_OPUS);
	cfg.loss_pct = 101;
	refused(&cfg, -EINVAL, "loss");
}

Test(codec, refuses_unsupported_pcm_settings)
{
	struct codec_config cfg;

	codec_config_default(&cfg, CODEC_L16);
	cfg.channels = 9;
	refused(&cfg, -EINVAL, "channels");
	cfg.channels = 0;
	refused(&cfg, -EINVAL, "channels");
	codec_config_default(&cfg, CODEC_L16);
	cfg.rate = 44100;
	cfg.frame_us = 2500; /* 110.25 frames */
	refused(&cfg, -EINVAL, "whole number");
	codec_config_default(&cfg, CODEC_L24);
	cfg.frame_us = 100000; /* PCM packets last at most 20 ms */
	refused(&cfg, -EINVAL, "0.125 to 20 ms");
	cfg.frame_us = 100; /* 4.8 frames */
	refused(&cfg, -EINVAL, "whole number");
	codec_config_set_frames(&cfg, 5); /* 0.104 ms: below AES67's 0.125 */
	refused(&cfg, -EINVAL, "0.125 to 20 ms");
	codec_config_default(&cfg, CODEC_L24);
	cfg.rate = 768000;
	cfg.channels = 8;
	cfg.frame_us = 20000; /* 15360 frames * 24 bytes */
	refused(&cfg, -EMSGSIZE, "UDP");
	cfg.kind = (enum codec_kind)42;
	refused(&cfg, -EINVAL, "codec");
}

Test(codec, parses_names_in_any_case)
{
	cr_assert_eq(codec_kind_parse("opus"), CODEC_OPUS);
	cr_assert_eq(codec_kind_parse("OPUS"), CODEC_OPUS);
	cr_assert_eq(codec_kind_parse("l16"), CODEC_L16);
	cr_assert_eq(codec_kind_parse("L24"), CODEC_L24);
	cr_assert_eq(codec_kind_parse("l32"), -EINVAL);
	cr_assert_eq(codec_kind_parse(""), -EINVAL);
	cr_assert_eq(codec_kind_parse(NULL), -EINVAL);
	for (enum codec_kind k = CODEC_OPUS; k <= CODEC_L24; k++)
		cr_assert_eq(codec_kind_parse(codec_kind_name(k)), (int)k);
	cr_assert_str_eq(codec_kind_name(CODEC_NONE), "none");
	cr_assert_eq(codec_app_parse("audio"), CODEC_APP_AUDIO);
	cr_assert_eq(codec_app_parse("LowDelay"), CODEC_APP_LOWDELAY);
	cr_assert_eq(codec_app_parse("voip"), -EINVAL);
}

Test(codec, explains_errors_in_one_line)
{
	int errs[] = {-EINVAL,          -ENOMEM,  -ENOBUFS, -EBADMSG, -EMSGSIZE,
	              -EPROTONOSUPPORT, -ENOTSUP, -EIO,     -EAGAIN,  -ERANGE};

	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		const char *s = codec_strerror(errs[i]);
		cr_assert(s && *s && !strchr(s, '\n'));
		cr_assert_str_neq(s, "unknown error");
	}
	cr_assert_str_eq(codec_lib_error(0), "");
	cr_assert_str_eq(codec_lib_error(OPUS_BAD_ARG),
	                 opus_strerror(OPUS_BAD_ARG));
}

Test(codec, rtp_clock_is_48k_for_opus_at_any_rate)
{
	struct codec_config cfg;

	codec_config_default(&cfg, CODEC_OPUS);
	cfg.rate = 16000;
	cfg.frame_us = 10000;
	cr_assert_eq(codec_config_check(&cfg, NULL), 0);
	cr_assert_eq(codec_config_frames(&cfg), 160);
	cr_assert_eq(codec_rtp_rate(&cfg), 48000);
	cr_assert_eq(codec_rtp_ticks(&cfg, 160), 480u);
	cfg.rate = 48000;
	cfg.frame_us = 2500;
	cr_assert_eq(codec_config_frames(&cfg), 120);
	cr_assert_eq(codec_rtp_ticks(&cfg, 120), 120u);

	codec_config_default(&cfg, CODEC_L16);
	cfg.rate = 44100;
	cfg.frame_us = 10000;
	cr_assert_eq(codec_rtp_rate(&cfg), 44100);
	cr_assert_eq(codec_rtp_ticks(&cfg, 441), 441u);
}

Test(codec, clearing_twice_or_zeroed_is_harmless)
{
	struct codec_encoder enc;
	struct codec_decoder dec;
	struct codec_config cfg;

	memset(&enc, 0, sizeof(enc));
	memset(&dec, 0, sizeof(dec));
	codec_encoder_clear(&enc);
	codec_decoder_clear(&dec);
	codec_config_default(&cfg, CODEC_OPUS);
	cr_assert_eq(codec_encoder_init(&enc, &cfg), 0);
	cr_assert_eq(codec_decoder_init(&dec, &cfg), 0);
	codec_encoder_clear(&enc);
	codec_encoder_clear(&enc);
	codec_decoder_clear(&dec);
	codec_decoder_clear(&dec);
}
