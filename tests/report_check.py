#!/usr/bin/python3
"""tools/report.py on real `rtbridge recv --stats-json` output.

Usage: report_check.py RTBRIDGE RELAY

Two senders on 127.0.0.1, one straight to `rtbridge recv --no-play
--stats-json` and one through the impairment relay (5 % loss, seeded, 5 +-
3 ms jitter), for 5 s. Then tools/report.py draws the stats: the PNG must
exist, be a PNG whose header gives the size --describe reports, and hold
one figure per stream with the four panels; the relayed stream's loss
panel has something to show (its stats count lost packets). Every wait is
bounded. Exit 0 pass, 1 fail.
"""
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from metrics_cli import Proc, fail, write_wav  # noqa: E402

REPORT = os.path.join(HERE, "..", "tools", "report.py")
PANELS = ["buffer vs target (ms)", "jitter (ms)",
          "lost, late, concealed per second", "drift (ppm)"]


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        fail(f"{path} is not a PNG")
    return struct.unpack(">II", head[16:24])


def main():
    rtb, relay = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="rtb_report_") as tmp:
        stats = os.path.join(tmp, "stats.jsonl")
        recv = Proc([rtb, "recv", "--listen", "127.0.0.1:0", "--no-play",
                     "--stats-json", stats], tmp, "recv")
        port = int(recv.wait_for(r"listening on 127\.0\.0\.1:(\d+)")
                   .group(1))
        rel = Proc([relay, "--listen", "127.0.0.1:0", "--to",
                    f"127.0.0.1:{port}", "--seed", "3", "--loss", "5",
                    "--delay", "5", "--jitter", "3"], tmp,
                   "relay")
        lport = int(rel.wait_for(r"listening on [^\n]*:(\d+)").group(1))
        wav = os.path.join(tmp, "tone.wav")
        write_wav(wav, 5)
        senders = [Proc([rtb, "send", wav, "--to", f"127.0.0.1:{p}",
                         "--ssrc", str(ssrc), "--quiet"], tmp, f"send{p}")
                   for p, ssrc in ((port, 0x11111111), (lport, 0x22222222))]
        for s in senders:
            if s.stop(sig=0, secs=30) != 0:
                fail("send failed: " + s.text())
        time.sleep(0.5)
        rel.stop()
        if recv.stop() != 0:
            fail("recv failed: " + recv.text())
        png = os.path.join(tmp, "report.png")
        t0 = time.time()
        r = subprocess.run(["/usr/bin/python3", REPORT, stats, "-o", png,
                            "--describe"], capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            fail(f"report.py: {r.stdout}{r.stderr}")
        d = json.loads(r.stdout)
        print(f"report.py drew {png} in {time.time() - t0:.1f} s: "
              f"{r.stdout.strip()}")
        w, h = png_size(png)
        if (w, h) != (d["width"], d["height"]) or w < 1000 or h < 800:
            fail(f"PNG {w}x{h}, described {d['width']}x{d['height']}")
        got = {s["ssrc"]: s for s in d["streams"]}
        if sorted(got) != ["11111111", "22222222"]:
            fail(f"streams drawn: {sorted(got)}")
        for s in got.values():
            if s["panels"] != PANELS or s["points"] < 3:
                fail(f"stream {s['ssrc']}: {s}")
            if not re.match(r"127\.0\.0\.1:\d+$", s["from"]):
                fail(f"sender address {s['from']}")
        lost = 0
        with open(stats) as f:
            for line in f:
                o = json.loads(line)
                if o["type"] == "stream" and o["ssrc"] == 0x22222222:
                    lost = max(lost, o["lost"])
        if lost == 0:
            fail("the relayed stream lost nothing: no loss to plot")
        # An empty or missing stats file is one line and status 1.
        empty = os.path.join(tmp, "empty.jsonl")
        open(empty, "w").close()
        for path in (empty, os.path.join(tmp, "missing.jsonl")):
            r = subprocess.run(["/usr/bin/python3", REPORT, path, "-o",
                                os.path.join(tmp, "x.png")],
                               capture_output=True, text=True, timeout=60)
            if r.returncode != 1 or len(r.stderr.splitlines()) != 1:
                fail(f"report.py {path}: {r.returncode} {r.stderr}")
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
