# srtp_peer.sh: sourced by interop_send.sh and interop_recv.sh for SRTP
# runs. Reads SUITE (empty: plain RTP; aes: AES_CM_128_HMAC_SHA1_80; gcm:
# AEAD_AES_128_GCM), PEER, DIR, PY and need(). Writes a seeded key to
# $DIR/key (mode 600) and sets:
#   RTB_SRTP       rtbridge options: --srtp-key @FILE --srtp-suite NAME
#   RTB_SRTP_SSRC  rtbridge send's fixed SSRC (srtpdec keys by SSRC)
#   SRTP_SSRC      that SSRC in decimal
#   GST_SRTP_CAPS  the srtpdec caps fields: key, ciphers, auths
#   GST_SRTPENC    the srtpenc element with the same
#   FF_SRTP_OUT    ffmpeg's output options (srtp:// URLs; AES_CM only)
RTB_SRTP= RTB_SRTP_SSRC= SRTP_SSRC= GST_SRTP_CAPS= GST_SRTPENC= FF_SRTP_OUT=
if [ -n "$SUITE" ]; then
	case $SUITE in
	aes) SRTP_NAME=AES_CM_128_HMAC_SHA1_80 SRTP_LEN=30
	     GST_CIPHER=aes-128-icm GST_AUTH=hmac-sha1-80 ;;
	gcm) SRTP_NAME=AEAD_AES_128_GCM SRTP_LEN=28
	     GST_CIPHER=aes-128-gcm GST_AUTH=null ;;
	*) echo "unknown SRTP suite $SUITE"; exit 1 ;;
	esac
	if [ "$PEER" = gst ] && ! gst-inspect-1.0 srtpenc >/dev/null 2>&1; then
		echo "GStreamer's srtp plugin is missing (gstreamer1.0-plugins-bad;" \
			"tools/setup.sh --tools installs it)"
		[ "$(id -u)" = 0 ] && exit 1
		exit 77
	fi
	if [ "$PEER" = ffmpeg ] && [ "$SUITE" != aes ]; then
		echo "ffmpeg's srtp speaks AES_CM suites only"; exit 1
	fi
	# A seeded key: the run is the same every time.
	(umask 077 && $PY -c "import base64, random
r = random.Random(1405)
print(base64.b64encode(bytes(r.randrange(256) for _ in range($SRTP_LEN))).decode())" \
		>"$DIR/key") || exit 1
	SRTP_HEX=$($PY -c "import base64, sys; print(base64.b64decode(open(sys.argv[1]).read()).hex())" "$DIR/key")
	SRTP_SSRC=305419896
	RTB_SRTP="--srtp-key @$DIR/key --srtp-suite $SRTP_NAME"
	RTB_SRTP_SSRC="--ssrc $SRTP_SSRC"
	GST_SRTP_CAPS="srtp-key=(buffer)$SRTP_HEX,srtp-cipher=(string)$GST_CIPHER,srtp-auth=(string)$GST_AUTH,srtcp-cipher=(string)$GST_CIPHER,srtcp-auth=(string)$GST_AUTH"
	GST_SRTPENC="! srtpenc key=$SRTP_HEX rtp-cipher=$GST_CIPHER rtp-auth=$GST_AUTH rtcp-cipher=$GST_CIPHER rtcp-auth=$GST_AUTH"
	FF_SRTP_OUT="-srtp_out_suite $SRTP_NAME -srtp_out_params $(cat "$DIR/key")"
fi
