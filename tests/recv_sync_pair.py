#!/usr/bin/env python3
"""Two receivers in step: one `rtbridge send --media-clock` (L16, 5 ms
packets) fanned out to two `rtbridge recv --sync MS --no-play` through two
relays with different paths (5 ms; 40 ms with 10 ms of jitter), all on
127.0.0.1 (issue 13, point 6).

Usage: recv_sync_pair.py RTBRIDGE RELAY [--no-timing] [--seconds N]

A receiver in sync mode plays each frame at its media time + MS; the
error of the frame at its output against that schedule, on the device's
clock (here the virtual clock, whose pulls are the output), is its
buffer_ms - target_ms, sampled every 100 ms in --stats-json. Both
receivers run on this machine's clock, so their outputs are in step when
both errors are small; the difference of the two, at the same moments,
is how far apart they play the same frame.

Checked always: each receiver's target is MS, one recording each, both
bit-exact copies of the source when nothing was late or lost, no
sanitizer report. Checked in the optimized build (not --no-timing):
after the first 2 s of playout, |error A - error B| <= 0.5 ms at p99 of
the samples and each |error| <= 0.5 ms at p99. Exit 0 pass, 1 fail.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import recv_relay as rr  # noqa: E402  (relay, stop, JSON, audio helpers)
import send_wavcmp  # noqa: E402

SYNC_MS = 150
SETTLE_S = 2.0
PATHS = (["--delay", "5"], ["--delay", "40", "--jitter", "10"])


def start_recv(rtb, d, name):
    """rtbridge recv --sync on 127.0.0.1:0; (process, port, dir, t0)."""
    sub = os.path.join(d, name)
    os.mkdir(sub)
    os.mkdir(os.path.join(sub, "rec"))
    logp = os.path.join(sub, "recv.log")
    log = open(logp, "w")
    t0 = time.monotonic()
    p = subprocess.Popen(
        [rtb, "recv", "--listen", "127.0.0.1:0", "--no-play", "--codec",
         "l16", "--sync", str(SYNC_MS), "--record-dir",
         os.path.join(sub, "rec"), "--stats-json",
         os.path.join(sub, "stats.jsonl"), "--stats-interval", "100",
         "--duration", "60"], stdout=log, stderr=log)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and p.poll() is None:
        with open(logp) as f:
            for line in f:
                if line.startswith("rtbridge recv: listening on 127.0.0.1:"):
                    return p, int(line.split(":")[2].split()[0]), sub, t0
        time.sleep(0.05)
    rr.stop(p, signal.SIGKILL)
    with open(logp) as f:
        raise rr.Failed(f"rtbridge recv ({name}) did not start: "
                        + f.read()[-500:])


class Fanout:
    """Every datagram to 127.0.0.1:PORT goes on to each destination port.
    Stops by itself after `quiet_s` without a datagram once one came, or
    at `deadline` (monotonic s)."""

    def __init__(self, ports, deadline, quiet_s=2.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.ports = ports
        self.deadline = deadline
        self.quiet_s = quiet_s
        self.count = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        last = None
        while time.monotonic() < self.deadline:
            if last is not None and time.monotonic() - last > self.quiet_s:
                break
            try:
                data, _ = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            last = time.monotonic()
            self.count += 1
            for p in self.ports:
                self.sock.sendto(data, ("127.0.0.1", p))
        self.sock.close()


def errors(sub, t0):
    """(absolute monotonic s, buffer_ms - target_ms) while playing, the
    target, and the stream's summary."""
    objs = rr.json_objects(os.path.join(sub, "stats.jsonl"))
    rows = [o for o in objs if o.get("type") == "stream"]
    summary = rr.stream_records(objs[-1]) if objs else []
    rr.check(len(summary) == 1, f"{os.path.basename(sub)}: a summary of "
             f"one stream ({len(summary)})", fatal=True)
    # While the stream is live: from its first packet to the last sample
    # that saw more of them (then the buffer drains).
    live = [r for r in rows if r["received"] > 0]
    rr.check(len(live) > 20, f"{os.path.basename(sub)}: {len(live)} "
             "samples with the stream", fatal=True)
    end = max(r["t"] for r, q in zip(live[1:], live) if
              r["received"] > q["received"])
    start = live[0]["t"] + SYNC_MS / 1000
    playing = [r for r in live if start <= r["t"] < end - 0.2]
    late = [r for r in playing if r["t"] >= start + SETTLE_S]
    t = np.array([t0 + r["t"] for r in late])
    e = np.array([r["buffer_ms"] - r["target_ms"] for r in late])
    targets = {round(r["target_ms"], 3) for r in playing}
    return t, e, targets, summary[0]


def main():
    argv = sys.argv[1:]
    if len(argv) < 2:
        sys.exit(__doc__)
    rtb, relay = argv[0], argv[1]
    timing, seconds = True, 10
    i = 2
    while i < len(argv):
        if argv[i] == "--no-timing":
            timing = False
        elif argv[i] == "--seconds":
            seconds = int(argv[i + 1])
            i += 1
        i += 1
    d = tempfile.mkdtemp(prefix="rtb_syncpair_")
    procs = []
    try:
        src = os.path.join(d, "src.wav")
        send_wavcmp.gen(src, seconds, 13)
        recv = [start_recv(rtb, d, name) for name in ("a", "b")]
        procs += [r[0] for r in recv]
        log = open(os.path.join(d, "peers.log"), "w")
        rports = []
        for k, r in enumerate(recv):
            p, rport = rr.start_relay(relay, r[1], k + 1, PATHS[k], log)
            procs.append(p)
            rports.append(rport)
        fan = Fanout(rports, time.monotonic() + seconds + 20)
        snd = subprocess.run(
            [rtb, "send", src, "--to", f"127.0.0.1:{fan.port}", "--codec",
             "l16", "--frame-ms", "5", "--media-clock", "--quiet"],
            stdout=log, stderr=log, timeout=seconds + 20)
        rr.check(snd.returncode == 0, f"rtbridge send exited "
                 f"{snd.returncode}", fatal=True)
        fan.thread.join(timeout=5)
        time.sleep(SYNC_MS / 1000 + 0.5)  # the last frames play out
        for r in recv:
            rr.check(rr.stop(r[0], wait_s=15) and r[0].returncode == 0,
                     f"recv ({os.path.basename(r[2])}) exited "
                     f"{r[0].returncode}")
        src_pcm, _ = send_wavcmp.read(src)
        res = []
        for r in recv:
            name = os.path.basename(r[2])
            for f in ("recv.log",):
                with open(os.path.join(r[2], f)) as fh:
                    text = fh.read()
                for m in rr.SANITIZER_MARKERS:
                    rr.check(m not in text, f"{name}: no '{m}' in {f}")
            t, e, targets, last = errors(r[2], r[3])
            rr.check(targets == {float(SYNC_MS)},
                     f"{name}: target {sorted(targets)} ms is --sync "
                     f"{SYNC_MS}")
            files = sorted(os.listdir(os.path.join(r[2], "rec")))
            rr.check(len(files) == 1, f"{name}: one recording ({files})",
                     fatal=True)
            got, _ = rr.read_audio(os.path.join(r[2], "rec", files[0]))
            clean = last["late"] == 0 and last["lost"] == 0
            exact = len(got) == len(src_pcm) and np.array_equal(got, src_pcm)
            print(f"    {name}: received {last['received']} late "
                  f"{last['late']} lost {last['lost']} concealed "
                  f"{last['concealed_frames']}; |error| p99 "
                  f"{np.percentile(np.abs(e), 99):.3f} max "
                  f"{np.abs(e).max():.3f} ms; exact {exact}")
            if clean:
                rr.check(exact, f"{name}: recording bit-exact")
            res.append((t, e))
        (ta, ea), (tb, eb) = res
        lo, hi = max(ta[0], tb[0]), min(ta[-1], tb[-1])
        rr.check(hi - lo > 3.0, f"{hi - lo:.1f} s played by both",
                 fatal=True)
        grid = np.arange(lo, hi, 0.1)
        diff = np.abs(np.interp(grid, ta, ea) - np.interp(grid, tb, eb))
        p99 = float(np.percentile(diff, 99))
        print(f"    the same frame out of a and b: apart by p99 {p99:.3f}"
              f" ms, max {diff.max():.3f} ms ({len(grid)} moments)")
        if timing:
            rr.check(p99 <= 0.5, f"a and b within 0.5 ms at p99 ({p99:.3f})")
            for name, e in (("a", ea), ("b", eb)):
                q = float(np.percentile(np.abs(e), 99))
                rr.check(q <= 0.5, f"{name}: on its media schedule within "
                         f"0.5 ms at p99 ({q:.3f})")
    except rr.Failed as e:
        print(f"FAIL: {e}")
        rr.FAILURES.append(str(e))
    finally:
        for p in procs:
            if p.poll() is None:
                rr.stop(p, signal.SIGKILL)
        if rr.FAILURES:
            print(f"    (files kept in {d})")
        else:
            shutil.rmtree(d, ignore_errors=True)
    return 1 if rr.FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
