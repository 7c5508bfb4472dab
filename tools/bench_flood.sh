#!/usr/bin/env bash
# What a duplicate flood costs the audio callback: a live L16 stream (5 ms
# packets) from `rtbridge send` through the relay to `rtbridge recv
# --no-play --record-dir`, once clean and once with the relay also sending
# PPS copies per second of the latest datagrams (--flood-dups), SECONDS
# each, on 127.0.0.1. Prints the receiver's callback p99 and max (its
# summary), the duplicates it counted, and whether the recording is
# bit-exact, with the differences flood - clean. A benchmark: it asserts
# nothing (the goal: p99 moves by <= 10 us, max by <= 100 us, recording
# exact).
#   tools/bench_flood.sh [SECONDS] [PPS]     defaults 20 and 20000
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-20}"
pps="${2:-20000}"
b="${RTB_BUILD_DIR:-build}"
dir=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
"$b/gensignal" --seconds "$secs" --seed 5 "$dir/src.wav" >/dev/null

run() { # NAME FLOOD_PPS
	local d="$dir/$1"
	mkdir -p "$d/rec"
	"$b/rtbridge" recv --listen 127.0.0.1:0 --codec l16 --no-play \
		--record-dir "$d/rec" --stats-json "$d/stats.jsonl" \
		--duration $((secs + 10)) >"$d/recv.out" 2>"$d/recv.log" &
	local rp=$! port="" rport="" i
	for i in $(seq 100); do
		port=$(sed -n 's/^rtbridge recv: listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$d/recv.log")
		[ -n "$port" ] && break
		sleep 0.05
	done
	"$b/relay" --listen 127.0.0.1:0 --to "127.0.0.1:$port" --seed 1 \
		--flood-dups "$2" --stats >"$d/relay.json" 2>"$d/relay.log" &
	local lp=$!
	for i in $(seq 100); do
		rport=$(sed -n 's/^relay: listening on .*:\([0-9]*\)$/\1/p' "$d/relay.log")
		[ -n "$rport" ] && break
		sleep 0.05
	done
	"$b/rtbridge" send "$dir/src.wav" --to "127.0.0.1:$rport" --codec l16 \
		--frame-ms 5 --quiet >"$d/send.log" 2>&1
	sleep 1
	kill -INT "$lp" "$rp"
	wait "$rp" "$lp" || true
	local cb dup exact
	cb=$(sed -n 's/^callback max \([0-9.]*\) us, p99 \([0-9.]*\) us.*/\2 \1/p' "$d/recv.out" "$d/recv.log")
	dup=$(grep -o '"duplicate":[0-9]*' "$d/stats.jsonl" | tail -1 | cut -d: -f2)
	if "$b/wavcmp" exact "$dir/src.wav" "$d/rec/"*.wav >/dev/null 2>&1; then
		exact=yes
	else
		exact=NO
	fi
	echo "$1 $cb ${dup:-0} $exact"
}

clean=$(run clean 0)
flood=$(run flood "$pps")
printf '%-8s %10s %10s %12s %6s\n' run "p99 us" "max us" duplicates exact
for line in "$clean" "$flood"; do
	set -- $line
	printf '%-8s %10s %10s %12s %6s\n' "$1" "$2" "$3" "$4" "$5"
done
set -- $clean; c99=$2 cmax=$3
set -- $flood
printf 'flood %s/s moves p99 by %+.1f us, max by %+.1f us\n' "$pps" \
	"$(echo "$2 - $c99" | bc -l)" "$(echo "$3 - $cmax" | bc -l)"
