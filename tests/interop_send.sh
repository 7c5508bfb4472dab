#!/bin/sh
# interop_send.sh RTBRIDGE PEER CODEC [SUITE]
#
# A real RTP peer receives what `rtbridge send` sends, on 127.0.0.1, and
# the recording is compared with the source file (tests/send_wavcmp.py):
# L16 bit-exact after alignment, Opus above an SNR floor (the signal is a
# sweep plus noise, which Opus does not keep sample for sample: ~15 dB is
# expected at 128 kbit/s, see /work/shared/RECIPES.md).
#
#   PEER:  gst     gst-launch-1.0: udpsrc ! rtpjitterbuffer mode=4 ! depay ! ...
#          ffmpeg  ffmpeg reading the SDP that `rtbridge sdp` prints
#   CODEC: opus | l16
#   SUITE: aes | gcm: the stream is SRTP (AES_CM_128_HMAC_SHA1_80 or
#          AEAD_AES_128_GCM) with a key from a file: GStreamer's srtpdec
#          gets it in its caps (with the sender's --ssrc), ffmpeg from the
#          a=crypto line `rtbridge sdp --srtp-key` writes (AES_CM only)
#
# Exit 0 on success, 77 (skip) when the peer is not installed and we are
# not root, 1 on a mismatch or failure. Every wait is bounded.
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

DIR=$(mktemp -d /tmp/rtb_interop_XXXXXX) || exit 1
PEER_PID=
cleanup() {
	[ -n "$PEER_PID" ] && kill -KILL "$PEER_PID" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
. "$HERE/srtp_peer.sh"

# A free even UDP port on loopback whose next one is free too (ffmpeg
# binds RTP's and RTCP's), released just before the peer binds them: the
# peer start is tried again on a new pair if another program took one.
free_pair() {
	$PY -c '
import socket
while True:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    if p % 2 == 0 and p < 65534:
        t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            t.bind(("127.0.0.1", p + 1))
            print(p)
            break
        except OSError:
            pass
        finally:
            t.close()
    s.close()
'
}
$PY "$HERE/send_wavcmp.py" gen "$DIR/src.wav" $SECONDS_OF_AUDIO 7 || exit 1

case $CODEC in
opus) GST_CAPS="application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=96"
      GST_DEPAY="rtpopusdepay ! opusdec plc=true"
      CMP="snr $OPUS_MIN_SNR" ;;
l16)  GST_CAPS="application/x-rtp,media=audio,clock-rate=48000,encoding-name=L16,encoding-params=(string)2,channels=(int)2,payload=96"
      GST_DEPAY="rtpL16depay"
      CMP="exact" ;;
*) echo "unknown codec $CODEC"; exit 1 ;;
esac

GST_SRTP=
if [ -n "$SUITE" ]; then
	# srtpdec takes the key from the caps of the stream's SSRC.
	GST_CAPS="application/x-srtp${GST_CAPS#application/x-rtp},ssrc=(uint)$SRTP_SSRC,$GST_SRTP_CAPS"
	GST_SRTP="! srtpdec"
fi
start_peer() {
	if [ "$PEER" = gst ]; then
		# shellcheck disable=SC2086
		gst-launch-1.0 -q -e udpsrc address=127.0.0.1 port="$PORT" caps="$GST_CAPS" \
			$GST_SRTP ! rtpjitterbuffer latency=200 do-lost=true mode=4 ! $GST_DEPAY \
			! audioconvert ! audio/x-raw,format=S16LE,rate=48000,channels=2 \
			! audiorate tolerance=0 ! wavenc ! filesink location="$DIR/got.wav" \
			>"$DIR/peer.log" 2>&1 &
		PEER_PID=$!
	else
		# shellcheck disable=SC2086
		"$RTB" sdp --to 127.0.0.1:"$PORT" --codec "$CODEC" $RTB_SRTP >"$DIR/stream.sdp" || exit 1
		ffmpeg -nostdin -hide_banner -loglevel error -protocol_whitelist file,udp,rtp,srtp -listen_timeout 3 \
			-i "$DIR/stream.sdp" -c:a pcm_s16le -ar 48000 -ac 2 -y "$DIR/got.wav" \
			>"$DIR/peer.log" 2>&1 &
		PEER_PID=$!
	fi
	# The peer needs a moment to bind; packets sent before that are lost.
	sleep 1.5
	kill -0 "$PEER_PID" 2>/dev/null
}
for try in 1 2 3; do
	PORT=$(free_pair)
	start_peer && break
	if [ $try -eq 3 ] || ! grep -q "Address already in use" "$DIR/peer.log"; then
		echo "the $PEER receiver did not start:"; cat "$DIR/peer.log"; exit 1
	fi
	echo "the $PEER receiver lost port $PORT to another program: again on a new one"
done

# shellcheck disable=SC2086
"$RTB" send "$DIR/src.wav" --to 127.0.0.1:"$PORT" --codec "$CODEC" --quiet $RTB_SRTP $RTB_SRTP_SSRC || {
	echo "rtbridge send failed"; exit 1; }
sleep 0.7
kill -INT "$PEER_PID"
i=0
while kill -0 "$PEER_PID" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done
if kill -0 "$PEER_PID" 2>/dev/null; then
	echo "the $PEER receiver did not stop on SIGINT"; exit 1
fi
wait "$PEER_PID" 2>/dev/null
PEER_PID=
[ -s "$DIR/got.wav" ] || { echo "no recording:"; cat "$DIR/peer.log"; exit 1; }
# shellcheck disable=SC2086
$PY "$HERE/send_wavcmp.py" cmp "$DIR/src.wav" "$DIR/got.wav" $CMP
