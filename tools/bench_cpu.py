#!/usr/bin/python3
"""bench_cpu: what a stream costs, in % of one core, against GStreamer

Real processes on 127.0.0.1 only. Each case starts its processes, lets
them warm up, then reads utime + stime of every process (/proc/PID/stat:
the whole process, all its threads) before and after a fixed window; the
case is repeated and the median printed. Cases, for Opus (128 kbit/s) and
L16 (stereo 48 kHz), 10 ms packets, N streams (default 8):

  (a) an idle `rtbridge recv --no-play` with no stream (and its threads,
      by name, from /proc/PID/task/TID/stat);
  (b) N streams into ONE `recv --no-play` (drift compensation on, the
      default): the process's total and its threads by name, per stream
      (total / N), and per stream above idle ((total - idle) / N);
  (c) one `recv --no-play` process per stream: per stream;
  (d) one GStreamer receive pipeline per stream (udpsrc ! rtpjitterbuffer
      ! rtpopusdepay ! opusdec ! fakesink, or rtpL16depay): per stream,
      and the ratios rtbridge / GStreamer of (c) and (b);
  (e) N `rtbridge send` processes against N GStreamer senders (filesrc !
      wavparse ! audioconvert ! opusenc frame-size=10 bitrate=128000 !
      rtpopuspay ! udpsink sync=true, or rtpL16pay with 10 ms packets):
      per stream and the ratio, and the first rtbridge sender's threads
      by name. Their packets go to UDP sockets this script binds and
      never reads (the kernel drops what overflows).
  (f) the floor on this machine, beside (b) and (e): tools/bench_floor
      does only the unavoidable work. Its receiver (one thread waking
      every --floor-wake-ms, default 40: the virtual clock's wake-up, as
      often as a `recv --no-play` looks at its streams; reading what is
      queued with recvmmsg and copying each datagram once) takes
      the same N rtbridge senders as (b); its senders (one wake-up on an
      absolute schedule and one sendto per 10 ms packet: 1932 bytes for
      L16, 172 for Opus, whose encoder the floor leaves out) go to sinks
      like (e)'s. Printed: per stream and the ratios rtbridge / floor.

The senders of (b)-(d) are `rtbridge send --loop` processes (not
measured). The test signal is gensignal's seeded sweep + noise. Numbers
only: nothing is asserted. CPU time is the scheduler's run time of each
thread (/proc/PID/task/TID/schedstat, ns; a process is the sum of its
threads that live through the window, which every process measured here
keeps); without schedstat, utime + stime of /proc/PID/stat, which count
in clock ticks (1/100 s here), so that a window of W seconds resolves
1 / W % per process: the header says which. Beside each thread's share,
its wake-ups per second: how often it left the CPU and came back over
the window (voluntary + nonvoluntary context switches, from
/proc/PID/task/TID/status).

--baseline PATH: a second rtbridge (B) against --rtbridge (A). Every
rtbridge case then runs A and B in turn, repeat by repeat (A, B, A, B,
...: each a fresh set of processes, its own warm-up and one window, the
senders from the same binary as the receiver), so that whatever else
loads the machine falls on both alike; printed: A's median, B's and the
ratio A / B of the medians. The floor and GStreamer cases do not depend
on the binary and run once (their senders: A).

  bench_cpu.py [--rtbridge PATH] [--streams N] [--seconds W]
               [--repeats R] [--warmup S] [--codec opus|l16|all]
               [--only a,b,c,d,e,f] [--floor PATH] [--floor-wake-ms W]
               [--baseline PATH] [--smoke]

--smoke: a run of a few seconds that only checks that every case runs
(2 streams, L16, 1 s windows, one repeat).
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rtbproc  # noqa: E402  (executables)

TICK = os.sysconf("SC_CLK_TCK")
CAPS = {
    "opus": "application/x-rtp,media=audio,clock-rate=48000,"
            "encoding-name=OPUS,payload=96",
    "l16": "application/x-rtp,media=audio,clock-rate=48000,"
           "encoding-name=L16,encoding-params=(string)2,channels=(int)2,"
           "payload=96",
}
DEPAY = {"opus": "rtpopusdepay ! opusdec", "l16": "rtpL16depay"}
# Datagram bytes of a 10 ms packet: RTP header + payload (Opus at
# 128 kbit/s: 160 bytes; L16 stereo 48 kHz: 1920).
FLOOR_BYTES = {"opus": 12 + 160, "l16": 12 + 1920}


class Bench:
    def __init__(self, args):
        self.a = args
        self.dir = tempfile.mkdtemp(prefix="rtb_bench_cpu_")
        self.procs = []
        self.socks = []
        self.nlog = 0
        self.gst = shutil.which("gst-launch-1.0")
        # The rtbridge binaries compared, by label, and the one the cases
        # start now.
        self.bins = [("A", args.rtbridge)]
        if args.baseline:
            self.bins.append(("B", args.baseline))
        self.bin = args.rtbridge

    # ---- processes ----

    def start(self, argv):
        """Start a process with its output in a log file of its own."""
        self.nlog += 1
        log = os.path.join(self.dir, "p%d.log" % self.nlog)
        with open(log, "wb") as f:
            p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
        p.log = log
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 5
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []
        for s in self.socks:
            s.close()
        self.socks = []

    def check_alive(self, procs):
        for p in procs:
            if p.poll() is not None:
                with open(p.log, errors="replace") as f:
                    tail = f.read()[-600:]
                raise RuntimeError("%s exited %s:\n%s" %
                                   (p.args[0], p.returncode, tail))

    def recv(self, codec):
        """A `recv --no-play` on a port of its own choosing; its port."""
        p = self.start([self.bin, "recv", "--listen", "127.0.0.1:0",
                        "--codec", codec, "--no-play"])
        return p, self.port_of(p, "rtbridge recv")

    def port_of(self, p, who):
        """The port a receiver says it listens on."""
        tag = who + ": listening on 127.0.0.1:"
        for _ in range(200):
            self.check_alive([p])
            with open(p.log, errors="replace") as f:
                for line in f:
                    if line.startswith(tag):
                        return int(line[len(tag):].split()[0])
            time.sleep(0.025)
        raise RuntimeError("%s did not say its port in 5 s" % who)

    def send(self, codec, port):
        return self.start([self.bin, "send", self.wav, "--to",
                           "127.0.0.1:%d" % port, "--codec", codec,
                           "--frame-ms", "10", "--loop", "--quiet"])

    def floor_recv(self):
        p = self.start([self.a.floor, "recv", "--listen", "127.0.0.1:0",
                        "--wake-ms", str(self.a.floor_wake_ms)])
        return p, self.port_of(p, "bench_floor recv")

    def floor_send(self, codec, port):
        return self.start([self.a.floor, "send", "--to",
                           "127.0.0.1:%d" % port, "--bytes",
                           str(FLOOR_BYTES[codec]), "--packet-ms", "10"])

    def sink(self):
        """A UDP port nobody reads: its datagrams cost only the sender."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.bind(("127.0.0.1", 0))
        self.socks.append(s)
        return s.getsockname()[1]

    def free_port(self):
        """A port for a GStreamer receiver (it cannot report one it picks
        itself); a lost race shows as a pipeline that exits."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        return port

    def gst_recv(self, codec, port):
        return self.start(["gst-launch-1.0", "-q", "udpsrc",
                           "address=127.0.0.1", "port=%d" % port,
                           "caps=" + CAPS[codec], "!", "rtpjitterbuffer",
                           "!"] + DEPAY[codec].split() + ["!", "fakesink"])

    def gst_send(self, codec, port):
        src = ["gst-launch-1.0", "-q", "filesrc", "location=" + self.wav,
               "!", "wavparse", "!", "audioconvert", "!"]
        if codec == "opus":
            tail = ["audio/x-raw,rate=48000,channels=2", "!", "opusenc",
                    "frame-size=10", "bitrate=128000", "!", "rtpopuspay",
                    "pt=96"]
        else:
            tail = ["audio/x-raw,format=S16BE,rate=48000,channels=2", "!",
                    "rtpL16pay", "pt=96", "min-ptime=10000000",
                    "max-ptime=10000000"]
        return self.start(src + tail + ["!", "udpsink", "host=127.0.0.1",
                                        "port=%d" % port, "sync=true"])

    # ---- measuring ----

    SCHEDSTAT = os.path.exists("/proc/self/schedstat")

    @staticmethod
    def cpu_s(pid, tid=None):
        """CPU seconds of a process (all its threads) or of one thread."""
        if Bench.SCHEDSTAT:
            tids = [tid] if tid is not None else \
                os.listdir("/proc/%d/task" % pid)
            ns = 0
            for t in tids:
                try:
                    with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                        ns += int(f.read().split()[0])
                except FileNotFoundError:
                    pass  # a thread that just ended
            return ns / 1e9
        path = "/proc/%d/stat" % pid if tid is None else \
            "/proc/%d/task/%d/stat" % (pid, tid)
        with open(path) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime

    @staticmethod
    def switches(pid, tid):
        """A thread's context switches so far, voluntary + nonvoluntary:
        each a time it left the CPU, and so a wake-up to come back."""
        n = 0
        try:
            with open("/proc/%d/task/%d/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches",
                                        "nonvoluntary_ctxt_switches")):
                        n += int(line.split()[1])
        except FileNotFoundError:
            pass  # a thread that just ended
        return n

    @staticmethod
    def threads(pid):
        """{tid: name} of a process's threads."""
        out = {}
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/comm" % (pid, t)) as f:
                out[int(t)] = f.read().strip()
        return out

    def measure(self, procs, split, windows):
        """Warm up, then each process's % of a core over each of `windows`
        windows. With `split` (a dict), also the first process's threads,
        those of one name together: split[name] gets their (% of a core,
        wake-ups per second) per window."""
        time.sleep(self.a.warmup)
        runs = []
        pid = procs[0].pid
        names = self.threads(pid) if split is not None else {}
        for _ in range(windows):
            self.check_alive(procs)
            t0 = time.monotonic()
            c0 = [self.cpu_s(p.pid) for p in procs]
            h0 = {t: (self.cpu_s(pid, t), self.switches(pid, t))
                  for t in names}
            time.sleep(self.a.seconds)
            c1 = [self.cpu_s(p.pid) for p in procs]
            h1 = {t: (self.cpu_s(pid, t), self.switches(pid, t))
                  for t in names}
            dt = time.monotonic() - t0
            runs.append([(b - a) / dt * 100.0 for a, b in zip(c0, c1)])
            per = {}
            for t, name in names.items():
                cpu, wakes = per.get(name, (0.0, 0.0))
                per[name] = (cpu + (h1[t][0] - h0[t][0]) / dt * 100.0,
                             wakes + (h1[t][1] - h0[t][1]) / dt)
            for name, v in per.items():
                split.setdefault(name, []).append(v)
        self.check_alive(procs)
        return runs

    def case(self, setup, split=None, compare=True):
        """Run one case: setup() starts processes (rtbridge ones from
        self.bin) and returns the ones to measure; every process is stopped
        afterwards. Return: {label: runs} for each rtbridge compared (only
        A where `compare` is false); with `split`, split[label] gets the
        threads as measure() says. One binary: one set of processes and
        --repeats windows. Two: a fresh set per binary and repeat, in
        turn (A, B, A, B, ...), one window each."""
        bins = self.bins if compare else self.bins[:1]
        rounds, windows = ((1, self.a.repeats) if len(bins) == 1
                           else (self.a.repeats, 1))
        out = {label: [] for label, _ in bins}
        try:
            for _ in range(rounds):
                for label, path in bins:
                    self.bin = path
                    sp = None if split is None else \
                        split.setdefault(label, {})
                    try:
                        out[label] += self.measure(setup(), sp, windows)
                    finally:
                        self.stop_all()
        finally:
            self.bin = self.a.rtbridge
        return out

    @staticmethod
    def medians(runs, of=lambda r: r[0]):
        """{label: median over the windows of of(window)}."""
        return {label: statistics.median(of(r) for r in rs)
                for label, rs in runs.items()}

    # ---- the cases ----

    def idle(self, split):
        return self.medians(self.case(lambda: [self.recv("l16")[0]], split))

    def one_recv(self, codec, split, floor=False):
        def setup():
            p, port = self.floor_recv() if floor else self.recv(codec)
            for _ in range(self.a.streams):
                self.send(codec, port)
            return [p]
        return self.medians(self.case(setup, split, compare=not floor))

    def recv_each(self, codec):
        def setup():
            rx = []
            for _ in range(self.a.streams):
                p, port = self.recv(codec)
                self.send(codec, port)
                rx.append(p)
            return rx
        return self.medians(self.case(setup), statistics.mean)

    def gst_recv_each(self, codec):
        def setup():
            rx = []
            for _ in range(self.a.streams):
                port = self.free_port()
                rx.append(self.gst_recv(codec, port))
                self.send(codec, port)
            return rx
        return self.medians(self.case(setup, compare=False),
                            statistics.mean)

    def senders(self, codec, gst, floor=False, split=None):
        def setup():
            tx = []
            for _ in range(self.a.streams):
                port = self.sink()
                if floor:
                    tx.append(self.floor_send(codec, port))
                elif gst:
                    tx.append(self.gst_send(codec, port))
                else:
                    tx.append(self.send(codec, port))
            return tx
        return self.medians(self.case(setup, split,
                                      compare=not (gst or floor)),
                            statistics.mean)

    def run(self):
        a = self.a
        span = a.warmup + a.repeats * (a.seconds + 1) + 10
        self.wav = os.path.join(self.dir, "signal.wav")
        subprocess.run([a.gensignal, "--seconds", str(int(span)), self.wav],
                       check=True, stdout=subprocess.DEVNULL)
        codecs = ["opus", "l16"] if a.codec == "all" else [a.codec]
        only = set(a.only.split(","))
        n = a.streams
        labels = [label for label, _ in self.bins]
        print("bench_cpu: %s, %d streams of 10 ms packets, window %g s x %d "
              "after %g s, medians; %% of one core (%s)"
              % (a.rtbridge, n, a.seconds, a.repeats, a.warmup,
                 "schedstat run time" if self.SCHEDSTAT else
                 "clock ticks: resolution %.2f %% per process"
                 % (100.0 / TICK / a.seconds)))
        if a.baseline:
            print("A: %s\nB (baseline): %s\nrtbridge cases run A and B in "
                  "turn, a fresh start and one window each" %
                  (a.rtbridge, a.baseline))
        print("senders of (b)-(d): rtbridge send --loop; GStreamer: %s"
              % (self.gst or "not installed (n/a)"))
        print("threads: % of one core, wake-ups per second (context "
              "switches)")
        print("%-44s %s" % ("case", " ".join("%9s" % c for c in codecs)))
        sys.stdout.flush()
        gst = self.gst is not None

        def row(label, values):
            print("%-44s %s" % (label, " ".join(
                "%9s" % ("n/a" if v is None else "%.3f" % v)
                for v in values)))
            sys.stdout.flush()

        def ratio(x, y):
            return None if x is None or y is None or y <= 0 else x / y

        def each(d, f):
            """f applied to each binary's value of d (a {label: value})."""
            return None if d is None else {k: f(v) for k, v in d.items()}

        def rows(label, values, compare=True):
            """A row of {label: value} per codec: A's, then with a
            baseline B's and (with `compare`) the ratio A / B."""
            def pick(v, k):
                return None if v is None else v.get(k)
            row(label, [pick(v, "A") for v in values])
            if len(labels) < 2 or all(pick(v, "B") is None for v in values):
                return
            row("      B", [pick(v, "B") for v in values])
            if compare:
                row("      ratio A / B", [ratio(pick(v, "A"), pick(v, "B"))
                                         for v in values])

        def threads(title, split):
            for label in labels:
                if label not in split:
                    continue
                print("    its threads%s%s: " % (
                    title, " (%s)" % label if len(labels) > 1 else "") +
                    ", ".join("%s %.2f %.0f/s" % (
                        k, statistics.median(c for c, _ in v),
                        statistics.median(w for _, w in v))
                        for k, v in sorted(split[label].items())))

        idle = None
        if "a" in only:
            split = {}
            idle = self.idle(split)
            rows("(a) idle recv --no-play, no stream", [idle])
            threads("", split)
        one = {c: None for c in codecs}
        each_rx = {c: None for c in codecs}
        grx = {c: None for c in codecs}
        if "b" in only:
            splits = {c: {} for c in codecs}
            one = {c: self.one_recv(c, splits[c]) for c in codecs}
            rows("(b) one recv, %d streams: process" % n,
                 [one[c] for c in codecs])
            for c in codecs:
                threads(", " + c, splits[c])
            rows("    per stream (total / %d)" % n,
                 [each(one[c], lambda v: v / n) for c in codecs])
            if idle is not None:
                rows("    per stream above idle",
                     [{k: (v - idle[k]) / n for k, v in one[c].items()}
                      for c in codecs])
        if "f" in only:
            frx = {c: self.one_recv(c, None, floor=True)["A"] / n
                   for c in codecs}
            row("(f) floor receiver, wake %g ms: per stream"
                % a.floor_wake_ms, [frx[c] for c in codecs])
            rows("    ratio (b) per stream / floor",
                 [each(one[c], lambda v, c=c: ratio(v / n, frx[c]))
                  for c in codecs], compare=False)
        if "c" in only:
            each_rx = {c: self.recv_each(c) for c in codecs}
            rows("(c) one recv per stream: per stream",
                 [each_rx[c] for c in codecs])
        if "d" in only and gst:
            grx = {c: self.gst_recv_each(c)["A"] for c in codecs}
        if "d" in only:
            row("(d) GStreamer receiver: per stream", [grx[c] for c in codecs])
            rows("    ratio (c) / (d)",
                 [each(each_rx[c], lambda v, c=c: ratio(v, grx[c]))
                  for c in codecs], compare=False)
            rows("    ratio (b) per stream / (d)",
                 [each(one[c], lambda v, c=c: ratio(v / n, grx[c]))
                  for c in codecs], compare=False)
        if "e" in only:
            tsplits = {c: {} for c in codecs}
            tx = {c: self.senders(c, False, split=tsplits[c])
                  for c in codecs}
            gtx = {c: self.senders(c, True)["A"] if gst else None
                   for c in codecs}
            rows("(e) rtbridge send: per stream", [tx[c] for c in codecs])
            for c in codecs:
                threads(", " + c + ", the first sender", tsplits[c])
            row("    GStreamer sender: per stream", [gtx[c] for c in codecs])
            rows("    ratio rtbridge / GStreamer",
                 [each(tx[c], lambda v, c=c: ratio(v, gtx[c]))
                  for c in codecs], compare=False)
        if "f" in only:
            ftx = {c: self.senders(c, False, floor=True)["A"]
                   for c in codecs}
            row("(f) floor sender: per stream", [ftx[c] for c in codecs])
            if "e" in only:
                rows("    ratio (e) rtbridge / floor",
                     [each(tx[c], lambda v, c=c: ratio(v, ftx[c]))
                      for c in codecs], compare=False)

    def close(self):
        self.stop_all()
        shutil.rmtree(self.dir, ignore_errors=True)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    build = os.path.join(os.path.dirname(here), "build")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rtbridge", default=os.path.join(build, "rtbridge"))
    ap.add_argument("--gensignal", default=None)
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--codec", choices=["opus", "l16", "all"], default="all")
    ap.add_argument("--only", default="a,b,c,d,e,f")
    ap.add_argument("--floor", default=None)
    ap.add_argument("--floor-wake-ms", type=int, default=40)
    ap.add_argument("--baseline", default=None, metavar="PATH",
                    help="a second rtbridge to compare against --rtbridge")
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args()
    if a.smoke:
        a.streams, a.seconds, a.repeats, a.warmup = 2, 1.0, 1, 0.5
        a.codec = "l16"
    if a.gensignal is None:
        a.gensignal = os.path.join(os.path.dirname(a.rtbridge), "gensignal")
    if a.floor is None:
        a.floor = os.path.join(os.path.dirname(a.rtbridge), "bench_floor")
    if not rtbproc.executables("bench_cpu", (a.rtbridge, a.gensignal,
                                             a.floor) +
                               ((a.baseline,) if a.baseline else ())):
        return 1
    if a.streams < 1 or a.seconds <= 0 or a.repeats < 1 or a.warmup < 0:
        print("bench_cpu: --streams, --seconds, --repeats must be positive",
              file=sys.stderr)
        return 1
    b = Bench(a)
    try:
        b.run()
    except (RuntimeError, subprocess.CalledProcessError, OSError) as e:
        print("bench_cpu: %s" % e, file=sys.stderr)
        return 1
    finally:
        b.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
