#!/bin/sh
# interop_recv.sh RTBRIDGE PEER CODEC [SUITE]
#
# A real RTP peer sends to `rtbridge recv` on 127.0.0.1, and the stream's
# recording (--record-dir) is compared with the source file
# (tests/send_wavcmp.py): L16 bit-exact after alignment, Opus above an SNR
# floor (the signal is a sweep plus noise, which Opus does not keep sample
# for sample: ~15 dB is expected at 128 kbit/s, see
# /work/shared/RECIPES.md).
#
#   PEER:  gst     gst-launch-1.0: filesrc ! wavparse ! ... ! rtpopuspay or
#                  rtpL16pay (5 ms packets) ! udpsink sync=true
#          ffmpeg  ffmpeg -re ... -f rtp rtp://127.0.0.1:PORT (libopus in
#                  10 ms frames, or pcm_s16be in the packets ffmpeg chooses);
#                  the receiver is configured by the SDP ffmpeg writes for
#                  that stream (--sdp, with --listen 127.0.0.1:PORT)
#   CODEC: opus | l16
#   SUITE: aes | gcm: the peer sends SRTP (AES_CM_128_HMAC_SHA1_80 or
#          AEAD_AES_128_GCM): GStreamer through srtpenc, the receiver
#          given the key file (--srtp-key @FILE); ffmpeg to an srtp:// URL
#          (AES_CM only), the receiver reading the key from the a=crypto
#          line of ffmpeg's SDP
#
# The receiver runs headless (--no-play, virtual clock, no drift
# resampling) and is stopped with SIGINT one second after the peer has
# sent everything. Exit 0 on success, 77 (skip) when the peer is not
# installed and we are not root, 1 on a mismatch or failure. Every wait is
# bounded.
set -u
RTB=$1
PEER=$2
CODEC=$3
SUITE=${4:-}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
SECONDS_OF_AUDIO=3
OPUS_MIN_SNR=12

need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	echo "$1 is not installed (tools/setup.sh --tools installs it)"
	[ "$(id -u)" = 0 ] && exit 1
	exit 77
}
case $PEER in
gst) need gst-launch-1.0 ;;
ffmpeg) need ffmpeg ;;
*) echo "unknown peer $PEER"; exit 1 ;;
esac
$PY -c 'import numpy' 2>/dev/null || { echo "python3-numpy is missing"; exit 1; }

DIR=$(mktemp -d /tmp/rtb_interop_recv_XXXXXX) || exit 1
RECV_PID=
cleanup() {
	[ -n "$RECV_PID" ] && kill -KILL "$RECV_PID" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
. "$HERE/recv_proc.sh"
. "$HERE/srtp_peer.sh"

# Print the logs and fail.
fail() {
	echo "FAIL: $*"
	for f in recv.log peer.log; do
		[ -s "$DIR/$f" ] && { echo "--- $f"; tail -n 20 "$DIR/$f"; }
	done
	exit 1
}

$PY "$HERE/send_wavcmp.py" gen "$DIR/src.wav" $SECONDS_OF_AUDIO 7 || exit 1
mkdir "$DIR/rec" || exit 1

case $PEER.$CODEC in
ffmpeg.opus) FF_CODEC="-c:a libopus -b:a 128k -frame_duration 10 -application audio" ;;
ffmpeg.l16) FF_CODEC="-c:a pcm_s16be" ;;
esac
# ffmpeg describes its stream in an SDP file when it starts sending: a
# 50 ms run to the discard port writes it for the receiver (whose
# --listen wins over the SDP's port).
STREAM="--codec $CODEC $RTB_SRTP"
FF_PROTO=rtp
[ -n "$SUITE" ] && FF_PROTO=srtp
if [ "$PEER" = ffmpeg ]; then
	# shellcheck disable=SC2086
	timeout 15 ffmpeg -nostdin -hide_banner -loglevel error -i "$DIR/src.wav" -t 0.05 \
		$FF_CODEC -payload_type 96 -f rtp $FF_SRTP_OUT -sdp_file "$DIR/peer.sdp" \
		"$FF_PROTO://127.0.0.1:9" >"$DIR/peer.log" 2>&1 || fail "ffmpeg wrote no SDP"
	STREAM="--sdp $DIR/peer.sdp"
fi
# shellcheck disable=SC2086
# Port 0: the receiver binds a free port itself and says which (a port
# picked here and bound later could be taken in between).
"$RTB" recv --listen 127.0.0.1:0 $STREAM --no-play \
	--record-dir "$DIR/rec" --stats-json "$DIR/stats.json" \
	--duration $((SECONDS_OF_AUDIO + 20)) >"$DIR/recv.log" 2>&1 &
RECV_PID=$!
recv_port

case $PEER.$CODEC in
gst.opus)
	timeout $((SECONDS_OF_AUDIO + 15)) gst-launch-1.0 -q filesrc location="$DIR/src.wav" \
		! wavparse ! audioconvert ! audio/x-raw,rate=48000,channels=2 \
		! opusenc frame-size=10 bitrate=128000 ! rtpopuspay pt=96 \
		$GST_SRTPENC ! udpsink host=127.0.0.1 port="$PORT" sync=true \
		>"$DIR/peer.log" 2>&1 ;;
gst.l16)
	timeout $((SECONDS_OF_AUDIO + 15)) gst-launch-1.0 -q filesrc location="$DIR/src.wav" \
		! wavparse ! audioconvert ! audio/x-raw,format=S16BE,rate=48000,channels=2 \
		! rtpL16pay pt=96 min-ptime=5000000 max-ptime=5000000 \
		$GST_SRTPENC ! udpsink host=127.0.0.1 port="$PORT" sync=true \
		>"$DIR/peer.log" 2>&1 ;;
ffmpeg.*)
	# shellcheck disable=SC2086
	timeout $((SECONDS_OF_AUDIO + 15)) ffmpeg -nostdin -hide_banner -loglevel error -re \
		-i "$DIR/src.wav" $FF_CODEC -payload_type 96 \
		-f rtp $FF_SRTP_OUT "$FF_PROTO://127.0.0.1:$PORT" >"$DIR/peer.log" 2>&1 ;;
*) fail "unknown codec $CODEC" ;;
esac
rc=$?
[ $rc -eq 0 ] || fail "the $PEER sender exited $rc"

sleep 1
recv_stop
set -- "$DIR"/rec/*
if [ $# -ne 1 ] || [ ! -s "$1" ]; then
	fail "want one recording in --record-dir, got: $(ls "$DIR/rec")"
fi
grep -h '^datagrams\|^stream' "$DIR/recv.log"
# The comparison reads 16-bit WAV; a deeper recording (Opus decodes to
# float, recorded as 24-bit) is rounded to 16 bits first.
$PY - "$1" "$DIR/got16.wav" <<'EOF' || fail "cannot read the recording $1"
import sys, wave
import numpy as np
with wave.open(sys.argv[1], "rb") as w:
    p = w.getparams()
    raw = w.readframes(p.nframes)
if p.sampwidth == 2:
    x = np.frombuffer(raw, dtype="<i2")
elif p.sampwidth == 3:
    b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
    v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
    v = np.where(v >= 1 << 23, v - (1 << 24), v)
    x = np.clip(np.round(v / 256.0), -32768, 32767).astype("<i2")
elif p.sampwidth == 4:
    v = np.frombuffer(raw, dtype="<i4").astype(np.float64)
    x = np.clip(np.round(v / 65536.0), -32768, 32767).astype("<i2")
else:
    sys.exit(f"{sys.argv[1]}: {8 * p.sampwidth}-bit samples")
with wave.open(sys.argv[2], "wb") as w:
    w.setnchannels(p.nchannels)
    w.setsampwidth(2)
    w.setframerate(p.framerate)
    w.writeframes(x.tobytes())
EOF
case $CODEC in
opus) $PY "$HERE/send_wavcmp.py" cmp "$DIR/src.wav" "$DIR/got16.wav" snr $OPUS_MIN_SNR || fail "recording differs" ;;
l16) $PY "$HERE/send_wavcmp.py" cmp "$DIR/src.wav" "$DIR/got16.wav" exact || fail "recording differs" ;;
esac
