# rtbridge docker loopback test: the checks (sourced by loopback-test.sh).
#
# What is judged, apart from how it was run: relay counters, the
# receiver's JSON stats and the recordings, all in the work directory
# $work (one sub-directory per scenario: relay.json, receiver.stdout,
# SENDER/source.wav, out/ = the receiver's --record-dir). Each check_*
# prints one verdict line, "PASS name: ..." or "FAIL name: ...", and
# returns 0 or 1. wavcmp runs from the image ($engine, $image, $run_opts),
# the JSON is read with Python's standard library. self_test feeds the
# checks made-up results that must pass or fail.
# shellcheck shell=bash disable=SC2154 # engine, image, run_opts, work: set by the caller

# Run wavcmp of the image on files of the work directory.
wavcmp() {
	"$engine" run "${run_opts[@]}" --rm --network none --user "$(id -u):$(id -g)" \
		-v "$work:/w:ro" "$image" wavcmp "$@"
}

# JSON checks with Python's standard library (stats and relay counters).
pyjson() { python3 - "$@"; }

json_field() { # json_field FILE FIELD: a top-level number of a one-line object
	pyjson "$1" "$2" <<-'EOF'
		import json, sys
		try:
		    print(json.load(open(sys.argv[1]))[sys.argv[2]])
		except Exception:
		    print(-1)
	EOF
}

# The receiver's stats file, summed over streams: the last object seen per
# ssrc (a final summary nested anywhere in a line counts too). Prints
# "streams received lost concealed_frames", or an error line and fails.
recv_stats() {
	pyjson "$1" <<-'EOF'
		import json, sys
		last = {}
		def walk(o):
		    if isinstance(o, dict):
		        if "ssrc" in o and "lost" in o:
		            last[o["ssrc"]] = o
		        for v in o.values():
		            walk(v)
		    elif isinstance(o, list):
		        for v in o:
		            walk(v)
		try:
		    lines = [l for l in open(sys.argv[1]).read().splitlines() if l.strip()]
		except OSError as e:
		    sys.exit("no stats file (%s)" % e.strerror)
		if not lines:
		    sys.exit("the stats file is empty")
		for i, l in enumerate(lines):
		    try:
		        walk(json.loads(l))
		    except ValueError:
		        sys.exit("stats line %d is not JSON" % (i + 1))
		if not last:
		    sys.exit("no per-stream stats (ssrc, lost) in the stats file")
		tot = lambda k: sum(int(s.get(k, 0)) for s in last.values())
		print(len(last), tot("received"), tot("lost"), tot("concealed_frames"))
	EOF
}

recordings() { # recordings DIR: the recorded sound files, one a line
	find "$1" -maxdepth 1 -type f ! -name '*.json*' ! -name '*.txt' | sort
}

# check_* SCENARIO-DIR: print one verdict and return 0 (pass) or 1.
check_probe() {
	local d=$1 expect=$2
	local sent fwd got
	sent=$(json_field "$d/relay.json" received)
	fwd=$(json_field "$d/relay.json" forwarded)
	tail -n 1 "$d/receiver.stdout" >"$d/probe.json" 2>/dev/null || true
	got=$(json_field "$d/probe.json" received)
	if [ "$sent" = "$expect" ] && [ "$fwd" = "$expect" ] && [ "$got" = "$expect" ]; then
		echo "PASS probe: $expect packets sender -> relay -> receiver container (internal network)"
		return 0
	fi
	echo "FAIL probe: expected $expect packets; relay received $sent, forwarded $fwd; receiver container got $got"
	return 1
}

check_exact() { # check_exact DIR NAME SENDERS...
	local d=$1 name=$2
	shift 2
	local recs n
	mapfile -t recs < <(recordings "$d/out")
	n=${#recs[@]}
	if [ "$n" -ne $# ]; then
		echo "FAIL $name: $n recordings in --record-dir, expected $# (${recs[*]##*/})"
		return 1
	fi
	local stats
	stats=$(recv_stats "$d/out/stats.jsonl" 2>&1) || {
		echo "FAIL $name: $stats"
		return 1
	}
	read -r streams received lost concealed <<<"$stats"
	if [ "$streams" -ne $# ] || [ "$lost" -ne 0 ]; then
		echo "FAIL $name: stats show $streams streams, $lost lost (expected $#, 0)"
		return 1
	fi
	# Each sender's source must match exactly one recording, and each
	# recording one source.
	local s r out matched=() detail=()
	for s in "$@"; do
		local hit=
		for r in "${recs[@]}"; do
			if out=$(wavcmp exact "/w/${d#"$work"/}/$s/source.wav" "/w/${r#"$work"/}"); then
				[[ " ${matched[*]} " == *" $r "* ]] && continue
				hit=$r
				detail+=("$s: ${out#*bit-exact: }")
				break
			fi
			echo "$out" >>"$d/wavcmp.log"
		done
		if [ -z "$hit" ]; then
			echo "FAIL $name: no recording equals $s's source ($(tail -n 1 "$d/wavcmp.log" 2>/dev/null))"
			return 1
		fi
		matched+=("$hit")
	done
	echo "PASS $name: bit-exact, $received packets, $(IFS=';'; echo "${detail[*]}")"
}

check_lossy() { # check_lossy DIR NAME FRAME-SAMPLES
	local d=$1 name=$2 frame=$3
	local recs stats out dropped
	mapfile -t recs < <(recordings "$d/out")
	if [ "${#recs[@]}" -ne 1 ]; then
		echo "FAIL $name: ${#recs[@]} recordings in --record-dir, expected 1"
		return 1
	fi
	stats=$(recv_stats "$d/out/stats.jsonl" 2>&1) || {
		echo "FAIL $name: $stats"
		return 1
	}
	read -r streams received lost concealed <<<"$stats"
	dropped=$(json_field "$d/relay.json" dropped)
	if [ "$dropped" -le 0 ] || [ "$lost" -le 0 ]; then
		echo "FAIL $name: nothing was lost (relay dropped $dropped, receiver lost $lost): no test"
		return 1
	fi
	if [ "$lost" -gt "$dropped" ] || [ "$concealed" -lt "$lost" ]; then
		echo "FAIL $name: relay dropped $dropped, receiver lost $lost, concealed_frames $concealed"
		return 1
	fi
	if ! out=$(wavcmp similar "/w/${d#"$work"/}/sender/source.wav" "/w/${recs[0]#"$work"/}" \
		--tolerance "$frame"); then
		echo "FAIL $name: $out"
		return 1
	fi
	echo "PASS $name: relay dropped $dropped, receiver lost $lost, concealed_frames $concealed; ${out#*similar: }"
}

# The checks themselves, on made-up results: each must pass or fail as
# expected (a copy passes; a missing, wrong, short or unconcealed one fails).
self_test() {
	local st=$work/self-test
	mkdir -p "$st/src"
	"$engine" run "${run_opts[@]}" --rm --network none --user "$(id -u):$(id -g)" \
		-v "$work:/w" "$image" \
		sh -c 'gensignal --seconds 2 --seed 1 /w/self-test/src/a.wav &&
			gensignal --seconds 1.5 --seed 2 /w/self-test/src/b.wav' >/dev/null
	python3 - "$st" <<-'EOF'
		import json, os, shutil, sys, wave
		st = sys.argv[1]
		def rd(p):
		    with wave.open(p) as w:
		        return w.getparams(), bytearray(w.readframes(w.getnframes()))
		def wr(p, params, data):
		    os.makedirs(os.path.dirname(p), exist_ok=True)
		    with wave.open(p, "wb") as w:
		        w.setparams(params)
		        w.writeframes(bytes(data))
		pa, a = rd(st + "/src/a.wav")
		pb, b = rd(st + "/src/b.wav")
		fb = 4  # bytes per frame: 16-bit stereo
		def case(name, recs, streams, dropped=0, b_too=False, stats_tail=""):
		    d = st + "/" + name
		    wr(d + "/sender/source.wav", pa, a)
		    if b_too:
		        wr(d + "/sender-b/source.wav", pb, b)
		    os.makedirs(d + "/out", exist_ok=True)
		    for i, (params, data) in enumerate(recs):
		        wr("%s/out/%08x.wav" % (d, 1111 * (i + 1)), params, data)
		    with open(d + "/out/stats.jsonl", "w") as f:
		        for ssrc, lost, conc in streams:
		            f.write(json.dumps({"ssrc": ssrc, "received": 100 - lost, "lost": lost,
		                                "concealed_frames": 0}) + "\n")
		        f.write(json.dumps({"summary": [{"ssrc": ssrc, "received": 100 - lost,
		            "lost": lost, "concealed_frames": conc} for ssrc, lost, conc in streams]}) + "\n")
		        f.write(stats_tail)
		    with open(d + "/relay.json", "w") as f:
		        f.write(json.dumps({"received": 100, "forwarded": 100 - dropped,
		                            "dropped": dropped}) + "\n")
		lossy = bytearray(a)
		for k in (10, 40, 70):  # three 20 ms frames lost, concealed as silence
		    lossy[k * 960 * fb:(k + 1) * 960 * fb] = bytes(960 * fb)
		case("exact-copy", [(pa, a)], [(1, 0, 0)])
		case("exact-late-start", [(pa, a[480 * fb:])], [(1, 0, 0)])
		case("exact-missing", [], [(1, 0, 0)])
		case("exact-other-signal", [(pb, b)], [(1, 0, 0)])
		case("exact-short", [(pa, a[:-480 * fb])], [(1, 0, 0)])
		one = bytearray(a); one[1000 * fb] ^= 1
		case("exact-one-bit", [(pa, one)], [(1, 0, 0)])
		case("exact-lost", [(pa, a)], [(1, 2, 2)])
		case("exact-bad-stats", [(pa, a)], [(1, 0, 0)], stats_tail='{"ssrc": 1, "lo')
		case("lossy-concealed", [(pa, lossy)], [(1, 3, 3)], dropped=3)
		case("lossy-unconcealed", [(pa, lossy)], [(1, 3, 1)], dropped=3)
		case("lossy-nothing-lost", [(pa, a)], [(1, 0, 0)], dropped=0)
		case("lossy-short", [(pa, lossy[:-1200 * fb])], [(1, 3, 3)], dropped=3)
		case("lossy-silent", [(pa, bytes(len(a)))], [(1, 3, 3)], dropped=3)
		case("two-both", [(pa, a), (pb, b)], [(1, 0, 0), (2, 0, 0)], b_too=True)
		case("two-same-twice", [(pa, a), (pa, a)], [(1, 0, 0), (2, 0, 0)], b_too=True)
		case("two-one-missing", [(pb, b)], [(1, 0, 0), (2, 0, 0)], b_too=True)
	EOF
	local c want line n=0 bad=0
	while read -r c want; do
		case $c in
		exact-*) line=$(check_exact "$st/$c" "$c" sender) || true ;;
		lossy-*) line=$(check_lossy "$st/$c" "$c" 960) || true ;;
		two-*) line=$(check_exact "$st/$c" "$c" sender sender-b) || true ;;
		esac
		n=$((n + 1))
		if [[ $line == "$want"* ]]; then
			verdict "self-test ok ($want expected): ${line#* }"
		else
			verdict "self-test WRONG ($want expected): $line"
			bad=$((bad + 1))
		fi
	done <<-'EOF'
		exact-copy PASS
		exact-late-start PASS
		exact-missing FAIL
		exact-other-signal FAIL
		exact-short FAIL
		exact-one-bit FAIL
		exact-lost FAIL
		exact-bad-stats FAIL
		lossy-concealed PASS
		lossy-unconcealed FAIL
		lossy-nothing-lost FAIL
		lossy-short FAIL
		lossy-silent FAIL
		two-both PASS
		two-same-twice FAIL
		two-one-missing FAIL
	EOF
	if [ "$bad" -eq 0 ]; then
		verdict "self-test: all $n checks behave"
		return 0
	fi
	verdict "self-test: $bad of $n checks misbehave"
	return 1
}
