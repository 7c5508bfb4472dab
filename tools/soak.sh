#!/bin/sh
# Soak `rtbridge recv` (tools/soak.py) with the programs of build/ (or
# $RTB_BUILD_DIR): 16 senders through the impairment relay, SSRC churn,
# junk and duplicate floods, sampled every 10 s.
#   tools/soak.sh --minutes N [--senders N] [--keep]
# Exit 0 pass, 1 fail (the table and the failed checks are printed).
cd "$(dirname "$0")/.." || exit 2
exec /usr/bin/python3 tools/soak.py --build "${RTB_BUILD_DIR:-build}" "$@"
