#!/bin/sh
# test_srtp_cli.sh RTBRIDGE
#
# SRTP end to end between `rtbridge send` and `rtbridge recv` on
# 127.0.0.1 (L16, 2 s, the receiver headless with its stream recorded):
#   - through tests/srtp_mangle.py, which adds tampered, truncated,
#     repeated and old copies: each counted exactly (auth_failed,
#     replayed), the recording still bit-exact;
#   - with the receiver keyed by `rtbridge sdp`'s a=crypto (recv --sdp);
#   - with a wrong key, and plain RTP into an SRTP receiver: every
#     datagram auth_failed (in the summary and on the --metrics page), no
#     stream, no recording;
#   - the refusals and warnings of the options (bad key length, a key file
#     others can read, --srtp-suite alone, an SDP offering only an
#     unsupported suite, send --announce with a key), none of which prints
#     the key.
# Exit 0 on success, 1 on a failure. Every wait is bounded.
set -u
RTB=$1
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
$PY -c 'import numpy' 2>/dev/null || { echo "python3-numpy is missing"; exit 1; }

DIR=$(mktemp -d /tmp/rtb_srtp_cli_XXXXXX) || exit 1
RECV_PID=
MANGLE_PID=
cleanup() {
	[ -n "$RECV_PID" ] && kill -KILL "$RECV_PID" 2>/dev/null
	[ -n "$MANGLE_PID" ] && kill -KILL "$MANGLE_PID" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
. "$HERE/recv_proc.sh"

fail() {
	echo "FAIL: $*"
	for f in recv.log send.log mangle.json; do
		[ -s "$DIR/$f" ] && { echo "--- $f"; tail -n 20 "$DIR/$f"; }
	done
	exit 1
}

$PY "$HERE/send_wavcmp.py" gen "$DIR/src.wav" 1.6 11 >/dev/null || exit 1
(umask 077 && $PY -c "import base64, random
r = random.Random(3711)
for n in (30, 30):
    print(base64.b64encode(bytes(r.randrange(256) for _ in range(n))).decode())" \
	>"$DIR/keys") || exit 1
head -n 1 "$DIR/keys" >"$DIR/key" && tail -n 1 "$DIR/keys" >"$DIR/other" || exit 1
chmod 600 "$DIR/key" "$DIR/other"
KEY=$(cat "$DIR/key")

# recv_start ARGS...: start the receiver on a free port, set PORT.
recv_start() {
	rm -rf "$DIR/rec" "$DIR/stats.json"
	mkdir "$DIR/rec" || exit 1
	"$RTB" recv --listen 127.0.0.1:0 --codec l16 --no-play --no-drift \
		--record-dir "$DIR/rec" --stats-json "$DIR/stats.json" \
		--duration 60 "$@" >"$DIR/recv.log" 2>&1 &
	RECV_PID=$!
	recv_port
}

# stop: let the last packets play out, then recv_stop; the key must
# appear nowhere.
stop() {
	sleep 0.5
	recv_stop
	grep -q "$KEY" "$DIR/recv.log" "$DIR/stats.json" && fail "the key was printed"
	return 0
}

# summary FIELD: a receiver-wide counter of the JSON summary.
summary() {
	$PY -c "import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o.get('type') == 'summary':
        print(o[sys.argv[2]])" "$DIR/stats.json" "$1"
}

# 1. Mangled and replayed copies on the way: counted, never played. A
# fixed delay rides out the forwarder's stalls on a loaded machine.
recv_start --srtp-key @"$DIR/key" --latency 300
$PY "$HERE/srtp_mangle.py" "$DIR/mport" "$PORT" 10 3 >"$DIR/mangle.json" &
MANGLE_PID=$!
i=0
while [ ! -s "$DIR/mport" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -s "$DIR/mport" ] || fail "srtp_mangle.py did not start"
"$RTB" send "$DIR/src.wav" --to 127.0.0.1:"$(cat "$DIR/mport")" --codec l16 \
	--srtp-key @"$DIR/key" --duration 1.6 --quiet >"$DIR/send.log" 2>&1 ||
	fail "rtbridge send failed"
wait "$MANGLE_PID" || fail "srtp_mangle.py failed"
MANGLE_PID=
stop
cat "$DIR/mangle.json"
$PY - "$DIR/mangle.json" "$DIR/stats.json" <<'EOF' || fail "counters"
import json, sys
m = json.load(open(sys.argv[1]))
s = [json.loads(l) for l in open(sys.argv[2])]
s = [o for o in s if o.get("type") == "summary"][0]
want = {"auth_failed": m["tampered"] + m["truncated"],
        "replayed": m["repeated"] + m["old"],
        "accepted": m["forwarded"], "streams_seen": 1}
got = {k: s[k] for k in want}
print("want", want, "got", got)
assert m["tampered"] >= 15 and m["old"] >= 1, m
sys.exit(0 if got == want else 1)
EOF
set -- "$DIR"/rec/*
[ $# -eq 1 ] || fail "want one recording, got: $(ls "$DIR/rec")"
$PY "$HERE/send_wavcmp.py" cmp "$DIR/src.wav" "$1" exact || fail "recording differs"

# 2. The receiver keyed by the SDP that `rtbridge sdp` writes (GCM).
$PY -c "import base64, random
r = random.Random(7714)
print(base64.b64encode(bytes(r.randrange(256) for _ in range(28))).decode())" >"$DIR/gcm"
chmod 600 "$DIR/gcm"
"$RTB" sdp --to 127.0.0.1:9 --codec l16 --srtp-key @"$DIR/gcm" \
	--srtp-suite AEAD_AES_128_GCM >"$DIR/s.sdp" || fail "rtbridge sdp"
grep -q '^m=audio 9 RTP/SAVP 96' "$DIR/s.sdp" || fail "no RTP/SAVP in $(cat "$DIR/s.sdp")"
grep -q "^a=crypto:1 AEAD_AES_128_GCM inline:$(cat "$DIR/gcm")" "$DIR/s.sdp" ||
	fail "no a=crypto in $(cat "$DIR/s.sdp")"
recv_start --sdp "$DIR/s.sdp"
grep -q 'SRTP AEAD_AES_128_GCM' "$DIR/recv.log" || fail "SRTP not on"
"$RTB" send "$DIR/src.wav" --to 127.0.0.1:"$PORT" --codec l16 --duration 1 \
	--srtp-key @"$DIR/gcm" --srtp-suite AEAD_AES_128_GCM --quiet \
	>"$DIR/send.log" 2>&1 || fail "rtbridge send failed"
stop
[ "$(summary accepted)" = 100 ] || fail "accepted $(summary accepted), want 100"
[ "$(summary auth_failed)" = 0 ] || fail "auth_failed with the SDP's key"

# metric REASON WANT: the receiver's dropped-datagram counter for REASON
# from its --metrics page, once it is WANT (within 5 s), else what it was.
metric() {
	$PY -c "import re, sys, time, urllib.request
port = re.search(r'metrics on http://127\.0\.0\.1:(\d+)/', open(sys.argv[1]).read()).group(1)
pat = re.compile(r'^rtbridge_recv_dropped_datagrams_total\{reason=\"%s\"\} (\S+)$' % sys.argv[2], re.M)
for _ in range(50):
    page = urllib.request.urlopen('http://127.0.0.1:%s/metrics' % port, timeout=5).read().decode()
    m = pat.search(page)
    v = m.group(1) if m else 'none'
    if v == sys.argv[3]:
        break
    time.sleep(0.1)
print(v)" "$DIR/recv.log" "$1" "$2"
}

# 3. A wrong key, then plain RTP: all refused, no stream, no file; the
#    metrics page counts them too.
for how in "--srtp-key @$DIR/other" ""; do
	recv_start --srtp-key @"$DIR/key" --metrics 127.0.0.1:0
	# shellcheck disable=SC2086
	"$RTB" send "$DIR/src.wav" --to 127.0.0.1:"$PORT" --codec l16 --duration 0.5 \
		$how --quiet >"$DIR/send.log" 2>&1 || fail "rtbridge send failed"
	m=$(metric srtp_auth_failed 50)
	[ "$m" = 50 ] || fail "${how:-plain}: srtp_auth_failed metric $m, want 50"
	m=$(metric srtp_replayed 0)
	[ "$m" = 0 ] || fail "${how:-plain}: srtp_replayed metric $m, want 0"
	stop
	[ "$(summary auth_failed)" = 50 ] || fail "${how:-plain}: auth_failed $(summary auth_failed), want 50"
	[ "$(summary streams_seen)" = 0 ] || fail "${how:-plain}: a stream was created"
	[ -z "$(ls "$DIR/rec")" ] || fail "${how:-plain}: something was recorded"
	grep -q 'SRTP: auth failed 50, replayed 0' "$DIR/recv.log" || fail "no SRTP counts in the summary"
done

# 4. Refusals and warnings: one line each, never the key.
expect() { # expect STATUS PATTERN CMD...
	want=$1 pat=$2
	shift 2
	"$@" >"$DIR/out.log" 2>&1
	st=$?
	[ $st -eq "$want" ] || fail "$* exited $st, want $want: $(cat "$DIR/out.log")"
	grep -q -- "$pat" "$DIR/out.log" || fail "$*: no '$pat' in: $(cat "$DIR/out.log")"
	grep -q "$KEY" "$DIR/out.log" && fail "$*: the key was printed"
	return 0
}
expect 2 "is 30 bytes: AEAD_AES_128_GCM takes 28" \
	"$RTB" sdp --to 127.0.0.1:9 --srtp-key @"$DIR/key" --srtp-suite AEAD_AES_128_GCM
expect 2 "not base64" "$RTB" sdp --to 127.0.0.1:9 --srtp-key 'not*base64'
expect 2 "srtp-suite needs --srtp-key" "$RTB" sdp --to 127.0.0.1:9 --srtp-suite AEAD_AES_128_GCM
expect 2 "srtp-suite needs --srtp-key" "$RTB" recv --listen 0 --srtp-suite AEAD_AES_128_GCM
expect 2 "No such file" "$RTB" recv --listen 0 --srtp-key @"$DIR/nothing"
# (refused while parsing: nothing is opened or sent)
expect 2 "would multicast the key in clear" \
	"$RTB" send "$DIR/nothing.wav" --to 127.0.0.1:9 --announce --srtp-key @"$DIR/key"
chmod 644 "$DIR/key"
# (sdp prints the key in its a=crypto line on stdout: only stderr here)
expect 0 "readable by others (mode 0644)" \
	sh -c '"$0" sdp --to 127.0.0.1:9 --srtp-key @"$1" >/dev/null' "$RTB" "$DIR/key"
chmod 600 "$DIR/key"
sed 's/AEAD_AES_128_GCM/AES_256_CM_HMAC_SHA1_80/' "$DIR/s.sdp" >"$DIR/bad.sdp"
expect 2 "suite AES_256_CM_HMAC_SHA1_80 is not supported" "$RTB" recv --sdp "$DIR/bad.sdp" --no-play
sed '/^a=crypto/d' "$DIR/s.sdp" >"$DIR/nokey.sdp"
expect 2 "RTP/SAVP without an a=crypto line" "$RTB" recv --sdp "$DIR/nokey.sdp" --no-play
expect 0 "process list" "$RTB" recv --help
expect 0 "head -c 30 /dev/urandom | base64" "$RTB" send --help
echo "OK"
