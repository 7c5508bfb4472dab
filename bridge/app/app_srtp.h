/*
 * app_srtp: the SRTP options of `send`, `sdp` and `recv` (--srtp-key,
 * --srtp-suite) and where the key comes from
 *
 * A key is base64 of the suite's master key + salt (30 bytes for
 * AES_CM_128_HMAC_SHA1_80, 28 for AEAD_AES_128_GCM), given as "@FILE" (a
 * file holding that text, which should be readable by its owner only: a
 * warning says so otherwise) or, discouraged, as the text itself, which
 * every local user can read in the process list until it is parsed (it
 * is then overwritten in argv). The key is never printed; every buffer
 * that held it is zeroed before these functions return.
 *
 * Context: control (main) thread.
 */
#ifndef RTB_APP_SRTP_H
#define RTB_APP_SRTP_H

#include "bridge/app/app_opts.h"
#include "bridge/net/srtpkey.h"

extern const char *const app_srtp_suites[]; /* NULL-terminated */

#define APP_OPT_SRTP_KEY(field)                                                \
	APP_STR("--srtp-key", field, "@FILE|KEY",                              \
	        "encrypt and authenticate with SRTP: base64 of the\n"          \
	        "master key + salt (30 bytes; 28 for GCM), best as\n"          \
	        "@FILE, a file only you can read (a KEY typed here\n"          \
	        "shows in the process list). A new key file:\n"                \
	        "  (umask 077; head -c 30 /dev/urandom | base64 > k)")
#define APP_OPT_SRTP_SUITE(field)                                              \
	APP_CHOICE("--srtp-suite", field, app_srtp_suites, "NAME",             \
	           "AES_CM_128_HMAC_SHA1_80 (default) or AEAD_AES_128_GCM")

/*
 * Read the key of --srtp-key `arg` (base64 text, or @FILE) for the suite
 * named `suite` (NULL: the default). A key given as text is overwritten
 * in place.
 *
 * Pre: arg is an argv string (writable, C11 5.1.2.2.1)
 *
 * Return: 0, or -EINVAL after printing one line "rtbridge CMD: ..."
 *         naming the file or option and what is wrong (never the key)
 * Post: on failure k holds no key material
 */
int app_srtp_key(const char *cmd, const char *arg, const char *suite,
                 struct srtpkey *k);

#endif
