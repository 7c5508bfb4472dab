#!/usr/bin/env bash
# The playout-control acceptance matrix of real processes: `rtbridge send`
# -> relay -> `rtbridge recv`, {0, +500, -500 ppm} x {no jitter, 20 +- 10 ms}
# x {L16 5 ms, Opus 10 ms} x {--no-play, --play on a private jackd}, SECONDS
# each (default 60), one line per case (drift estimate range, p99 and max
# |buffer - target| after 15 s, target, inserted / concealed / late after
# 5 s, L16 recording exact, how late the sender was). Prints only; CTest
# runs a 30 s subset with thresholds (e2e_playout_*).
#
# --keep-awake: one spinning process per CPU at SCHED_IDLE (it yields to
# every other thread) for the run. A VM whose idle CPUs halt can take
# milliseconds to wake one (3 to 30 ms, now and then 100, on the machine
# this was written on): the sender's packets then leave late and jackd's
# dummy driver loses time, which the table shows as the sender's lateness
# and the device's rate. Kept awake, the table measures rtbridge, not the
# host (tools/latency_check --keep-awake does the same).
#   tools/playout_matrix.sh [--keep-awake] [SECONDS]
#   (after tools/setup.sh --tools)
set -euo pipefail
cd "$(dirname "$0")/.."
awake=
if [ "${1:-}" = --keep-awake ]; then
	awake=1
	shift
fi
secs="${1:-60}"
build="${RTB_BUILD_DIR:-build}"
cases=()
for codec in l16/5 opus/10; do
	for ppm in 0 +500 -500; do
		for jit in 0 10; do
			cases+=("$codec/$ppm/$jit")
		done
	done
done
spinners=()
if [ -n "$awake" ]; then
	# Bounded: each stops by itself after the matrix's time and a margin.
	for _ in $(seq "$(nproc)"); do
		timeout $((secs * 30 + 600)) chrt -i 0 \
			sh -c 'while :; do :; done' &
		spinners+=($!)
	done
	trap 'kill "${spinners[@]}" 2>/dev/null || true' EXIT
fi
for mode in "" --play; do
	/usr/bin/python3 tests/e2e_playout.py "$build/rtbridge" "$build/relay" \
		--table --seconds "$secs" $mode "${cases[@]}" | grep -v '^ok:'
done
