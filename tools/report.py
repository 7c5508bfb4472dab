#!/usr/bin/python3
"""Plot `rtbridge recv --stats-json` output: one figure per stream.

Usage: tools/report.py STATS.jsonl -o REPORT.png [--describe]

Reads the per-interval "stream" lines of the JSON Lines file and draws, for
each stream (SSRC), four panels over time (seconds since recv started):

  buffer vs target   the playout delay and its target, ms
  jitter             RFC 3550 interarrival jitter, ms
  lost, late, concealed per second
                     packets lost and late per second (left axis) and
                     frames concealed per second (right axis)
  drift              the sender's clock against ours, ppm

Streams stand side by side in one PNG (a column each). Rates are the
counters' differences between consecutive lines over the time between
them. --describe prints what was drawn as one JSON object (the output
path, its size in pixels, and per stream its SSRC, sender, number of
points and panel titles): tests and scripts read it instead of the image.
Needs python3-matplotlib (Debian); draws without a display (Agg).
Exit status: 0, 1 when the file cannot be read or holds no stream line,
2 on bad usage.
"""
import argparse
import json
import sys

PANELS = ("buffer vs target (ms)", "jitter (ms)",
          "lost, late, concealed per second", "drift (ppm)")


def read_streams(path):
    """{ssrc: {"from": text, "rows": [line objects in time order]}}"""
    streams = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                o = json.loads(line)
            except ValueError as e:
                raise SystemExit(f"report: {path}:{n}: not JSON: {e}")
            if o.get("type") != "stream":
                continue
            s = streams.setdefault(o["ssrc"], {"from": o.get("from", "?"),
                                               "rows": []})
            s["rows"].append(o)
    for s in streams.values():
        s["rows"].sort(key=lambda r: r["t"])
    return streams


def rates(rows, key):
    """Per-second rate of a counter between consecutive lines, at the
    later line's time."""
    t, v = [], []
    for a, b in zip(rows, rows[1:]):
        dt = b["t"] - a["t"]
        if dt > 0:
            t.append(b["t"])
            v.append(max(0, b.get(key, 0) - a.get(key, 0)) / dt)
    return t, v


def draw(streams, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(streams)
    fig = plt.figure(figsize=(7 * n, 11), dpi=100, layout="constrained")
    subs = fig.subfigures(1, n, squeeze=False)[0]
    described = []
    for sub, (ssrc, s) in zip(subs, sorted(streams.items())):
        rows = s["rows"]
        t = [r["t"] for r in rows]
        title = f"stream {int(ssrc):08x} from {s['from']}"
        sub.suptitle(title, fontsize=13)
        ax = sub.subplots(4, 1, sharex=True)
        ax[0].plot(t, [r["buffer_ms"] for r in rows], label="buffer")
        ax[0].plot(t, [r["target_ms"] for r in rows], "--", label="target")
        ax[0].legend(loc="upper right")
        ax[1].plot(t, [r["jitter_ms"] for r in rows], color="tab:purple")
        for key, label, color in (("lost", "lost", "tab:red"),
                                  ("late", "late", "tab:orange")):
            rt, rv = rates(rows, key)
            ax[2].step(rt, rv, where="post", label=label + " packets/s",
                       color=color)
        ax[2].set_ylabel("packets/s")
        twin = ax[2].twinx()
        ct, cv = rates(rows, "concealed_frames")
        # Dashed: with PCM-length frames it often traces the lost line.
        twin.step(ct, cv, where="post", color="tab:gray", linestyle="--",
                  label="concealed frames/s")
        twin.set_ylabel("frames/s")
        ax[2].set_ylim(bottom=0)
        twin.set_ylim(bottom=0)
        lines = ax[2].get_legend_handles_labels()
        tl = twin.get_legend_handles_labels()
        ax[2].legend(lines[0] + tl[0], lines[1] + tl[1], loc="upper left",
                     fontsize=8, framealpha=0.8)
        ax[3].plot(t, [r["drift_ppm"] for r in rows], color="tab:green")
        ax[3].set_xlabel("time since start (s)")
        for a, p in zip(ax, PANELS):
            a.set_title(p, fontsize=10, loc="left")
            a.grid(True, alpha=0.3)
        described.append({"ssrc": f"{int(ssrc):08x}", "from": s["from"],
                          "points": len(rows), "title": title,
                          "panels": [a.get_title(loc="left") for a in ax]})
    fig.savefig(out)
    w, h = fig.canvas.get_width_height()
    plt.close(fig)
    return {"output": out, "width": w, "height": h, "streams": described}


def main():
    ap = argparse.ArgumentParser(
        description="Plot rtbridge recv --stats-json output, one figure "
        "per stream.")
    ap.add_argument("stats", help="the JSON Lines file of --stats-json")
    ap.add_argument("-o", "--output", required=True, help="PNG to write")
    ap.add_argument("--describe", action="store_true",
                    help="print what was drawn as JSON")
    a = ap.parse_args()
    try:
        streams = read_streams(a.stats)
    except OSError as e:
        print(f"report: {a.stats}: {e.strerror}", file=sys.stderr)
        return 1
    if not streams:
        print(f"report: {a.stats}: no stream lines (was recv run with "
              "--stats-json while a stream played?)", file=sys.stderr)
        return 1
    try:
        d = draw(streams, a.output)
    except OSError as e:
        print(f"report: {a.output}: {e.strerror}", file=sys.stderr)
        return 1
    if a.describe:
        print(json.dumps(d))
    return 0


if __name__ == "__main__":
    sys.exit(main())
