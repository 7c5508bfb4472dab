#!/bin/sh
# lan_pipewire.sh RTBRIDGE DIRECTION
#
# PipeWire (Debian's 0.3.65: pipewire, wireplumber, the RTP modules) as a
# real RTP/SAP peer, headless, inside a network namespace of the test's
# own (lo with multicast on, 224.0.0.0/4 routed over it and checked with
# `ip route get`; tests/lan_netns.sh), in a private D-Bus session
# (dbus-run-session) with a private XDG_RUNTIME_DIR, on a dummy driver at
# 48 kHz with a fixed quantum of 4096 frames: a quantum that changes while
# playing made 0.3.65 misplace samples by 32 frames and by one channel,
# and with 1024 frames pw-play (no real-time priority here) missed cycles
# on a loaded machine, each a quantum of silence in the middle of the
# stream; PipeWire's data threads (module-rt) and pw-play/pw-record
# (chrt) run with real-time priority for the same reason. The sink sends
# a quantum's worth of packets at once (85 of 1 ms every 85 ms): the
# receiver gets a fixed 250 ms playout delay for that.
#
#   DIRECTION sink-1ms, sink-default: PipeWire's module-rtp-sink sends
#     what pw-play plays into it (L16 and L24; 1 ms, or the module's
#     default packet length: its 1280-byte MTU, 320 frames of L16 stereo,
#     213 of L24, announced as ptime 6 and 4; payload type 127; SAP on
#     224.0.0.56) to `rtbridge recv --sap`, which takes everything from
#     the announcement. Checked: the recording holds the played file sample
#     for sample (noise using every bit of the sample), digital silence
#     before (the sink waiting for pw-play) and after (the file ends with
#     2048 frames of silence: the module sends whole packets only and
#     keeps its last, partial one), nothing lost or concealed.
#   DIRECTION source-l16, source-l24: `rtbridge send --announce` (1 ms, pt
#     127) to PipeWire's module-rtp-source, which creates a node named
#     after the session, recorded with pw-record in the stream's format.
#     Not bit-exact, and no setting makes it so: 0.3.65's module-rtp-source
#     always sets SPA_IO_RATE_MATCH_FLAG_ACTIVE and feeds its DLL's
#     correction of the buffer level to the adapter as the resampling
#     ratio, so the audioconvert resampler never runs in passthrough. The
#     recording stays bit-exact while that ratio is exactly 1.0f (often
#     seconds) and is resampled once the DLL moves it. Checked, on 1.5 s
#     of a 1 kHz sine and noise below 8 kHz: per 20 ms block, the source
#     delayed by its own fractional delay matches to SNR_MIN dB in 95 % of
#     the blocks and SNR_FLOOR dB in all (the block where the resampler
#     engages has a step), the delay stays within 2 frames (nothing lost
#     or repeated); the bit-exact stretch is reported.
#
# Exit 0 pass, 1 fail, 77 skip (not root). Each direction takes 20 to
# 40 s.
set -u
RTB=$1
DIRECTION=$2
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
SNR_MIN=50
SNR_FLOOR=15
. "$HERE/lan_netns.sh"

lan_need_root
for t in pipewire wireplumber pw-play pw-record pw-cli dbus-run-session; do
	command -v $t >/dev/null 2>&1 ||
		lan_fail "$t is not installed (tools/setup.sh --tools installs pipewire pipewire-bin libpipewire-0.3-modules wireplumber dbus)"
done
[ -f /usr/lib/x86_64-linux-gnu/pipewire-0.3/libpipewire-module-rtp-sink.so ] ||
	[ -n "$(find /usr/lib -name 'libpipewire-module-rtp-sink.so' 2>/dev/null | head -n 1)" ] ||
	lan_fail "libpipewire-0.3-modules is not installed"
$PY -c 'import numpy' 2>/dev/null || lan_fail "python3-numpy is missing"

LAN_DIR=$(mktemp -d /tmp/rtb_lan_pw_XXXXXX) || exit 1
trap lan_cleanup EXIT
D=$LAN_DIR
NS="rtb_pw_$$"
LAN_NS_A=$NS
ip netns add "$NS" || lan_fail "ip netns add"
ip -n "$NS" link set lo up
ip -n "$NS" link set lo multicast on
ip -n "$NS" route add 224.0.0.0/4 dev lo
for g in 224.0.0.56 239.255.44.1 239.255.44.2; do
	lan_route_ok "$NS" $g lo
done

# pw_conf FILE MODULE-BLOCK: a minimal headless PipeWire with one module.
pw_conf() {
	cat >"$1" <<EOF
context.properties = {
    default.clock.rate = 48000
    default.clock.allowed-rates = [ 48000 ]
    default.clock.quantum = 4096
    default.clock.min-quantum = 4096
    default.clock.max-quantum = 4096
    core.daemon = true
    core.name = pipewire-0
    support.dbus = false
}
context.spa-libs = {
    audio.convert.* = audioconvert/libspa-audioconvert
    support.*       = support/libspa-support
}
context.modules = [
    { name = libpipewire-module-rt
      args = { nice.level = -11 rt.prio = 60 rtportal.enabled = false
               rtkit.enabled = false }
      flags = [ ifexists nofail ] }
    { name = libpipewire-module-protocol-native }
    { name = libpipewire-module-metadata }
    { name = libpipewire-module-spa-device-factory }
    { name = libpipewire-module-spa-node-factory }
    { name = libpipewire-module-client-node }
    { name = libpipewire-module-client-device }
    { name = libpipewire-module-access }
    { name = libpipewire-module-adapter }
    { name = libpipewire-module-link-factory }
    { name = libpipewire-module-session-manager }
$2
]
context.objects = [
    { factory = spa-node-factory
      args = { factory.name = support.node.driver node.name = Dummy-Driver
               priority.driver = 20000 } }
    { factory = metadata args = { metadata.name = default } }
]
EOF
}

# pw_run TAG CONF SCRIPT: run SCRIPT (sh) inside the namespace, in a
# private D-Bus session, with PipeWire (CONF) and WirePlumber running and
# the node named by $PW_WAIT_NODE (if set) present.
pw_run() {
	tag=$1
	rt=$D/xdg.$tag
	mkdir -m 700 "$rt"
	cat >"$D/inner.$tag.sh" <<EOF
export XDG_RUNTIME_DIR=$rt
pipewire -c $2 >$D/pipewire.$tag.log 2>&1 &
PW=\$!
i=0
until pw-cli info 0 >/dev/null 2>&1; do
	i=\$((i + 1)); [ \$i -gt 100 ] && { echo "pipewire did not start"; kill \$PW; exit 1; }
	sleep 0.05
done
wireplumber >$D/wireplumber.$tag.log 2>&1 &
WP=\$!
sleep 0.5
$3
rc=\$?
kill \$WP \$PW 2>/dev/null
wait \$WP \$PW 2>/dev/null
exit \$rc
EOF
	timeout 50 ip netns exec "$NS" dbus-run-session -- sh "$D/inner.$tag.sh" \
		>"$D/session.$tag.log" 2>&1
}

$PY "$HERE/lan_pwcmp.py" gen "$D" || lan_fail "cannot write the test signals"

sink_case() { # FORMAT PTIME_ARGS TAG
	fmt=$1 ptargs=$2 tag=$3
	bits=16
	[ "$fmt" = S24BE ] && bits=24
	pw_conf "$D/pw.$tag.conf" "    { name = libpipewire-module-rtp-sink
      args = {
        destination.ip = \"239.255.44.1\"
        destination.port = 5004
        source.ip = \"127.0.0.1\"
        sap.ip = \"224.0.0.56\"
        sap.port = 9875
        audio.format = \"$fmt\"
        audio.rate = 48000
        audio.channels = 2
        net.loop = true
        $ptargs
        sess.name = \"pw $tag\"
        stream.props = { node.name = \"rtp-sink\" media.class = \"Audio/Sink\" }
      }
    }"
	mkdir "$D/rec.$tag"
	lan_bg "$NS" "$D/recv.$tag.log" "$RTB" recv --sap --session "pw $tag" --no-play \
		--latency 250 --record-dir "$D/rec.$tag" --stats-json "$D/stats.$tag.json" \
		--idle-exit 3 --duration 40
	RECV=$LAN_LAST
	lan_wait_grep "$D/recv.$tag.log" "waiting for a SAP announcement" 5 ||
		lan_fail "recv --sap did not start"
	pw_run "$tag" "$D/pw.$tag.conf" "
i=0
until grep -q 'listening on' $D/recv.$tag.log; do
	i=\$((i + 1)); [ \$i -gt 200 ] && { echo 'rtbridge did not join'; exit 1; }
	sleep 0.05
done
chrt -f 50 pw-play --target rtp-sink $D/noise$bits.wav || exit 1
sleep 0.5" || lan_fail "$tag: the PipeWire session failed: $(tail -n 3 "$D/session.$tag.log")"
	lan_wait_exit "$RECV" 15 || lan_fail "$tag: recv --sap did not exit 0"
	set -- "$D/rec.$tag"/*
	[ $# -eq 1 ] && [ -s "$1" ] || lan_fail "$tag: want one recording: $(ls "$D/rec.$tag")"
	v=$($PY "$HERE/lan_pwcmp.py" exact $bits "$D/noise$bits.npy" "$1" 2>&1) ||
		lan_fail "$tag: $v"
	# Packets late for their playout time can only be in the sink's
	# leading silence (the recording is exact): the sink starts with a
	# burst of two quanta.
	grep -q "lost 0, late [0-9]*, concealed 0 frames, underruns 0" "$D/recv.$tag.log" ||
		lan_fail "$tag: $(grep '^stream' "$D/recv.$tag.log")"
	echo "ok: PipeWire rtp-sink $fmt ($tag) -> rtbridge recv --sap: $v"
	echo "    $(grep 'following' "$D/recv.$tag.log" | sed 's/ \{2,\}/ /g')"
}

source_case() { # CODEC TAG
	codec=$1 tag=$2
	bits=16
	fmt=s16
	[ "$codec" = l24 ] && { bits=24; fmt=s24; }
	pw_conf "$D/pw.$tag.conf" "    { name = libpipewire-module-rtp-source
      args = {
        sap.ip = \"224.0.0.56\"
        sap.port = 9875
        local.ifname = \"lo\"
        sess.latency.msec = 200
        stream.props = { media.class = \"Audio/Source\" }
      }
    }"
	pw_run "$tag" "$D/pw.$tag.conf" "
$RTB send $D/band$bits.wav --to 239.255.44.2:5004 --codec $codec --frame-ms 1 --pt 127 \
	--multicast-if lo --announce=224.0.0.56 --announce-interval 0.5 \
	--session rtbridge-$tag --quiet >$D/send.$tag.log 2>&1 &
SEND=\$!
i=0
until pw-cli ls Node 2>/dev/null | grep -q 'node.name = \"rtbridge-$tag\"'; do
	i=\$((i + 1)); [ \$i -gt 100 ] && { echo 'no node for the session'; kill \$SEND; exit 1; }
	sleep 0.05
done
chrt -f 50 pw-record --target rtbridge-$tag --format $fmt --rate 48000 --channels 2 $D/rec.$tag.wav &
REC=\$!
wait \$SEND || { echo 'rtbridge send failed'; kill \$REC; exit 1; }
kill -INT \$REC
wait \$REC
true" || lan_fail "$tag: the PipeWire session failed: $(tail -n 3 "$D/session.$tag.log")"
	[ -s "$D/rec.$tag.wav" ] || lan_fail "$tag: pw-record wrote nothing"
	v=$($PY "$HERE/lan_pwcmp.py" band $bits "$D/band$bits.npy" "$D/rec.$tag.wav" \
		$SNR_MIN $SNR_FLOOR 2>&1) || lan_fail "$tag: $v"
	echo "ok: rtbridge send --announce $codec 1 ms pt 127 -> PipeWire rtp-source -> pw-record: $v"
}

case $DIRECTION in
sink-1ms)
	sink_case S16BE "sess.min-ptime = 1
        sess.max-ptime = 1" l16-1ms
	sink_case S24BE "sess.min-ptime = 1
        sess.max-ptime = 1" l24-1ms
	;;
sink-default)
	sink_case S16BE "" l16-default
	sink_case S24BE "" l24-default
	;;
source-l16) source_case l16 l16 ;;
source-l24) source_case l24 l24 ;;
*) lan_fail "direction: sink-1ms, sink-default, source-l16 or source-l24" ;;
esac
lan_no_sanitizer "$D"/recv.*.log
echo "PASS"
