#!/usr/bin/python3
"""Soak `rtbridge recv`: many senders, churn and floods for N minutes.

Usage: soak.py --build DIR [--minutes N] [--senders 16] [--keep]

One `rtbridge recv --no-play --record-dir` (L16 mono 48 kHz, under
librtcheck when the build has it; its audio and net threads ask for
SCHED_FIFO themselves) receives:
  - --senders looped `rtbridge send` streams (10 ms packets, ordinary
    scheduling: RTBRIDGE_NO_RT=1) through one
    impairment relay: 2 % loss, 10 +- 5 ms jitter (which reorders), and
    a duplicate flood (--duplicate 50: every other packet twice);
  - SSRC churn: one of those senders restarts every 20 s with a new SSRC
    (through the relay, so from the same address: the old stream is
    superseded);
  - a junk flood straight at its port (tools/junkgen, 1000 datagrams/s:
    random bytes, broken headers, one-packet SSRCs).
Every 10 s it samples the receiver: RSS, open fds, threads, CPU (from
/proc), streams alive, the callback's p99 and maximum and rt_violations
(from the receiver's JSON line), and prints a table row. At the end every
recording is checked: a valid WAV (the header's length is the data's)
of which at least 90 % of the 10 ms blocks the sender sent are its
source's audio, bit for bit, wherever in the source (the rest is loss,
concealed; slots a stalled sender skipped, as its summary says, are not
counted as sent).

Fails on: RSS growth of more than 2 MB after the warm-up (the first 25 %
of the run, at most 60 s; compared among samples with the same number of
streams alive), any fd growth after the warm-up (same), any real-time
violation, any invalid recording, a program that crashed or reported a
sanitizer error. Exit 0 pass, 1 fail, 2 bad usage, 77 skipped
(RTB_SKIP_SOAK=1). Traffic stays on
127.0.0.1; every process is bounded in time and stopped at the end.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import wave

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rtbproc  # noqa: E402

RATE = 48000
BLOCK = RATE // 100  # frames per 10 ms packet
SOURCE_S = 7  # seconds of each source file (a whole number of packets)
SOURCES = 4  # distinct source files, sender i sends source i % SOURCES
CHURN_S = 20
SAMPLE_S = 10
FAILURES = []


def check(cond, msg):
    print(("ok:   " if cond else "FAIL: ") + msg, flush=True)
    if not cond:
        FAILURES.append(msg)


def read_mono(path, start=0, frames=None):
    with wave.open(path, "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{path}: not 16-bit mono")
        w.setpos(start)
        n = w.getnframes() - start if frames is None else frames
        return np.frombuffer(w.readframes(n), dtype="<i2")


class SourceIndex:
    """Where any 10 ms block of a (looping) source file occurs, to the
    sample: the 64-bit key of every 4-sample window, sorted."""

    def __init__(self, src):
        self.n = len(src)
        self.ext = np.concatenate([src, src[:BLOCK + 4]]).astype(np.int16)
        u = self.ext.view(np.uint16).astype(np.uint64)
        keys = (u[:self.n] << 48) | (u[1:self.n + 1] << 32) | \
            (u[2:self.n + 2] << 16) | u[3:self.n + 3]
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]

    def found(self, blocks):
        """Which rows of blocks (n x BLOCK int16) occur in the source."""
        u = blocks[:, :4].view(np.uint16).astype(np.uint64)
        k = (u[:, 0] << 48) | (u[:, 1] << 32) | (u[:, 2] << 16) | u[:, 3]
        pos = np.minimum(np.searchsorted(self.keys, k), self.n - 1)
        hit = self.keys[pos] == k
        start = self.order[pos]
        ref = self.ext[start[:, None] + np.arange(BLOCK)[None, :]]
        return hit & np.all(ref == blocks, axis=1)


def recording_ok(path, index, skipped):
    """(ok, text): a valid WAV of which 90 % of the 10 ms blocks or more
    are the source's audio, bit for bit (the rest: concealed losses).
    Each block is looked for anywhere in the source, to the sample: the
    recorded timeline may slip against the file (a sender that stalls
    skips slots and says how many, which are then not expected; the
    playout may move a stream's timeline by part of a packet), and only
    the blocks that straddle such a slip fail."""
    frames, ch, rate, valid = rtbproc.wav_info(path)
    if not valid or ch != 1 or rate != RATE:
        return False, f"invalid WAV ({frames} frames, {ch} ch, {rate} Hz)"
    if frames < BLOCK * 10:
        return False, f"only {frames} frames"
    equal = total = 0
    pos = 0
    while pos < frames:
        x = read_mono(path, pos, min(RATE * 60, frames - pos))
        nb = len(x) // BLOCK
        if nb == 0:
            break
        equal += int(index.found(x[:nb * BLOCK].reshape(nb, BLOCK)).sum())
        total += nb
        pos += nb * BLOCK
    sent = max(total - skipped, 1)
    frac = min(equal / sent, 1.0)
    return frac >= 0.9, (f"{frames / RATE:.1f} s, {100 * frac:.1f} % exact"
                         + (f" ({skipped} skipped)" if skipped else ""))


class Soak:
    def __init__(self, a, d):
        self.a, self.d = a, d
        self.rtb = os.path.join(a.build, "rtbridge")
        self.procs = []
        self.ssrc_src = {}  # ssrc -> source index
        self.next_ssrc = 0x50000000

    def path(self, *p):
        return os.path.join(self.d, *p)

    def sender(self, k, to_port):
        ssrc = self.next_ssrc
        self.next_ssrc += 1
        self.ssrc_src[ssrc] = k % SOURCES
        log = open(self.path(f"send-{ssrc:08x}.log"), "w")
        p = subprocess.Popen([self.rtb, "send", self.path(f"src{k % SOURCES}.wav"),
                              "--to", f"127.0.0.1:{to_port}", "--codec",
                              "l16", "--channels", "1", "--frame-ms", "10",
                              "--ssrc", str(ssrc), "--loop", "--quiet"],
                             stdout=log, stderr=log, env=rtbproc.sender_env())
        log.close()
        self.procs.append(p)
        return p

    def run(self):
        a = self.a
        for k in range(SOURCES):
            subprocess.run([os.path.join(a.build, "gensignal"), "--seconds",
                            str(SOURCE_S), "--seed", str(100 + k),
                            "--channels", "1", self.path(f"src{k}.wav")],
                           check=True, timeout=60, stdout=subprocess.DEVNULL)
        env = dict(os.environ)
        so = os.path.join(a.build, "bridge", "rtcheck", "librtcheck.so")
        if os.path.exists(so) and not a.no_rtcheck:
            env["LD_PRELOAD"] = so
        seconds = a.minutes * 60
        recv, port = rtbproc.start_recv(
            self.rtb, self.d, ["--codec", "l16", "--channels", "1",
                               "--duration", str(seconds + 30)], env)
        self.procs.append(recv)
        relay, rport = rtbproc.start_relay(
            os.path.join(a.build, "relay"), port, self.d,
            ["--seed", "7", "--loss", "2", "--delay", "10", "--jitter", "5",
             "--duplicate", "50", "--duration", str(seconds + 20)])
        self.procs.append(relay)
        senders = [self.sender(k, rport) for k in range(a.senders)]
        junk = subprocess.Popen(
            [os.path.join(a.build, "junkgen"), "--to", f"127.0.0.1:{port}",
             "--rate", "1000", "--duration", str(seconds), "--seed", "11"],
            stdout=open(self.path("junk.out"), "w"), stderr=subprocess.STDOUT)
        self.procs.append(junk)
        follower = rtbproc.JsonFollower(self.path("stats.json"))
        rows = []
        warm = min(60.0, seconds / 4)
        print(f"soak: {a.minutes} min, {a.senders} senders, warm-up {warm:.0f}"
              f" s; recv on 127.0.0.1:{port}, relay on {rport}; dir {self.d}",
              flush=True)
        hdr = ("   t_s  rss_kB  fds thr  cpu%  alive closed  cb_p99  cb_max"
               "  rt_viol  datagrams  prob_fail  conflicts  supersed")
        print(hdr, flush=True)
        t0 = time.monotonic()
        last_cpu, last_t = rtbproc.proc_sample(recv.pid)["cpu_s"], t0
        next_churn, next_sample = t0 + CHURN_S, t0 + SAMPLE_S
        rx = {}
        while time.monotonic() < t0 + seconds:
            time.sleep(0.2)
            if recv.poll() is not None:
                check(False, f"recv ended early (exit {recv.returncode})")
                break
            for o in follower.new():
                if o.get("type") == "receiver":
                    rx = o
            now = time.monotonic()
            if now >= next_churn:
                # The last sender restarts with a new SSRC.
                old = senders[-1]
                rtbproc.stop(old)
                senders[-1] = self.sender(a.senders - 1, rport)
                next_churn += CHURN_S
            if now >= next_sample and rx:
                s = rtbproc.proc_sample(recv.pid)
                cpu = 100 * (s["cpu_s"] - last_cpu) / (now - last_t)
                last_cpu, last_t = s["cpu_s"], now
                row = dict(t=now - t0, cpu=cpu, **s,
                           alive=rx["streams_alive"],
                           closed=rx["streams_closed"],
                           p99=rx["callback_p99_us"],
                           max=rx["callback_max_us"],
                           rtv=rx["rt_violations"], dg=rx["datagrams"],
                           pf=rx["probation_failed"],
                           conf=rx["ssrc_conflicts"], sup=rx["superseded"])
                rows.append(row)
                print(f"{row['t']:6.0f} {row['rss_kb']:7d} {row['fds']:4d} "
                      f"{row['threads']:3d} {row['cpu']:5.1f} {row['alive']:6d}"
                      f" {row['closed']:6d} {row['p99']:7.1f} {row['max']:7.1f}"
                      f" {row['rtv']:8d} {row['dg']:10d} {row['pf']:10d} "
                      f"{row['conf']:10d} {row['sup']:9d}", flush=True)
                next_sample += SAMPLE_S
        for p in senders + [junk]:
            rtbproc.stop(p)
        time.sleep(1.0)
        rtbproc.stop(recv, wait_s=60)
        rtbproc.stop(relay)
        self.verdict(rows, warm, recv)

    def verdict(self, rows, warm, recv):
        check(recv.returncode == 0, f"recv exited {recv.returncode}")
        later = [r for r in rows if r["t"] >= warm]
        if len(later) >= 2:
            counts = {}
            for r in later:
                counts[r["alive"]] = counts.get(r["alive"], 0) + 1
            usual = max(counts, key=counts.get)
            same = [r for r in later if r["alive"] == usual]
            grow = max(r["rss_kb"] for r in same) - same[0]["rss_kb"]
            check(grow <= 2048, f"RSS after the warm-up ({usual} streams "
                  f"alive): {same[0]['rss_kb']} kB, grew by {grow} kB "
                  "(<= 2048)")
            fds = [r["fds"] for r in same]
            check(max(fds) <= fds[0], f"no fd growth after the warm-up "
                  f"({fds[0]} .. {max(fds)})")
            thr = [r["threads"] for r in later]
            check(max(thr) == min(thr), f"threads steady ({min(thr)}..{max(thr)})")
        else:
            check(False, "too short to judge growth (at least 2 samples "
                  "after the warm-up)")
        s = rtbproc.last_json(self.path("stats.json")) or {}
        check(s.get("type") == "summary", "the receiver wrote its summary")
        if s.get("type") == "summary":
            check(s["rt_violations"] == 0,
                  f"rt_violations {s['rt_violations']}"
                  + ("" if os.environ.get("LD_PRELOAD") or not
                     self.a.no_rtcheck else " (checker not loaded)"))
            print(f"summary: datagrams {s['datagrams']}, accepted "
                  f"{s['accepted']}, streams {s['streams_seen']} (closed "
                  f"{s['streams_closed']}), probation failed "
                  f"{s['probation_failed']}, superseded {s['superseded']}, "
                  f"takeovers {s['takeovers']}, conflicts "
                  f"{s['ssrc_conflicts']}, lost {s['total_lost']}, late "
                  f"{s['total_late']}, callback p99 {s['callback_p99_us']} "
                  f"us, max {s['callback_max_us']} us", flush=True)
        srcs = [SourceIndex(read_mono(self.path(f"src{k}.wav")))
                for k in range(SOURCES)]
        files = sorted(os.listdir(self.path("rec")))
        bad, fracs = [], []
        for f in files:
            ssrc = int(f.split(".")[0].split("-")[0], 16)
            if ssrc not in self.ssrc_src:
                bad.append(f"{f}: not a sender's SSRC")
                continue
            ok, text = recording_ok(self.path("rec", f),
                                    srcs[self.ssrc_src[ssrc]],
                                    self.skipped(ssrc))
            fracs.append(text)
            if not ok:
                bad.append(f"{f}: {text}")
        check(len(files) >= self.a.senders, f"{len(files)} recordings")
        print("recordings: " + "; ".join(
            f"{f} {t}" for f, t in zip(files, fracs)), flush=True)
        check(not bad, "every recording valid and >= 90 % exact"
              + ("" if not bad else ": " + "; ".join(bad[:8])))
        text = ""
        for name in ("recv.err", "recv.out"):
            with open(self.path(name), errors="replace") as f:
                text += f.read()
        for m in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                  "runtime error:"):
            check(m not in text, f"no '{m}' from recv")

    def skipped(self, ssrc):
        """Slots the sender skipped after stalls (its summary line)."""
        try:
            with open(self.path(f"send-{ssrc:08x}.log"),
                      errors="replace") as f:
                m = re.search(r"skipped slots (\d+)", f.read())
        except OSError:
            return 0
        return int(m.group(1)) if m else 0

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                rtbproc.stop(p, signal.SIGKILL, wait_s=5)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help="the build directory")
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--senders", type=int, default=16)
    ap.add_argument("--keep", action="store_true",
                    help="keep the recordings and logs")
    ap.add_argument("--no-rtcheck", action="store_true")
    a = ap.parse_args()
    if os.environ.get("RTB_SKIP_SOAK") == "1":
        print("soak: skipped (RTB_SKIP_SOAK=1)")
        return 77
    if a.minutes <= 0 or a.minutes > 24 * 60 or not 1 <= a.senders <= 64:
        print("soak: --minutes 0..1440, --senders 1..64", file=sys.stderr)
        return 2
    d = tempfile.mkdtemp(prefix="rtb_soak_")
    soak = Soak(a, d)
    try:
        soak.run()
    except (RuntimeError, OSError, ValueError, subprocess.SubprocessError,
            KeyError) as e:
        check(False, f"{type(e).__name__}: {e}")
    finally:
        soak.stop_all()
        if a.keep or FAILURES:
            print(f"soak: files kept in {d}")
        else:
            shutil.rmtree(d, ignore_errors=True)
    print("soak: " + ("PASS" if not FAILURES else
                      f"FAIL ({len(FAILURES)} checks)"), flush=True)
    return 0 if not FAILURES else 1


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(main())
