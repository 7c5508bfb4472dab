"""GStreamer's ULPFEC receiver, as a child process (python3-gi).

rtpulpfecdec rebuilds packets from the storage of an rtpstorage element
upstream of the jitter buffer; gst-launch-1.0 cannot hand it that storage
(an object property), so the pipeline runs in a small Python GObject
program instead. start_ulpfec_recv() starts it and waits until its
udpsrc listens; on SIGINT it ends the stream (EOS, so the recording is
finalized) and prints "recovered N" (rtpulpfecdec's count) before it
exits. rtpulpfecdec wants the SSRC in the caps (it asserts otherwise).
"""
import os
import subprocess

import rtbproc

GSTPY = "/usr/bin/python3"  # Debian's, with python3-gi

ULPFEC_RECV = r'''
import signal, sys, gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst, GLib
Gst.init(None)
port, pt, caps, chain = sys.argv[1:5]
p = Gst.parse_launch(
    f'udpsrc address=127.0.0.1 port={port} caps="{caps}" ! rtpstorage '
    'name=st size-time=1000000000 ! rtpjitterbuffer latency=200 '
    f'do-lost=true mode=4 ! rtpulpfecdec name=fec pt={pt} ! {chain}')
fec = p.get_by_name("fec")
fec.set_property("storage", p.get_by_name("st").get_property(
    "internal-storage"))
loop = GLib.MainLoop()
signal.signal(signal.SIGINT, lambda *a: GLib.idle_add(
    lambda: p.send_event(Gst.Event.new_eos()) and False))
bus = p.get_bus()
bus.add_signal_watch()
bus.connect("message::eos", lambda *a: loop.quit())
bus.connect("message::error", lambda b, m: (print("error", m.parse_error()),
                                             loop.quit()))
p.set_state(Gst.State.PLAYING)
print("ready", flush=True)
GLib.timeout_add_seconds(120, loop.quit)
loop.run()
print("recovered", fec.get_property("recovered"), flush=True)
p.set_state(Gst.State.NULL)
'''


def start_ulpfec_recv(port, pt, caps, chain, log_path):
    """Start the receiver on 127.0.0.1:port for FEC payload type pt; caps
    the RTP caps (with ssrc=(uint)N), chain the gst-launch syntax after
    rtpulpfecdec (depayloader ... sink). Return the process, listening."""
    p = subprocess.Popen([GSTPY, "-c", ULPFEC_RECV, str(port), str(pt),
                          caps, chain], stdout=open(log_path, "w"),
                         stderr=subprocess.STDOUT)
    rtbproc.wait_line(log_path, r"ready", p)
    return p


def recovered(log_path):
    """rtpulpfecdec's count, from the log of a receiver that stopped; -1
    if it did not say."""
    if not os.path.exists(log_path):
        return -1
    with open(log_path) as f:
        m = [line.split() for line in f if line.startswith("recovered")]
    return int(m[-1][1]) if m else -1
