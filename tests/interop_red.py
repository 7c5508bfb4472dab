#!/usr/bin/python3
"""RFC 2198 redundant audio through the seeded impairment relay, with
GStreamer (rtpredenc / rtpreddec) on the other side, on 127.0.0.1.

Usage: interop_red.py RTBRIDGE RELAY MODE

  gst-send   `rtbridge send --fec red:1` (L16 stereo, 5 ms) -> relay
             dropping 5 % (seeded) -> gst-launch-1.0 udpsrc ! rtpreddec !
             rtpjitterbuffer ! rtpL16depay ! wavenc: GStreamer restores
             every lost packet from rtbridge's copies: its recording is
             the source, bit for bit.
  gst-recv   gst-launch-1.0 ... rtpL16pay ! rtpredenc distance=1 (5 ms) ->
             relay dropping 5 % -> `rtbridge recv --red-pt 100`: the
             recording is the source bit for bit, the stats say
             recovered == the packets the relay dropped, lost == 0.
  self       `rtbridge send --fec red:2` (Opus 10 ms) -> relay dropping
             5 % -> `rtbridge recv --sdp` of `rtbridge sdp` with the
             sender's options (RED configured from the SDP alone): every
             dropped packet recovered, none lost, and the recording
             equals a second, loss-free run's sample for sample (Opus
             decodes a restored packet as the original).

The relay's loss pattern is replayed from its seed (tests/recv_relay.py),
so the dropped packets are known; the seed is the first whose losses are
isolated (RED distance 1 restores one packet in a row: a GStreamer
receiver too) and spare the first and last three packets. Every wait is
bounded; the programs' output is searched for sanitizer reports. Exit 0
pass, 1 fail, 77 skip (GStreamer missing and not root).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import recv_relay as rr  # noqa: E402  (relay_draws, json_objects, ...)
import rtbproc  # noqa: E402  (start_recv, start_relay, stop, wait_line)
import send_wavcmp  # noqa: E402  (gen, cmp)

SECONDS = 3
RED_PT = 100
LOSS = 0.05
L16_CAPS = ("application/x-rtp,media=audio,clock-rate=48000,"
            "encoding-name=L16,encoding-params=(string)2,channels=(int)2,"
            "payload=96")


def pick_seed(npkt):
    """First seed whose drops among npkt packets (and ten beyond: a peer
    may send one more) are isolated and spare both ends."""
    for seed in range(1, 1000):
        drop = rr.relay_draws(seed, npkt + 10)[:, 0] < LOSS
        if drop[:3].any() or drop[npkt - 3:].any():
            continue
        if (drop[1:] & drop[:-1]).any():
            continue
        return seed, int(drop.sum())
    raise RuntimeError("no usable seed")


def relay_stats(p, d):
    rtbproc.stop(p)
    with open(os.path.join(d, "relay.out")) as f:
        for line in f:
            if line.startswith("{"):
                return json.loads(line)
    return {}


def summary_stream(d):
    objs = rr.json_objects(os.path.join(d, "stats.json"))
    recs = rr.stream_records(objs[-1]) if objs else []
    rr.check(len(recs) == 1, f"the summary describes one stream "
             f"({len(recs)})", fatal=True)
    return recs[0]


def one_recording(d):
    rec = os.path.join(d, "rec")
    files = sorted(os.listdir(rec))
    rr.check(len(files) == 1, f"one stream recorded ({files})", fatal=True)
    return os.path.join(rec, files[0])


def stop_recv(recv):
    time.sleep(1.0)  # the last packets play out
    rr.check(recv.poll() is None, "rtbridge recv ran until the end",
             fatal=True)
    rr.check(rtbproc.stop(recv, wait_s=10), "rtbridge recv stopped on SIGINT",
             fatal=True)
    rr.check(recv.returncode == 0, f"rtbridge recv exit {recv.returncode}",
             fatal=True)


def recovered_all(recv, rp, d, dropped, want):
    """Stop the receiver, then the relay: it dropped `dropped` datagrams
    (as its model says) and the stream recovered `want` packets.
    Return: the stream's summary."""
    stop_recv(recv)
    rs = relay_stats(rp, d)
    rr.check(rs.get("dropped") == dropped,
             f"the relay dropped {rs.get('dropped')}, the model says "
             f"{dropped}")
    s = summary_stream(d)
    print("summary:", json.dumps(s))
    rr.check(s.get("recovered") == want,
             f"recovered {s.get('recovered')} == {want} dropped")
    return s


def write_sdp(rtb, d, opts):
    """`rtbridge sdp` of a sender's options, in d. Return: its path."""
    sdp = os.path.join(d, "stream.sdp")
    with open(sdp, "w") as f:
        rc = subprocess.run([rtb, "sdp", "--to", "127.0.0.1:9"] + opts,
                            stdout=f, timeout=10).returncode
    rr.check(rc == 0, "rtbridge sdp wrote the description", fatal=True)
    return sdp


def exact(src_path, got_path):
    """The recording (any depth, as 16-bit) is the source, bit for bit,
    after alignment, over at least 98 % of the source."""
    src, _ = send_wavcmp.read(src_path)
    got, _ = rr.read_audio(got_path)
    lag = send_wavcmp.lag_of(src, got)
    s0, s1 = max(0, -lag), min(len(src), len(got) - lag)
    a, b = src[s0:s1], got[s0 + lag:s1 + lag]
    diff = int((a != b).any(axis=1).sum()) if s1 > s0 else -1
    rr.check(s1 - s0 >= 0.98 * len(src) and diff == 0,
             f"the recording is the source bit for bit (lag {lag}, "
             f"{s1 - s0}/{len(src)} frames, {diff} differ)")


def mode_gst_send(rtb, relay, d, procs):
    npkt = SECONDS * 200
    seed, want = pick_seed(npkt)
    print(f"seed {seed}: the relay drops {want} isolated packets")
    src = os.path.join(d, "src.wav")
    got = os.path.join(d, "got.wav")
    send_wavcmp.gen(src, SECONDS, 7)
    port = rr.free_udp_port()
    gst = subprocess.Popen(
        ["gst-launch-1.0", "-q", "-e", "udpsrc", "address=127.0.0.1",
         f"port={port}", f"caps={L16_CAPS}", "!", "rtpreddec",
         f"pt={RED_PT}", "!", "rtpjitterbuffer", "latency=200",
         "do-lost=true", "mode=4", "!", "rtpL16depay", "!", "audioconvert",
         "!", "audio/x-raw,format=S16LE,rate=48000,channels=2", "!",
         "audiorate", "tolerance=0", "!", "wavenc", "!", "filesink",
         f"location={got}"],
        stdout=open(os.path.join(d, "gst.out"), "w"),
        stderr=subprocess.STDOUT)
    procs.append(gst)
    deadline = time.monotonic() + 10
    while not rr.port_taken(port) and time.monotonic() < deadline:
        if gst.poll() is not None:
            raise rr.Failed("gst-launch-1.0 ended at start")
        time.sleep(0.05)
    rp, rport = rtbproc.start_relay(relay, port, d,
                                    ["--seed", str(seed), "--loss", "5"])
    procs.append(rp)
    snd = subprocess.run(
        [rtb, "send", src, "--to", f"127.0.0.1:{rport}", "--codec", "l16",
         "--frame-ms", "5", "--fec", "red:1", "--red-pt", str(RED_PT),
         "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        timeout=SECONDS + 15)
    with open(os.path.join(d, "send.out"), "wb") as f:
        f.write(snd.stdout)
    rr.check(snd.returncode == 0, f"rtbridge send exit {snd.returncode}",
             fatal=True)
    time.sleep(0.5)
    rs = relay_stats(rp, d)
    rr.check(rs.get("dropped") == want,
             f"the relay dropped {rs.get('dropped')}, the model says {want}")
    rtbproc.stop(gst, wait_s=10)
    rr.check(gst.returncode == 0, f"gst-launch-1.0 exit {gst.returncode}")
    exact(src, got)


def mode_gst_recv(rtb, relay, d, procs):
    npkt = SECONDS * 200
    seed, want = pick_seed(npkt)
    print(f"seed {seed}: the relay drops {want} isolated packets")
    src = os.path.join(d, "src.wav")
    send_wavcmp.gen(src, SECONDS, 7)
    recv, port = rtbproc.start_recv(
        rtb, d, ["--codec", "l16", "--red-pt", str(RED_PT), "--duration",
                 str(SECONDS + 20)])
    procs.append(recv)
    rp, rport = rtbproc.start_relay(relay, port, d,
                                    ["--seed", str(seed), "--loss", "5"])
    procs.append(rp)
    gst = subprocess.run(
        ["gst-launch-1.0", "-q", "filesrc", f"location={src}", "!",
         "wavparse", "!", "audioconvert", "!",
         "audio/x-raw,format=S16BE,rate=48000,channels=2", "!",
         "rtpL16pay", "pt=96", "min-ptime=5000000", "max-ptime=5000000",
         "!", "rtpredenc", f"pt={RED_PT}", "distance=1", "!", "udpsink",
         "host=127.0.0.1", f"port={rport}", "sync=true"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        timeout=SECONDS + 15)
    with open(os.path.join(d, "gst.out"), "wb") as f:
        f.write(gst.stdout)
    rr.check(gst.returncode == 0, f"gst-launch-1.0 exit {gst.returncode}",
             fatal=True)
    s = recovered_all(recv, rp, d, want, want)
    rr.check(s["lost"] == 0 and s["concealed_frames"] == 0,
             f"lost {s['lost']}, concealed {s['concealed_frames']} frames")
    got = one_recording(d)
    exact(src, got)


def self_run(rtb, relay, d, seed, loss):
    """One rtbridge -> relay -> rtbridge run; Return: (summary, samples)."""
    os.makedirs(d)
    src = os.path.join(d, "src.wav")
    send_wavcmp.gen(src, SECONDS, 7)
    opts = ["--codec", "opus", "--frame-ms", "10", "--fec", "red:2"]
    sdp = write_sdp(rtb, d, opts)
    recv, port = rtbproc.start_recv(
        rtb, d, ["--sdp", sdp, "--duration", str(SECONDS + 20)])
    procs = [recv]
    try:
        rtbproc.wait_line(os.path.join(d, "recv.err"),
                          r"opus, pt 96, RED pt 100", recv)
        rp, rport = rtbproc.start_relay(
            relay, port, d, ["--seed", str(seed), "--loss", str(loss)])
        procs.append(rp)
        snd = subprocess.run([rtb, "send", src, "--to",
                              f"127.0.0.1:{rport}", "--quiet"] + opts,
                             stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=SECONDS + 15)
        rr.check(snd.returncode == 0, f"rtbridge send exit "
                 f"{snd.returncode}", fatal=True)
        stop_recv(recv)
        rs = relay_stats(rp, d)
    finally:
        for p in procs:
            if p.poll() is None:
                rtbproc.stop(p, signal.SIGKILL)
    s = summary_stream(d)
    pcm, _ = rr.read_audio(one_recording(d))
    return s, rs, pcm


def mode_self(rtb, relay, d, procs):
    npkt = SECONDS * 100
    seed, want = pick_seed(npkt)
    print(f"seed {seed}: the relay drops {want} isolated packets")
    s, rs, got = self_run(rtb, relay, os.path.join(d, "loss"), seed, 5)
    print("summary:", json.dumps(s))
    rr.check(rs.get("dropped") == want,
             f"the relay dropped {rs.get('dropped')}, the model says {want}")
    rr.check(s.get("recovered") == want,
             f"recovered {s.get('recovered')} == {want} dropped")
    rr.check(s["lost"] == 0, f"lost {s['lost']}")
    ref, _, clean = self_run(rtb, relay, os.path.join(d, "clean"), seed, 0)
    rr.check(ref.get("recovered") == 0 and ref["lost"] == 0,
             "the loss-free run lost and recovered nothing")
    n = min(len(got), len(clean))
    same = n > 0 and (got[:n] == clean[:n]).all()
    rr.check(n >= SECONDS * 48000 * 0.98 and same,
             f"the recording with losses equals the loss-free one "
             f"({n} frames)")


def run(modes, rtb, relay, mode, prefix):
    """Run one mode in a temporary directory, search the programs' output
    for sanitizer reports, show it on failure. Return: the exit code."""
    d = tempfile.mkdtemp(prefix=prefix)
    procs = []
    ok = False
    try:
        modes[mode](rtb, relay, d, procs)
        for root, _, files in os.walk(d):
            for name in files:
                if name.endswith((".out", ".err")):
                    with open(os.path.join(root, name),
                              errors="replace") as f:
                        text = f.read()
                    for marker in rr.SANITIZER_MARKERS:
                        rr.check(marker not in text,
                                 f"no '{marker}' in {name}")
        ok = not rr.FAILURES
    except (rr.Failed, RuntimeError, subprocess.SubprocessError, OSError,
            ValueError, KeyError, IndexError) as e:
        if not isinstance(e, rr.Failed):
            print(f"FAIL: {type(e).__name__}: {e}")
    finally:
        for p in procs:
            if p.poll() is None:
                rtbproc.stop(p, signal.SIGKILL)
        if not ok:
            for root, _, files in os.walk(d):
                for name in sorted(files):
                    if name.endswith((".out", ".err")):
                        with open(os.path.join(root, name),
                                  errors="replace") as f:
                            print(f"--- {name}\n" + f.read()[-2000:])
        shutil.rmtree(d, ignore_errors=True)
    return 0 if ok else 1


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    rtb, relay, mode = sys.argv[1:4]
    modes = {"gst-send": mode_gst_send, "gst-recv": mode_gst_recv,
             "self": mode_self}
    if mode not in modes:
        sys.exit(f"unknown mode {mode}")
    if mode != "self" and not shutil.which("gst-launch-1.0"):
        print("gst-launch-1.0 is not installed (tools/setup.sh --tools "
              "installs it)")
        return 1 if os.geteuid() == 0 else 77
    return run(modes, rtb, relay, mode, "rtb_interop_red_")


if __name__ == "__main__":
    sys.exit(main())
