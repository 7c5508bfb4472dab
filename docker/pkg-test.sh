#!/usr/bin/env bash
# rtbridge package test: the .deb built from this tree, installed on a
# fresh Debian 12 in a container, used by an application built there.
#
#   docker/pkg-test.sh   (Docker or Podman; root may be needed)
#
# Steps: find a container engine and the base image debian:bookworm-slim
# (docker/engine.sh: made with debootstrap when missing, no registry is
# needed); build docker/Dockerfile.pkg: its deb stage makes the package
# (cpack) from this tree, its pkgtest stage installs it on the bare base
# with apt-get (which resolves the dependencies the package declares)
# plus a compiler, make, pkg-config and PortAudio's headers; then run
# pkgtest with no network beyond its own loopback: docker/pkg-check.sh
# builds examples/rtb_play from the copy the package installed, with
# pkg-config only, and has it receive a stream from `rtbridge send` on
# 127.0.0.1 (headless, --no-play). One verdict line per check.
# Exit 0 when every check passes, 1 otherwise.
#
# Environment:
#   RTB_ENGINE=docker|podman   engine to use (default: whichever answers)
#   RTB_CACHE_DIR=DIR          cache (default /var/cache/rtbridge)
#   RTB_MIRROR=URL             Debian mirror for debootstrap
#   RTB_SKIP_DOCKER=1          when no engine can run here, print
#                              "skipped: ..." and exit 0 instead of failing
#   RTB_PKG_OUT=DIR            copy the .deb there
#   RTB_KEEP=1                 keep the work directory (logs)
# shellcheck disable=SC2317 # functions run from traps
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cache=${RTB_CACHE_DIR:-/var/cache/rtbridge}
image=${RTB_PKG_IMAGE:-rtbridge-pkg:local}
base=debian:bookworm-slim
start_s=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/rtb-pkg.XXXXXX")
engine=
compose=()
run_opts=()
dockerd_pid=
dockerd_run=/run/rtbridge-docker

log() { printf 'pkg: [%3ss] %s\n' "$(($(date +%s) - start_s))" "$*" >&2; }
verdict() { printf 'pkg: %s\n' "$*"; }

# shellcheck source=docker/engine.sh
. "$here/engine.sh"

cleanup() {
	local rc=$?
	set +e
	stop_dockerd
	if [ "$rc" -ne 0 ] || [ "${RTB_KEEP:-0}" = 1 ]; then
		log "logs kept in $work"
	else
		rm -rf "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pick_engine
ensure_base
copy_context "$work/context"
log "building $image (docker/Dockerfile.pkg: the .deb, then Debian 12 with it installed)"
if ! "$engine" build "${run_opts[@]}" --network host --build-arg "BASE=$base" \
	--target pkgtest -f "$work/context/docker/Dockerfile.pkg" -t "$image" \
	"$work/context" >"$work/build.log" 2>&1; then
	tail -n 20 "$work/build.log" >&2
	verdict "FAIL build: the package or its installation failed (log: $work/build.log)"
	exit 1
fi
deb=$("$engine" run "${run_opts[@]}" --rm --network none "$image" sh -c 'ls /pkg')
log "package: $deb"
if [ -n "${RTB_PKG_OUT:-}" ]; then
	mkdir -p "$RTB_PKG_OUT"
	"$engine" run "${run_opts[@]}" --rm --network none "$image" cat "/pkg/$deb" \
		>"$RTB_PKG_OUT/$deb"
	log "copied to $RTB_PKG_OUT/$deb"
fi
rc=0
timeout 120 "$engine" run "${run_opts[@]}" --rm --network none "$image" \
	>"$work/check.log" 2>&1 || rc=$?
grep '^pkg: ' "$work/check.log" || true
log "total $(($(date +%s) - start_s)) s"
if [ "$rc" -eq 0 ]; then
	verdict "all checks passed"
	exit 0
fi
sed 's/^/  /' "$work/check.log" | grep -v '^  pkg: ' | tail -n 30 >&2
verdict "FAILED (exit $rc; logs in $work)"
exit 1
