#!/usr/bin/python3
"""RFC 5109 ULPFEC (parity FEC) through the seeded impairment relay, with
GStreamer (rtpulpfecenc / rtpulpfecdec) on the other side, on 127.0.0.1.

Usage: interop_ulpfec.py RTBRIDGE RELAY MODE

  gst-send   `rtbridge send --fec ulpfec:20` (L16 stereo, 5 ms) -> relay
             dropping 5 % (seeded) -> a GStreamer pipeline (python3-gi:
             rtpulpfecdec's storage is rtpstorage's, which gst-launch
             cannot set) udpsrc ! rtpstorage ! rtpjitterbuffer !
             rtpulpfecdec ! rtpL16depay ! wavenc: GStreamer rebuilds every
             lost packet from rtbridge's FEC packets (its `recovered`
             count == the media packets dropped) and its recording is the
             source, bit for bit.
  gst-recv   L16 packets (5 ms, the marker on every fifth) through
             GStreamer's rtpulpfecenc percentage=20 multipacket=true (one
             FEC packet over each five) -> relay dropping 5 % ->
             `rtbridge recv --ulpfec-pt 101`: recovered == the media
             packets dropped, lost == 0, FEC packets neither lost nor
             malformed, and the recording is the source bit for bit.
  self       `rtbridge send --fec ulpfec:20` (L16 5 ms) -> relay dropping
             5 % -> `rtbridge recv --sdp` of `rtbridge sdp` with the
             sender's options (ULPFEC configured from the SDP alone):
             every dropped packet recovered, none lost, bit for bit.

Both senders send five media packets, then the FEC packet over them, in
one sequence number space. The seed is the first whose drops hit at most
one datagram of each such group of six (the FEC packet rebuilds one) and
spare the first and last groups; a dropped FEC packet costs nothing.
Exit 0 pass, 1 fail, 77 skip (GStreamer missing and not root).
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import gstfec  # noqa: E402  (GStreamer's ULPFEC receiver)
import interop_red as ir  # noqa: E402  (relay_stats, exact, ...)
import recv_relay as rr  # noqa: E402
import rtbproc  # noqa: E402
import send_wavcmp  # noqa: E402

SECONDS = 3
FEC_PT = 101
GROUP = 5  # media packets per FEC packet at 20 %
LOSS = 0.05
SSRC = 0x1234
GSTPY = gstfec.GSTPY
L16_CAPS = ("application/x-rtp,media=audio,clock-rate=48000,"
            "encoding-name=L16,encoding-params=(string)2,channels=(int)2,"
            f"payload=96,ssrc=(uint){SSRC}")

GST_SEND = r'''
import struct, sys, wave, gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst
Gst.init(None)
src, port, pt, ssrc = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
p = Gst.parse_launch(
    'appsrc name=src format=time caps="application/x-rtp,media=audio,'
    'clock-rate=48000,encoding-name=L16,payload=96" ! rtpulpfecenc '
    f'pt={pt} percentage=20 multipacket=true ! udpsink host=127.0.0.1 '
    f'port={port} sync=true')
app = p.get_by_name("src")
w = wave.open(src)
p.set_state(Gst.State.PLAYING)
i = 0
while True:
    pcm = w.readframes(240)
    if not pcm:
        break
    be = b"".join(pcm[k + 1:k + 2] + pcm[k:k + 1]
                  for k in range(0, len(pcm), 2))
    hdr = struct.pack("!BBHII", 0x80, (0x80 if i % 5 == 4 else 0) | 96,
                      (1000 + i) & 0xffff, 7000 + 240 * i, ssrc)
    b = Gst.Buffer.new_wrapped(hdr + be)
    b.pts = 100000000 + i * 5000000
    app.emit("push-buffer", b)
    i += 1
app.emit("end-of-stream")
m = p.get_bus().timed_pop_filtered(
    60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
p.set_state(Gst.State.NULL)
sys.exit(0 if m and m.type == Gst.MessageType.EOS else 1)
'''


def pick_seed(nmedia):
    """First seed whose drops hit at most one datagram of each group of
    GROUP media packets and their FEC packet, and spare the first and
    last groups. Return: (seed, media packets dropped, datagrams
    dropped)."""
    ngroups = (nmedia + GROUP - 1) // GROUP
    n = ngroups * (GROUP + 1)
    for seed in range(1, 2000):
        drop = rr.relay_draws(seed, n + 12)[:, 0] < LOSS
        g = drop[:n].reshape(ngroups, GROUP + 1)
        if (g.sum(axis=1) > 1).any() or g[0].any() or g[-1].any():
            continue
        if drop[n:].any():
            continue
        return seed, int(g[:, :GROUP].sum()), int(g.sum())
    raise RuntimeError("no usable seed")


def placed(src_path, got_path, first):
    """Every packet of the source is in GStreamer's recording bit for bit:
    at its place, or (a rebuilt packet that followed an FEC packet on the
    wire: `first`, the dropped first packets of their groups) one packet
    later. rtpjitterbuffer times the gap after an FEC packet (which
    carries the previous packet's timestamp) from the FEC packet, and
    rtpulpfecdec stamps what it rebuilds with that time: audiorate then
    writes the packet one slot late after a slot of silence, over the
    packet after it, which is then missing. Not rtbridge's doing: the
    bytes GStreamer rebuilt are exact."""
    src, _ = send_wavcmp.read(src_path)
    got, _ = rr.read_audio(got_path)
    lag = send_wavcmp.lag_of(src, got)
    got = got[max(lag, 0):]
    late, bad = [], []
    for k in range(len(src) // 240):
        a = src[k * 240:(k + 1) * 240]
        if (got[k * 240:(k + 1) * 240] == a).all():
            continue
        if (got[(k + 1) * 240:(k + 2) * 240] == a).all():
            late.append(k)
        else:
            bad.append(k)
    rr.check(bad == [k + 1 for k in late],
             f"every packet in the recording bit for bit but those a late "
             f"one covers (lag {lag}; not found: {bad[:10]})")
    rr.check(set(late) <= set(first), f"only rebuilt packets that followed "
             f"an FEC packet are a slot late ({late} of {sorted(first)})")


def mode_gst_send(rtb, relay, d, procs):
    seed, want, dropped = pick_seed(SECONDS * 200)
    drop = rr.relay_draws(seed, (SECONDS * 200 // GROUP) * (GROUP + 1))
    first = [i // (GROUP + 1) * GROUP for i in
             range(len(drop)) if drop[i, 0] < LOSS and i % (GROUP + 1) == 0]
    print(f"seed {seed}: the relay drops {dropped} datagrams, {want} media")
    src = os.path.join(d, "src.wav")
    got = os.path.join(d, "got.wav")
    send_wavcmp.gen(src, SECONDS, 7)
    port = rr.free_udp_port()
    gst = gstfec.start_ulpfec_recv(
        port, FEC_PT, L16_CAPS,
        "rtpL16depay ! audioconvert ! audio/x-raw,format=S16LE,rate=48000,"
        f"channels=2 ! audiorate tolerance=0 ! wavenc ! filesink "
        f"location={got}", os.path.join(d, "gst.out"))
    procs.append(gst)
    rp, rport = rtbproc.start_relay(relay, port, d,
                                    ["--seed", str(seed), "--loss", "5"])
    procs.append(rp)
    snd = subprocess.run(
        [rtb, "send", src, "--to", f"127.0.0.1:{rport}", "--codec", "l16",
         "--frame-ms", "5", "--fec", "ulpfec:20", "--ulpfec-pt",
         str(FEC_PT), "--ssrc", str(SSRC), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        timeout=SECONDS + 15)
    with open(os.path.join(d, "send.out"), "wb") as f:
        f.write(snd.stdout)
    rr.check(snd.returncode == 0, f"rtbridge send exit {snd.returncode}",
             fatal=True)
    time.sleep(0.5)
    rs = ir.relay_stats(rp, d)
    rr.check(rs.get("dropped") == dropped,
             f"the relay dropped {rs.get('dropped')}, the model says "
             f"{dropped}")
    rtbproc.stop(gst, wait_s=10)
    rr.check(gst.returncode == 0, f"the GStreamer receiver exit "
             f"{gst.returncode}")
    n = gstfec.recovered(os.path.join(d, "gst.out"))
    rr.check(n == want, f"rtpulpfecdec recovered {n} == {want} dropped")
    placed(src, got, first)


def mode_gst_recv(rtb, relay, d, procs):
    seed, want, dropped = pick_seed(SECONDS * 200)
    print(f"seed {seed}: the relay drops {dropped} datagrams, {want} media")
    src = os.path.join(d, "src.wav")
    send_wavcmp.gen(src, SECONDS, 7)
    recv, port = rtbproc.start_recv(
        rtb, d, ["--codec", "l16", "--ulpfec-pt", str(FEC_PT),
                 "--duration", str(SECONDS + 20)])
    procs.append(recv)
    rp, rport = rtbproc.start_relay(relay, port, d,
                                    ["--seed", str(seed), "--loss", "5"])
    procs.append(rp)
    gst = subprocess.run(
        [GSTPY, "-c", GST_SEND, src, str(rport), str(FEC_PT), str(SSRC)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        timeout=SECONDS + 15)
    with open(os.path.join(d, "gst.out"), "wb") as f:
        f.write(gst.stdout)
    rr.check(gst.returncode == 0, f"GStreamer sender exit {gst.returncode}",
             fatal=True)
    s = ir.recovered_all(recv, rp, d, dropped, want)
    rr.check(s["lost"] == 0 and s["concealed_frames"] == 0,
             f"lost {s['lost']}, concealed {s['concealed_frames']} frames")
    rr.check(s["rx_invalid"] == 0, f"rx_invalid {s['rx_invalid']}")
    # One FEC packet per five media packets, less the ones dropped.
    rr.check(s.get("fec_packets", 0) >= SECONDS * 200 // GROUP * 0.9,
             f"fec_packets {s.get('fec_packets')} (about "
             f"{SECONDS * 200 // GROUP} sent)")
    ir.exact(src, ir.one_recording(d))


def mode_self(rtb, relay, d, procs):
    seed, want, dropped = pick_seed(SECONDS * 200)
    print(f"seed {seed}: the relay drops {dropped} datagrams, {want} media")
    src = os.path.join(d, "src.wav")
    send_wavcmp.gen(src, SECONDS, 7)
    opts = ["--codec", "l16", "--frame-ms", "5", "--fec", "ulpfec:20"]
    sdp = ir.write_sdp(rtb, d, opts)
    recv, port = rtbproc.start_recv(
        rtb, d, ["--sdp", sdp, "--duration", str(SECONDS + 20)])
    procs.append(recv)
    rtbproc.wait_line(os.path.join(d, "recv.err"),
                      r"l16, pt 96, ULPFEC pt 101", recv)
    rp, rport = rtbproc.start_relay(relay, port, d,
                                    ["--seed", str(seed), "--loss", "5"])
    procs.append(rp)
    snd = subprocess.run([rtb, "send", src, "--to", f"127.0.0.1:{rport}",
                          "--quiet"] + opts, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=SECONDS + 15)
    rr.check(snd.returncode == 0, f"rtbridge send exit {snd.returncode}",
             fatal=True)
    s = ir.recovered_all(recv, rp, d, dropped, want)
    rr.check(s["lost"] == 0 and s["rx_invalid"] == 0,
             f"lost {s['lost']}, rx_invalid {s['rx_invalid']}")
    ir.exact(src, ir.one_recording(d))


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    rtb, relay, mode = sys.argv[1:4]
    modes = {"gst-send": mode_gst_send, "gst-recv": mode_gst_recv,
             "self": mode_self}
    if mode not in modes:
        sys.exit(f"unknown mode {mode}")
    if mode != "self" and subprocess.run(
            [GSTPY, "-c", "import gi; gi.require_version('Gst', '1.0'); "
             "from gi.repository import Gst; Gst.init(None); "
             "assert Gst.ElementFactory.find('rtpulpfecenc')"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL).returncode != 0:
        print("GStreamer's Python bindings or rtpulpfecenc are missing "
              "(tools/setup.sh --tools installs gir1.2-gst-plugins-base-1.0,"
              " python3-gi, gstreamer1.0-plugins-good)")
        return 1 if os.geteuid() == 0 else 77
    return ir.run(modes, rtb, relay, mode, "rtb_interop_ulpfec_")


if __name__ == "__main__":
    sys.exit(main())
