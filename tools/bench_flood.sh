#!/usr/bin/env bash
# What a duplicate flood costs the audio callback: a live L16 stream (5 ms
# packets) from `rtbridge send` through the relay to `rtbridge recv
# --no-play --record-dir`, once clean and once with the relay also sending
# PPS copies per second of the latest datagrams (--flood-dups), SECONDS
# each, on 127.0.0.1. Prints the receiver's callback p99 and max (its
# summary), the duplicates it counted, and whether the recording is
# bit-exact, with the differences flood - clean. The pair is run REPS
# times, alternating, and the medians compared: a single callback max on a
# shared machine moves by hundreds of microseconds between two identical
# clean runs (preemption, not the callback's work). A recording that is
# not exact is shown with the stream's counters (late, lost, resyncs...)
# and the slots the sender skipped, so a sender delayed by the machine can
# be told from a receiver fault.
# A benchmark: it asserts nothing (the goal: p99 moves by <= 10 us, max by
# <= 100 us, recording exact).
#   tools/bench_flood.sh [SECONDS] [PPS] [REPS]   defaults 20, 20000, 3
#   KEEP=1 keeps the temporary directory (its path is printed)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-20}"
pps="${2:-20000}"
reps="${3:-3}"
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
	local cb dup exact why
	cb=$(sed -n 's/^callback max \([0-9.]*\) us, p99 \([0-9.]*\) us.*/\2 \1/p' "$d/recv.out" "$d/recv.log")
	dup=$(grep -o '"duplicate":[0-9]*' "$d/stats.jsonl" | tail -1 | cut -d: -f2)
	if "$b/wavcmp" exact "$dir/src.wav" "$d/rec/"*.wav >/dev/null 2>&1; then
		exact=yes
	else
		exact=NO
		why=$(sed -n 's/^stream [0-9a-f]* from [^ ]* \(([^)]*)\): \(.*\); \/.*/\1 \2/p' \
			"$d/recv.out" "$d/recv.log" | head -3)
		why="${why:-no stream line}; sender: $(grep -o 'skipped slots [0-9]*' "$d/send.log")"
		echo "$1: recording not exact: $why" >&2
	fi
	echo "$1 $cb ${dup:-0} $exact"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

[ -z "${KEEP:-}" ] || echo "files in $dir" >&2
results=()
for r in $(seq "$reps"); do
	results+=("$(run "clean$r" 0)" "$(run "flood$r" "$pps")")
done
printf '%-8s %10s %10s %12s %6s\n' run "p99 us" "max us" duplicates exact
for line in "${results[@]}"; do
	set -- $line
	printf '%-8s %10s %10s %12s %6s\n' "$1" "$2" "$3" "$4" "$5"
done
col() { # PREFIX FIELD
	printf '%s\n' "${results[@]}" | awk -v p="$1" -v f="$2" 'index($1, p) == 1 { print $f }' | median
}
c99=$(col clean 2) cmax=$(col clean 3) f99=$(col flood 2) fmax=$(col flood 3)
bad=$(printf '%s\n' "${results[@]}" | awk '$5 != "yes"' | wc -l)
printf 'median of %s: clean p99 %s max %s us; flood %s/s p99 %s max %s us\n' \
	"$reps" "$c99" "$cmax" "$pps" "$f99" "$fmax"
printf 'flood %s/s moves the median p99 by %+.1f us, max by %+.1f us; %s of %s recordings not exact\n' \
	"$pps" "$(echo "$f99 - $c99" | bc -l)" "$(echo "$fmax - $cmax" | bc -l)" \
	"$bad" "$((2 * reps))"
