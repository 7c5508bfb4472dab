"""Process helpers shared by the receiver's flood/churn tests and the soak.

Starting `rtbridge recv` on port 0 (the port read back from its "listening
on" line), the impairment relay and the junk generator; following the
stats file's JSON lines; sampling a process in /proc (RSS, fds, threads,
CPU). Every wait is bounded. Only 127.0.0.1 is used.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def stop(proc, sig=signal.SIGINT, wait_s=10.0):
    """Signal a process and wait for it (bounded); True if it exited."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=wait_s)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False


def free_udp_port():
    """A UDP port free on 127.0.0.1 now (for a program that cannot report
    the one it binds; a lost race shows as that program failing)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_taken(port):
    """True when something has bound UDP 127.0.0.1:port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
        return False
    except OSError:
        return True
    finally:
        s.close()


def executables(tool, paths):
    """True when every path is an executable; else one line on stderr."""
    for exe in paths:
        if not os.access(exe, os.X_OK):
            print("%s: %s: not an executable (build it first)" % (tool, exe),
                  file=sys.stderr)
            return False
    return True


def wait_line(path, pattern, proc, timeout_s=10.0):
    """The first match of pattern in the file at path, waiting for it."""
    deadline = time.monotonic() + timeout_s
    rx = re.compile(pattern)
    while time.monotonic() < deadline:
        try:
            with open(path, errors="replace") as f:
                m = rx.search(f.read())
            if m:
                return m
        except OSError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    with open(path, errors="replace") as f:
        raise RuntimeError(f"no '{pattern}' from {' '.join(proc.args[:3])}: "
                           + f.read()[-2000:])


def start_recv(rtb, d, extra, env=None):
    """`rtbridge recv --listen 127.0.0.1:0 --no-play` with its stats in
    d/stats.json, recordings in d/rec, output in d/recv.out, d/recv.err.
    Return: (process, port)."""
    rec = os.path.join(d, "rec")
    os.makedirs(rec, exist_ok=True)
    out = open(os.path.join(d, "recv.out"), "w")
    err_path = os.path.join(d, "recv.err")
    err = open(err_path, "w")
    args = [rtb, "recv", "--listen", "127.0.0.1:0", "--no-play",
            "--record-dir", rec, "--stats-json",
            os.path.join(d, "stats.json")] + extra
    p = subprocess.Popen(args, stdout=out, stderr=err, env=env)
    out.close()
    err.close()
    m = wait_line(err_path, r"listening on 127\.0\.0\.1:(\d+)", p)
    return p, int(m.group(1))


def start_relay(relay, to_port, d, args, name="relay"):
    """The impairment relay on a free port forwarding to to_port.
    Return: (process, port); its counters go to d/NAME.out."""
    out = open(os.path.join(d, name + ".out"), "w")
    err_path = os.path.join(d, name + ".err")
    err = open(err_path, "w")
    p = subprocess.Popen([relay, "--listen", "127.0.0.1:0", "--to",
                          f"127.0.0.1:{to_port}", "--stats"] + args,
                         stdout=out, stderr=err)
    out.close()
    err.close()
    m = wait_line(err_path, r"relay: listening on 127\.0\.0\.1:(\d+)", p)
    return p, int(m.group(1))


def last_json(path):
    """The last JSON object of a JSON Lines file (or None)."""
    try:
        with open(path, errors="replace") as f:
            lines = [l for l in f.read().splitlines() if l.startswith("{")]
    except OSError:
        return None
    for line in reversed(lines):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


class JsonFollower:
    """Reads the JSON lines appended to a file since the last call."""

    def __init__(self, path):
        self.path = path
        self.off = 0
        self.part = ""

    def new(self):
        try:
            with open(self.path, errors="replace") as f:
                f.seek(self.off)
                data = f.read()
                self.off = f.tell()
        except OSError:
            return []
        data = self.part + data
        lines = data.split("\n")
        self.part = lines.pop()
        out = []
        for line in lines:
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out


def proc_sample(pid):
    """RSS (kB), open fds, threads and CPU seconds of a live process."""
    s = {"rss_kb": 0, "threads": 0}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                s["rss_kb"] = int(line.split()[1])
            elif line.startswith("Threads:"):
                s["threads"] = int(line.split()[1])
    s["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    s["cpu_s"] = (int(fields[11]) + int(fields[12])) / TICK
    return s


def sender_env():
    """The environment for the senders of a test: ordinary scheduling
    (RTBRIDGE_NO_RT=1). They are not what is tested, and dozens of
    real-time senders could starve a shared 2-core machine (a sender
    whose threads all ran SCHED_FIFO was seen spinning at 95 % CPU)."""
    env = dict(os.environ)
    env["RTBRIDGE_NO_RT"] = "1"
    env.pop("LD_PRELOAD", None)
    return env


def wav_info(path):
    """(frames, channels, rate, valid) of a WAV file read from its own
    header and size: valid when the data chunk's length is what the file
    holds (a finalized recording)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return 0, 0, 0, False
    i, ch, rate, width, frames, valid = 12, 0, 0, 0, 0, False
    while i + 8 <= len(data):
        cid, size = data[i:i + 4], int.from_bytes(data[i + 4:i + 8], "little")
        body = data[i + 8:i + 8 + size]
        if cid == b"fmt " and len(body) >= 16:
            ch = int.from_bytes(body[2:4], "little")
            rate = int.from_bytes(body[4:8], "little")
            width = int.from_bytes(body[14:16], "little") // 8
        elif cid == b"data":
            valid = i + 8 + size == len(data) and ch > 0 and width > 0 \
                and size % (ch * width) == 0
            frames = size // (ch * width) if ch and width else 0
            break
        i += 8 + size + (size & 1)
    return frames, ch, rate, valid
