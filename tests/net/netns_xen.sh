#!/usr/bin/env bash
# net_ns_xen: the appliances' SDK builds with direct Xen channels to dom0,
# on the simulated Xen, as the real-Xen wiring is (docs/network.md): the
# appliance in dom1 serves port=xen:0:net0,xen:0:net1; in dom0 two
# `vmsg-tap --xen 1 --port netN` bridges, each with its TAP device in a
# namespace of its own (198.18.0.0/24, no route out). No vmsgd: dom0's
# ends are direct channels.
#   the switch (l2switch-appliance): 50 pings (p50 printed) and 2 s of
#     iperf3 TCP across; B's bridge replaced: net1 is served again (link
#     down, then up) and carries traffic; kill -9 of the switch: both bridges see the link
#     go down, no ping crosses; a new switch carries traffic again with
#     the same bridges;
#   the firewall (firewall-appliance tcp=5201, net0 the outside): the same
#     bridges; ping passes, iperf3 to 5201 passes, a TCP connection to
#     5202 times out and the firewall's drop_policy counter grows.
# usage: netns_xen.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/pings.sh"
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: network namespaces and TAP devices need root"
	exit 77
fi
sim_init net_ns_xen "$1"
tap=$build/tools/vmsg-tap/vmsg-tap
sw=$build/examples/netapp/l2switch-appliance
fw=$build/examples/netapp/firewall-appliance
sim_need "$xensim" "$tap" "$sw" "$fw"
command -v iperf3 >/dev/null || { echo "SKIP: no iperf3"; exit 77; }
A=vmsgxA$$ B=vmsgxB$$
sim_cleanup_hook() {
	ip netns pids $A 2>/dev/null | xargs -r kill -9 2>/dev/null
	ip netns pids $B 2>/dev/null | xargs -r kill -9 2>/dev/null
	ip netns del $A 2>/dev/null
	ip netns del $B 2>/dev/null
}
ip netns add $A || fail "ip netns add"
ip netns add $B || fail "ip netns add"
for ns in $A $B; do
	ip -n $ns link set lo up
	ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip netns exec $ns sysctl -qw net.ipv6.conf.default.disable_ipv6=1
done
sim_start

# appliance NAME CMD...: the appliance in dom1, its log $dir/NAME.log;
# $app_pid is the appliance's own pid (its `xensim run` is $sim_pid).
appliance() {
	local name=$1
	shift
	sim_run 1 "$dir/$name.log" "$@" port=xen:0:net0,xen:0:net1 stats=1
	app_run=$sim_pid
	sim_wait 10 grep -q "running" "$dir/$name.log" || fail "$name did not start"
	app_pid=$(pgrep -P "$app_run" | head -1)
	[ -n "$app_pid" ] || fail "no $name process"
}
# links_up NAME N: the appliance's log says "link up" N times per port.
links_up() {
	local p
	for p in 0 1; do
		sim_wait 15 sh -c "test \$(grep -c 'port $p: link up' '$dir/$1.log') -ge $2" ||
			fail "$1: port $p never came up ($2)"
	done
}
# counter LOG FIELD: FIELD=N in the latest counters of the appliance's
# own (the line that starts with its name) in $dir/LOG.log.
counter() {
	grep -E "^(l2switch|firewall) [a-z]" "$dir/$1.log" | tail -1 | tr ' ' '\n' |
		sed -n "s/^$2=//p"
}
iperf() { # PORT: 2 s of TCP from A to a server in B
	ip netns exec $B iperf3 -s -1 -p "$1" >"$dir/iperf3s.log" 2>&1 &
	sim_track $!
	sim_wait 10 ip netns exec $B sh -c "ss -ltn | grep -q :$1" || fail "no iperf3 server"
	local out
	out=$(timeout 60 ip netns exec $A iperf3 -c 198.18.0.2 -p "$1" -t 2 -f m) ||
		fail "iperf3: $out"
	echo "$out" | grep -E "sender|receiver"
	echo "$out" | grep receiver | awk '{ if ($7 <= 0) exit 1 }' || fail "iperf3 moved nothing"
}

appliance sw "$sw" ports=2
# dom0's bridges: a fixed MAC each, as a guest's vif has.
for x in "tapA $A 198.18.0.1 net0 1" "tapB $B 198.18.0.2 net1 2"; do
	set -- $x
	sim_run 0 "$dir/$1.log" "$tap" --xen 1 --port "$4" --netns "$2" --dev eth1 \
		--mac "02:00:5e:00:01:0$5" --retry-ms 100
	eval "pid_$1=$sim_pid"
	sim_wait 15 grep -q "link up" "$dir/$1.log" || fail "$1: link never up"
	ip -n "$2" addr add "$3/24" dev eth1 || fail "no eth1 in $2"
done
links_up sw 1
pings $A 198.18.0.2 50 0.02
iperf 5201

# B's bridge leaves and a new one comes: the switch serves net1 again at
# the same path (link down, then up) and traffic flows.
kill -TERM "$pid_tapB"
sim_reap "$pid_tapB" 2>/dev/null
sim_wait 10 grep -q "port 1: link down" "$dir/sw.log" || fail "the switch never saw port 1 go down"
sim_run 0 "$dir/tapB2.log" "$tap" --xen 1 --port net1 --netns $B --dev eth1 \
	--mac 02:00:5e:00:01:02 --retry-ms 100
pid_tapB=$sim_pid
sim_wait 15 grep -q "link up" "$dir/tapB2.log" || fail "tapB2: link never up"
ip -n $B addr add 198.18.0.2/24 dev eth1 || fail "no eth1 in $B"
sim_wait 15 sh -c "test \$(grep -c 'port 1: link up' '$dir/sw.log') -ge 2" ||
	fail "the switch never saw port 1 up again"
pings $A 198.18.0.2 20 0.02
echo "B's bridge left and a new one came: net1 served again"

# kill -9 of the switch: the bridges' links go down; a new switch at the
# same paths brings them up again, the bridges never restarted.
kill -9 "$app_pid"
sim_reap "$app_run" 2>/dev/null
for t in tapA tapB2; do
	sim_wait 10 grep -q "link down" "$dir/$t.log" || fail "$t never saw the link go down"
done
sim_wait 10 sh -c "ip -n $A link show eth1 | grep -q NO-CARRIER" || fail "eth1 in A kept its carrier"
ip netns exec $A ping -c 1 -W 1 198.18.0.2 >/dev/null && fail "a ping crossed a dead switch"
echo "switch killed: both bridges saw the link go down"
appliance sw2 "$sw" ports=2
links_up sw2 1
for t in tapA tapB2; do
	sim_wait 15 sh -c "test \$(grep -c 'link up' '$dir/$t.log') -ge 2" || fail "$t never came back up"
done
pings $A 198.18.0.2 20 0.02
echo "a new switch carries traffic; the bridges ran throughout"
grep "^l2switch" "$dir/sw2.log" | tail -3

# The firewall on the same paths: net0 (A) the outside, net1 (B) inside.
kill -TERM "$app_run"
sim_reap "$app_run" 2>/dev/null
appliance fw "$fw" tcp=5201
links_up fw 1
pings $A 198.18.0.2 20 0.02
iperf 5201
ip netns exec $B python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('198.18.0.2', 5202)); s.listen(); time.sleep(60)" >/dev/null 2>&1 &
sim_track $!
sim_wait 10 ip netns exec $B sh -c "ss -ltn | grep -q :5202" || fail "no listener on 5202"
sleep 1.5 # a stats line after the iperf3 run
before=$(counter fw drop_policy)
rc=0
ip netns exec $A timeout 10 python3 -c "
import socket, sys
s = socket.socket(); s.settimeout(3)
try:
    s.connect(('198.18.0.2', 5202))
except socket.timeout:
    sys.exit(28)
sys.exit(0)" || rc=$?
[ $rc = 28 ] || fail "TCP to 5202: status $rc, not a timeout (28: 0 means it connected)"
[ -n "$before" ] || fail "no firewall counters in fw.log"
end=$((SECONDS + 5))
until after=$(counter fw drop_policy); [ "${after:-0}" -gt "$before" ]; do
	[ $SECONDS -lt $end ] || fail "the refused SYNs were not counted (drop_policy $before)"
	sleep 0.2
done
echo "TCP to 5202: timed out; firewall drop_policy $before -> $after"
grep "^firewall " "$dir/fw.log" | tail -1
kill -0 "$pid_tapA" "$pid_tapB" || fail "a bridge died"
echo "net_ns_xen: ok"
