#!/bin/sh
# Write the manual page rtbridge(1) on stdout from the program's own help
# texts, so that the page and `--help` never disagree:
#   tools/manpage.sh RTBRIDGE [OUT]      (default: stdout)
# NAME, SYNOPSIS and DESCRIPTION come from `rtbridge --help`, the version
# from `rtbridge --version`, one subsection per command from `rtbridge
# COMMAND --help` (its option lines become tagged paragraphs). The build
# runs it (target `manpage`); `cmake --install` installs the page.
# POSIX sh and awk only (no python at build time).
set -eu
rtb="${1:?usage: tools/manpage.sh RTBRIDGE [OUT]}"
if [ $# -ge 2 ]; then
	exec >"$2.tmp"
	trap 'mv "$2.tmp" "$2"' EXIT
fi

version=$("$rtb" --version | sed 's/^rtbridge //')
top=$("$rtb" --help)
commands=$(printf '%s\n' "$top" | awk '/^commands:/ {on = 1; next}
	on && /^  [a-z]/ {print $1}')

# roff escapes: backslashes, hyphens, a dot or quote opening a line.
esc() {
	sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
}

# A help text as roff: usage lines unfilled, option lines tagged.
help_roff() {
	esc | awk '
	function out(s) { if (s ~ /^[.\047]/) s = "\\&" s; print s }
	/^usage: / || (nf && /^ +[^ -]/ && !/^  \\-/) || /^       rtbridge/ {
		if (!nf) print ".nf"; nf = 1
		sub(/^usage: /, ""); sub(/^ +/, ""); out("\\fB" $0 "\\fR"); next }
	nf { print ".fi"; nf = 0 }
	/^$/ { print ".PP"; next }
	/^  \\-/ {
		line = substr($0, 3); opt = line; text = ""
		if (match(line, /  +/)) {
			opt = substr(line, 1, RSTART - 1)
			text = substr(line, RSTART + RLENGTH)
		}
		print ".TP"; print "\\fB" opt "\\fR"; if (text != "") out(text)
		next }
	/^ +/ { sub(/^ +/, ""); out($0); next }
	{ out($0) }
	END { if (nf) print ".fi" }'
}

about=$(printf '%s\n' "$top" | awk '/^$/ {n++; next} n == 1 {print}')

cat <<EOF
.TH RTBRIDGE 1 "" "rtbridge $version" "User Commands"
.SH NAME
rtbridge \\- $(printf '%s\n' "$about" | tr '\n' ' ' | sed 's/ *$//' | esc)
.SH SYNOPSIS
.B rtbridge
.I COMMAND
[\\fIOPTIONS\\fR]
.br
.B rtbridge
.I COMMAND
.B \\-\\-help
.br
.B rtbridge \\-\\-version
.SH DESCRIPTION
$(printf '%s\n' "$about" | esc)
.PP
Commands:
EOF
printf '%s\n' "$top" | awk '/^commands:/ {on = 1; next} on && /^  [a-z]/' |
	esc | awk '{name = $1; sub(/^ *[^ ]+ +/, ""); print ".TP"
		print "\\fB" name "\\fR"; print}'
echo ".SH COMMANDS"
for c in $commands; do
	echo ".SS \"rtbridge $c\""
	"$rtb" "$c" --help | help_roff
done
cat <<'EOF'
.SH EXIT STATUS
0 on success, 1 on a runtime error (one line on standard error says what
and where; recordings already written are kept and finalized), 2 on bad
usage.
.SH SIGNALS
SIGINT and SIGTERM stop \fBplay\fR, \fBsend\fR and \fBrecv\fR cleanly: what
the buffers hold is played out, every recording is finalized.
.SH SEE ALSO
The README of the source distribution; \fBprometheus\fR(1) for the
\fB\-\-metrics\fR endpoint.
EOF
