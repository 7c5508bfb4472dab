/*
 * rtb_receiver_compat: the receiver's and the engine's entry points of
 * librtbridge 0.1 and 0.2, for applications built against them
 *
 * 0.3 appended fields to struct rtb_receiver_config, struct
 * rtb_stream_stats, struct rtb_engine_config and struct rtb_engine_stats,
 * which the application allocates. A binary built against 0.2 (or 0.1: these
 * structs did not change between them) calls rtb_receiver_create@RTBRIDGE_0
 * (and rtb_receiver_stream_stats, rtb_engine_create, rtb_engine_stats) with the
 * shorter structs: these functions copy them into the current ones (the new
 * fields zeroed: the old behaviour) or back out of them, and call the current
 * functions, rtb_*@@RTBRIDGE_0.3 (lib/librtbridge.map). The structs the library
 * hands to callbacks only grew at their end: an older binary reads what
 * it knows.
 *
 * Context: as the functions they stand for (include/rtbridge/).
 */
#include <stddef.h>
#include <string.h>

#include "lib/rtb_lib.h"

/* The 0.2 layouts: the current structs up to their first 0.3 field. */
#define RTB_RECV_CONFIG_0_2_SIZE offsetof(struct rtb_receiver_config, srtp_key)
#define RTB_STREAM_STATS_0_2_SIZE                                              \
	offsetof(struct rtb_stream_stats, late_repairs)
#define RTB_ENGINE_CONFIG_0_2_SIZE offsetof(struct rtb_engine_config, archives)
#define RTB_ENGINE_STATS_0_2_SIZE                                              \
	offsetof(struct rtb_engine_stats, callback_median_us)

/* Under names outside rtb_* (kept local by the map), exported only under
   their versioned aliases. */
RTB_API int rtbcompat_receiver_create_0(struct rtb_engine *e, const void *cfg,
                                        struct rtb_receiver **out, char *why,
                                        size_t len);
RTB_API int rtbcompat_receiver_stream_stats_0(struct rtb_receiver *r,
                                              uint64_t id, void *st);
RTB_API int rtbcompat_engine_create_0(const void *cfg, struct rtb_engine **out,
                                      char *why, size_t len);

__asm__(".symver rtbcompat_receiver_create_0,"
        "rtb_receiver_create@RTBRIDGE_0");
__asm__(".symver rtbcompat_receiver_stream_stats_0,"
        "rtb_receiver_stream_stats@RTBRIDGE_0");
RTB_API void rtbcompat_engine_stats_0(const struct rtb_engine *e, void *st);

__asm__(".symver rtbcompat_engine_create_0,rtb_engine_create@RTBRIDGE_0");
__asm__(".symver rtbcompat_engine_stats_0,rtb_engine_stats@RTBRIDGE_0");

RTB_API int rtbcompat_receiver_create_0(struct rtb_engine *e, const void *cfg,
                                        struct rtb_receiver **out, char *why,
                                        size_t len)
{
	struct rtb_receiver_config c;

	memset(&c, 0, sizeof(c));
	memcpy(&c, cfg, RTB_RECV_CONFIG_0_2_SIZE);
	return rtb_receiver_create(e, &c, out, why, len);
}

RTB_API int rtbcompat_receiver_stream_stats_0(struct rtb_receiver *r,
                                              uint64_t id, void *st)
{
	struct rtb_stream_stats x;

	int rc = rtb_receiver_stream_stats(r, id, &x);
	if (rc == 0)
		memcpy(st, &x, RTB_STREAM_STATS_0_2_SIZE);
	return rc;
}

RTB_API int rtbcompat_engine_create_0(const void *cfg, struct rtb_engine **out,
                                      char *why, size_t len)
{
	struct rtb_engine_config c;

	memset(&c, 0, sizeof(c));
	memcpy(&c, cfg, RTB_ENGINE_CONFIG_0_2_SIZE);
	return rtb_engine_create(&c, out, why, len);
}

RTB_API void rtbcompat_engine_stats_0(const struct rtb_engine *e, void *st)
{
	struct rtb_engine_stats x;

	rtb_engine_stats(e, &x);
	memcpy(st, &x, RTB_ENGINE_STATS_0_2_SIZE);
}
