#!/usr/bin/env bash
# The network appliances with real tools, between two network namespaces
# this script makes (addresses only in 198.18.0.0/24, the benchmarking
# range, no route out). Each namespace has a TAP device bridged by
# vmsg-tap to a port of the appliance (host backend: no simulator).
#
#   switch    l2switch between A and B: 100 pings, no loss; iperf3 TCP for
#             3 s; curl fetching a page from an HTTP server in B
#   firewall  firewall (A outside, B inside, tcp=5201): ping passes, iperf3
#             to 5201 passes, a TCP connection to 5202 times out and is
#             counted as a policy drop
#   hostile   a third switch port floods malformed and oversized frames
#             while A pings B (no loss); then a firewall port floods broken
#             IPv4/TCP/UDP/ARP: every kind dropped and counted; A's bridge
#             comes back to that port and traffic flows again
#   restart   kill -9 of the switch: both bridges see the link go down
#             (carrier off) and carry traffic again once it restarts,
#             without being restarted themselves
#
# usage: netns.sh SCENARIO VMSG_TAP L2SWITCH FIREWALL NET_FLOOD
# Every wait is bounded; everything started is stopped; exit 77 (skip)
# only when not root (namespaces and TAP devices need it).
set -euo pipefail
. "$(dirname "$0")/../lib/pings.sh"
scenario=$1 tap=$2 l2switch=$3 firewall=$4 flood=$5

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: network namespaces and TAP devices need root"
	exit 77
fi
for t in ip ping iperf3 curl python3; do
	command -v "$t" >/dev/null || { echo "FAIL: $t missing (scripts/deps.sh)"; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/vmsg-netns.XXXXXX")
A=vmsgA$$ B=vmsgB$$
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	ip netns pids $A 2>/dev/null | xargs -r kill -9 2>/dev/null || true
	ip netns pids $B 2>/dev/null | xargs -r kill -9 2>/dev/null || true
	ip netns del $A 2>/dev/null || true
	ip netns del $B 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	for f in "$work"/*.log; do echo "--- $f"; tail -20 "$f"; done
	exit 1
}

ip netns add $A
ip netns add $B
for ns in $A $B; do
	ip -n $ns link set lo up
	ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip netns exec $ns sysctl -qw net.ipv6.conf.default.disable_ipv6=1
done

# start NAME CMD...: run in the background, logging to $work/NAME.log.
start() {
	local name=$1
	shift
	"$@" >"$work/$name.log" 2>&1 &
	pids+=($!)
	eval "pid_$name=$!"
}

# wait_for SECONDS CMD...: until CMD succeeds, at most SECONDS.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

# bridge NAME NS PORTPATH ADDR: a TAP device eth1 in NS bridged to a port;
# returns when both ends of the link are up (ends judge it on their own:
# docs/net.md, "The rules", 5).
bridge() {
	start "$1" "$tap" --connect "$3" --netns "$2" --dev eth1 --retry-ms 100
	wait_for 10 ip -n "$2" link show eth1 || fail "no eth1 in $2"
	ip -n "$2" addr add "$4/24" dev eth1
	wait_for 10 grep -q "link up" "$work/$1.log" || fail "$1: link never up"
	port_up "${3##*/}"
}

# port_up portN: wait until the running appliance ($app) says portN is up.
port_up() {
	local end=$((SECONDS + 10))
	until stats "$app" | grep -q " $1 up "; do
		[ $SECONDS -lt $end ] || fail "$app never saw $1 up"
	done
}

# stats NAME: the appliance's counters (SIGUSR1), one line per port and
# one of its own.
stats() {
	local n
	n=$(wc -l <"$work/$1.log")
	kill -USR1 "$(eval echo \$pid_"$1")"
	wait_for 5 sh -c "test \$(wc -l <'$work/$1.log') -gt $n" || fail "$1: no stats"
	sleep 0.2
	tail -n +$((n + 1)) "$work/$1.log"
}

# counter NAME FIELD [LINE-PATTERN]: the value of FIELD=N in the latest stats.
counter() {
	stats "$1" | grep -e "${3:-.}" | tr ' ' '\n' | sed -n "s/^$2=//p" | tail -1
}


iperf() { # iperf PORT SECONDS: TCP from A to a server in B
	start "iperf3s_$1" ip netns exec $B iperf3 -s -1 -p "$1"
	wait_for 10 ip netns exec $B sh -c "ss -ltn | grep -q :$1" || fail "no iperf3 server"
	local out
	out=$(timeout 60 ip netns exec $A iperf3 -c 198.18.0.2 -p "$1" -t "$2" -f m) ||
		fail "iperf3: $out"
	echo "$out" | grep -E "sender|receiver"
	echo "$out" | grep receiver | awk '{ if ($7 <= 0) exit 1 }' || fail "iperf3 moved nothing"
}

case $scenario in
switch)
	app=sw
	start sw "$l2switch" dir="$work" ports=2
	wait_for 10 test -S "$work/port1" || fail "switch not serving"
	bridge tapA $A "$work/port0" 198.18.0.1
	bridge tapB $B "$work/port1" 198.18.0.2
	pings $A 198.18.0.2 100
	iperf 5201 3
	mkdir "$work/www"
	head -c 200000 /dev/urandom >"$work/www/page.bin"
	echo "hello through vmsg" >"$work/www/index.html"
	start http ip netns exec $B python3 -m http.server -b 198.18.0.2 -d "$work/www" 8080
	wait_for 15 ip netns exec $A curl -sf -o /dev/null --max-time 2 http://198.18.0.2:8080/ ||
		fail "no HTTP server"
	got=$(ip netns exec $A curl -sf --max-time 10 http://198.18.0.2:8080/index.html)
	[ "$got" = "hello through vmsg" ] || fail "curl got '$got'"
	ip netns exec $A curl -sf --max-time 20 -o "$work/got.bin" http://198.18.0.2:8080/page.bin
	cmp "$work/www/page.bin" "$work/got.bin" || fail "curl: the page differs"
	echo "curl: index.html and a 200 kB page, intact"
	stats sw
	[ "$(counter sw macs)" -ge 2 ] || fail "the switch learnt no MACs"
	;;
firewall)
	app=fw
	start fw "$firewall" dir="$work" tcp=5201
	wait_for 10 test -S "$work/port1" || fail "firewall not serving"
	bridge tapA $A "$work/port0" 198.18.0.1 # outside
	bridge tapB $B "$work/port1" 198.18.0.2 # inside
	pings $A 198.18.0.2 20
	iperf 5201 3
	before=$(counter fw drop_policy firewall)
	start nc5202 ip netns exec $B python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('198.18.0.2', 5202)); s.listen(); time.sleep(60)"
	wait_for 10 ip netns exec $B sh -c "ss -ltn | grep -q :5202" || fail "no listener on 5202"
	if ip netns exec $A curl -s --connect-timeout 3 -o /dev/null http://198.18.0.2:5202/; then
		fail "a TCP connection to 5202 went through the firewall"
	fi
	rc=0
	ip netns exec $A curl -s --connect-timeout 3 -o /dev/null http://198.18.0.2:5202/ || rc=$?
	[ $rc = 28 ] || fail "to 5202: curl exit $rc, not a timeout (28)"
	after=$(counter fw drop_policy firewall)
	echo "TCP to 5202: timed out; firewall drop_policy $before -> $after"
	[ "$after" -gt "$before" ] || fail "the refused SYNs were not counted"
	stats fw
	;;
hostile)
	app=sw
	start sw "$l2switch" dir="$work" ports=3
	wait_for 10 test -S "$work/port2" || fail "switch not serving"
	bridge tapA $A "$work/port0" 198.18.0.1
	bridge tapB $B "$work/port1" 198.18.0.2
	start flood "$flood" "$work/port2" link 4
	sleep 0.5
	pings $A 198.18.0.2 100
	wait "$pid_flood" || fail "net_flood failed"
	cat "$work/flood.log"
	line=$(stats sw | grep "port2")
	echo "$line"
	for f in runt big early bad_hello unknown; do
		v=$(echo "$line" | tr ' ' '\n' | sed -n "s/^$f=//p")
		[ "${v:-0}" -gt 0 ] || fail "port2: no $f drops counted"
	done
	[ "$(counter sw filtered l2switch)" -gt 0 ] || fail "nothing filtered"
	pings $A 198.18.0.2 20
	# The firewall: a flood of broken IPv4 on the outside port.
	kill "$pid_sw" "$pid_tapA" "$pid_tapB"
	wait "$pid_sw" "$pid_tapA" "$pid_tapB" 2>/dev/null || true
	app=fw
	start fw "$firewall" dir="$work" tcp=5201
	wait_for 10 test -S "$work/port1" || fail "firewall not serving"
	bridge tapB $B "$work/port1" 198.18.0.2
	start flood2 "$flood" "$work/port0" ip 3
	wait "$pid_flood2" || fail "net_flood (ip) failed"
	cat "$work/flood2.log"
	line=$(stats fw | grep "^firewall ")
	echo "$line"
	for f in drop_runt drop_bad_header drop_bad_checksum drop_fragment drop_ethertype drop_bad_arp; do
		v=$(echo "$line" | tr ' ' '\n' | sed -n "s/^$f=//p")
		[ "${v:-0}" -gt 0 ] || fail "firewall: no $f counted"
	done
	v=$(echo "$line" | tr ' ' '\n' | sed -n "s/^pass_new=//p")
	[ "$v" = 0 ] || fail "firewall passed $v hostile packets"
	# A's bridge takes the outside port again: traffic flows.
	wait_for 10 test -S "$work/port0" || fail "port0 not reopened"
	bridge tapA2 $A "$work/port0" 198.18.0.1
	pings $A 198.18.0.2 20
	;;
restart)
	app=sw
	start sw "$l2switch" dir="$work" ports=2
	wait_for 10 test -S "$work/port1" || fail "switch not serving"
	bridge tapA $A "$work/port0" 198.18.0.1
	bridge tapB $B "$work/port1" 198.18.0.2
	pings $A 198.18.0.2 20
	for round in 1 2; do
		kill -9 "$pid_sw"
		wait "$pid_sw" 2>/dev/null || true
		for t in tapA tapB; do
			wait_for 10 sh -c "test \$(grep -c 'link down' '$work/$t.log') -ge $round" ||
				fail "$t never saw the link go down"
		done
		wait_for 10 sh -c "ip -n $A link show eth1 | grep -q NO-CARRIER" ||
			fail "eth1 in A still has carrier"
		echo "round $round: switch killed, both bridges saw the link go down"
		if ip netns exec $A ping -c 1 -W 1 198.18.0.2 >/dev/null; then
			fail "a ping crossed a dead switch"
		fi
		start sw "$l2switch" dir="$work" ports=2
		for t in tapA tapB; do
			wait_for 15 sh -c "test \$(grep -c 'link up' '$work/$t.log') -ge $((round + 1))" ||
				fail "$t never came back up"
		done
		port_up port0
		port_up port1
		pings $A 198.18.0.2 20
	done
	kill -0 "$pid_tapA" "$pid_tapB" || fail "a bridge died"
	echo "bridges $pid_tapA and $pid_tapB ran throughout"
	;;
*)
	echo "unknown scenario $scenario" >&2
	exit 2
	;;
esac
echo "net_ns_$scenario: ok"
