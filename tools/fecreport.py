"""The table and the JSON rows of tools/bench_fec.py (stdlib only).

cells() derives the per-cell figures (bandwidth against the same
condition without protection, recovered and exact fractions); report()
prints them as markdown with the CPU table and the issue's targets.
"""
import sys
import time


def pct(n, d):
    return None if n is None or not d else 100.0 * n / d


def fmt(v, spec="%.1f"):
    return "n/a" if v is None else spec % v


def cells(b):
    """One dict per cell with the derived numbers (the JSON rows)."""
    base = {}
    for r in b.runs:
        if r.fec == "none":
            base[(r.codec, r.cond)] = r.res.get("bytes")
    out = []
    for r in b.runs:
        x = dict(r.res)
        d = x.get("dropped")
        nb = base.get((r.codec, r.cond))
        x["kbit_s"] = x["bytes"] * 8 / b.a.seconds / 1000 \
            if x.get("bytes") else None
        x["bytes_vs_none"] = x["bytes"] / nb if nb and x.get("bytes") \
            else None
        rtb = x.get("rtb", {})
        x["recovered_pct"] = pct(rtb.get("recovered"), d)
        for who in ("rtb", "gst"):
            j = x.get(who, {})
            x[who + "_exact_pct"] = pct(j.get("exact"), j.get("judged"))
        out.append(x)
    return out


def ratio(j):
    if "judged" not in j:
        return "n/a"
    return "%d / %d" % (j["exact"], j["judged"])


def report(b, rows):
    a = b.a
    print("## bench_fec: %s, %g s per cell, relay seed %d, %s"
          % (a.rtbridge, a.seconds, b.seed, time.strftime("%Y-%m-%d %H:%M")))
    print()
    print("Bursts: `relay --burst 1.7544,33.3333,0,100` (P_GB 1.75 %%, "
          "P_BG 33.3 %%: mean burst 3 packets, mean loss 5 %%). Exact: "
          "the dropped packet's frames in the recording equal the source "
          "(L16) or the receiver's own loss-free recording (Opus) bit for "
          "bit, of the judged packets (Opus: those after a bit-exact "
          "packet; after a concealment the decoder's state differs). "
          "Restorable: dropped packets one of whose next N packets "
          "arrived (RED distance N; what a receiver can restore). "
          "GStreamer: %s." % (
              "udpsrc ! [rtpreddec !] rtpjitterbuffer latency=200 mode=4 ! "
              "depay ! [opusdec plc=true !] audiorate ! wavenc, on the "
              "relay's --tee" if b.gst else "not run"))
    for n in b.notes:
        print("- %s" % n)
    print()
    print("| codec | loss | protection | RTP kbit/s | x none | dropped "
          "(+parity) | restorable | recovered | lost | late | late repairs | "
          "recovered % | "
          "exact / judged | exact % | rtb target ms | GStreamer exact / "
          "judged | exact % |")
    print("|" + "---|" * 17)
    for x in rows:
        rtb = x.get("rtb", {})
        parity = " (+%d)" % x["prot_dropped"] if x.get("prot_pkts") else ""
        print("| %s | %s | %s | %s | %s | %s%s | %s | %s | %s | %s | %s | %s "
              "| %s | %s | %s | %s | %s |" % (
                  x["codec"], x["condition_label"],
                  x["fec_label"], fmt(x["kbit_s"]),
                  fmt(x["bytes_vs_none"], "%.2f"), x.get("dropped", "n/a"),
                  parity, x.get("restorable", "n/a"),
                  rtb.get("recovered", "n/a"),
                  rtb.get("lost", "n/a"), rtb.get("late", "n/a"),
                  rtb.get("late_repairs", "n/a"),
                  fmt(x["recovered_pct"]),
                  ratio(rtb), fmt(x["rtb_exact_pct"]),
                  fmt(rtb.get("target_ms")),
                  ratio(x.get("gst", {})), fmt(x["gst_exact_pct"])))
        errs = [x["error"]] if x.get("error") else []
        errs += ["%s: %s" % (w, x[w]["error"]) for w in ("rtb", "gst")
                 if x.get(w, {}).get("error")]
        if errs:
            print("|  | error: %s |" % "; ".join(errs))
    for f in b.missing:
        print("| all | all | %s | not run: this rtbridge's `send` has no "
              "`--fec ulpfec` |" % f)
    print()
    cpu = [x for x in rows if x.get("cpu_pct")]
    if cpu:
        print("CPU per stream, %% of one core (5 %% random-loss cells, run "
              "alone, steady %.0f s window):" % cpu[0]["cpu_window_s"])
        print()
        print("| codec | protection | rtbridge send | rtbridge recv | "
              "GStreamer recv |")
        print("|---|---|---|---|---|")
        for x in cpu:
            c = x["cpu_pct"]
            print("| %s | %s | %s | %s | %s |" % (
                x["codec"], x["fec_label"], fmt(c.get("send"), "%.2f"),
                fmt(c.get("recv"), "%.2f"), fmt(c.get("gst"), "%.2f")))
        print()
    print("Targets (rtbridge's exact %; restorable: what the loss pattern "
          "allows at most):")
    for label, cond, fec, goal in TARGETS:
        for x in rows:
            if x["condition"] != cond or x["fec"] not in fec:
                continue
            v = x["rtb_exact_pct"]
            over = x["bytes_vs_none"]
            note = ""
            if fec[0].startswith("ulpfec") and over and over > 1.30:
                note = " (overhead x%.2f: more than 30 %%)" % over
            extra = ""
            if "restorable" in x:
                extra = ", restorable %s %%, recovered %s of %s" % (
                    fmt(pct(x["restorable"], x["dropped"])),
                    x.get("rtb", {}).get("recovered"), x["restorable"])
            print("- %s, %s, %s: exact %s %%%s (goal >= %d %%): %s" % (
                label + note, x["codec"], x["fec_label"], fmt(v), extra, goal,
                "met" if v is not None and v >= goal else "MISSED"))
    print("\n%d cells in %.0f s" % (len(rows), b.elapsed))
    sys.stdout.flush()


TARGETS = [
    ("5 % random loss", "loss5", ["red1"], 95),
    ("5 % random loss, parity <= 30 %", "loss5", ["ulpfec20", "ulpfec30"],
     70),
    ("bursts of 3", "burst3", ["red2", "red@5", "red@8"], 80),
]
