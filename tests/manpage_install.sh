#!/bin/sh
# `cmake --install` of a build into a temporary prefix: the program and
# rtbridge(1) land where they belong, `rtbridge --version` says the
# project's version, the page renders without a warning from man/groff,
# names every command and every option each command's --help lists, and
# the page shipped is the one the current help texts make.
#   tests/manpage_install.sh BUILD_DIR VERSION
set -eu
build="$1"
version="$2"
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}

cmake --install "$build" --prefix "$prefix" >/dev/null
rtb="$prefix/bin/rtbridge"
page="$prefix/share/man/man1/rtbridge.1"
[ -x "$rtb" ] || fail "no $rtb"
[ -f "$page" ] || fail "no $page"
got=$("$rtb" --version)
[ "$got" = "rtbridge $version" ] || fail "--version says '$got', not 'rtbridge $version'"

warn=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null || true)
[ -z "$warn" ] || fail "man --warnings: $warn"
text=$(MANWIDTH=200 man -l "$page" 2>/dev/null)
echo "$text" | grep -q "rtbridge $version" || fail "the page names no version"
# Every option is a tagged paragraph of its own (.TP), not a line of an
# unfilled usage block.
tags=$(awk 'tp {gsub(/\\f[BR]/, ""); gsub(/\\-/, "-"); sub(/[^a-z0-9-].*/, "", $1); print $1}
	{tp = /^\.TP/}' "$page")
commands=$("$rtb" --help | awk '/^commands:/ {on = 1; next} on {print $1}')
n=0
for c in $commands; do
	echo "$text" | grep -q "^   rtbridge $c\$" || fail "no section for $c"
	for o in $("$rtb" "$c" --help | sed -n 's/^  \(--[a-z0-9-]*\).*/\1/p'); do
		echo "$text" | grep -q -- "^       $o\\b" ||
			fail "$c: option $o missing from the page"
		echo "$tags" | grep -qx -- "$o" ||
			fail "$c: option $o is not a tagged paragraph"
		n=$((n + 1))
	done
done
[ "$n" -gt 40 ] || fail "only $n options found: the help texts changed shape?"
sh "$(dirname "$0")/../tools/manpage.sh" "$rtb" "$prefix/again.1"
cmp -s "$page" "$prefix/again.1" || fail "the installed page is stale"
echo "PASS: $rtb, rtbridge(1) with $n options of" $commands
