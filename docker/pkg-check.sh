#!/bin/sh
# pkg-check: inside the pkgtest container (docker/Dockerfile.pkg), with the
# rtbridge .deb installed and no source tree: build the example with
# pkg-config from the copy the package installed, then have it receive a
# stream that `rtbridge send` sends on 127.0.0.1 (headless: the example's
# --no-play plays into its own clock thread). One verdict line per check;
# exit 0 when all pass.
set -u
failed=0
work=$(mktemp -d)
verdict() { echo "pkg: $*"; case $1 in PASS*) ;; *) failed=1 ;; esac; }

# le16 N / le32 N: N as little-endian bytes.
# shellcheck disable=SC2059 # the format is the escaped byte itself
le16() { printf "\\$(printf %03o $(($1 & 255)))\\$(printf %03o $(($1 >> 8 & 255)))"; }
le32() { le16 $(($1 & 65535)); le16 $(($1 >> 16 & 65535)); }

# A 3 s stereo 48 kHz 16-bit WAV of white noise (full scale).
noise_wav() {
	n=$((3 * 48000 * 4))
	{
		printf RIFF; le32 $((36 + n)); printf 'WAVEfmt '; le32 16
		le16 1; le16 2; le32 48000; le32 192000; le16 4; le16 16
		printf data; le32 "$n"
		head -c "$n" /dev/urandom
	} >"$1"
}

ver=$(dpkg-query -W -f='${Version}' rtbridge 2>/dev/null)
if [ -n "$ver" ] && [ "$(pkg-config --modversion rtbridge)" = "$ver" ] &&
	rtbridge --version | grep -q "$ver"; then
	verdict "PASS installed: rtbridge $ver, pkg-config rtbridge $ver"
else
	verdict "FAIL installed: package '$ver', pkg-config '$(pkg-config --modversion rtbridge 2>&1)'"
fi
if dpkg-deb -c /pkg/rtbridge_*.deb | grep -q 'man1/rtbridge.1'; then
	verdict "PASS man page: the package holds rtbridge(1)"
else
	verdict "FAIL man page: not in the package"
fi

cp /usr/share/rtbridge/examples/rtb_play.c /usr/share/rtbridge/examples/Makefile "$work/"
if make -s -C "$work" CFLAGS="-O2 -Wall -Wextra -Werror" >"$work/make.log" 2>&1; then
	verdict "PASS example: built with pkg-config ($(pkg-config --libs rtbridge))"
else
	verdict "FAIL example: $(tr '\n' ' ' <"$work/make.log")"
	exit 1
fi

noise_wav "$work/noise.wav"
"$work/rtb_play" --listen 127.0.0.1:5004 --codec l16 --no-play --duration 9 \
	--expect-streams 1 >"$work/play.log" 2>&1 &
play=$!
sleep 1
rtbridge send --to 127.0.0.1:5004 --codec l16 --quiet "$work/noise.wav" \
	>"$work/send.log" 2>&1
send_rc=$?
wait "$play"
play_rc=$?
cat "$work/play.log"
if [ "$send_rc" -ne 0 ]; then
	verdict "FAIL send: rtbridge send exited $send_rc: $(tail -n 1 "$work/send.log")"
elif [ "$play_rc" -ne 0 ]; then
	verdict "FAIL receive: rtb_play exited $play_rc"
elif ! grep -q ': playing$' "$work/play.log" || ! grep -q ': gone after' "$work/play.log"; then
	verdict "FAIL receive: the stream did not come and go"
else
	verdict "PASS receive: $(grep -c 'received' "$work/play.log") reports," \
		"$(grep 'received' "$work/play.log" | tail -n 1)"
fi
rm -rf "$work"
exit "$failed"
