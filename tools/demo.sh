#!/usr/bin/env bash
# rtbridge's main job on a fresh machine: install what is missing, build,
# and run the demo. Until the sender and receiver land this shows the
# lock-free message core at work (the queue benchmark) and the disk
# read-ahead stream riding out injected disk stalls (the stall benchmark).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh --tools
echo
echo "== lock-free message core vs a mutex queue and Concurrency Kit's ck_ring"
build/bench_queue
if [ -x build/bench_stall ]; then
	echo
	echo "== disk read-ahead vs reading in the audio callback, under injected stalls"
	build/bench_stall
fi
