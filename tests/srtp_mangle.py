#!/usr/bin/python3
"""srtp_mangle.py LISTEN_PORT_FILE TO_PORT EVERY SECONDS

A loopback UDP forwarder for tests/test_srtp_cli.sh: it binds 127.0.0.1
on a free port (written to LISTEN_PORT_FILE), forwards every datagram to
127.0.0.1:TO_PORT, and for every EVERY-th one also sends, before it, a
copy with one bit flipped (in turn in the header, the payload and the
tag) and a copy cut short, and after it the same datagram again and the
datagram received 150 before (older than the 128-packet replay window
once it exists). It stops SECONDS after the first datagram or 1 s after
the last, and prints one JSON line: what it sent of each kind, which a
receiver must count as auth_failed (tampered + truncated) and replayed
(repeated + old).
"""
import json
import socket
import sys
import time


def main():
    port_file, to_port, every, seconds = (sys.argv[1], int(sys.argv[2]),
                                          int(sys.argv[3]), float(sys.argv[4]))
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    to = ("127.0.0.1", to_port)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(rx.getsockname()[1]))
    import os
    os.rename(port_file + ".tmp", port_file)
    rx.settimeout(30.0)  # the first datagram
    n = {"forwarded": 0, "tampered": 0, "truncated": 0, "repeated": 0,
         "old": 0}
    history = []
    end = None
    while end is None or time.monotonic() < end:
        try:
            d, _ = rx.recvfrom(65536)
        except socket.timeout:
            break
        if end is None:
            end = time.monotonic() + seconds
            rx.settimeout(1.0)
        history.append(d)
        k = n["forwarded"]
        mangle = k % every == every - 1
        if mangle:
            # Header, payload, tag, in turn.
            at = [1, len(d) // 2, len(d) - 1][(k // every) % 3]
            bad = bytearray(d)
            bad[at] ^= 1 << (k % 8)
            tx.sendto(bytes(bad), to)
            tx.sendto(d[:len(d) - 1 - (k % 20)], to)
            n["tampered"] += 1
            n["truncated"] += 1
        tx.sendto(d, to)
        n["forwarded"] += 1
        if mangle:
            tx.sendto(d, to)
            n["repeated"] += 1
            if len(history) > 140:
                tx.sendto(history[-141], to)
                n["old"] += 1
        # Keep memory bounded: only the last 141 are ever replayed.
        if len(history) > 200:
            del history[:50]
    print(json.dumps(n))


if __name__ == "__main__":
    main()
