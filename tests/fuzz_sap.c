/*
 * libFuzzer target: everything `recv --sap` and `rtbridge list` do with
 * SAP datagrams and the SDP they carry, on arbitrary input
 *
 * The whole input is read as an SDP text (sdpparse_parse_n, then the codec
 * configuration it gives, which must pass codec_config_check). Then it is cut
 * at every "\xff\xfe" into datagrams that are fed in turn to a session table,
 * one simulated second apart, with an expiry pass after every fourth (3 s
 * time-out), so that announcements, changes, deletions and expiries of up to
 * SAPTABLE_MAX sessions mix in any order. Every event is checked for what the
 * table promises: a NEW id was never seen, the others name a known session. The
 * table is reset for each input, so a crash reproduces from its input alone.
 * Built only with -DRTB_FUZZ=ON (clang).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/net/saptable.h"
#include "bridge/net/sdpparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct saptable fuzz_table;
static unsigned fuzz_live[SAPTABLE_MAX + 1]; /* ids known now, 0: free */

static void fuzz_event(void *arg, const struct saptable_event *ev)
{
	size_t free_slot = SAPTABLE_MAX + 1, at = SAPTABLE_MAX + 1;

	(void)arg;
	for (size_t i = 0; i <= SAPTABLE_MAX; i++) {
		if (fuzz_live[i] == ev->id)
			at = i;
		else if (fuzz_live[i] == 0 && free_slot > SAPTABLE_MAX)
			free_slot = i;
	}
	if (ev->kind == SAPTABLE_NEW) {
		if (at <= SAPTABLE_MAX || free_slot > SAPTABLE_MAX)
			abort(); /* an id reused, or more sessions than room */
		fuzz_live[free_slot] = ev->id;
		return;
	}
	if (at > SAPTABLE_MAX)
		abort(); /* an event for a session never announced */
	if (ev->kind != SAPTABLE_CHANGED)
		fuzz_live[at] = 0;
	/* What a receiver reads from the event is terminated text. */
	if (memchr(ev->sdp.name, '\0', sizeof ev->sdp.name) == NULL ||
	    memchr(ev->sdp.origin, '\0', sizeof ev->sdp.origin) == NULL ||
	    memchr(ev->sdp.addr, '\0', sizeof ev->sdp.addr) == NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sdpparse_result r;
	struct codec_config c;
	char err[160];
	uint64_t now = 0;
	size_t start = 0;
	unsigned n = 0;

	if (sdpparse_parse_n(&r, (const char *)data, size, err, sizeof err) ==
	    0) {
		sdpparse_codec(&r, &c);
		if (codec_config_check(&c, NULL) < 0)
			abort(); /* sdpparse_codec promises a usable one */
	}

	saptable_init(&fuzz_table);
	memset(fuzz_live, 0, sizeof fuzz_live);
	for (size_t i = 0; i <= size; i++) {
		if (i < size &&
		    !(i + 1 < size && data[i] == 0xff && data[i + 1] == 0xfe))
			continue;
		saptable_datagram(&fuzz_table, data + start, i - start, now,
		                  fuzz_event, NULL);
		now += 1000000000ull;
		if (++n % 4 == 0)
			saptable_expire(&fuzz_table, now, 3000000000ull,
			                fuzz_event, NULL);
		start = i + 2;
		i++;
	}
	if (saptable_count(&fuzz_table) > SAPTABLE_MAX)
		abort();
	return 0;
}
