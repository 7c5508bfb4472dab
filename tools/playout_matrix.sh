#!/usr/bin/env bash
# The playout-control acceptance matrix of real processes: `rtbridge send`
# -> relay -> `rtbridge recv`, {0, +500, -500 ppm} x {no jitter, 20 +- 10 ms}
# x {L16 5 ms, Opus 10 ms} x {--no-play, --play on a private jackd}, SECONDS
# each (default 60), one line per case (drift estimate range, p99 and max
# |buffer - target| after 15 s, target, inserted / concealed / late after
# 5 s, L16 recording exact). Prints only; CTest runs a 30 s subset with
# thresholds (e2e_playout_*).
#   tools/playout_matrix.sh [SECONDS]      (after tools/setup.sh --tools)
set -euo pipefail
cd "$(dirname "$0")/.."
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
for mode in "" --play; do
	/usr/bin/python3 tests/e2e_playout.py "$build/rtbridge" "$build/relay" \
		--table --seconds "$secs" $mode "${cases[@]}" | grep -v '^ok:'
done
