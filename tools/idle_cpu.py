#!/usr/bin/env python3
"""CPU an idle rtbridge costs, per thread, measured from /proc.

    tools/idle_cpu.py [--seconds S] [--settle S] RTBRIDGE [ARGS...]

Starts RTBRIDGE ARGS (default: `recv --listen 127.0.0.1:0 --no-play`),
lets it settle, then reads every thread's CPU time (schedstat, in ns) and
its voluntary context switches (wake-ups) at the start and the end of the
measurement, and prints the share of one core the whole process and each
thread used, and the wake-ups per second. Nothing is sent to the program:
this is what it costs doing nothing. Stops it with SIGTERM afterwards.
"""
import argparse
import glob
import os
import signal
import subprocess
import sys
import time


def snapshot(pid):
    out = {}
    for task in glob.glob(f"/proc/{pid}/task/*"):
        try:
            ns = int(open(task + "/schedstat").read().split()[0])
            status = open(task + "/status").read()
            name = status.split("Name:")[1].split()[0]
            wakes = int(status.split("voluntary_ctxt_switches:")[1].split()[0])
        except (OSError, IndexError, ValueError):
            continue
        out[int(task.rsplit("/", 1)[1])] = (name, ns, wakes)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--settle", type=float, default=2.0)
    ap.add_argument("rtbridge")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    o = ap.parse_args()
    args = o.args or ["recv", "--listen", "127.0.0.1:0", "--no-play"]
    p = subprocess.Popen([o.rtbridge] + args, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        time.sleep(o.settle)
        if p.poll() is not None:
            sys.exit(f"idle_cpu: {' '.join(args)} exited {p.returncode}")
        a, t0 = snapshot(p.pid), time.monotonic()
        time.sleep(o.seconds)
        b, el = snapshot(p.pid), time.monotonic() - t0
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
    total = sum(b[t][1] - a[t][1] for t in b if t in a)
    print(f"rtbridge {' '.join(args)}: {100.0 * total / 1e9 / el:.3f} % of "
          f"one core over {el:.1f} s ({len(b)} threads)")
    for i, tid in enumerate(sorted(b)):
        if tid in a:
            cpu = 100.0 * (b[tid][1] - a[tid][1]) / 1e9 / el
            wakes = (b[tid][2] - a[tid][2]) / el
            print(f"  thread {i} {b[tid][0]:<12} {cpu:7.3f} %  "
                  f"{wakes:6.0f} wake-ups/s")


if __name__ == "__main__":
    main()
