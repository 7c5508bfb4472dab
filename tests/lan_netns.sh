# lan_netns.sh: shell functions the LAN tests source (lan_multicast.sh,
# lan_sap.sh, lan_pipewire.sh)
#
# Two network namespaces of the test's own, A and B, joined by a veth pair
# (rtbA in A, rtbB in B) with private addresses (10.250.X.1 and .2/24,
# link-local IPv6 without duplicate address detection), IPv4 multicast
# routed over the veth on both sides. lan_route_ok checks with `ip route
# get` that a group routes over the veth before anything is sent there:
# nothing the tests send leaves the two namespaces. lan_cleanup kills the
# processes the test started (by PID) and deletes the namespaces.
#
# Needs root and iproute2: lan_need_root exits 77 (skip) with the reason
# otherwise.

LAN_PIDS=
LAN_NS_A=
LAN_NS_B=
LAN_DIR=

lan_need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: needs root to create network namespaces"
		exit 77
	fi
	command -v ip >/dev/null 2>&1 || { echo "FAIL: iproute2 (ip) is missing"; exit 1; }
}

lan_cleanup() {
	for p in $LAN_PIDS; do
		kill -KILL "$p" 2>/dev/null
	done
	[ -n "$LAN_NS_A" ] && ip netns del "$LAN_NS_A" 2>/dev/null
	[ -n "$LAN_NS_B" ] && ip netns del "$LAN_NS_B" 2>/dev/null
	# RTB_LAN_KEEP=1 keeps the files (signals, recordings, logs).
	if [ -n "$LAN_DIR" ] && [ -z "${RTB_LAN_KEEP:-}" ]; then
		rm -rf "$LAN_DIR"
	elif [ -n "$LAN_DIR" ]; then
		echo "kept $LAN_DIR"
	fi
}

lan_fail() {
	echo "FAIL: $*"
	for f in "$LAN_DIR"/*.log; do
		[ -s "$f" ] && { echo "--- $(basename "$f")"; tail -n 15 "$f"; }
	done
	exit 1
}

# lan_ns_pair TAG: create the namespaces and the link (subnet from $$).
lan_ns_pair() {
	LAN_NS_A="rtb_${1}_a_$$"
	LAN_NS_B="rtb_${1}_b_$$"
	net=$(($$ % 200 + 20))
	LAN_ADDR_A=10.250.$net.1
	LAN_ADDR_B=10.250.$net.2
	ip netns add "$LAN_NS_A" || lan_fail "ip netns add"
	ip netns add "$LAN_NS_B" || lan_fail "ip netns add"
	for ns in "$LAN_NS_A" "$LAN_NS_B"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0
		ip netns exec "$ns" ip link set lo up
	done
	ip link add rtbA netns "$LAN_NS_A" type veth peer name rtbB netns "$LAN_NS_B" ||
		lan_fail "cannot create the veth pair"
	ip -n "$LAN_NS_A" addr add "$LAN_ADDR_A/24" dev rtbA
	ip -n "$LAN_NS_B" addr add "$LAN_ADDR_B/24" dev rtbB
	ip -n "$LAN_NS_A" link set rtbA up
	ip -n "$LAN_NS_B" link set rtbB up
	ip -n "$LAN_NS_A" route add 224.0.0.0/4 dev rtbA
	ip -n "$LAN_NS_B" route add 224.0.0.0/4 dev rtbB
	# The link-local IPv6 addresses come with the links.
	i=0
	until ip -n "$LAN_NS_A" -6 addr show dev rtbA | grep -q 'scope link' &&
		ip -n "$LAN_NS_B" -6 addr show dev rtbB | grep -q 'scope link'; do
		i=$((i + 1))
		[ $i -gt 100 ] && lan_fail "no IPv6 link-local address on the veth"
		sleep 0.02
	done
}

# lan_route_ok NS GROUP DEV: the group routes over DEV inside NS.
lan_route_ok() {
	case $2 in
	*:*) out=$(ip -n "$1" -6 route get "$2" oif "$3" 2>&1) ;;
	*) out=$(ip -n "$1" -4 route get "$2" 2>&1) ;;
	esac
	case $out in
	*" dev $3 "*) return 0 ;;
	esac
	lan_fail "in $1, $2 does not route over $3: $out"
}

# lan_bg NS LOG CMD...: run CMD in NS in the background, output to LOG.
lan_bg() {
	ns=$1 log=$2
	shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	LAN_LAST=$!
	LAN_PIDS="$LAN_PIDS $LAN_LAST"
}

# lan_wait_grep FILE PATTERN SECONDS: wait until FILE has PATTERN.
lan_wait_grep() {
	i=0
	until grep -q -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt $(($3 * 20)) ] && return 1
		sleep 0.05
	done
	return 0
}

# lan_wait_exit PID SECONDS: wait for a background process; its status.
lan_wait_exit() {
	i=0
	while kill -0 "$1" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt $(($2 * 20)) ]; then
			kill -KILL "$1" 2>/dev/null
			wait "$1" 2>/dev/null
			return 124
		fi
		sleep 0.05
	done
	wait "$1"
}

# lan_no_sanitizer LOG...: a sanitizer build reports at exit.
lan_no_sanitizer() {
	for f in "$@"; do
		if grep -q 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|WARNING: ThreadSanitizer\|runtime error:' "$f"; then
			lan_fail "sanitizer report in $(basename "$f")"
		fi
	done
}
