"""What tools/bench_fec.py measures in one run, from its files (stdlib only).

- The relay's --trace (tools/relay/README.md): one line per datagram the
  sender sent, with its verdict and RTP header. Media packets (payload
  type PT, or RED_PT when they travel as RFC 2198 redundant audio) are
  numbered by their RTP timestamp, k = (ts - ts0) / FRAME, so that parity
  packets interleaved in the same sequence space (ULPFEC as GStreamer
  sends it) do not shift the numbering; any other payload type is
  protection. Bytes are counted per kind.
- The recordings (16- or 24-bit stereo WAV): aligned to a reference (the
  source, or a loss-free recording) by looking for reference packets, bit
  for bit, in the recording, and a dropped packet k judged by comparing
  its FRAME frames with the reference's (for Opus only where the
  decoder's state can match: see judge).

A recording of a receiver that began with packet k0 holds packet k at
frame (k - k0) x FRAME: the alignment ("lag", in frames) is the reference
frame of the recording's frame 0.
"""
import wave


def parse_trace(path, pt, red_pt, frame):
    """Return: dict with media (list of (k, bytes, dropped)), ssrc (of the
    first media packet), prot_pkts, prot_dropped, media_bytes, prot_bytes,
    datagrams."""
    media, ts0 = [], None
    out = {"prot_pkts": 0, "prot_dropped": 0, "media_bytes": 0,
           "prot_bytes": 0, "datagrams": 0, "ssrc": None}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 4 or len(parts[3]) < 24:
                continue
            size, copies = int(parts[1]), int(parts[2])
            hdr = bytes.fromhex(parts[3])
            out["datagrams"] += 1
            ptype = hdr[1] & 0x7F
            if ptype not in (pt, red_pt):
                out["prot_pkts"] += 1
                out["prot_bytes"] += size
                out["prot_dropped"] += copies == 0
                continue
            ts = int.from_bytes(hdr[4:8], "big")
            if ts0 is None:
                ts0 = ts
                out["ssrc"] = int.from_bytes(hdr[8:12], "big")
            k = ((ts - ts0) & 0xFFFFFFFF) // frame
            media.append((k, size, copies == 0))
            out["media_bytes"] += size
    out["media"] = media
    return out


def restorable(trace, offsets):
    """Dropped media packets that RFC 2198 copies at the given offsets
    (1..N for `red:N`, D alone for `red@D`) can restore: the packet one
    of those offsets later arrived (what a receiver that waits long
    enough gets back)."""
    got = {k for k, _, d in trace["media"] if not d}
    return sum(1 for k, _, d in trace["media"]
               if d and any(k + i in got for i in offsets))


class Audio:
    """A stereo 16- or 24-bit WAV's frames as bytes (empty if unreadable)."""

    def __init__(self, path):
        self.data, self.width = b"", 2
        try:
            with wave.open(path, "rb") as w:
                if w.getsampwidth() in (2, 3) and w.getnchannels() == 2:
                    self.width = w.getsampwidth()
                    self.data = w.readframes(w.getnframes())
        except (OSError, EOFError, wave.Error):
            pass
        self.fb = 2 * self.width  # bytes per frame
        self.frames = len(self.data) // self.fb


def find_lag(ref, got, frame, ks):
    """The lag most probes agree on: each probe is reference packet k
    (received, so decoded like the reference), found bit for bit in the
    recording: the first eight received packets (Opus decodes bit for bit
    only until its first concealment) and 24 spread over the run.
    Return: (lag in frames or None, probes found, probes)."""
    votes = {}
    fb = ref.fb
    probes = sorted(set(ks[:8]) | set(ks[::max(1, len(ks) // 24)]))
    tried = 0
    for k in probes:
        probe = ref.data[k * frame * fb:(k + 1) * frame * fb]
        if len(probe) < frame * fb or probe.count(0) == len(probe):
            continue
        tried += 1
        pos = got.data.find(probe)
        while pos >= 0 and pos % fb:
            pos = got.data.find(probe, pos + 1)
        if pos >= 0:
            lag = k * frame - pos // fb
            votes[lag] = votes.get(lag, 0) + 1
    if not votes:
        return None, 0, tried
    lag = max(votes, key=votes.get)
    return lag, votes[lag], tried


def judge(ref, got, frame, trace, needs_state):
    """Compare a recording with its reference at every dropped media
    packet k: exact when its frames equal the reference's bit for bit.
    With needs_state (Opus) a packet is judged only when the packet
    before it in the recording is bit-exact: after a concealment the
    decoder's state differs from the loss-free decoder's for many packets
    (its output converges by a few dB per packet), so not even a packet
    that arrived decodes to the reference's samples, and no comparison
    can tell a restored packet from a concealed one there.
    Return: dict with lag, probes (agreeing, tried), judged, exact, and
    unjudged (state disturbed) and misaligned (outside the recording)."""
    received = sorted({k for k, _, d in trace["media"] if not d})
    dropped = sorted({k for k, _, d in trace["media"] if d})
    lag, agree, tried = find_lag(ref, got, frame, received)
    res = {"lag": lag, "probes": [agree, tried], "judged": 0, "exact": 0,
           "unjudged": 0, "outside": 0}
    if lag is None or ref.width != got.width:
        res["outside"] = len(dropped)
        return res
    pb = frame * ref.fb

    def seg(audio, f0):
        b = audio.data[f0 * ref.fb:f0 * ref.fb + pb] if f0 >= 0 else b""
        return b if len(b) == pb else None

    for k in dropped:
        a, b = seg(ref, k * frame), seg(got, k * frame - lag)
        if a is None or b is None:
            res["outside"] += 1
            continue
        if needs_state and k > 0 and \
                seg(ref, (k - 1) * frame) != seg(got, (k - 1) * frame - lag):
            res["unjudged"] += 1
            continue
        res["judged"] += 1
        res["exact"] += a == b
    return res
