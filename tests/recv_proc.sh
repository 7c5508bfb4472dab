# recv_proc.sh: sourced by shell tests that run `rtbridge recv` in the
# background with its output in $DIR/recv.log and its pid in RECV_PID;
# they define fail() (print, exit 1).

# recv_port: wait (5 s at most) for the receiver's "listening on" line
# (it binds port 0 itself) and set PORT.
recv_port() {
	i=0
	PORT=
	until [ -n "$PORT" ]; do
		kill -0 "$RECV_PID" 2>/dev/null || fail "rtbridge recv did not start"
		[ $i -ge 100 ] && fail "rtbridge recv did not bind a port in 5 s"
		sleep 0.05; i=$((i + 1))
		PORT=$(sed -n 's/^rtbridge recv: listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$DIR/recv.log")
	done
}

# recv_stop: SIGINT, wait (10 s at most), require exit status 0 and no
# sanitizer report (a sanitizer build reports at exit, after the verdict
# it cannot change).
recv_stop() {
	kill -0 "$RECV_PID" 2>/dev/null || fail "rtbridge recv ended before the stream did"
	kill -INT "$RECV_PID"
	i=0
	while kill -0 "$RECV_PID" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	kill -0 "$RECV_PID" 2>/dev/null && fail "rtbridge recv did not stop on SIGINT"
	wait "$RECV_PID"
	rc=$?
	RECV_PID=
	[ $rc -eq 0 ] || fail "rtbridge recv exited $rc"
	if grep -q 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|WARNING: ThreadSanitizer\|runtime error:' \
		"$DIR/recv.log"; then
		fail "rtbridge recv: sanitizer report"
	fi
	return 0
}
