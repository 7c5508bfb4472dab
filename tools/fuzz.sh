#!/usr/bin/env bash
# Fuzz the RTP receive path (tests/fuzz_rtp.c: RTP headers, payloads, and
# RFC 2198 RED payloads) with libFuzzer for a bounded
# time. Configures a clang build in build-fuzz/ with -DRTB_FUZZ=ON, builds
# only fuzz_rtp, and runs it on a scratch copy of the committed seed corpus
# (tests/corpus/rtp), so the repository is never written to. Then runs the
# jitter buffer / network source target (tests/fuzz_jitter.c, RED copies
# restoring records among them) for the same
# time on a scratch corpus (build-fuzz/bridge/net/fuzz_jitter FILE re-runs
# a crash), the receiver's datagram path (tests/fuzz_receiver.c: source
# validation, probation, conflicts, takeovers, RFC 2198 RED datagrams
# split into their streams) likewise, the SAP/SDP
# target (tests/fuzz_sap.c: SAP datagrams, the SDP they carry and the
# session table) on a copy of tests/corpus/sap, the metrics endpoint's
# HTTP request parser (tests/fuzz_httpreq.c) from tests/corpus/http, and
# the SRTP target (tests/fuzz_srtp.c: verification of hostile datagrams,
# tampered genuine ones, a=crypto and base64 key texts) on a scratch
# corpus (build-fuzz/bridge/net/fuzz_srtp FILE re-runs a crash).
#   tools/fuzz.sh [seconds]        default 30
# Exit status: 0 if no crash; non-zero on a crash, leak or timeout, with the
# offending input saved as build-fuzz/fuzz-crash-* (re-run it with
# build-fuzz/codec/fuzz_rtp FILE).
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-30}"
case "$secs" in
'' | *[!0-9]*) echo "usage: tools/fuzz.sh [seconds]" >&2; exit 2 ;;
esac
build="${RTB_FUZZ_BUILD:-build-fuzz}"

if ! command -v clang >/dev/null; then
	echo "fuzz: clang not found (apt-get install clang libclang-rt-14-dev)" >&2
	exit 1
fi
CC=clang cmake -S . -B "$build" -DRTB_FUZZ=ON \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz_rtp fuzz_jitter fuzz_receiver fuzz_sap fuzz_httpreq fuzz_srtp -j2 -- --no-print-directory >/dev/null

corpus="$(mktemp -d)"
jcorpus="$(mktemp -d)"
rcorpus="$(mktemp -d)"
scorpus="$(mktemp -d)"
srcorpus="$(mktemp -d)"
trap 'rm -rf "$corpus" "$jcorpus" "$rcorpus" "$scorpus" "$srcorpus"' EXIT
cp tests/corpus/rtp/* "$corpus"/
cp tests/corpus/sap/* "$scorpus"/

echo "fuzz: running fuzz_rtp for ${secs}s"
"$build/codec/fuzz_rtp" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
	-max_len=2048 -print_final_stats=1 \
	-artifact_prefix="$build/fuzz-" "$corpus"
echo "fuzz: no crash in ${secs}s"

echo "fuzz: running fuzz_jitter for ${secs}s"
"$build/bridge/net/fuzz_jitter" -max_total_time="$secs" -timeout=10 \
	-rss_limit_mb=1024 -max_len=4096 -print_final_stats=1 \
	-artifact_prefix="$build/fuzz-jitter-" "$jcorpus"
echo "fuzz: no crash in fuzz_jitter in ${secs}s"

echo "fuzz: running fuzz_receiver for ${secs}s"
"$build/bridge/net/fuzz_receiver" -max_total_time="$secs" -timeout=10 \
	-rss_limit_mb=1024 -max_len=4096 -print_final_stats=1 \
	-artifact_prefix="$build/fuzz-receiver-" "$rcorpus"
echo "fuzz: no crash in fuzz_receiver in ${secs}s"

echo "fuzz: running fuzz_sap for ${secs}s"
"$build/bridge/net/fuzz_sap" -max_total_time="$secs" -timeout=10 \
	-rss_limit_mb=1024 -max_len=8192 -print_final_stats=1 \
	-artifact_prefix="$build/fuzz-sap-" "$scorpus"
echo "fuzz: no crash in fuzz_sap in ${secs}s"

# The metrics endpoint's HTTP request parser, from the committed heads.
hcorpus="$(mktemp -d)"
trap 'rm -rf "$corpus" "$jcorpus" "$rcorpus" "$scorpus" "$srcorpus" "$hcorpus"' EXIT
cp tests/corpus/http/* "$hcorpus"/
echo "fuzz: running fuzz_httpreq for ${secs}s"
"$build/bridge/net/fuzz_httpreq" -max_total_time="$secs" -timeout=10 \
	-rss_limit_mb=1024 -max_len=4096 -print_final_stats=1 \
	-artifact_prefix="$build/fuzz-http-" "$hcorpus"
echo "fuzz: no crash in fuzz_httpreq in ${secs}s"

echo "fuzz: running fuzz_srtp for ${secs}s"
"$build/bridge/net/fuzz_srtp" -max_total_time="$secs" -timeout=10 \
	-rss_limit_mb=1024 -max_len=2048 -print_final_stats=1 \
	-artifact_prefix="$build/fuzz-srtp-" "$srcorpus"
echo "fuzz: no crash in fuzz_srtp in ${secs}s"
