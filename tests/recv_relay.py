#!/usr/bin/python3
"""`rtbridge recv` through the impairment relay, on 127.0.0.1.

Usage: recv_relay.py [--no-timing] RTBRIDGE RELAY SCENARIO [FRAME_MS]

FRAME_MS is the packet duration `rtbridge send` uses (default 10).

  loss-opus, loss-l16      5 % random loss (seeded). Every packet the relay
                           drops is lost at the receiver and concealed
                           (summary: lost = packets dropped, concealed_frames
                           = lost x frame), the recording lasts as long as
                           the source within one frame, keeps one alignment
                           from start to end (no time slip), and, with Opus,
                           has no run of digital silence longer than a frame;
                           with L16 every packet that arrived is bit-exact.
  jitter-opus, jitter-l16  delay 20 ms +- 10 ms (uniform), 1 % reordering,
                           1 % duplicates: after the first 5 s at most 0.5 %
                           late losses (each counted once: lost at its
                           playout time, then late when it arrives), and
                           the settled target stays below what the largest
                           delay spread asks for (the target holds a late
                           packet's delay for a while): spread + 1 ms timer
                           + the receiver's period + frame + 2 ms margin +
                           5 ms of host timing. The spread is computed from
                           the relay's configuration: its own model replayed
                           with the same seed (uniform jitter, reorder gap
                           of two packet intervals). --no-timing (sanitizer
                           builds) prints these two thresholds without
                           asserting them.

`rtbridge send` sends a seeded sweep+noise WAV (tests/send_wavcmp.py gen)
to the relay, which forwards to `rtbridge recv --no-play --record-dir DIR
--stats-json FILE`, stopped with SIGINT one second after the sender ends.
The relay's loss pattern is replayed here from its seed (xoshiro256** seeded by splitmix64, seven
draws per packet, the first decides the loss), so the expected losses are
known exactly; the seed is the first one from 1 up whose pattern keeps the
first and last three packets (a loss there cannot be seen or concealed).
Every wait is bounded. Exit 0 pass, 1 fail. The programs' output is
searched for sanitizer reports (the address build runs this too).
"""
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import rtbproc  # noqa: E402  (stop)
import send_wavcmp  # noqa: E402  (gen, read, lag_of)

RATE = 48000
FRAME_MS = 10
FRAME = RATE * FRAME_MS // 1000
MASK = (1 << 64) - 1
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "WARNING: ThreadSanitizer", "runtime error:")
OPUS_DELAY = 312  # frames: the Opus encoder's look-ahead at 48 kHz


# --- the relay's generator, replayed -------------------------------------

def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


class Xoshiro:
    def __init__(self, seed):
        st = seed & MASK
        self.s = []
        for _ in range(4):
            st, z = splitmix64(st)
            self.s.append(z)

    def uniform(self):
        s = self.s
        result = (rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return (result >> 11) * 2.0 ** -53


def relay_draws(seed, npkt):
    """The seven uniforms the relay draws for each of npkt packets."""
    g = Xoshiro(seed)
    return np.array([[g.uniform() for _ in range(7)] for _ in range(npkt)])


def pick_loss_seed(npkt, loss):
    for seed in range(1, 1000):
        u = relay_draws(seed, npkt)
        drop = u[:, 0] < loss
        if not drop[:3].any() and not drop[-3:].any():
            return seed, np.nonzero(drop)[0]
    raise RuntimeError("no usable seed")


def model_spread(seed, npkt, delay_ms, jitter_ms, reorder):
    """p99 and max of (transit - min transit) the relay's model gives, ms."""
    u = relay_draws(seed, npkt)
    extra = np.maximum(0.0, delay_ms + (2 * u[:, 3] - 1) * jitter_ms)
    extra = extra + np.where(u[:, 4] < reorder, 2 * FRAME_MS, 0.0)
    spread = extra - extra.min()
    return float(np.percentile(spread, 99)), float(spread.max())


# --- processes ------------------------------------------------------------

free_udp_port = rtbproc.free_udp_port
port_taken = rtbproc.port_taken


def stop(proc, sig=signal.SIGINT, wait_s=5.0):
    """rtbproc.stop with this harness's shorter default wait."""
    return rtbproc.stop(proc, sig, wait_s)


def start_relay(relay, to_port, seed, args, log):
    p = subprocess.Popen([relay, "--listen", "127.0.0.1:0", "--to",
                          f"127.0.0.1:{to_port}", "--seed", str(seed),
                          "--stats"] + args,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 5
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([p.stderr], [], [], 0.2)
        if r:
            chunk = os.read(p.stderr.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            for line in buf.decode(errors="replace").splitlines():
                if line.startswith("relay: listening on "):
                    log.write(buf.decode(errors="replace"))
                    return p, int(line.rsplit(":", 1)[1])
    log.write(buf.decode(errors="replace"))
    stop(p, signal.SIGKILL)
    raise RuntimeError("the relay did not start: " + buf.decode(errors="replace"))


# --- results --------------------------------------------------------------

def json_objects(path):
    """Top-level JSON values in a file of concatenated/one-per-line JSON."""
    with open(path) as f:
        text = f.read()
    dec = json.JSONDecoder()
    i, out = 0, []
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        obj, i = dec.raw_decode(text, i)
        out.append(obj)


def stream_records(obj):
    """Every dict inside obj that describes a stream (has concealed_frames)."""
    found = []
    if isinstance(obj, dict):
        if "concealed_frames" in obj and "lost" in obj:
            found.append(obj)
        for v in obj.values():
            found += stream_records(v)
    elif isinstance(obj, list):
        for v in obj:
            found += stream_records(v)
    return found


def read_wav(path):
    with wave.open(path, "rb") as w:
        ch, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        raw = w.readframes(w.getnframes())
    if width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.int64)
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int64)
        data = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16))
        data = np.where(data >= 1 << 23, data - (1 << 24), data) >> 8
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4").astype(np.int64) >> 16
    else:
        raise RuntimeError(f"{path}: {8 * width}-bit samples")
    return data.reshape(-1, ch), rate


def read_audio(path):
    """A recording as 16-bit integers (WAV directly, anything else via sox)."""
    if path.endswith(".wav"):
        try:
            return read_wav(path)
        except (wave.Error, RuntimeError):
            pass
    tmp = path + ".conv.wav"
    subprocess.run(["sox", path, "-b", "16", "-e", "signed-integer", tmp],
                   check=True, timeout=30)
    return read_wav(tmp)


def segment_lag(src, got, s0, s1):
    """Lag of src[s0:s1] inside got (by cross-correlation)."""
    lag = send_wavcmp.lag_of(src[s0:s1], got)
    return lag - s0


def longest_zero_run(got):
    """Longest run of all-zero frames between the first and last non-zero."""
    nz = np.any(got != 0, axis=1)
    idx = np.nonzero(nz)[0]
    if len(idx) == 0:
        return len(got)
    inner = nz[idx[0]:idx[-1] + 1]
    best = run = 0
    for v in inner:
        run = 0 if v else run + 1
        best = max(best, run)
    return best


# --- the scenarios ----------------------------------------------------------

class Failed(Exception):
    pass


FAILURES = []
TIMING = True


def timing(cond, msg):
    """A quality threshold that depends on the wall clock: asserted in the
    optimized build, printed in sanitizer builds (--no-timing)."""
    if TIMING:
        check(cond, msg)
    else:
        print(("ok:   " if cond else "info: ") + msg + " (not asserted)")


def check(cond, msg, fatal=False):
    """Print a verdict; failures are collected (fatal: stop here)."""
    print(("ok:   " if cond else "FAIL: ") + msg)
    if not cond:
        FAILURES.append(msg)
        if fatal:
            raise Failed(msg)


def run(rtb, relay, codec, seconds, relay_args, seed, d, log):
    src = os.path.join(d, "src.wav")
    recdir = os.path.join(d, "rec")
    stats = os.path.join(d, "stats.json")
    os.mkdir(recdir)
    send_wavcmp.gen(src, seconds, 7)
    port = free_udp_port()
    recv = subprocess.Popen([rtb, "recv", "--listen", f"127.0.0.1:{port}",
                             "--codec", codec, "--no-play", "--record-dir",
                             recdir, "--stats-json", stats,
                             "--duration", str(seconds + 15)],
                            stdout=log, stderr=log)
    relay_p = None
    try:
        deadline = time.monotonic() + 5
        while not port_taken(port) and recv.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        if recv.poll() is not None or not port_taken(port):
            raise Failed("rtbridge recv did not start listening on "
                         f"127.0.0.1:{port}")
        relay_p, rport = start_relay(relay, port, seed, relay_args, log)
        snd = subprocess.run([rtb, "send", src, "--to", f"127.0.0.1:{rport}",
                              "--codec", codec, "--frame-ms", f"{FRAME_MS:g}",
                              "--quiet"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=seconds + 10)
        out = snd.stdout.decode(errors="replace")
        log.write(out)
        m = re.search(r"worst ([0-9.]+) ms", out)
        sender_late = float(m.group(1)) if m else 0.0
        if snd.returncode != 0:
            raise Failed(f"rtbridge send exited {snd.returncode}")
        # The last packets play out within the target delay (< 0.5 s);
        # then Ctrl-C ends the receiver, which closes the recordings.
        time.sleep(1.0)
        if recv.poll() is not None:
            raise Failed(f"rtbridge recv ended before the stream did "
                         f"(exit {recv.returncode})")
        if not stop(recv, wait_s=10):
            raise Failed("rtbridge recv did not stop on SIGINT")
        rc = recv.returncode
        if rc != 0:
            raise Failed(f"rtbridge recv exited {rc}")
    finally:
        if recv.poll() is None:
            stop(recv, signal.SIGKILL)
        relay_stats = {}
        if relay_p is not None:
            stop(relay_p)
            out = relay_p.stdout.read().decode(errors="replace")
            log.write(out)
            for line in out.splitlines():
                if line.startswith("{"):
                    relay_stats = json.loads(line)
    files = sorted(os.listdir(recdir))
    check(len(files) == 1, f"one stream recorded ({files})", fatal=True)
    objs = json_objects(stats)
    check(len(objs) >= 2, f"stats: {len(objs)} JSON objects (per second + summary)", fatal=True)
    summary = stream_records(objs[-1])
    check(len(summary) == 1, "the summary describes one stream", fatal=True)
    periodic = [r for o in objs[:-1] for r in stream_records(o)]
    src_pcm, _ = send_wavcmp.read(src)
    got, rate = read_audio(os.path.join(recdir, files[0]))
    check(rate == RATE and got.shape[1] == 2,
          f"recording format {rate} Hz x{got.shape[1]}", fatal=True)
    return src_pcm, got, summary[0], periodic, relay_stats, sender_late


def scenario_loss(rtb, relay, codec, d, log):
    seconds = 8
    npkt = int(round(seconds * 1000 / FRAME_MS))
    seed, dropped = pick_loss_seed(npkt, 0.05)
    print(f"seed {seed}: the relay drops {len(dropped)} of {npkt} packets")
    src, got, s, _, rs, _ = run(rtb, relay, codec, seconds,
                             ["--loss", "5"], seed, d, log)
    print("summary:", json.dumps(s))
    check(rs.get("dropped") == len(dropped),
          f"relay dropped {rs.get('dropped')} packets, the model says {len(dropped)}")
    check(s["lost"] == len(dropped), f"receiver lost {s['lost']} == {len(dropped)} dropped")
    # Concealment: a packet's worth per loss, and what was inserted to
    # grow the buffer (a stall of the machine now and then).
    inserted = s["inserted_frames"]
    check(s["concealed_frames"] == s["lost"] * FRAME + inserted,
          f"concealed_frames {s['concealed_frames']} == lost {s['lost']} x "
          f"{FRAME} + inserted {inserted}")
    check(s.get("late", 0) == 0, f"late {s.get('late')} == 0")
    check(abs(len(got) - len(src)) <= FRAME,
          f"recording {len(got)} frames, source {len(src)} (within {FRAME})")
    # One alignment for the whole recording: the lag of the first and of
    # the last second of the source inside the recording are the same.
    lag0 = segment_lag(src, got, 0, RATE)
    lag1 = segment_lag(src, got, len(src) - RATE, len(src))
    check(abs(lag0 - lag1) <= 1,
          f"alignment at the start {lag0}, at the end {lag1} (no time slip)")
    pre = 0 if codec == "l16" else OPUS_DELAY
    check(abs(lag0 - pre) <= FRAME // 4, f"the recording starts with the "
          f"first packet (lag {lag0}, codec delay {pre})")
    if codec == "opus":
        z = longest_zero_run(got)
        check(z <= FRAME, f"longest digital silence {z} frames <= {FRAME}")
        return
    # L16: every packet that arrived is in the recording bit for bit; the
    # packet after a loss may be cross-faded by the concealment.
    lost = set(int(i) for i in dropped)
    bad = after = 0
    for k in range(npkt):
        if k in lost:
            continue
        a = src[k * FRAME:(k + 1) * FRAME]
        if k * FRAME + lag0 < 0 or (k + 1) * FRAME + lag0 > len(got):
            continue
        b = got[k * FRAME + lag0:(k + 1) * FRAME + lag0]
        if not np.array_equal(a, b):
            if k - 1 in lost:
                after += 1
            else:
                bad += 1
    check(bad == 0, f"{npkt - len(lost)} received packets bit-exact "
          f"({bad} differ, {after} right after a loss differ)")


def scenario_jitter(rtb, relay, codec, d, log):
    seconds = 12
    npkt = int(round(seconds * 1000 / FRAME_MS))
    seed = 11
    delay, jitter, reorder = 20, 10, 0.01
    p99, top = model_spread(seed, npkt, delay, jitter, reorder)
    # The target covers the percentile, and for a while the delay of a
    # packet that came too late (the reordered tail above the percentile):
    # at most the model's largest spread, the receiver's period (5.33 ms),
    # the packet, its 2 ms margin, and 5 ms of host timing.
    bound = top + 1.0 + 5.33 + FRAME_MS + 2.0 + 5.0
    print(f"seed {seed}: delay spread p99 {p99:.2f} ms, max {top:.2f} ms "
          f"(relay model), target bound {bound:.2f} ms")
    _, _, s, per, rs, sender_late = run(rtb, relay, codec, seconds,
                           ["--delay", str(delay), "--jitter", str(jitter),
                            "--reorder", "1", "--duplicate", "1"],
                           seed, d, log)
    print("summary:", json.dumps(s))
    print("relay:", json.dumps(rs))
    # A sender that woke late sent a run of packets late: the path
    # stalled by that much, beyond the relay's model.
    bound += sender_late
    print(f"the sender was at worst {sender_late:.2f} ms late: target bound "
          f"{bound:.2f} ms")
    check(len(per) >= 8, f"{len(per)} per-second records", fatal=True)
    for i, r in enumerate(per):
        print(f"  {i + 1:2d}s received {r['received']} lost {r['lost']} "
              f"late {r['late']} dup {r['duplicate']} reord {r['reordered']} "
              f"target {r['target_ms']:.1f} buffer {r['buffer_ms']:.1f} ms")
    # The window: from 5 s to the last second the sender was sending in
    # full. Late losses: packets missing at their playout time (concealed,
    # counted lost) that come afterwards (dropped, counted late). The
    # relay drops none here, so these are the same packets counted twice:
    # each late loss is counted once, as the larger of the two (a packet
    # may be lost in one second and arrive late in the next).
    rate = 1000 / FRAME_MS
    end = max(i for i in range(5, len(per))
              if per[i]["received"] - per[i - 1]["received"] >= 0.9 * rate)
    at5, last = per[4], per[end]
    lost = last["lost"] - at5["lost"]
    late = last["late"] - at5["late"]
    played = last["received"] - at5["received"]
    frac = max(lost, late) / max(played, 1)
    timing(frac <= 0.005, f"from 5 s to {end + 1} s: {lost} lost, {late} late "
          f"of {played} received ({100 * frac:.2f} % late losses <= 0.5 %)")
    settled = [r["target_ms"] for r in per[7:]] + [s["target_ms"]]
    timing(max(settled) <= bound, f"target after 8 s at most "
          f"{max(settled):.2f} ms <= {bound:.2f} ms")
    check(s["duplicate"] >= 1 and rs.get("duplicated", 0) >= 1,
          f"duplicates seen: receiver {s['duplicate']}, relay {rs.get('duplicated')}")


def main():
    global FRAME_MS, FRAME, TIMING
    if "--no-timing" in sys.argv:
        sys.argv.remove("--no-timing")
        TIMING = False
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    rtb, relay, scen = sys.argv[1:4]
    kind, codec = scen.split("-", 1)
    if codec not in ("opus", "l16") or kind not in ("loss", "jitter"):
        sys.exit(f"unknown scenario {scen}")
    FRAME_MS = float(sys.argv[4]) if len(sys.argv) == 5 else 10
    FRAME = int(round(RATE * FRAME_MS / 1000))
    d = tempfile.mkdtemp(prefix="rtb_recvrelay_")
    logpath = os.path.join(d, "log.txt")
    ok = False
    try:
        with open(logpath, "w") as log:
            if kind == "loss":
                scenario_loss(rtb, relay, codec, d, log)
            else:
                scenario_jitter(rtb, relay, codec, d, log)
        with open(logpath) as f:
            text = f.read()
        for marker in SANITIZER_MARKERS:
            check(marker not in text, f"no '{marker}' in the programs' output")
        ok = not FAILURES
    except (Failed, RuntimeError, subprocess.SubprocessError, OSError,
            ValueError, KeyError, IndexError) as e:
        if not isinstance(e, Failed):
            print(f"FAIL: {type(e).__name__}: {e}")
    finally:
        if not ok and os.path.exists(logpath):
            with open(logpath) as f:
                print("--- log of rtbridge/relay ---")
                sys.stdout.write(f.read()[-4000:])
        subprocess.run(["rm", "-rf", d])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
