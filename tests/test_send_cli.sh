#!/bin/sh
# test_send_cli.sh RTBRIDGE
#
# `rtbridge send` and `rtbridge sdp` refuse bad input with one clear line
# on stderr naming what is wrong, and a non-zero exit, before sending
# anything: missing or unsupported file, unresolvable host, bad port,
# frame size / codec combinations the codec cannot do, unknown options.
# Also: a short file is sent to the end and the summary is printed, and
# SIGINT stops a looping send cleanly with exit 0.
set -u
RTB=$1
DIR=$(mktemp -d /tmp/rtb_sendcli_XXXXXX) || exit 1
trap 'rm -rf "$DIR"' EXIT
FAILS=0

# expect STATUS PATTERN -- ARGS...: exit status STATUS (or "nonzero"),
# exactly one stderr line, matching PATTERN (grep -E).
expect() {
	want=$1 pat=$2
	shift 3
	"$RTB" "$@" >"$DIR/out" 2>"$DIR/err"
	st=$?
	lines=$(wc -l <"$DIR/err")
	ok=1
	if [ "$want" = nonzero ]; then [ $st -ne 0 ] || ok=0; else [ $st -eq "$want" ] || ok=0; fi
	[ "$lines" -eq 1 ] || ok=0
	grep -Eq -- "$pat" "$DIR/err" || ok=0
	if [ $ok = 1 ]; then
		echo "ok: $* -> $st: $(cat "$DIR/err")"
	else
		echo "FAIL: $* -> exit $st, $lines stderr lines, want /$pat/:"
		cat "$DIR/err"
		FAILS=$((FAILS + 1))
	fi
}

# A 0.2 s stereo 16-bit WAV, written without external tools: RIFF header
# then zeros.
WAV=$DIR/short.wav
{
	printf 'RIFF\044\226\000\000WAVEfmt \020\000\000\000\001\000\002\000'
	printf '\200\273\000\000\000\356\002\000\004\000\020\000data\000\226\000\000'
	head -c 38400 /dev/zero
} >"$WAV"
echo "not audio" >"$DIR/text.wav"

expect nonzero 'missing\.wav.*(No such file|not exist)' -- send "$DIR/missing.wav" --to 127.0.0.1:5004
expect nonzero 'text\.wav.*(not recognised|format)' -- send "$DIR/text.wav" --to 127.0.0.1:5004
expect nonzero "unresolvable host 'no-such-host\.invalid'" -- send "$WAV" --to no-such-host.invalid:5004
expect nonzero "bad port.*99999" -- send "$WAV" --to 127.0.0.1:99999
expect nonzero "port" -- send "$WAV" --to 127.0.0.1
expect nonzero "opus.*7 ms.*2\.5, 5, 10 or 20" -- send "$WAV" --to 127.0.0.1:5004 --frame-ms 7
expect nonzero "opus.*3 channels" -- send --capture --to 127.0.0.1:5004 --channels 3
expect nonzero "l16 at 44100 Hz.*2\.5 ms" -- send "$WAV" --to 127.0.0.1:5004 --codec l16 --rate 44100 --frame-ms 2.5
expect nonzero "--codec 'mp3'" -- send "$WAV" --to 127.0.0.1:5004 --codec mp3
expect nonzero "--to HOST:PORT is required" -- send "$WAV"
expect nonzero "no FILE" -- send --to 127.0.0.1:5004
expect nonzero "--pt '300'" -- send "$WAV" --to 127.0.0.1:5004 --pt 300
expect nonzero "unknown option '--bogus'" -- send "$WAV" --to 127.0.0.1:5004 --bogus
expect nonzero "--start 5 s is past the end" -- send "$WAV" --to 127.0.0.1:5004 --start 5
expect nonzero "--fec 'parity'.*red\[:DISTANCE\]" -- send "$WAV" --to 127.0.0.1:5004 --fec parity
expect nonzero "--fec 'red:4'" -- sdp --to 127.0.0.1:5004 --fec red:4
expect nonzero "--fec 'red@9'.*red@LAG, LAG 2..8" -- send "$WAV" --to 127.0.0.1:5004 --fec red@9
expect nonzero "--fec 'red@1'" -- sdp --to 127.0.0.1:5004 --fec red@1
expect nonzero "--red-pt 96 is the media's payload type" -- send "$WAV" --to 127.0.0.1:5004 --fec red --red-pt 96
expect nonzero "l16 packets of 10 ms are 1920 bytes.*1023" -- send "$WAV" --to 127.0.0.1:5004 --fec red --codec l16 --frame-ms 10
expect nonzero "bad port" -- sdp --to 127.0.0.1:0
expect nonzero "unknown option '--loop'" -- sdp --to 127.0.0.1:5004 --loop
expect 0 "20 packets, .* 0\.20 s of audio" -- send "$WAV" --to 127.0.0.1:9 --quiet
expect 0 "20 packets" -- send "$WAV" --to 127.0.0.1:9 --quiet --dscp 46 --codec l24 --frame-ms 10 --channels 1
expect nonzero "--dscp '64'" -- send "$WAV" --to 127.0.0.1:9 --dscp 64
expect 0 "10 packets" -- send "$WAV" --to 127.0.0.1:9 --quiet --start 0.1
expect 0 "5 packets" -- send "$WAV" --to 127.0.0.1:9 --quiet --loop --duration 0.05
# RED: the same packets, each carrying a copy of the one before
expect 0 "40 packets" -- send "$WAV" --to 127.0.0.1:9 --quiet --codec l16 --frame-ms 5 --fec red
expect 0 "40 packets" -- send "$WAV" --to 127.0.0.1:9 --quiet --codec l16 --frame-ms 5 --fec red@5
# ULPFEC: 20 % is one FEC packet per 5: 40 media packets, 8 FEC packets.
expect 0 "48 packets" -- send "$WAV" --to 127.0.0.1:9 --quiet --codec l16 --frame-ms 5 --fec ulpfec:20
expect nonzero "--fec 'ulpfec:4'" -- send "$WAV" --to 127.0.0.1:5004 --fec ulpfec:4
expect nonzero "--fec 'ulpfec:101'" -- sdp --to 127.0.0.1:5004 --fec ulpfec:101
expect nonzero "--fec 'ulpfec:'" -- sdp --to 127.0.0.1:5004 --fec ulpfec:
expect nonzero "--ulpfec-pt 96 is the media's payload type" -- send "$WAV" --to 127.0.0.1:5004 --fec ulpfec:20 --ulpfec-pt 96

"$RTB" sdp --to 127.0.0.1:5004 --codec l16 --channels 1 >"$DIR/sdp" || FAILS=$((FAILS + 1))
grep -q '^a=rtpmap:96 L16/48000/1' "$DIR/sdp" || { echo "FAIL: sdp output"; FAILS=$((FAILS + 1)); }

# SIGINT stops a looping send: exit 0 and the summary line.
"$RTB" send "$WAV" --to 127.0.0.1:9 --loop --quiet 2>"$DIR/err" &
PID=$!
sleep 0.5
kill -INT $PID
i=0
while kill -0 $PID 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 $PID 2>/dev/null; then
	kill -KILL $PID
	echo "FAIL: SIGINT did not stop rtbridge send"
	FAILS=$((FAILS + 1))
else
	wait $PID
	st=$?
	if [ $st -eq 0 ] && grep -q 'packets' "$DIR/err"; then
		echo "ok: SIGINT -> exit 0: $(cat "$DIR/err")"
	else
		echo "FAIL: SIGINT -> exit $st: $(cat "$DIR/err")"
		FAILS=$((FAILS + 1))
	fi
fi
[ $FAILS -eq 0 ] || { echo "$FAILS failure(s)"; exit 1; }
