#!/usr/bin/python3
"""`rtbridge recv` under a junk flood and under SSRC churn, on 127.0.0.1.

Usage: recv_flood.py RTBRIDGE JUNKGEN GENSIGNAL WAVCMP flood|churn
                     [--ssrcs N] [--rate R] [--rtcheck LIBRTCHECK]

  flood  A real L16 stream (`rtbridge send`, 8 s, 10 ms packets) plays to
         `recv --record-dir` while tools/junkgen floods the port for 5 s
         at --rate datagrams/s (default 4000): random bytes, truncated
         headers, CSRC counts with no CSRCs, padding longer than the
         payload, valid-looking one-packet L16 datagrams from random
         SSRCs. The real stream's recording is bit-exact from its first
         packet, it is the only file (no one-packet SSRC became a stream),
         the junk is counted (malformed, probation_failed), every datagram
         is counted once, and the audio callback's p99 stays below a
         quarter period and its maximum below two (see common_checks).
  churn  --ssrcs N senders in turn (default 60: a CI run of ~25 s; 300 is
         the full 90 s version): a new SSRC every 0.3 s, each a separate
         `rtbridge send` of 50 packets of 5 ms. Each sender leaves one
         valid, bit-exact recording; the receiver's RSS with no stream
         alive (all closed) after the first 10 s and at the end differs
         by at most 1 MB; its open fds and threads come back to where they
         were once the streams are gone (and stay bounded meanwhile); the
         callback's p99 and maximum stay bounded (as for flood); every
         stream closes.

With --rtcheck the receiver runs under LD_PRELOAD=librtcheck and
rt_violations must be 0. The wall-clock and memory bounds (callback
maximum, RSS) are asserted with --strict only (the optimized build: a
sanitizer's allocator and slowdown change both); otherwise printed. Programs' output is searched for sanitizer
reports. Every wait is bounded; exit 0 pass, 1 fail.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tools"))
import rtbproc  # noqa: E402

PERIOD = 128  # frames per callback at 48 kHz
PERIOD_US = PERIOD * 1e6 / 48000
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "WARNING: ThreadSanitizer", "runtime error:")
FAILURES = []


def check(cond, msg):
    print(("ok:   " if cond else "FAIL: ") + msg, flush=True)
    if not cond:
        FAILURES.append(msg)


def recv_env(a):
    env = dict(os.environ)
    if a.rtcheck:
        env["LD_PRELOAD"] = a.rtcheck
    return env


def gensignal(a, path, seconds, seed):
    subprocess.run([a.gensignal, "--seconds", str(seconds), "--seed",
                    str(seed), path], check=True, timeout=30,
                   stdout=subprocess.DEVNULL)


def exact(a, ref, rec):
    """wavcmp exact, from the recording's first frame."""
    r = subprocess.run([a.wavcmp, "exact", ref, rec], capture_output=True,
                       text=True, timeout=30)
    return r.returncode == 0 and "from frame 0\n" in r.stdout, r.stdout


def send(a, d, src, port, ssrc, frame_ms=5, rt=False):
    """A sender in the background; its summary goes to d/send-SSRC.log.
    With rt its threads ask for real-time scheduling as a user's would
    (the flood's one sender: at ordinary priority a stall of two packets
    on a loaded machine makes it skip slots, and its recording can then
    not be compared); the churn's hundreds run at ordinary priority."""
    env = rtbproc.sender_env()
    if rt:
        env.pop("RTBRIDGE_NO_RT")
    with open(os.path.join(d, f"send-{ssrc:08x}.log"), "w") as log:
        return subprocess.Popen([a.rtbridge, "send", src, "--to",
                                 f"127.0.0.1:{port}", "--codec", "l16",
                                 "--frame-ms", str(frame_ms),
                                 "--ssrc", str(ssrc),
                                 "--quiet"], stdout=log, stderr=log,
                                env=env)


def sender_skipped(d, ssrc):
    """Slots the sender skipped to catch up after a stall (its own
    summary): the receiver records that time as concealment, so such a
    recording cannot equal the source."""
    with open(os.path.join(d, f"send-{ssrc:08x}.log"),
              errors="replace") as f:
        m = re.search(r"skipped slots (\d+)", f.read())
    return int(m.group(1)) if m else -1


def check_recordings(a, d, src, ssrcs):
    """Each sender's recording is bit-exact from its first packet, unless
    the sender itself skipped (a stall on a loaded machine): then it must
    be a valid file holding the whole timeline."""
    bad, skipped = [], 0
    for ssrc in ssrcs:
        rec = os.path.join(d, "rec", f"{ssrc:08x}.wav")
        if not os.path.exists(rec):
            bad.append(f"{ssrc:08x}: no recording")
            continue
        n = sender_skipped(d, ssrc)
        if n != 0:
            skipped += 1
            frames, _, _, valid = rtbproc.wav_info(rec)
            if not valid or frames < rtbproc.wav_info(src)[0]:
                bad.append(f"{ssrc:08x}: sender skipped {n} slots and "
                           f"the recording is not whole ({frames} frames"
                           f"{'' if valid else ', invalid'})")
            continue
        ok, out = exact(a, src, rec)
        if not ok:
            bad.append(f"{ssrc:08x}: {out.strip()}")
    check(not bad, f"every recording bit-exact from its first packet "
          f"({skipped} of {len(ssrcs)} senders skipped slots under load: "
          "whole, not compared)" + ("" if not bad else ": "
                                    + "; ".join(bad[:5])))
    check(skipped <= len(ssrcs) // 2, "most senders kept their pace")


def summary_of(d):
    s = rtbproc.last_json(os.path.join(d, "stats.json"))
    if not s or s.get("type") != "summary":
        raise RuntimeError("no summary in the stats file")
    return s


def common_checks(a, s):
    buckets = ("accepted", "malformed", "too_big", "unknown_pt",
               "not_allowed", "over_max_streams", "pending_dropped",
               "refused", "stream_dropped", "notify_dropped",
               "probation_dropped", "ssrc_conflicts")
    total = sum(s[k] for k in buckets)
    check(total == s["datagrams"] and s["held"] == 0,
          f"every datagram counted once ({total} of {s['datagrams']})")
    # The callback's work is its p99: a callback that did work per SSRC
    # ever seen, or per slot, would move all of it. Its maximum is one
    # callback, and on a shared VM one callback now and then is preempted
    # (the vCPU, not the callback's work): loaded CI runs saw 2974 and
    # 3035 us against the 2667 us period with p99 66-111 us, and clean
    # runs of bench_flood range from 88 to 2833 us. So CI holds the
    # maximum to two periods (a gross regression) and says whether it
    # stayed below one; the figure (below one period) is measured
    # on a quiet machine with --ssrcs 300.
    mx, p99 = s["callback_max_us"], s["callback_p99_us"]
    msg = (f"callback max {mx:.0f} us, p99 {p99:.0f} us; period "
           f"{PERIOD_US:.0f} us")
    print(("info: " if mx < PERIOD_US else "info: above the period: ") + msg)
    if a.strict:
        check(p99 < PERIOD_US / 4, f"callback p99 {p99:.0f} us < a quarter "
              f"period ({PERIOD_US / 4:.0f} us)")
        check(mx < 2 * PERIOD_US, f"callback max {mx:.0f} us < two periods "
              f"({2 * PERIOD_US:.0f} us)")
    if a.rtcheck:
        check(s["rt_violations"] == 0,
              f"rt_violations {s['rt_violations']} under librtcheck")


def flood(a, d):
    src = os.path.join(d, "src.wav")
    gensignal(a, src, 8, 5)
    recv, port = rtbproc.start_recv(
        a.rtbridge, d, ["--codec", "l16", "--idle-exit", "1.5",
                        "--period", str(PERIOD), "--min-latency", "60"],
        recv_env(a))
    try:
        snd = send(a, d, src, port, 4242, frame_ms=10, rt=True)
        time.sleep(1.0)
        junk = subprocess.run([a.junkgen, "--to", f"127.0.0.1:{port}",
                               "--rate", str(a.rate), "--duration", "5",
                               "--seed", "9", "--payload", "960"],
                              capture_output=True, text=True, timeout=30)
        j = json.loads(junk.stdout)
        print("junk:", junk.stdout.strip())
        check(snd.wait(timeout=30) == 0, "the sender finished")
        recv.wait(timeout=20)
    finally:
        rtbproc.stop(recv)
    check(recv.returncode == 0, f"recv exited {recv.returncode}")
    files = sorted(os.listdir(os.path.join(d, "rec")))
    check(files == ["00001092.wav"], f"one recording, the stream's ({files})")
    check_recordings(a, d, src, [4242])
    s = summary_of(d)
    print("summary:", {k: v for k, v in s.items() if k != "streams"})
    check(s["streams_seen"] == 1, f"one stream ({s['streams_seen']})")
    check(s["probation_failed"] >= j["ssrc"],
          f"one-packet SSRCs failed probation: {s['probation_failed']} "
          f">= {j['ssrc']} sent")
    bad = j["truncated"] + j["csrc"] + j["padding"]
    check(s["malformed"] >= bad,
          f"malformed {s['malformed']} >= {bad} broken headers sent")
    junked = s["malformed"] + s["unknown_pt"] + s["probation_dropped"]
    check(junked >= 0.95 * j["sent"],
          f"junk counted and dropped: {junked} of {j['sent']} sent")
    common_checks(a, s)


def idle_sample(d, pid, follower, timeout_s=8.0):
    """Wait until no stream is alive (the receiver's JSON line says so),
    then sample the process."""
    deadline = time.monotonic() + timeout_s
    alive = None
    while time.monotonic() < deadline:
        for o in follower.new():
            if o.get("type") == "receiver":
                alive = o["streams_alive"]
        if alive == 0:
            return rtbproc.proc_sample(pid)
        time.sleep(0.1)
    raise RuntimeError(f"streams still alive after {timeout_s} s: {alive}")


def churn(a, d):
    src = os.path.join(d, "src.wav")
    gensignal(a, src, 0.25, 6)
    recv, port = rtbproc.start_recv(
        a.rtbridge, d, ["--codec", "l16", "--period", str(PERIOD),
                        "--min-latency", "60", "--stats-interval", "250"],
        recv_env(a))
    follower = rtbproc.JsonFollower(os.path.join(d, "stats.json"))
    samples, senders, failed = [], [], 0
    warm = min(a.ssrcs, 34)  # 10 s of churn
    try:
        base = idle_sample(d, recv.pid, follower)
        t0 = time.monotonic()
        for i in range(a.ssrcs):
            if i == warm:
                # The first 10 s are over: once their streams have
                # closed, the reference point.
                mid = idle_sample(d, recv.pid, follower)
                t0 = time.monotonic() - 0.3 * i
            due = t0 + 0.3 * i
            while time.monotonic() < due:
                time.sleep(0.01)
            samples.append(rtbproc.proc_sample(recv.pid))
            senders.append(send(a, d, src, port, 0x1000 + i))
            still = []
            for p in senders:
                if p.poll() is None:
                    still.append(p)
                else:
                    failed += p.returncode != 0
            senders = still
        for p in senders:
            failed += p.wait(timeout=10) != 0
        if a.ssrcs <= warm:
            mid = base
        last = idle_sample(d, recv.pid, follower)
    finally:
        rtbproc.stop(recv)
    check(recv.returncode == 0, f"recv exited {recv.returncode}")
    check(failed == 0, f"{failed} senders failed")
    rss = [s["rss_kb"] for s in samples]
    print(f"RSS kB with no stream alive: at the start {base['rss_kb']}, "
          f"after 10 s {mid['rss_kb']}, at the end {last['rss_kb']}; "
          f"while streams come and go {min(rss)}..{max(rss)}")
    if a.strict:
        grow = last["rss_kb"] - mid["rss_kb"]
        check(grow <= 1024, f"RSS growth after the first 10 s: {grow} kB "
              "(<= 1024)")
    fds = [s["fds"] for s in samples]
    check(mid["fds"] == base["fds"] and last["fds"] == base["fds"],
          f"fds with no stream alive: {base['fds']}, {mid['fds']}, "
          f"{last['fds']} (at most {max(fds)} meanwhile)")
    check(max(fds) <= base["fds"] + 16, f"fds bounded ({max(fds)})")
    check(last["threads"] == base["threads"],
          f"threads {base['threads']} -> {last['threads']}")
    files = sorted(os.listdir(os.path.join(d, "rec")))
    check(len(files) == a.ssrcs, f"{len(files)} recordings of {a.ssrcs}")
    check_recordings(a, d, src, [0x1000 + i for i in range(a.ssrcs)])
    s = summary_of(d)
    print("summary:", {k: v for k, v in s.items() if k != "streams"})
    check(s["streams_seen"] == a.ssrcs and s["streams_closed"] == a.ssrcs,
          f"{s['streams_seen']} streams, {s['streams_closed']} closed")
    check(len(s["streams"]) == min(a.ssrcs, 64),
          f"the summary lists {len(s['streams'])} (bounded)")
    common_checks(a, s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rtbridge")
    ap.add_argument("junkgen")
    ap.add_argument("gensignal")
    ap.add_argument("wavcmp")
    ap.add_argument("scenario", choices=("flood", "churn"))
    ap.add_argument("--ssrcs", type=int, default=60)
    ap.add_argument("--rate", type=int, default=4000)
    ap.add_argument("--rtcheck")
    ap.add_argument("--strict", action="store_true",
                    help="assert the wall-clock and memory bounds too "
                    "(the optimized build; a sanitizer changes both)")
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="rtb_flood_")
    ok = False
    try:
        (flood if a.scenario == "flood" else churn)(a, d)
        text = ""
        for name in ["recv.err", "recv.out"] + [
                n for n in os.listdir(d) if n.startswith("send-")]:
            with open(os.path.join(d, name), errors="replace") as f:
                text += f.read()
        for m in SANITIZER_MARKERS:
            check(m not in text, f"no '{m}' in the programs' output")
        with open(os.path.join(d, "recv.out"), errors="replace") as f:
            print(f.read()[-1500:])
        ok = not FAILURES
    except (RuntimeError, subprocess.SubprocessError, OSError, ValueError,
            KeyError) as e:
        print(f"FAIL: {type(e).__name__}: {e}")
    finally:
        if not ok:
            for name in ("recv.err",):
                p = os.path.join(d, name)
                if os.path.exists(p):
                    with open(p, errors="replace") as f:
                        print(f"--- {name} ---\n" + f.read()[-3000:])
        if os.environ.get("RTB_KEEP") == "1":
            print(f"kept {d}")
        else:
            shutil.rmtree(d, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(main())
