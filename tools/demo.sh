#!/usr/bin/env bash
# rtbridge's main job out of the box: install what is missing, build, then a
# loopback demo that needs no sound card.
#
#   sender (rtbridge send, Opus) -> relay (1% loss, 5±3 ms jitter) -> receiver
#   (rtbridge recv: records each stream and the mix; plays too when a sound
#   device exists)
#
# Everything stays on 127.0.0.1. Prints a summary: duration, loss,
# concealment, latency, where the recordings are, and the path of a plot
# of every stream over time (tools/report.py: out/demo/report.png).
#   tools/demo.sh [SECONDS]        (default 8)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}
tools/setup.sh --tools

out="$PWD/out/demo"
rm -rf "$out"
mkdir -p "$out/streams"
b="$PWD/build"

"$b/gensignal" --seconds "$secs" --seed 7 "$out/source.wav" >/dev/null

# Free UDP ports on loopback for the receiver and the relay.
read -r rport lport < <(/usr/bin/python3 - <<'PY'
import socket
s = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))
PY
)

play=--no-play
if "$b/rtbridge" devices 2>/dev/null | grep -q '\*'; then
	play=--play
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

echo "demo: receiver on 127.0.0.1:$rport ($play), relay on 127.0.0.1:$lport, sending ${secs}s of sweep+noise as Opus"
"$b/rtbridge" recv --listen "127.0.0.1:$rport" $play --record-dir "$out/streams" \
	--record "$out/mix.wav" --stats-json "$out/stats.jsonl" --idle-exit 2 \
	--duration $((secs + 20)) >"$out/recv.log" 2>&1 &
recv_pid=$!
pids+=("$recv_pid")
"$b/relay" --listen "127.0.0.1:$lport" --to "127.0.0.1:$rport" --seed 1 \
	--loss 1 --delay 5 --jitter 3 --duration $((secs + 20)) --stats --quiet \
	>"$out/relay.json" 2>"$out/relay.log" &
relay_pid=$!
pids+=("$relay_pid")
sleep 0.5
"$b/rtbridge" send "$out/source.wav" --to "127.0.0.1:$lport" --quiet
if ! wait "$recv_pid"; then
	echo "demo: the receiver failed:" >&2
	cat "$out/recv.log" >&2
	exit 1
fi
# The relay prints its counters when told to stop.
kill -INT "$relay_pid" 2>/dev/null || true
wait "$relay_pid" 2>/dev/null || true

/usr/bin/python3 - "$out" "$secs" <<'PY'
import json, sys, os, glob, wave
out, secs = sys.argv[1], float(sys.argv[2])
summary = None
for line in open(os.path.join(out, "stats.jsonl")):
    line = line.strip()
    if line:
        summary = json.loads(line)
recs = sorted(glob.glob(os.path.join(out, "streams", "*")))
print()
print("rtbridge loopback demo")
print("  sent          %.1f s of sweep+noise, Opus 128 kbit/s, 10 ms frames" % secs)
try:
    relay = json.loads(open(os.path.join(out, "relay.json")).read().strip().splitlines()[-1])
    print("  relay         %d packets in, %d dropped (1%% loss, 5±3 ms jitter)" % (relay["received"], relay["dropped"]))
except Exception:
    pass
streams = summary.get("streams", []) if summary else []
for st in streams:
    rate = 48000
    print("  stream %08x received %d, lost %d, late %d, concealed %d frames (%.1f ms)"
          % (int(st["ssrc"]), st["received"], st["lost"], st["late"],
             st["concealed_frames"], 1000.0 * st["concealed_frames"] / rate))
    print("                jitter %.2f ms, playout delay %.1f ms (target %.1f ms), drift %.1f ppm"
          % (st["jitter_ms"], st["buffer_ms"], st["target_ms"], st["drift_ppm"]))
for r in recs:
    try:
        with wave.open(r) as w:
            d = w.getnframes() / w.getframerate()
        print("  recording     %s (%.2f s)" % (r, d))
    except Exception:
        print("  recording     %s" % r)
mix = os.path.join(out, "mix.wav")
if os.path.exists(mix):
    print("  output mix    %s" % mix)
print("  stats         %s" % os.path.join(out, "stats.jsonl"))
PY
# The streams over time, one figure each (tools/report.py).
if /usr/bin/python3 tools/report.py "$out/stats.jsonl" -o "$out/report.png"; then
	echo "  report        $out/report.png"
fi
