/*
 * The jitter buffer's pull side: priming, handing packets out in sequence
 * or declaring them missing (lost, or not due yet: inserted), and the
 * consumer's error against the schedule (see jitter.h, jitter_impl.h)
 *
 * Context: audio thread, real-time safe: bounded work on the slot ring.
 */
#include <string.h>

#include "bridge/net/jitter.h"
#include "bridge/net/jitter_impl.h"

struct jitter_slot *jitter__lowest(const struct jitter *j)
{
	if (!j->held)
		return NULL;
	for (uint64_t seq = j->next_seq; seq <= j->high_seq; seq++) {
		struct jitter_slot *s = &j->slots[seq & j->mask];
		if (jitter__slot_state(j, s) == JITTER_SLOT_HELD &&
		    s->seq == seq)
			return s;
		if (seq - j->next_seq > j->mask)
			break;
	}
	return NULL;
}

/* Whether some held packet is still in time for the schedule. */
static bool jitter_any_in_time(const struct jitter *j, int64_t now_ns)
{
	for (uint64_t seq = j->next_seq;
	     seq <= j->high_seq && seq - j->next_seq <= j->mask; seq++) {
		const struct jitter_slot *s = &j->slots[seq & j->mask];
		if (jitter__slot_state(j, s) == JITTER_SLOT_HELD &&
		    s->seq == seq &&
		    jitter__due(j, s->ts) + (int64_t)j->frame_ns >= now_ns)
			return true;
	}
	return false;
}

/*
 * While waiting: start when the first packet is due. Nothing held is
 * dropped here: packets the schedule has left behind while newer ones are
 * in time (a burst of queued packets at a stream's start, the backlog of a
 * network stall) are played from the first, and the consumer sheds the
 * excess (netstream skips ahead, recording everything). If no held packet
 * is in time, the sender's timeline itself moved (it paused without
 * advancing its timestamps): the map is re-anchored on the first packet,
 * as if it had arrived with the minimum transit time.
 */
static int jitter_prime(struct jitter *j, uint64_t now_ns)
{
	struct jitter_slot *s = jitter__lowest(j);

	/* Sync: a packet past its media time + delay is late, whatever
	   else is held; the schedule is the media clock's, never moved. */
	while (j->cfg.sync_ms && s &&
	       jitter__due(j, s->ts) + (int64_t)j->frame_ns < (int64_t)now_ns) {
		j->release(j->arg, s->pkt);
		s->pkt = NULL;
		s->state = JITTER_SLOT_CONCEALED;
		s->epoch = j->epoch;
		j->held--;
		j->st.late++;
		j->next_seq = s->seq + 1;
		s = jitter__lowest(j);
	}
	if (!s)
		return 0;
	int64_t due = jitter__due(j, s->ts);
	if (due + (int64_t)j->frame_ns < (int64_t)now_ns &&
	    !jitter_any_in_time(j, (int64_t)now_ns)) {
		/* Due at its arrival + target, or now if that has passed
		   too: the floor is pinned there. */
		int64_t at = (int64_t)s->pkt->arrival_ns;
		int64_t transit = at - jitter__media_ns(j, s->ts);
		clockfit_pin(&j->fit, at, transit);
		due = jitter__due(j, s->ts);
		if (due < (int64_t)now_ns) {
			clockfit_pin(&j->fit, at,
			             transit + (int64_t)now_ns - due);
			due = (int64_t)now_ns;
		}
	}
	if (due > (int64_t)now_ns)
		return 0;
	j->next_seq = s->seq;
	j->pos_ts = s->ts;
	j->state = JITTER_PLAYING;
	j->playing_since = now_ns;
	j->dry_ticks = 0;
	if (j->stopped)
		j->st.rebuffers++;
	j->stopped = false;
	return 1;
}

int jitter_next(struct jitter *j, uint64_t now_ns, struct jitter_out *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = JITTER_WAIT;
	if (j->state == JITTER_IDLE)
		return out->kind;
	if (j->state == JITTER_PRIMING && !jitter_prime(j, now_ns))
		return out->kind;

	uint32_t frame = j->cfg.frame_ticks;
	struct jitter_slot *s = &j->slots[j->next_seq & j->mask];
	if (jitter__slot_state(j, s) == JITTER_SLOT_HELD &&
	    s->seq == j->next_seq) {
		if (s->ts - j->pos_ts >= (int64_t)frame) {
			/* The sender skipped time (a pause without a
			   sequence gap): fill it, one frame at a time. */
			j->pos_ts += frame;
			out->kind = JITTER_MISSING;
			out->ticks = frame;
			out->next = s->pkt;
			return out->kind;
		}
		if (j->dry_ticks > 0 &&
		    (int64_t)now_ns + (int64_t)(j->frame_ns / 2) <
		            jitter__due(j, j->pos_ts)) {
			/* Coming out of a dry run (a stall) ahead of a
			   schedule the stall pushed later (the target rose):
			   the glitch is there already, so the buffer grows
			   to its new target now, by concealment inserted
			   before the packet, rather than by seconds of
			   slowing down. */
			out->kind = JITTER_MISSING;
			out->ticks = frame;
			out->insert = true;
			j->st.inserted++;
			return out->kind;
		}
		out->kind = JITTER_PACKET;
		out->pkt = s->pkt;
		out->ticks = frame;
		if (s->pkt->flags & PACKET_RECOVERED)
			j->st.recovered++;
		out->restart = j->fresh;
		j->fresh = false;
		s->pkt = NULL;
		s->state = JITTER_SLOT_PLAYED;
		s->epoch = j->epoch;
		j->held--;
		j->next_seq++;
		j->pos_ts = s->ts + frame;
		j->dry_ticks = 0;
		return out->kind;
	}

	out->kind = JITTER_MISSING;
	out->ticks = frame;
	if ((int64_t)now_ns + (int64_t)(j->frame_ns / 2) <
	    jitter__due(j, j->pos_ts)) {
		/* Not due yet: we are ahead of the schedule. Conceal in its
		   place and keep waiting for it; this stretches the buffer
		   back towards the target. */
		out->insert = true;
		j->st.inserted++;
		return out->kind;
	}
	/* Its time has come: it is lost. */
	j->st.lost++;
	s->seq = j->next_seq;
	s->state = JITTER_SLOT_CONCEALED;
	s->epoch = j->epoch;
	s->pkt = NULL;
	j->next_seq++;
	j->pos_ts += frame;
	struct jitter_slot *n = &j->slots[j->next_seq & j->mask];
	if (jitter__slot_state(j, n) == JITTER_SLOT_HELD &&
	    n->seq == j->next_seq)
		out->next = n->pkt;
	if (j->held == 0) {
		out->dry = true;
		if (j->dry_ticks == 0) {
			j->st.underruns++;
			j->dry_seq = s->seq;
		}
		j->dry_ticks += frame;
		if (jitter__ticks_ns(j, j->dry_ticks) >=
		    (int64_t)j->cfg.dry_ms * 1000000) {
			/* The sender went quiet: stop concealing and wait,
			   keeping the time map for when it comes back. The
			   numbers concealed while dry were never seen: if a
			   paused sender goes on with them, they are not
			   late, so forget them. */
			for (uint64_t q = j->dry_seq; q < j->next_seq; q++) {
				struct jitter_slot *d = &j->slots[q & j->mask];
				if (d->seq == q &&
				    jitter__slot_state(j, d) ==
				            JITTER_SLOT_CONCEALED)
					d->state = JITTER_SLOT_EMPTY;
			}
			j->next_seq = j->dry_seq;
			j->state = JITTER_PRIMING;
			j->stopped = true;
			j->dry_ticks = 0;
		}
	} else {
		j->dry_ticks = 0;
	}
	return out->kind;
}

int64_t jitter_wait_ns(const struct jitter *j, uint64_t now_ns)
{
	if (j->state == JITTER_PLAYING)
		return 0;
	const struct jitter_slot *s = jitter__lowest(j);
	if (j->state == JITTER_IDLE || !s)
		return INT64_MAX;
	int64_t w = jitter__due(j, s->ts) - (int64_t)now_ns;
	return w > 0 ? w : 0;
}

int64_t jitter_error_ns(const struct jitter *j, uint64_t now_ns,
                        int64_t back_ticks)
{
	if (j->state != JITTER_PLAYING)
		return 0;
	return (int64_t)now_ns - jitter__due(j, j->pos_ts - back_ticks);
}

void jitter_adjust(struct jitter *j, int64_t ticks)
{
	j->pos_ts += ticks;
}

bool jitter_ready(const struct jitter *j)
{
	const struct jitter_slot *s = &j->slots[j->next_seq & j->mask];

	return j->state == JITTER_PLAYING &&
	       jitter__slot_state(j, s) == JITTER_SLOT_HELD &&
	       s->seq == j->next_seq && s->ts - j->pos_ts < j->cfg.frame_ticks;
}
