#!/usr/bin/env bash
# rtbridge docker loopback test: sender, impairment relay and receiver as
# containers on an internal network, then a check of what was recorded.
#
#   docker/loopback-test.sh [--self-test]   (Docker or Podman; root may be needed)
#
# Steps: find a container engine (when root and none runs: install
# docker.io and start a private dockerd, stopped again at exit); make the
# base image debian:bookworm-slim with debootstrap when it is missing (no
# registry is needed; the rootfs tarball is cached); build rtbridge:local
# (docker/Dockerfile); run the scenarios; print one verdict line each:
#   probe        sender -> relay -> receiver container, counted by packets
#   l16-clean    L16 through a clean relay: the recording is bit-exact
#   opus-lossy   Opus through 5 % loss + jitter: every loss concealed,
#                duration kept within one frame, the sound still correlates
#   two-senders  two L16 senders into one receiver: two exact recordings
# Exit 0 when every scenario passes, 1 otherwise.
#
# Environment:
#   RTB_ENGINE=docker|podman   engine to use (default: whichever answers)
#   RTB_CACHE_DIR=DIR          cache (default /var/cache/rtbridge): base
#                              rootfs tarball, private dockerd's images
#   RTB_MIRROR=URL             Debian mirror for debootstrap (default: from
#                              the machine's apt sources)
#   RTB_SKIP_DOCKER=1          when no engine can run here, print
#                              "skipped: ..." and exit 0 instead of failing
#   RTB_KEEP=1                 keep the work directory (logs, recordings)
# shellcheck disable=SC2317 # functions run from traps and indirectly
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cache=${RTB_CACHE_DIR:-/var/cache/rtbridge}
image=${RTB_IMAGE:-rtbridge:local}
base=debian:bookworm-slim
export RTB_IMAGE=$image
start_s=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/rtb-loopback.XXXXXX")
engine=
compose=()
run_opts=()
dockerd_pid=
dockerd_run=/run/rtbridge-docker
projects=()
failed=0

log() { printf 'loopback: [%3ss] %s\n' "$(($(date +%s) - start_s))" "$*" >&2; }
verdict() { printf 'loopback: %s\n' "$*"; }

# shellcheck source=docker/engine.sh
. "$here/engine.sh"

cleanup() {
	local rc=$?
	set +e
	for p in "${projects[@]}"; do
		timeout 60 "${compose[@]}" -p "$p" "${compose_files[@]}" down -v -t 2 >/dev/null 2>&1
		"$engine" network rm "${p}_loop" >/dev/null 2>&1
	done
	stop_dockerd
	if [ "$rc" -ne 0 ] || [ "${RTB_KEEP:-0}" = 1 ]; then
		log "logs and recordings kept in $work"
	else
		rm -rf "$work"
	fi
	exit "$rc"
}
compose_files=(-f "$here/compose.yaml")
trap cleanup EXIT
trap 'exit 130' INT TERM

# The images: docker/Dockerfile's build and final stages.
build_image() {
	local ctx=$work/context
	copy_context "$ctx"
	log "building $image (docker/Dockerfile, base $base)"
	# The build stage is tagged too ($image-build), so that its cached
	# layers (the apt-get of the compiler) outlive the pruning below.
	local target tag
	for target in build final; do
		tag=$image
		[ "$target" = build ] && tag=$image-build
		if ! "$engine" build "${run_opts[@]}" --network host --build-arg "BASE=$base" \
			--target "$target" -f "$ctx/docker/Dockerfile" -t "$tag" "$ctx" \
			>>"$work/build.log" 2>&1; then
			tail -n 20 "$work/build.log" >&2
			verdict "FAIL image: $engine build failed (log: $work/build.log)"
			exit 1
		fi
	done
	log "image $image: $("$engine" image inspect -f '{{.Size}}' "$image" |
		awk '{printf "%.1f MB", $1 / 1e6}')"
	# Earlier builds, in the private engine only.
	if [ -n "$dockerd_pid" ]; then
		"$engine" image prune -f >/dev/null 2>&1 || true
	fi
}

cid() { # cid PROJECT SERVICE: the container's id
	"$engine" ps -aq --filter "label=com.docker.compose.project=$1" \
		--filter "label=com.docker.compose.service=$2" | head -n 1
}

running() { [ "$("$engine" inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }

# wait_exit ID SECONDS: Return the container's exit status (124: timeout).
wait_exit() {
	local id=$1 limit=$2 t=0
	while running "$id"; do
		if [ "$t" -ge $((limit * 5)) ]; then
			return 124
		fi
		sleep 0.2
		t=$((t + 1))
	done
	return "$("$engine" inspect -f '{{.State.ExitCode}}' "$id")"
}

# run_scenario NAME SENDERS WAIT COMPOSE-FILES...: start receiver and
# relay, wait until the receiver's UDP port 5004 is bound, start the
# senders, wait for them, then for the receiver to exit by itself (WAIT=1)
# or stop it (WAIT=0), stop the relay, and collect logs, relay counters,
# sources and recordings into $work/NAME.
run_scenario() {
	local name=$1 senders=$2 wait=$3
	shift 3
	local dir=$work/$name p="rtbloop${name//-/}$$"
	local files=(-f "$here/compose.yaml")
	for f in "$@"; do files+=(-f "$here/$f"); done
	compose_files=("${files[@]}")
	projects+=("$p")
	mkdir -p "$dir"
	log "$name: starting receiver and relay"
	"${compose[@]}" -p "$p" "${files[@]}" up -d --no-build relay >"$dir/compose.log" 2>&1 || {
		echo "compose up failed: $(tail -n 2 "$dir/compose.log" | tr '\n' ' ')" >"$dir/error"
		return 0
	}
	local recv relay t=0
	recv=$(cid "$p" receiver)
	relay=$(cid "$p" relay)
	if [ "$("$engine" network inspect -f '{{.Internal}}' "${p}_loop" 2>&1)" != true ]; then
		echo "network ${p}_loop is not internal" >"$dir/error"
		return 0
	fi
	while running "$recv" && ! "$engine" exec "$recv" cat /proc/net/udp /proc/net/udp6 2>/dev/null |
		grep -q ':138C '; do
		[ "$t" -lt 100 ] || break
		sleep 0.2
		t=$((t + 1))
	done
	if ! running "$recv"; then
		"$engine" logs "$recv" >"$dir/receiver.log" 2>&1
		echo "receiver exited at start: $(tail -n 1 "$dir/receiver.log")" >"$dir/error"
		return 0
	fi
	log "$name: receiver listening; starting $senders"
	local sv
	read -r -a sv <<<"$senders"
	RTB_SEND_DELAY=0 "${compose[@]}" -p "$p" "${files[@]}" up -d --no-build --no-deps "${sv[@]}" \
		>>"$dir/compose.log" 2>&1
	local s id rc
	for s in $senders; do
		id=$(cid "$p" "$s")
		rc=0
		wait_exit "$id" $((${RTB_SECONDS:-5} + 30)) || rc=$?
		"$engine" logs "$id" >"$dir/$s.log" 2>&1
		mkdir -p "$dir/$s"
		"$engine" cp "$id:/data/source.wav" "$dir/$s/source.wav" 2>/dev/null || true
		[ "$rc" -eq 0 ] || echo "$s exited with status $rc: $(tail -n 1 "$dir/$s.log")" >>"$dir/error"
	done
	rc=0
	if [ "$wait" = 1 ]; then
		wait_exit "$recv" $((${RTB_IDLE_EXIT:-3} + 30)) || rc=$?
		[ "$rc" -eq 124 ] && "$engine" stop -t 5 "$recv" >/dev/null
		"$engine" stop -t 5 "$relay" >/dev/null 2>&1
	else
		sleep 0.5
		"$engine" stop -t 5 "$relay" >/dev/null 2>&1
		"$engine" stop -t 5 "$recv" >/dev/null 2>&1
	fi
	"$engine" logs "$recv" >"$dir/receiver.log" 2>&1
	"$engine" logs "$recv" 2>/dev/null | grep '^{' >"$dir/receiver.stdout" || true
	[ "$rc" -eq 0 ] || echo "receiver exited with status $rc: $(tail -n 1 "$dir/receiver.log")" >>"$dir/error"
	"$engine" logs "$relay" 2>/dev/null | grep '^{' | tail -n 1 >"$dir/relay.json" || true
	"$engine" logs "$relay" >"$dir/relay.log" 2>&1
	"$engine" cp "$recv:/out" "$dir/out" 2>/dev/null || mkdir -p "$dir/out"
	if timeout 60 "${compose[@]}" -p "$p" "${files[@]}" down -v -t 2 >>"$dir/compose.log" 2>&1; then
		unset 'projects[-1]'
	fi
	# podman-compose 1.0 leaves the network behind.
	"$engine" network rm "${p}_loop" >/dev/null 2>&1 || true
	log "$name: done"
}

verdict_of() { # verdict_of NAME CHECK ARGS...: run a check unless the scenario failed to run
	local name=$1 line
	shift
	if [ -s "$work/$name/error" ]; then
		line="FAIL $name: $(head -n 1 "$work/$name/error")"
	else
		line=$("$@") || true
	fi
	verdict "$line"
	[[ $line == PASS* ]] || failed=1
}

# ---------------------------------------------------------------------------

# shellcheck source=docker/loopback-checks.sh
. "$here/loopback-checks.sh"

command -v python3 >/dev/null || no_engine "python3 is needed to read the JSON stats"
pick_engine
pick_compose
ensure_base
build_image
if [ "${1:-}" = --self-test ]; then
	self_test
	exit $?
fi

# The runtime stage: the programs and their libraries, no toolchain.
tools=$("$engine" run "${run_opts[@]}" --rm --network none "$image" sh -c \
	'for p in cc gcc c99 ld make cmake pkg-config; do command -v "$p"; done
	 dpkg-query -W -f="\${Package}\n" |
		grep -E -e "-dev$" -e "^(gcc|cpp|g\+\+)(-[0-9]+)?$" -e "^(binutils|make|cmake|clang)"
	 true' 2>&1)
size=$("$engine" image inspect -f '{{.Size}}' "$image" | awk '{printf "%.1f MB", $1 / 1e6}')
if [ -n "$tools" ]; then
	verdict "FAIL image: the runtime image holds build tools: $(echo "$tools" | tr '\n' ' ')"
	failed=1
else
	verdict "PASS image: $image is $size, no compiler and no -dev package in it"
fi

export RTB_SECONDS=2 RTB_FRAME_MS=20 RTB_SEED=1 RTB_SSRC=1111 RTB_IDLE_EXIT=2
RTB_CODEC=l16 run_scenario probe sender 0 compose.probe.yaml
verdict_of probe check_probe "$work/probe" $((RTB_SECONDS * 1000 / RTB_FRAME_MS))

export RTB_SECONDS=5
RTB_CODEC=l16 RTB_FRAME_MS=10 run_scenario l16-clean sender 1
verdict_of l16-clean check_exact "$work/l16-clean" l16-clean sender

RTB_CODEC=opus RTB_FRAME_MS=20 RELAY_SEED=7 RELAY_LOSS=5 RELAY_DELAY=10 RELAY_JITTER=4 \
	run_scenario opus-lossy sender 1
verdict_of opus-lossy check_lossy "$work/opus-lossy" opus-lossy 960

RTB_CODEC=l16 RTB_FRAME_MS=10 run_scenario two-senders "sender sender-b" 1 compose.two.yaml
verdict_of two-senders check_exact "$work/two-senders" two-senders sender sender-b

log "total $(($(date +%s) - start_s)) s"
if [ "$failed" = 0 ]; then
	verdict "all scenarios passed"
	exit 0
fi
verdict "FAILED (logs in $work)"
exit 1
