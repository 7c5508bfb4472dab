#!/usr/bin/python3
"""bench_fec: what redundancy and FEC recover from loss, rtbridge against
GStreamer on the same impaired stream

Real processes on 127.0.0.1 only (stdlib Python). Each run:

  rtbridge send SRC --fec F -> relay (seeded loss, --trace, --tee)
      -> rtbridge recv --no-play --sdp S --record-dir ... --stats-json ...
      -> (the same datagrams) gst-launch-1.0 udpsrc ! [rtpreddec !]
         rtpjitterbuffer latency=200 do-lost=true mode=4 ! depay
         [! opusdec plc=true] ! audiorate ! wavenc
         (parity FEC: udpsrc ! rtpstorage ! rtpjitterbuffer !
         rtpulpfecdec ! ..., run from Python by tools/gstfec.py)

S is `rtbridge sdp` of the sender's own options, so the receiver
configures itself as a user's would. rtpreddec stands in front of the
jitter buffer (as in tests/interop_red.py): it hands restored packets to
the buffer, which puts them in order. rtpulpfecdec reads the packets it
rebuilds from from rtpstorage's storage, which only code can hand it, and
wants the SSRC in its caps: every sender uses --ssrc 4660.
Codecs: Opus 128 kbit/s in 10 ms packets and L16 in 5 ms packets, 48 kHz
stereo, sending gensignal's seeded sweep + noise. Conditions (relay seed
1 in each, or --seed): random loss 1, 5, 10 %, and Gilbert-Elliott bursts
`--burst 1.7544,33.3333,0,100` (P_BG = 1/3: mean burst 3 packets;
P_GB = 0.05/0.95 x P_BG: 5 % mean loss; no loss in
the good state, all lost in the bad one). Protections: none, RED distance
1 and 2 (`--fec red:1`, `red:2`), interleaved RED (`--fec red@5`, `red@8`: one
copy, of the packet 5 or 8 back; a burst of up to D losses is restored
for the bandwidth of RED 1: with mean bursts of 3, a fraction (2/3)^D of
the lost packets sits D or more before its burst's end, 13 % for D = 5,
4 % for D = 8), and the parity FEC (`--fec ulpfec:20`,
`ulpfec:30`) when the binary's `send --help` offers it (their parity
packets are expected on the media's port, with a payload type of their
own; the table says when the binary lacks the option).

Per cell: media packets the relay dropped (from its trace; the parity
packets it dropped apart), rtbridge's `recovered` and `lost` (concealed)
from its stats summary, and how many dropped packets each receiver's
recording holds exactly: L16 bit for bit against the source; Opus
against a loss-free recording of the same send by the same receiver, bit
for bit: a restored packet decodes to the very samples the original did
as long as the decoder's state matches, i.e. where the packet before it
in the recording is bit-exact; packets after a concealment are not
judged (Opus's output converges to the loss-free decode only over many
packets, whether the packet arrived, was restored or not), and the
exact % is of the judged ones. The Opus references come from a loss-free
run made alone before the others, made again (up to 3 times) when
rtbridge lost a packet in it to a stall of the machine; the table says
how that went. `late` (rtbridge's stats) shows the cells that stalls hit.
Restorable: dropped packets one of whose next N packets arrived (the
packet D later for red@D), what that RED can restore at most. Added bandwidth: bytes the sender put
on the wire (relay trace, UDP payloads) against the same condition
without protection.

CPU: the 5 % random-loss cells run one at a time, first, and measure the
sender's and both receivers' CPU (/proc/PID/task/*/schedstat, ns on CPU,
all threads) over the steady part of the run (from 2 s after the start to
1 s before the end), in % of one core; the other cells run --jobs at a
time (their CPU is not reported). Defaults: 15 s per cell, 4 at a time:
about 3.5 minutes without the parity rows, 5.5 with them.

  bench_fec.py [--rtbridge PATH] [--relay PATH] [--gensignal PATH]
               [--seconds S] [--jobs N] [--seed N] [--codec opus|l16|all]
               [--conditions loss1,loss5,loss10,burst3]
               [--fec none,red1,red2,red@5,red@8,ulpfec20,ulpfec30] [--no-gst]
               [--recv-args "ARGS"] [--json FILE|-] [--keep DIR] [--smoke]

--recv-args: more `rtbridge recv` options (e.g. "--min-latency 30");
--keep DIR: run in DIR and keep every file (traces, recordings, logs);
--json: the cells as JSON (- for stdout, after the table).
--smoke: one cell (L16, RED distance 1, 5 % loss, 4 s) that fails (exit
1) unless the tool ran and rtbridge's recording holds >= 90 % of the
dropped packets exactly. Exit 0 ok, 1 failure.
"""
import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fecmeasure as fm  # noqa: E402
import fecreport  # noqa: E402
import gstfec  # noqa: E402  (GStreamer's ULPFEC receiver)
import rtbproc  # noqa: E402  (processes, ports, stats files)

PT, RED_PT, ULPFEC_PT = 96, 100, 101
# rtpulpfecdec wants the SSRC in its caps: every sender uses this one.
ULPFEC_SSRC = 0x1234
CODECS = {  # frames per packet, send options
    "opus": (480, ["--codec", "opus", "--frame-ms", "10", "--bitrate",
                   "128000"]),
    "l16": (240, ["--codec", "l16", "--frame-ms", "5"]),
}
CONDITIONS = {
    "loss1": ("random 1 %", ["--loss", "1"]),
    "loss5": ("random 5 %", ["--loss", "5"]),
    "loss10": ("random 10 %", ["--loss", "10"]),
    "burst3": ("bursts of 3, 5 %", ["--burst", "1.7544,33.3333,0,100"]),
}
FECS = {
    "none": ("none", []),
    "red1": ("RED 1", ["--fec", "red:1"]),
    "red2": ("RED 2", ["--fec", "red:2"]),
    "red@5": ("RED @5", ["--fec", "red@5"]),
    "red@8": ("RED @8", ["--fec", "red@8"]),
    "ulpfec20": ("ULPFEC 20 %", ["--fec", "ulpfec:20"]),
    "ulpfec30": ("ULPFEC 30 %", ["--fec", "ulpfec:30"]),
}
GST_CAPS = {
    "opus": "application/x-rtp,media=audio,clock-rate=48000,"
            "encoding-name=OPUS,payload=96",
    "l16": "application/x-rtp,media=audio,clock-rate=48000,"
           "encoding-name=L16,encoding-params=(string)2,channels=(int)2,"
           "payload=96",
}
SEED = 1


def cpu_ns(pid):
    """Nanoseconds on CPU of all of a live process's threads (0 if gone)."""
    total = 0
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        return 0
    return total


class Run:
    """One cell: the processes of one send through the relay, then what
    their files say."""

    def __init__(self, b, codec, cond, fec, cpu, attempt=1):
        self.b, self.codec, self.cond, self.fec, self.cpu = \
            b, codec, cond, fec, cpu
        self.dir = os.path.join(b.dir, "%s-%s-%s" % (codec, cond, fec) +
                                ("-%d" % attempt if attempt > 1 else ""))
        self.procs = []
        self.recs = {}  # receiver: its recording, once analysed
        self.res = {"codec": codec, "condition": cond, "fec": fec,
                    "seed": b.seed, "fec_label": FECS[fec][0],
                    "condition_label": CONDITIONS.get(cond, ("",))[0]}
        self.gst = b.gst

    def sdp(self, opts):
        path = os.path.join(self.dir, "stream.sdp")
        with open(path, "w") as f:
            subprocess.run([self.b.a.rtbridge, "sdp", "--to",
                            "127.0.0.1:9"] + opts, stdout=f, check=True,
                           timeout=10)
        return path

    def start_gst(self):
        """GStreamer's receiver of the same datagrams: rtpreddec for RED,
        rtpstorage + rtpulpfecdec (gstfec.py) for the parity FEC."""
        port = rtbproc.free_udp_port()
        out = os.path.join(self.dir, "gst.wav")
        dec = ["rtpopusdepay", "!", "opusdec", "plc=true"] \
            if self.codec == "opus" else ["rtpL16depay"]
        tail = dec + ["!", "audioconvert", "!",
                      "audio/x-raw,format=S16LE,rate=48000,channels=2", "!",
                      "audiorate", "tolerance=0", "skip-to-first=true", "!",
                      "wavenc", "!", "filesink", "location=" + out]
        log_path = os.path.join(self.dir, "gst.out")
        if self.fec.startswith("ulpfec"):
            p = gstfec.start_ulpfec_recv(
                port, ULPFEC_PT, GST_CAPS[self.codec] +
                ",ssrc=(uint)%d" % ULPFEC_SSRC, " ".join(tail), log_path)
            self.procs.append(p)
            return p, port
        args = ["gst-launch-1.0", "-q", "-e", "udpsrc", "address=127.0.0.1",
                "port=%d" % port, "caps=" + GST_CAPS[self.codec], "!"]
        if self.fec.startswith("red"):
            args += ["rtpreddec", "pt=%d" % RED_PT, "!"]
        args += ["rtpjitterbuffer", "latency=200", "do-lost=true", "mode=4",
                 "!"] + tail
        with open(log_path, "w") as log:
            p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)
        deadline = time.monotonic() + 10
        while not rtbproc.port_taken(port):
            if p.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gst-launch-1.0 did not start (%s)"
                                   % self.dir)
            time.sleep(0.05)
        return p, port

    def execute(self):
        os.makedirs(self.dir)
        a = self.b.a
        frame, copts = CODECS[self.codec]
        opts = copts + FECS[self.fec][1]
        loss = CONDITIONS[self.cond][1] if self.cond != "ref" else []
        sdp = self.sdp(opts)
        try:
            recv, rport = rtbproc.start_recv(a.rtbridge, self.dir,
                                             ["--sdp", sdp] +
                                             shlex.split(a.recv_args))
            self.procs.append(recv)
            gst, gport = self.start_gst() if self.gst else (None, None)
            relay_args = ["--seed", str(self.b.seed), "--trace",
                          os.path.join(self.dir, "trace.txt")] + loss
            if gport:
                relay_args += ["--tee", "127.0.0.1:%d" % gport]
            relay, port = rtbproc.start_relay(a.relay, rport, self.dir,
                                              relay_args)
            self.procs.append(relay)
            with open(os.path.join(self.dir, "send.out"), "w") as log:
                snd = subprocess.Popen(
                    [a.rtbridge, "send", self.b.src, "--to",
                     "127.0.0.1:%d" % port, "--quiet", "--ssrc",
                     str(ULPFEC_SSRC)] + opts,
                    stdout=log, stderr=subprocess.STDOUT,
                    env=rtbproc.sender_env())
            self.procs.append(snd)
            watched = [snd, recv] + ([gst] if gst else [])
            t0 = time.monotonic()
            if self.cpu:
                self.measure_cpu(t0, watched)
            snd.wait(timeout=a.seconds + 30)
            time.sleep(1.0)  # the last packets play out
            for p in (recv, gst):
                if p and not rtbproc.stop(p, wait_s=15):
                    raise RuntimeError("%s did not stop (%s)"
                                       % (p.args[0], self.dir))
            rtbproc.stop(relay)
            self.res["exit"] = {"send": snd.returncode,
                                "recv": recv.returncode,
                                "gst": gst.returncode if gst else None}
        finally:
            for p in self.procs:
                if p.poll() is None:
                    rtbproc.stop(p, signal.SIGKILL)

    def measure_cpu(self, t0, procs):
        a = self.b.a
        t_start, t_end = t0 + 2.0, t0 + a.seconds - 1.0
        if t_end - t_start < 1.0:
            return
        time.sleep(max(0.0, t_start - time.monotonic()))
        c0 = [cpu_ns(p.pid) for p in procs]
        w0 = time.monotonic()
        time.sleep(max(0.0, t_end - w0))
        c1 = [cpu_ns(p.pid) for p in procs]
        dt = time.monotonic() - w0
        names = ["send", "recv", "gst"]
        self.res["cpu_pct"] = {
            names[i]: (c1[i] - c0[i]) / 1e9 / dt * 100.0
            for i in range(len(procs)) if procs[i].poll() is None}
        self.res["cpu_window_s"] = dt

    def analyse(self, refs):
        """Fill self.res from the run's files; refs: {receiver: bytes}."""
        frame = CODECS[self.codec][0]
        r = self.res
        if r.get("error"):
            return
        tr = fm.parse_trace(os.path.join(self.dir, "trace.txt"), PT, RED_PT,
                            frame)
        r["media_pkts"] = len(tr["media"])
        r["dropped"] = sum(1 for _, _, d in tr["media"] if d)
        r["prot_pkts"], r["prot_dropped"] = tr["prot_pkts"], \
            tr["prot_dropped"]
        r["bytes"] = tr["media_bytes"] + tr["prot_bytes"]
        if self.fec.startswith("red@"):
            r["restorable"] = fm.restorable(tr, [int(self.fec[4:])])
        elif self.fec.startswith("red"):
            n = int(self.fec[3:])
            r["restorable"] = fm.restorable(tr, range(1, n + 1))
        bad = {k: v for k, v in r.get("exit", {}).items() if v}
        if bad:
            r["error"] = "exit status %s" % bad
        summary = rtbproc.last_json(os.path.join(self.dir, "stats.json"))
        streams = [x for x in (summary or {}).get("streams", [])
                   if x.get("ssrc") == tr["ssrc"]]
        if len(streams) != 1:
            r["error"] = "rtbridge recv: %d streams of SSRC %s in the " \
                "summary" % (len(streams), tr["ssrc"])
            return
        s = streams[0]
        r["rtb"] = {k: s.get(k) for k in ("recovered", "lost", "late",
                                          "late_repairs",
                                          "concealed_frames", "target_ms",
                                          "received")}
        self.recs = {"rtb": s.get("record")}
        if self.gst:
            self.recs["gst"] = os.path.join(self.dir, "gst.wav")
        for who, path in self.recs.items():
            got = fm.Audio(path)
            r.setdefault(who, {})["frames"] = got.frames
            if self.cond == "ref":
                continue
            ref = refs.get(who) if self.codec == "opus" else refs["src"]
            if not got.frames or not ref or not ref.frames:
                r[who]["error"] = "no recording" if not got.frames \
                    else "no reference"
                continue
            r[who].update(fm.judge(ref, got, frame, tr,
                                   self.codec == "opus"))



class Bench:
    def __init__(self, a):
        self.a = a
        self.dir = a.keep or tempfile.mkdtemp(prefix="rtb_bench_fec_")
        os.makedirs(self.dir, exist_ok=True)
        self.gst = not a.no_gst and shutil.which("gst-launch-1.0")
        helptext = subprocess.run([a.rtbridge, "send", "--help"],
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=10).stdout
        self.has_ulpfec = b"ulpfec" in helptext
        self.missing = []  # labels of the protections not run
        self.notes = []  # how the references went
        self.seed = a.seed
        self.runs = []

    def plan(self):
        codecs = ["opus", "l16"] if self.a.codec == "all" else [self.a.codec]
        fecs = [f for f in self.a.fec.split(",") if f]
        conds = [c for c in self.a.conditions.split(",") if c]
        for name, table in (("--fec", fecs), ("--conditions", conds)):
            known = FECS if name == "--fec" else CONDITIONS
            bad = [x for x in table if x not in known]
            if bad:
                raise ValueError("%s: unknown %s" % (name, ",".join(bad)))
        if not self.has_ulpfec:
            self.missing = [FECS[f][0] for f in fecs
                            if f.startswith("ulpfec")]
            fecs = [f for f in fecs if not f.startswith("ulpfec")]
        serial, parallel = [], []
        self.ref_codecs = [c for c in codecs if c == "opus"]
        for codec in codecs:
            for cond in conds:
                for fec in fecs:
                    cpu = cond == "loss5"
                    (serial if cpu else parallel).append(
                        Run(self, codec, cond, fec, cpu))
        return serial, parallel

    def execute(self, runs, jobs):
        """Run the cells, `jobs` at a time. A cell that fails keeps its
        error (the table shows it) and the others go on."""
        todo, lock = list(runs), threading.Lock()

        def worker():
            while True:
                with lock:
                    if not todo:
                        return
                    run = todo.pop(0)
                try:
                    run.execute()
                except (RuntimeError, OSError, subprocess.SubprocessError,
                        ValueError) as e:
                    run.res["error"] = "%s: %s" % (type(e).__name__, e)
        threads = [threading.Thread(target=worker) for _ in range(jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def run(self):
        a = self.a
        self.src = os.path.join(self.dir, "src.wav")
        subprocess.run([a.gensignal, "--seconds", str(a.seconds), "--seed",
                        "7", self.src], check=True, stdout=subprocess.DEVNULL)
        serial, parallel = self.plan()
        t0 = time.monotonic()
        print("bench_fec: %d cells of %g s (%d alone, measuring CPU; %d, "
              "%d at a time), in %s" % (len(serial) + len(parallel),
                                         a.seconds, len(serial),
                                         len(parallel), a.jobs, self.dir),
              file=sys.stderr)
        refs = {"src": fm.Audio(self.src)}
        for codec in self.ref_codecs:
            for who, path in self.reference(codec).recs.items():
                refs[who] = fm.Audio(path)
        self.execute(serial, 1)
        self.execute(parallel, a.jobs)
        self.runs = serial + parallel
        for r in self.runs:
            r.analyse(refs)
        self.elapsed = time.monotonic() - t0

    def reference(self, codec, attempts=3):
        """The loss-free run whose recordings are the Opus references, run
        alone before the others, again when the machine made rtbridge
        lose a packet (late: a stall, not the network)."""
        for n in range(1, attempts + 1):
            r = Run(self, codec, "ref", "none", False, n)
            try:
                r.execute()
            except (RuntimeError, OSError, subprocess.SubprocessError,
                    ValueError) as e:
                r.res["error"] = "%s: %s" % (type(e).__name__, e)
            r.analyse({})
            rtb = r.res.get("rtb", {})
            clean = not r.res.get("error") and rtb.get("lost") == 0 and \
                rtb.get("late") == 0
            self.notes.append("%s loss-free reference, attempt %d: %s" % (
                codec, n, "clean" if clean else "lost %s, late %s%s" % (
                    rtb.get("lost"), rtb.get("late"),
                    ", " + r.res["error"] if r.res.get("error") else "")))
            if clean:
                break
        return r

    def close(self):
        if not self.a.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def main():
    build = os.path.join(os.path.dirname(HERE), "build")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rtbridge", default=os.path.join(build, "rtbridge"))
    ap.add_argument("--relay", default=None)
    ap.add_argument("--gensignal", default=None)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--codec", choices=["opus", "l16", "all"], default="all")
    ap.add_argument("--conditions", default=",".join(CONDITIONS))
    ap.add_argument("--fec", default=",".join(FECS))
    ap.add_argument("--no-gst", action="store_true")
    ap.add_argument("--recv-args", default="")
    ap.add_argument("--json", default=None)
    ap.add_argument("--keep", default=None)
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args()
    if a.smoke:
        a.codec, a.conditions, a.fec, a.seconds = "l16", "loss5", "red1", 4
    bdir = os.path.dirname(a.rtbridge)
    a.relay = a.relay or os.path.join(bdir, "relay")
    a.gensignal = a.gensignal or os.path.join(bdir, "gensignal")
    if not rtbproc.executables("bench_fec", (a.rtbridge, a.relay,
                                             a.gensignal)):
        return 1
    if a.seconds < 3 or a.jobs < 1:
        print("bench_fec: --seconds must be >= 3, --jobs >= 1",
              file=sys.stderr)
        return 1
    b = Bench(a)
    try:
        b.run()
        rows = fecreport.cells(b)
        fecreport.report(b, rows)
    except (RuntimeError, ValueError, OSError, KeyError, IndexError,
            TypeError, subprocess.SubprocessError) as e:
        print("bench_fec: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 1
    finally:
        b.close()
    if a.json:
        text = json.dumps({"seconds": a.seconds, "seed": b.seed,
                           "missing": b.missing, "gst": bool(b.gst),
                           "cells": rows}, indent=1)
        if a.json == "-":
            print(text)
        else:
            with open(a.json, "w") as f:
                f.write(text + "\n")
    if a.smoke:
        x = rows[0]
        ok = x.get("rtb_exact_pct") is not None and \
            x["rtb_exact_pct"] >= 90.0 and x.get("dropped", 0) > 0
        print("smoke: RED 1 at 5 %% loss: %s of %s dropped packets exact "
              "(>= 90 %%): %s" % (x.get("rtb", {}).get("exact"),
                                  x.get("dropped"), "ok" if ok else "FAIL"))
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
