#!/bin/sh
# pkg_install: what `cmake --install` installs, or what the .deb holds, and
# the example built from that tree with pkg-config alone
#
#   tests/pkg_install.sh BUILD_DIR SOURCE_DIR VERSION [install|deb]
#
# install (the default): installs the build into a temporary prefix.
# deb: makes the Debian package with cpack (into a temporary directory),
# checks its name, version and declared dependencies, and unpacks it
# (dpkg-deb -x) instead. Then, either way: checks the program, the manual
# page, the headers, the library (soname and version links, nothing but
# rtb_* exported) and rtbridge.pc are there, that pkg-config reports the
# version, builds examples/rtb_play from the installed copy of its sources
# with the installed Makefile (pkg-config only: no path into the source or
# build tree), and runs it briefly headless (--no-play, no traffic: it
# starts, listens and stops). Exit 77 (skipped) only when PortAudio's
# development files, which the example needs, are missing.
set -eu
build=$1
src=$2
version=$3
mode=${4:-install}
major=${version%%.*}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rtb-pkg.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

fail() {
	echo "pkg_install: FAIL: $*" >&2
	exit 1
}

pkg-config --exists portaudio-2.0 ||
	{ echo "pkg_install: skipped: no portaudio-2.0.pc (portaudio19-dev)"; exit 77; }
if [ "$mode" = deb ]; then
	cpack -G DEB -B "$tmp/deb" --config "$build/CPackConfig.cmake" >"$tmp/cpack.log" 2>&1 ||
		fail "cpack: $(tail -3 "$tmp/cpack.log")"
	deb=$(find "$tmp/deb" -maxdepth 1 -name "rtbridge_${version}_*.deb" | head -1)
	[ -n "$deb" ] || fail "no rtbridge_${version}_*.deb: $(ls "$tmp/deb")"
	[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "$deb: version"
	for dep in libuv1 libopus0 libsndfile1 libsamplerate0 libportaudio2 libsrtp2-1; do
		dpkg-deb -f "$deb" Depends | grep -q "$dep" || fail "$deb: no Depends on $dep"
	done
	dpkg-deb -x "$deb" "$tmp"
else
	cmake --install "$build" --prefix "$tmp/usr" >"$tmp/install.log" ||
		fail "cmake --install: $(tail -3 "$tmp/install.log")"
fi
libdir=$(dirname "$(find "$tmp/usr" -name "librtbridge.so.$version" | head -1)")
[ -f "$libdir/librtbridge.so.$version" ] || fail "no librtbridge.so.$version"
for f in bin/rtbridge share/man/man1/rtbridge.1 include/rtbridge/rtbridge.h \
	include/rtbridge/engine.h include/rtbridge/receiver.h \
	include/rtbridge/sap.h include/rtbridge/sender.h \
	include/rtbridge/version.h \
	share/rtbridge/examples/rtb_play.c share/rtbridge/examples/Makefile; do
	[ -e "$tmp/usr/$f" ] || fail "not installed: $f"
done
[ "$(readlink "$libdir/librtbridge.so.$major")" = "librtbridge.so.$version" ] ||
	fail "librtbridge.so.$major is not a link to librtbridge.so.$version"
[ "$(readlink "$libdir/librtbridge.so")" = "librtbridge.so.$major" ] ||
	fail "librtbridge.so is not a link to librtbridge.so.$major"
soname=$(readelf -d "$libdir/librtbridge.so.$version" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "librtbridge.so.$major" ] || fail "soname '$soname'"
# Bound at load: the audio callback runs in the library, and must not
# meet the dynamic linker's lazy lookup there.
readelf -d "$libdir/librtbridge.so.$version" | grep -q 'FLAGS.*BIND_NOW\|FLAGS_1.*NOW' ||
	fail "librtbridge.so.$version is not bound at load (-z now)"
# Only the public API is exported.
other=$(nm -D --defined-only "$libdir/librtbridge.so.$version" |
	awk '$3 !~ /^rtb_/ && $3 !~ /^RTBRIDGE_[0-9.]*$/' | head -3)
[ -z "$other" ] || fail "exports more than rtb_*: $other"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
got=$(pkg-config --modversion rtbridge) || fail "pkg-config finds no rtbridge"
[ "$got" = "$version" ] || fail "pkg-config says $got, not $version"
case "$(pkg-config --cflags --libs rtbridge)" in
*"$src"* | *"$build"*) fail "rtbridge.pc points into the source or build tree" ;;
esac

cp "$tmp/usr/share/rtbridge/examples/rtb_play.c" \
	"$tmp/usr/share/rtbridge/examples/Makefile" "$tmp/"
make -s -C "$tmp" CFLAGS="-O2 -Wall -Wextra -Werror" >"$tmp/make.log" 2>&1 ||
	fail "the example does not build: $(cat "$tmp/make.log")"
LD_LIBRARY_PATH="$libdir" "$tmp/rtb_play" --listen 127.0.0.1:0 --no-play \
	--duration 0.5 >"$tmp/run.log" 2>&1 || fail "rtb_play: $(cat "$tmp/run.log")"
grep -q "librtbridge $version" "$tmp/run.log" || fail "rtb_play: $(cat "$tmp/run.log")"
grep -q "listening on port [1-9]" "$tmp/run.log" || fail "rtb_play: $(cat "$tmp/run.log")"
echo "pkg_install: ok ($mode: $tmp/usr, the example built with pkg-config and run)"
