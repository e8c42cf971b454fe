#!/usr/bin/env bash
# net_ns_vmsgd: the switch as a service through vmsgd on the simulated Xen.
# dom1 runs the switch's SDK build, l2switch-appliance service=switch
# (direct mode: the data never passes vmsgd); dom2 and dom3 each run vmsg-tap --service switch with its TAP
# device in a namespace of its own (198.18.0.0/24, no route out). Checked:
# 20 pings and 2 s of iperf3 TCP across; a bridge stopped and started
# again: its port goes and comes back (a new channel, the switch's log
# names the domain twice) and traffic flows again; dom4, which the policy
# does not let open the switch, gets no port.
# usage: netns_vmsgd.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/pings.sh"
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: network namespaces and TAP devices need root"
	exit 77
fi
sim_init net_ns_vmsgd "$1"
tap=$build/tools/vmsg-tap/vmsg-tap
l2switch=$build/examples/netapp/l2switch-appliance
sim_need "$xensim" "$vmsgd" "$tap" "$l2switch"
A=vmsgvA$$ B=vmsgvB$$
sim_cleanup_hook() { # the namespaces, and anything left in them
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

cat >"$dir/vmsgd.conf" <<EOF
[daemon]
control_socket = $dir/vmsgd.sock

[service switch]
offer = 1
open = 2,3
mode = direct
EOF
sim_start
sim_vmsgd "$dir/vmsgd.conf"

sim_run 1 "$dir/sw.log" "$l2switch" service=switch ports=4 stats=1
sw_pid=$sim_pid
sim_wait 10 grep -q "offering switch" "$dir/sw.log" || fail "the switch offered nothing"

bridge() { # NAME DOMID NS ADDR
	# A fixed MAC per domain, as a guest's vif has: the peer's ARP cache
	# stays right when the bridge comes back with a new device.
	sim_run "$2" "$dir/$1.log" "$tap" --service switch --netns "$3" --dev eth1 \
		--mac "02:00:5e:00:00:0$2"
	eval "pid_$1=$sim_pid"
	sim_wait 15 grep -q "link up" "$dir/$1.log" || fail "$1: link never up"
	ip -n "$3" addr add "$4/24" dev eth1 || fail "no eth1 in $3"
	# Both ends up (each judges on its own, docs/net.md): the switch
	# says the domain's port is up, after it took the channel.
	local port
	port=$(grep "domain $2\$" "$dir/sw.log" | tail -1 | sed 's/.*port \([0-9]*\):.*/\1/')
	# (after the last line that gave the port to this domain: a port
	# given again says "link up" again)
	sim_wait 10 awk -v took="port $port: domain $2" -v up="port $port: link up" '
		index($0, took) && substr($0, length($0) - length(took) + 1) == took { seen = 1; ok = 0; next }
		seen && index($0, up) { ok = 1 }
		END { exit !ok }' "$dir/sw.log" || fail "the switch never saw port $port up"
}
bridge tapA 2 $A 198.18.0.1
bridge tapB 3 $B 198.18.0.2
pings $A 198.18.0.2 20 0.02
ip netns exec $B iperf3 -s -1 -p 5201 >"$dir/iperf3s.log" 2>&1 &
sim_track $!
sim_wait 10 ip netns exec $B sh -c "ss -ltn | grep -q :5201" || fail "no iperf3 server"
out=$(timeout 60 ip netns exec $A iperf3 -c 198.18.0.2 -p 5201 -t 2 -f m) || fail "iperf3: $out"
echo "$out" | grep -E "sender|receiver"

# B's bridge goes (its port with it) and comes back on a new channel.
kill -TERM "$pid_tapB"
sim_reap "$pid_tapB" 2>/dev/null
# The new bridge is a new domain 3 (as a rebooted guest would be a new
# domain): once vmsgd has seen the old one end. Started at once, the
# simulator could reuse the id before vmsgd noticed the first end (Xen
# does not reuse a domid until its id space wraps); the new domain then
# went unserved in 1 run of about 6 under load (vmsgd_domid_reuse
# exercises quick reuse on its own).
sim_wait 15 grep -q "domain 3: gone" "$dir/vmsgd.log" || fail "vmsgd did not see domain 3 end"
bridge tapB2 3 $B 198.18.0.2
[ "$(grep -c 'domain 3' "$dir/sw.log")" -ge 2 ] || fail "the switch never took dom3's second channel"
pings $A 198.18.0.2 20 0.02
echo "dom3's bridge left and came back on a new channel: no loss"

# dom4 may not open the switch: its bridge never gets a port.
# (its device is in the machine's namespace: a name of this run's own)
sim_run 4 "$dir/tap4.log" "$tap" --service switch --dev vx$$ --retry-ms 500
sleep 3
grep -q "domain 4" "$dir/sw.log" && fail "dom4 got a port"
grep -q "link up" "$dir/tap4.log" && fail "dom4's link came up"
grep -q "policy" "$dir/tap4.log" || fail "dom4's bridge does not say the policy refused it"
cat "$dir/tap4.log"
sleep 1.2 # stats=1: the counters of the last second
grep "^l2switch" "$dir/sw.log" | tail -6
echo "net_ns_vmsgd: ok"
