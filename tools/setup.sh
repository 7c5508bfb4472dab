#!/usr/bin/env bash
# Install the Debian packages rtbridge needs (only those missing), then
# configure and build into build/ (or $RTB_BUILD_DIR).
#   tools/setup.sh [--tools] [extra cmake args...]
# --tools also installs what the tests use as real peers and helpers
# (jackd2, GStreamer, ffmpeg, PipeWire with WirePlumber and D-Bus, clang
# for fuzzing, sox, python3-numpy, speexdsp and soxr for the resampler
# benchmark, Prometheus and promtool, matplotlib for tools/report.py,
# man-db).
# Idempotent and quiet when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."

build_pkgs=(build-essential cmake pkg-config libuv1-dev libopus-dev
	libsndfile1-dev libsamplerate0-dev portaudio19-dev libcriterion-dev
	libsrtp2-dev)
test_pkgs=(file libck-dev clang libclang-rt-14-dev jackd2 libasound2-plugins
	gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
	gstreamer1.0-plugins-bad gir1.2-gst-plugins-base-1.0 python3-gi ffmpeg sox python3-numpy iproute2 valgrind
	libspeexdsp-dev libsoxr-dev pipewire pipewire-bin
	libpipewire-0.3-modules wireplumber dbus prometheus python3-matplotlib
	man-db)

want=("${build_pkgs[@]}")
if [ "${1:-}" = "--tools" ]; then
	want+=("${test_pkgs[@]}")
	shift
fi

missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup: missing Debian packages: ${missing[*]}" >&2
		echo "setup: run as root, or: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
		exit 1
	fi
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build="${RTB_BUILD_DIR:-build}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build" -j"$(nproc)" -- --no-print-directory >/dev/null
echo "setup: built in $build/"
