/*
 * rtb_sender_compat: the sender's entry points of librtbridge 0.1, for
 * applications built against it
 *
 * 0.2 appended fields to struct rtb_sender_config and struct
 * rtb_sender_stats, which the application allocates. A binary built
 * against 0.1 calls rtb_sender_create_file@RTBRIDGE_0 (and _push, _stats)
 * with the shorter structs: these functions take them, copy them into the
 * current ones (the new fields zeroed: their defaults) or back out of
 * them, and call the current functions, which are
 * rtb_sender_*@@RTBRIDGE_0.2 (lib/librtbridge.map). The soname stays
 * librtbridge.so.0.
 *
 * Context: as the functions they stand for (include/rtbridge/sender.h).
 */
#include <stddef.h>
#include <string.h>

#include "lib/rtb_lib.h"

/* The 0.1 layouts: the current structs up to their first 0.2 field. */
#define RTB_CONFIG_0_1_SIZE offsetof(struct rtb_sender_config, frame_ms)
#define RTB_STATS_0_1_SIZE  offsetof(struct rtb_sender_stats, skipped)

/* Under names outside rtb_* (kept local by the map), exported only under
   their versioned aliases. */
RTB_API int rtbcompat_sender_create_file_0(const void *cfg, const char *path,
                                           struct rtb_sender **out, char *why,
                                           size_t len);
RTB_API int rtbcompat_sender_create_push_0(const void *cfg,
                                           struct rtb_sender **out, char *why,
                                           size_t len);
RTB_API void rtbcompat_sender_stats_0(const struct rtb_sender *s, void *st);

__asm__(".symver rtbcompat_sender_create_file_0,"
        "rtb_sender_create_file@RTBRIDGE_0");
__asm__(".symver rtbcompat_sender_create_push_0,"
        "rtb_sender_create_push@RTBRIDGE_0");
__asm__(".symver rtbcompat_sender_stats_0,rtb_sender_stats@RTBRIDGE_0");

static void rtb_sender_compat__config(struct rtb_sender_config *c,
                                      const void *old)
{
	memset(c, 0, sizeof(*c));
	memcpy(c, old, RTB_CONFIG_0_1_SIZE);
}

RTB_API int rtbcompat_sender_create_file_0(const void *cfg, const char *path,
                                           struct rtb_sender **out, char *why,
                                           size_t len)
{
	struct rtb_sender_config c;

	rtb_sender_compat__config(&c, cfg);
	return rtb_sender_create_file(&c, path, out, why, len);
}

RTB_API int rtbcompat_sender_create_push_0(const void *cfg,
                                           struct rtb_sender **out, char *why,
                                           size_t len)
{
	struct rtb_sender_config c;

	rtb_sender_compat__config(&c, cfg);
	return rtb_sender_create_push(&c, out, why, len);
}

RTB_API void rtbcompat_sender_stats_0(const struct rtb_sender *s, void *st)
{
	struct rtb_sender_stats x;

	rtb_sender_stats(s, &x);
	memcpy(st, &x, RTB_STATS_0_1_SIZE);
}
