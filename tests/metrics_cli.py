#!/usr/bin/python3
"""`--metrics` of `rtbridge recv` and `send`, end to end on 127.0.0.1.

Usage: metrics_cli.py RTBRIDGE MODE

  http        recv --metrics 127.0.0.1:0 with a sender (--metrics 0 too):
              both pages scraped with urllib in both spellings (Prometheus
              text, OpenMetrics when the Accept header asks), the stream's
              series carry its SSRC and source address and count its
              packets, `promtool check metrics` accepts both pages, other
              paths get 404 and other methods 405.
  flood       while a stream plays: slow-loris clients (a byte every
              0.4 s, more of them than the server's connection slots),
              garbage heads, oversized heads, connections closed at once;
              the server counts them (timeouts, 400, 431), still answers,
              and the stream loses nothing to it.
  prometheus  a real Prometheus server (Debian's), started here on
              127.0.0.1 with a scrape config pointing at recv's endpoint;
              its HTTP API shows the target up and the stream's series
              scraped.
  threads     no thread for the endpoint: `recv --no-play` and `send`
              run the same threads (/proc/PID/task/*/comm) with
              --metrics 127.0.0.1:0 as without it, the page served (the
              library's net thread of the receiver / sender serves it).

Tools the test needs (promtool, prometheus) are installed with apt-get when
missing and the test runs as root; otherwise it exits 77 (skipped), saying
why. Every wait is bounded. Exit 0 pass, 1 fail, 77 skipped.
"""
import atexit
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import wave

SSRC = 0x1234ABCD
OM = "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:")


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def need(tool, package):
    """The tool's path, installed from Debian when missing (root only)."""
    path = shutil.which(tool)
    if path:
        return path
    if os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-qq",
                        "--no-install-recommends", package], env=env,
                       stdout=subprocess.DEVNULL, timeout=600, check=False)
        path = shutil.which(tool)
    if not path:
        print(f"SKIP: {tool} (Debian package {package}) is not installed "
              "and cannot be installed here (not root)")
        sys.exit(77)
    return path


def write_wav(path, seconds):
    """A quiet 440 Hz stereo tone, 48 kHz, 16 bits."""
    import math
    rate, n = 48000, int(48000 * seconds)
    frames = bytearray()
    for i in range(n):
        v = int(3000 * math.sin(2 * math.pi * 440 * i / rate))
        b = v.to_bytes(2, "little", signed=True)
        frames += b + b
    with wave.open(path, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))


RUNNING = []


@atexit.register
def kill_left():
    """A failed check exits at once: no process of ours outlives it."""
    for p in RUNNING:
        if p.poll() is None:
            p.kill()
            p.wait()


class Proc:
    """A subprocess with stderr in a file, read for its announcements."""

    def __init__(self, args, tmp, name):
        self.err_path = os.path.join(tmp, name + ".err")
        self.out_path = os.path.join(tmp, name + ".out")
        self.p = subprocess.Popen(args, stdout=open(self.out_path, "w"),
                                  stderr=open(self.err_path, "w"))
        RUNNING.append(self.p)

    def text(self):
        with open(self.err_path) as f:
            return f.read()

    def wait_for(self, pattern, secs=10):
        end = time.time() + secs
        while time.time() < end:
            m = re.search(pattern, self.text())
            if m:
                return m
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        fail(f"no '{pattern}' from {self.p.args[:2]}: {self.text()}")

    def stop(self, sig=signal.SIGINT, secs=15):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            self.p.wait(timeout=secs)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            fail(f"{self.p.args[:2]} did not stop: {self.text()}")
        for m in SANITIZER_MARKERS:
            if m in self.text():
                fail(f"{self.p.args[:2]}: {m}: {self.text()}")
        return self.p.returncode


def start_pair(rtb, tmp, seconds, send_metrics=False):
    """recv --metrics on port 0, then a sender looping a tone at it."""
    stats = os.path.join(tmp, "stats.jsonl")
    recv = Proc([rtb, "recv", "--listen", "127.0.0.1:0", "--no-play",
                 "--metrics", "127.0.0.1:0", "--stats-json", stats], tmp,
                "recv")
    port = int(recv.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1))
    mport = int(recv.wait_for(
        r"metrics on http://127\.0\.0\.1:(\d+)/metrics").group(1))
    wav = os.path.join(tmp, "tone.wav")
    write_wav(wav, 2)
    args = [rtb, "send", wav, "--to", f"127.0.0.1:{port}", "--loop",
            "--duration", str(seconds), "--ssrc", str(SSRC), "--quiet"]
    if send_metrics:
        args += ["--metrics", "0"]
    send = Proc(args, tmp, "send")
    return recv, send, mport, stats


def get(port, path="/metrics", accept=None, method="GET", timeout=10):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                 method=method)
    if accept:
        req.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def value(page, name, labels=""):
    """The value of the first sample of `name` whose labels contain
    `labels`, or None."""
    for line in page.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            if labels in line:
                return float(line.rsplit(" ", 1)[1])
    return None


def promtool_check(page, what):
    promtool = need("promtool", "prometheus")
    r = subprocess.run([promtool, "check", "metrics"], input=page,
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        fail(f"promtool check metrics on {what}: {r.stdout}{r.stderr}")
    print(f"promtool check metrics: {what} accepted")


def summary(stats):
    with open(stats) as f:
        for line in f:
            o = json.loads(line)
            if o["type"] == "summary":
                return o
    fail("no summary in the stats")


def mode_http(rtb, tmp):
    recv, send, mport, stats = start_pair(rtb, tmp, 4, send_metrics=True)
    sport = int(send.wait_for(
        r"metrics on http://127\.0\.0\.1:(\d+)/metrics").group(1))
    time.sleep(2.5)  # the stream plays; pages are rewritten each second
    ssrc = f'ssrc="{SSRC:08x}"'
    code, ctype, text = get(mport)
    if code != 200 or not ctype.startswith("text/plain; version=0.0.4"):
        fail(f"plain scrape: {code} {ctype}")
    got = value(text, "rtbridge_stream_received_packets_total", ssrc)
    if not got or got < 50:
        fail(f"received packets of {ssrc}: {got}\n{text}")
    if not re.search(r'source="127\.0\.0\.1:\d+"', text):
        fail("no source address label")
    print("first lines of a scrape:\n" + "\n".join(text.splitlines()[:12]))
    code, ctype, om = get(mport, accept=OM)
    if code != 200 or not ctype.startswith("application/openmetrics-text"):
        fail(f"OpenMetrics scrape: {code} {ctype}")
    if not om.endswith("# EOF\n"):
        fail("the OpenMetrics page does not end in # EOF")
    if "# TYPE rtbridge_stream_received_packets counter" not in om:
        fail("OpenMetrics counter family named with _total")
    promtool_check(text, "recv's page")
    code, _, stext = get(sport)
    sent = value(stext, "rtbridge_send_packets_total", ssrc)
    if code != 200 or not sent or sent < 50:
        fail(f"send's page: {code}, packets {sent}\n{stext}")
    if not re.search(r'destination="127\.0\.0\.1:\d+"', stext):
        fail("no destination label on send's page")
    promtool_check(stext, "send's page")
    for path, method, want in (("/", "GET", 404), ("/metricsx", "GET", 404),
                               ("/metrics", "POST", 405)):
        code, _, _ = get(mport, path, method=method)
        if code != want:
            fail(f"{method} {path}: {code}, want {want}")
    time.sleep(1.2)  # the next page counts them
    code, _, text = get(mport)
    for c, want in (("404", 2), ("405", 1)):
        n = value(text, "rtbridge_metrics_responses_total", f'code="{c}"')
        if n != want:
            fail(f"responses {c}: {n}, want {want}")
    if send.stop(secs=20) != 0:
        fail("send failed: " + send.text())
    time.sleep(0.5)
    if recv.stop() != 0:
        fail("recv failed: " + recv.text())
    final = summary(stats)["streams"][0]["received"]
    if final < got:
        fail(f"the summary's received {final} < scraped {got}")


def slowloris(port, n, secs):
    """n clients sending a byte of a head every 0.4 s. Return: how many the
    server cut off (closed before secs)."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.settimeout(0.05)
        s.connect(("127.0.0.1", port))
        socks.append(s)
    msg = b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 100
    cut, end, i = set(), time.time() + secs, 0
    while time.time() < end and len(cut) < n:
        for k, s in enumerate(socks):
            if k in cut:
                continue
            try:
                s.send(msg[i % len(msg):i % len(msg) + 1])
                if s.recv(1) == b"":
                    cut.add(k)
            except socket.timeout:
                pass
            except OSError:
                cut.add(k)
        i += 1
        time.sleep(0.4)
    for s in socks:
        s.close()
    return len(cut)


def one_shot(port, data, read=True):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        if data:
            s.sendall(data)
        if not read:
            return b""
        out = b""
        while True:
            b = s.recv(4096)
            if not b:
                return out
            out += b
    except OSError:
        return b""
    finally:
        s.close()


def mode_flood(rtb, tmp):
    recv, send, mport, stats = start_pair(rtb, tmp, 14)
    time.sleep(1)
    rng = random.Random(15)
    garbage = 0
    for _ in range(150):  # garbage heads, each ending in a blank line
        junk = bytes(rng.randrange(1, 256) for _ in range(rng.randrange(64)))
        if one_shot(mport, junk + b"\r\n\r\n").startswith(b"HTTP/1.1 400"):
            garbage += 1
    big = 0
    for _ in range(20):  # heads longer than the server's buffer
        if one_shot(mport, b"GET /metrics HTTP/1.1\r\nX: " +
                    b"b" * 4000).startswith(b"HTTP/1.1 431"):
            big += 1
    for _ in range(100):  # connect and leave at once
        one_shot(mport, b"", read=False)
    t0 = time.time()
    cut = slowloris(mport, 12, 9)
    print(f"flood: {garbage} garbage heads answered 400, {big} long ones "
          f"431, {cut}/12 slow-loris clients cut off in "
          f"{time.time() - t0:.1f} s")
    time.sleep(1.2)  # the next page counts them all
    code, _, text = get(mport, timeout=15)
    if code != 200:
        fail(f"scrape after the flood: {code}")
    n400 = value(text, "rtbridge_metrics_responses_total", 'code="400"')
    n431 = value(text, "rtbridge_metrics_responses_total", 'code="431"')
    touts = value(text, "rtbridge_metrics_timeouts_total")
    if garbage != 150 or n400 != 150 or big != 20 or n431 != 20:
        fail(f"400: {garbage} seen, {n400} counted; 431: {big} seen, "
             f"{n431} counted")
    if cut != 12 or touts < 12:
        fail(f"slow clients: {cut} of 12 cut off, {touts} timeouts counted")
    if send.stop(secs=20) != 0:
        fail("send failed: " + send.text())
    m = re.search(r"send: (\d+) packets", send.text())
    time.sleep(0.5)
    if recv.stop() != 0:
        fail("recv failed: " + recv.text())
    st = summary(stats)["streams"][0]
    sent = int(m.group(1))
    print(f"stream: sent {sent}, received {st['received']}, lost "
          f"{st['lost']}, late {st['late']}, concealed "
          f"{st['concealed_frames']} frames")
    if st["received"] != sent or st["lost"] != 0:
        fail("the flood cost the stream packets")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def mode_prometheus(rtb, tmp):
    prom = need("prometheus", "prometheus")
    recv, send, mport, stats = start_pair(rtb, tmp, 30)
    pport = free_port()
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: rtbridge\n"
                "    static_configs:\n"
                f"      - targets: ['127.0.0.1:{mport}']\n")
    server = Proc([prom, f"--config.file={cfg}",
                   f"--storage.tsdb.path={os.path.join(tmp, 'tsdb')}",
                   f"--web.listen-address=127.0.0.1:{pport}",
                   "--log.level=warn"], tmp, "prometheus")
    api = f"http://127.0.0.1:{pport}/api/v1"
    query = urllib.parse.quote(
        f'rtbridge_stream_received_packets_total{{ssrc="{SSRC:08x}"}}')
    end, found, health = time.time() + 40, None, None
    while time.time() < end and not found:
        time.sleep(0.5)
        if server.p.poll() is not None:
            fail("prometheus exited: " + server.text())
        try:
            with urllib.request.urlopen(f"{api}/targets", timeout=5) as r:
                t = json.load(r)["data"]["activeTargets"]
            health = [(x["health"], x["lastError"]) for x in t]
            with urllib.request.urlopen(f"{api}/query?query={query}",
                                        timeout=5) as r:
                res = json.load(r)["data"]["result"]
            if res and float(res[0]["value"][1]) > 0:
                found = res[0]
        except (OSError, ValueError, KeyError):
            continue
    server.stop(signal.SIGTERM)
    send.stop()
    recv.stop()
    if not found:
        fail(f"Prometheus scraped no series; targets {health}")
    if health != [("up", "")]:
        fail(f"target health {health}")
    print(f"Prometheus scraped {found['metric']} = {found['value'][1]}; "
          f"target {health}")


def thread_names(pid):
    names = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                names.append(f.read().strip())
        except OSError:
            continue  # a thread that just ended
    return sorted(names)


def threads_of(rtb, tmp, cmd, metrics):
    """The thread names of `rtbridge CMD` running, with or without
    --metrics (then its page is scraped first)."""
    name = f"{cmd}{'_metrics' if metrics else ''}"
    sink = None
    if cmd == "recv":
        args = [rtb, "recv", "--listen", "127.0.0.1:0", "--no-play"]
    else:
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.1", 0))
        sink.settimeout(10)
        wav = os.path.join(tmp, "tone.wav")
        if not os.path.exists(wav):
            write_wav(wav, 2)
        args = [rtb, "send", wav, "--to",
                f"127.0.0.1:{sink.getsockname()[1]}", "--loop",
                "--duration", "20", "--quiet"]
    if metrics:
        args += ["--metrics", "127.0.0.1:0"]
    p = Proc(args, tmp, name)
    if cmd == "recv":
        p.wait_for(r"listening on 127\.0\.0\.1:\d+")
    else:
        try:
            sink.recv(2048)  # the stream runs
        except socket.timeout:
            fail(f"send sent nothing: {p.text()}")
    if metrics:
        port = int(p.wait_for(
            r"metrics on http://127\.0\.0\.1:(\d+)/metrics").group(1))
        code, _, page = get(port)
        if code != 200 or "rtbridge_metrics_connections_total" not in page:
            fail(f"{cmd}'s page: {code}\n{page}")
    time.sleep(0.5)  # whatever starts late has started
    names = thread_names(p.p.pid)
    if p.stop() != 0:
        fail(f"{name} failed: {p.text()}")
    if sink:
        sink.close()
    return names


def mode_threads(rtb, tmp):
    for cmd in ("recv", "send"):
        plain = threads_of(rtb, tmp, cmd, False)
        with_metrics = threads_of(rtb, tmp, cmd, True)
        print(f"{cmd}: threads {plain}; with --metrics {with_metrics}")
        if with_metrics != plain:
            fail(f"{cmd} --metrics runs other threads: {with_metrics}, "
                 f"without: {plain}")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    rtb, mode = sys.argv[1], sys.argv[2]
    modes = {"http": mode_http, "flood": mode_flood,
             "prometheus": mode_prometheus, "threads": mode_threads}
    if mode not in modes:
        print(__doc__)
        return 2
    with tempfile.TemporaryDirectory(prefix="rtb_metrics_") as tmp:
        modes[mode](rtb, tmp)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
