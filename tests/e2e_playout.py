#!/usr/bin/python3
"""Playout control end to end: `rtbridge send` -> relay -> `rtbridge recv`.

Usage: e2e_playout.py RTBRIDGE RELAY [--seconds N] [--play] [--no-timing]
                      [--table] CASE...

CASE is CODEC/FRAME_MS/PPM/JITTER_MS, e.g. l16/5/+500/0 or opus/10/0/10:
the sender streams a seeded sweep+noise file for N seconds (default 30)
through the impairment relay on 127.0.0.1, which emulates a sender clock
PPM fast (--skew-ppm) and adds a delay with JITTER_MS of uniform jitter;
the receiver runs with --stats-interval 100 and records the stream.
--play plays through real PortAudio on a private jackd (dummy backend);
otherwise the receiver runs on its virtual clock (--no-play).

Checked on the 100 ms stats samples, after 15 s (the issue's acceptance):
  (a sender that reports being late by W > 2 ms at worst, N times -- the
  machine paused it -- widens the level bounds by W + a packet and allows
  N x (W + 2 packets) of concealed and of inserted frames)
  without jitter: |buffer_ms - target_ms| <= 2 ms at p99 and <= 5 ms at
                  worst; drift_ppm within 10 ppm of the truth (PPM against
                  the device: the virtual clock runs on this machine's
                  clock; jackd's dummy driver loses time when it wakes
                  late, and its rate is the one the receiver measured,
                  device_ppm); no frame inserted
                  or concealed after the first 5 s;
  with jitter:    |buffer_ms - target_ms| <= 5 ms at p99; drift_ppm within
                  30 ppm of the truth; late losses after 5 s at most 0.3 %;
and always: the L16 recording is bit-exact when nothing was concealed, no
sanitizer report. --no-timing (sanitizer builds) keeps only the
correctness checks. --table prints one line per case and fails on
nothing (tools/playout_matrix.sh). Exit 0 pass, 1 fail.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import recv_relay as rr  # noqa: E402  (relay, stop, JSON, audio helpers)
import send_wavcmp  # noqa: E402

SETTLE_S = 15.0
WARM_S = 5.0


def start_recv(rtb, args, d, env=None):
    """Start rtbridge recv on 127.0.0.1:0; return (process, port, log)."""
    logp = os.path.join(d, "recv.log")
    log = open(logp, "w")
    p = subprocess.Popen([rtb, "recv", "--listen", "127.0.0.1:0"] + args,
                         stdout=log, stderr=log, env=env)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and p.poll() is None:
        with open(logp) as f:
            for line in f:
                if line.startswith("rtbridge recv: listening on 127.0.0.1:"):
                    port = int(line.split(":")[2].split()[0])
                    return p, port, log
        time.sleep(0.05)
    rr.stop(p, signal.SIGKILL)
    with open(logp) as f:
        raise rr.Failed("rtbridge recv did not start: " + f.read()[-500:])


def start_jackd(d):
    """A private jackd (dummy backend, 48 kHz, 256-frame periods)."""
    name = f"rtb_e2e_{os.getpid()}"
    env = dict(os.environ, JACK_DEFAULT_SERVER=name,
               JACK_NO_AUDIO_RESERVATION="1", JACK_NO_START_SERVER="1")
    if not shutil.which("jackd"):
        raise rr.Failed("jackd2 is not installed (tools/setup.sh --tools)")
    # Real-time as root, like a sound card's server; plain otherwise.
    rt = ["-R", "-P", "45"] if os.geteuid() == 0 else ["--no-realtime"]
    log = open(os.path.join(d, "jackd.log"), "w")
    p = subprocess.Popen(["jackd", "-n", name] + rt +
                         ["-d", "dummy", "-r", "48000", "-p", "256"],
                         stdout=log, stderr=log, env=env)
    w = subprocess.run(["jack_wait", "-w", "-t", "10"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=15)
    if w.returncode != 0 or p.poll() is not None:
        rr.stop(p, signal.SIGKILL)
        raise rr.Failed("jackd did not start")
    return p, env


def relay_args(ppm, jitter, seconds):
    """Delay enough that the emulated skew never asks for a release before
    the arrival (a fast sender's delay shrinks by ppm x the run)."""
    shrink = max(ppm, 0.0) * 1e-6 * (seconds + 5) * 1000.0
    base = 20.0 if jitter > 0 else 10.0
    delay = base + jitter + shrink
    return ["--delay", f"{delay:g}", "--jitter", f"{jitter:g}",
            "--skew-ppm", f"{ppm:g}"]


def run_case(rtb, relay, case, seconds, play, d):
    codec, frame, ppm, jitter = case
    src = os.path.join(d, "src.wav")
    recdir = os.path.join(d, "rec")
    stats = os.path.join(d, "stats.jsonl")
    os.mkdir(recdir)
    send_wavcmp.gen(src, seconds, 7)
    jack = None
    env = None
    if play:
        jack, env = start_jackd(d)
    mode = ["--play"] if play else ["--no-play"]
    recv, port, rlog = start_recv(
        rtb, ["--codec", codec] + mode +
        ["--record-dir", recdir, "--stats-json", stats,
         "--stats-interval", "100", "--duration", str(seconds + 30)], d, env)
    relay_p = None
    log = open(os.path.join(d, "peers.log"), "w")
    try:
        relay_p, rport = rr.start_relay(relay, port, 1,
                                        relay_args(ppm, jitter, seconds), log)
        snd = subprocess.run([rtb, "send", src, "--to", f"127.0.0.1:{rport}",
                              "--codec", codec, "--frame-ms", f"{frame:g}",
                              "--quiet"], stdout=log, stderr=log,
                             timeout=seconds + 20)
        if snd.returncode != 0:
            raise rr.Failed(f"rtbridge send exited {snd.returncode}")
        time.sleep(1.0)
        if recv.poll() is not None:
            raise rr.Failed(f"rtbridge recv ended early ({recv.returncode})")
        if not rr.stop(recv, wait_s=15) or recv.returncode != 0:
            raise rr.Failed(f"rtbridge recv did not end cleanly "
                            f"({recv.returncode})")
    finally:
        if recv.poll() is None:
            rr.stop(recv, signal.SIGKILL)
        if relay_p is not None:
            rr.stop(relay_p)
        if jack is not None:
            rr.stop(jack, signal.SIGTERM)
        rlog.close()
        log.close()
    sender = {"late": 0, "worst": 0.0}
    for f in ("recv.log", "peers.log"):
        with open(os.path.join(d, f)) as fh:
            text = fh.read()
        m = re.search(r"rtbridge send: .*late (\d+) \(worst ([0-9.]+) ms\)",
                      text)
        if m:
            sender = {"late": int(m.group(1)), "worst": float(m.group(2))}
        for m in rr.SANITIZER_MARKERS:
            rr.check(m not in text, f"no '{m}' in {f}")
    objs = rr.json_objects(stats)
    rows = [o for o in objs if o.get("type") == "stream"]
    summary = rr.stream_records(objs[-1]) if objs else []
    rr.check(len(rows) > 10 * seconds // 2 and len(summary) == 1,
             f"{len(rows)} samples and a summary of one stream", fatal=True)
    files = sorted(os.listdir(recdir))
    rr.check(len(files) == 1, f"one recording ({files})", fatal=True)
    got, _ = rr.read_audio(os.path.join(recdir, files[0]))
    src_pcm, _ = send_wavcmp.read(src)
    return rows, summary[0], src_pcm, got, sender


def analyse(case, rows, last, src, got):
    codec, frame, ppm, jitter = case
    late_rows = [r for r in rows if r["t"] >= SETTLE_S]
    warm = next(r for r in rows if r["t"] >= WARM_S)
    err = np.array([abs(r["buffer_ms"] - r["target_ms"]) for r in late_rows])
    drift = np.array([r["drift_ppm"] for r in late_rows])
    # The truth: the sender's clock (the relay's skew) against the
    # device's. The virtual clock is this machine's; jackd's dummy
    # driver loses time whenever it wakes late (its rate moves with the
    # machine's load), so its rate is the one the receiver measured from
    # the pulls (device_ppm, a plain frames-against-time fit).
    dev = np.array([r.get("device_ppm", 0.0) for r in late_rows])
    truth = ((1 + ppm * 1e-6) / (1 + dev * 1e-6) - 1) * 1e6
    derr = drift - truth
    res = {
        "p99": float(np.percentile(err, 99)),
        "worst": float(err.max()),
        "drift_lo": float(drift.min()),
        "drift_hi": float(drift.max()),
        "derr": float(np.abs(derr).max()),
        "dev_lo": float(dev.min()),
        "dev_hi": float(dev.max()),
        "concealed_all": last["concealed_frames"],
        "target": float(np.median([r["target_ms"] for r in late_rows])),
        "inserted": last["inserted_frames"] - warm["inserted_frames"],
        "concealed": last["concealed_frames"] - warm["concealed_frames"],
        "late": last["late"] - warm["late"],
        "packets": last["received"] - warm["received"],
        "lost": last["lost"],
    }
    res["exact"] = None
    if codec == "l16":
        n = min(len(src), len(got))
        res["exact"] = bool(len(got) == len(src) and
                            np.array_equal(src[:n], got[:n]))
    return res


def main():
    argv = sys.argv[1:]
    if len(argv) < 3:
        sys.exit(__doc__)
    rtb, relay = argv[0], argv[1]
    seconds, play, timing, table, cases = 30, False, True, False, []
    i = 2
    while i < len(argv):
        a = argv[i]
        if a == "--seconds":
            seconds = int(argv[i + 1])
            i += 1
        elif a == "--play":
            play = True
        elif a == "--no-timing":
            timing = False
        elif a == "--table":
            table = True
        else:
            c, f, p, j = a.split("/")
            cases.append((c, float(f), float(p), float(j)))
        i += 1
    for case in cases:
        codec, frame, ppm, jitter = case
        name = (f"{codec} {frame:g} ms, {ppm:+g} ppm, jitter {jitter:g} ms, "
                f"{'play (jackd)' if play else 'no-play'}")
        print(f"--- {name}, {seconds} s")
        d = tempfile.mkdtemp(prefix="rtb_e2e_")
        try:
            rows, last, src, got, sender = run_case(rtb, relay, case,
                                                    seconds, play, d)
            r = analyse(case, rows, last, src, got)
            print(f"    drift {r['drift_lo']:+.1f}..{r['drift_hi']:+.1f} ppm"
                  f" (device {r['dev_lo']:+.1f}..{r['dev_hi']:+.1f}, off the"
                  f" truth by {r['derr']:.1f})"
                  f" | |buffer-target| p99 {r['p99']:.2f} ms max "
                  f"{r['worst']:.2f} ms | target {r['target']:.1f} ms | after"
                  f" 5 s: inserted {r['inserted']} concealed "
                  f"{r['concealed']} late {r['late']}/{r['packets']} | "
                  f"exact {r['exact']} | sender late {sender['late']} "
                  f"times, worst {sender['worst']:.2f} ms")
            if table:
                continue
            if r["concealed_all"] == 0 and r["lost"] == 0 and codec == "l16":
                rr.check(r["exact"], "recording bit-exact")
            if not timing:
                continue
            if not play:
                rr.check(max(-r["dev_lo"], r["dev_hi"]) <= 5,
                         "the virtual clock measured within 5 ppm of this "
                         "machine's")
            # A clean path needs a sender on its schedule. This machine
            # (a VM) pauses now and then: a sender late by W ms (its own
            # summary says so) sent a run of packets W ms late, which no
            # receiver can hide. Each such event may then cost up to W
            # + two packets of concealment and as much inserted to
            # cover it, and the level may be off by W + a packet while
            # the target that covers it is reached.
            w = sender["worst"] if sender["worst"] > 2.0 else 0.0
            if w:
                print(f"    the sender was late {sender['late']} times, at "
                      f"worst {w:.2f} ms: bounds widened by it")
            budget = int(sender["late"] * (w + 2 * frame) * 48) if w else 0
            slack = w + frame if w else 0.0
            if jitter == 0:
                rr.check(r["p99"] <= 2.0 + slack,
                         f"p99 {r['p99']:.2f} <= {2.0 + slack:.2f} ms")
                rr.check(r["worst"] <= 5.0 + slack,
                         f"max {r['worst']:.2f} <= {5.0 + slack:.2f} ms")
                # A paused machine is a path with jitter: the minima
                # the estimate stands on wander by a few tenths of a ms
                # (measured at the relay's output: 0.0-0.22 ms, where a
                # quiet run wanders 0.0-0.07), the jitter case's bound.
                dlim = 30 if w else 10
                rr.check(r["derr"] <= dlim, f"drift within {dlim} ppm of the"
                         f" truth ({ppm:+g} against the device)")
                rr.check(r["inserted"] <= budget and
                         r["concealed"] <= budget,
                         f"inserted {r['inserted']}, concealed "
                         f"{r['concealed']} frames after 5 s <= {budget} "
                         f"(what the sender's lateness explains)")
            else:
                rr.check(r["p99"] <= 5.0 + slack,
                         f"p99 {r['p99']:.2f} <= {5.0 + slack:.2f} ms")
                rr.check(r["derr"] <= 30, f"drift within 30 ppm of the truth "
                         f"({ppm:+g} against the device)")
                rr.check(r["late"] <= 0.003 * r["packets"],
                         f"late {r['late']} <= 0.3 % of {r['packets']}")
        except rr.Failed as e:
            print(f"FAIL: {e}")
            rr.FAILURES.append(str(e))
        finally:
            if rr.FAILURES:
                print(f"    (files kept in {d})")
            else:
                shutil.rmtree(d, ignore_errors=True)
    return 1 if rr.FAILURES and not table else 0


if __name__ == "__main__":
    sys.exit(main())
