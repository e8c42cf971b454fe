#!/usr/bin/env bash
# The network benchmark of issue 14 (not a test): iperf3 TCP throughput
# (SECONDS, default 10) and ping p50 (200 pings, 10 ms apart) between two
# network namespaces through
#   veth      a veth pair: the kernel's own path
#   tapfwd    two TAP devices and a process copying between them
#   switch    vmsg-tap -> l2switch -> vmsg-tap (host backend)
#   firewall  vmsg-tap -> firewall (tcp=5201) -> vmsg-tap (host backend)
#   switch-sim / firewall-sim  the same through vmsgd on the simulated Xen
#             (the appliances' SDK builds, l2switch-appliance and
#             firewall-appliance, in dom1, bridges in dom2 and dom3; direct
#             mode)
# As root, from the build tree:
#   bench/net/run.sh [--out DIR] [--cpus LIST] BUILD_DIR [SECONDS]
# --cpus LIST pins every process of the run (and the kernel work done in
# their system calls) to those CPUs, e.g. --cpus 0: see docs/benchmarks.md,
# "Where the processes run".
# Prints one line per path; one run, same machine, same moment. --out DIR
# also writes the run as a result set, DIR/net-HOST-DATE.json
# (bench/resultset.py; into the tree's bench/results/ it becomes what
# docs/benchmarks.md's network section reads).
set -euo pipefail
case ${1:-} in
-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
"" | -*) [ $# -gt 1 ] || { echo "usage: bench/net/run.sh [--out DIR] [--cpus LIST] BUILD_DIR [SECONDS]" >&2; exit 2; } ;;
esac
cmdline="bench/net/run.sh $*"
out=
cpus=
while [ $# -gt 1 ]; do
	case $1 in
	--out) out=$2; shift 2 ;;
	--cpus) cpus=$2; shift 2 ;;
	*) break ;;
	esac
done
if [ -n "$cpus" ]; then
	# Every process started from here on inherits this shell's CPUs.
	case $cpus in *[!0-9,-]*) echo "run.sh: --cpus $cpus: not a CPU list (0 or 0,1 or 0-1)" >&2; exit 2 ;; esac
	taskset -pc "$cpus" $$ >/dev/null || { echo "run.sh: --cpus $cpus: taskset refused it" >&2; exit 2; }
fi
B=$1 secs=${2:-10}
A=benchA$$ Bn=benchB$$
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
# The records bench/resultset.py reads: the start, then a line per path.
rec=$work/records
{
	echo "date $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "loadavg_start $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "rev $(git -C "$here" describe --always --dirty 2>/dev/null || echo unknown)"
	echo "seconds $secs"
	echo "command $cmdline"
	[ -z "$cpus" ] || echo "cpus $cpus"
} >"$rec"
pids=()
cleanup() {
	for p in "${pids[@]}" ${vmsgd_pid:-}; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}" ${vmsgd_pid:-}; do wait "$p" 2>/dev/null || true; done
	ip netns del $A 2>/dev/null || true
	ip netns del $Bn 2>/dev/null || true
	[ -n "${XENSIM_DIR:-}" ] && "$B/sim/bin/xensim" stop >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

setup_ns() {
	ip netns del $A 2>/dev/null || true
	ip netns del $Bn 2>/dev/null || true
	ip netns add $A
	ip netns add $Bn
	ip -n $A link set lo up
	ip -n $Bn link set lo up
}

addr() {
	for i in $(seq 100); do
		ip -n $A link show eth1 >/dev/null 2>&1 &&
			ip -n $Bn link show eth1 >/dev/null 2>&1 && break
		sleep 0.05
	done
	ip -n $A addr add 198.18.0.1/24 dev eth1
	ip -n $Bn addr add 198.18.0.2/24 dev eth1
	ip -n $A link set eth1 up
	ip -n $Bn link set eth1 up
	sleep 1
}

measure() {
	local name=$1 p50 mbit
	ip netns exec $A ping -c 5 -i 0.05 -w 10 198.18.0.2 >/dev/null
	p50=$(ip netns exec $A ping -c 200 -i 0.01 -w 30 198.18.0.2 |
		sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | sort -n | awk '{ v[NR] = $1 } END { printf "%.0f", v[int((NR + 1) / 2)] * 1000 }')
	ip netns exec $Bn iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
	pids+=($!)
	sleep 0.5
	mbit=$(ip netns exec $A iperf3 -c 198.18.0.2 -p 5201 -t "$secs" -f m |
		awk '/receiver/ { print $7 }')
	printf "%-10s %8s Mbit/s   ping p50 %5s us\n" "$name" "$mbit" "$p50"
	echo "net $name ${mbit:--} ${p50:--}" >>"$rec"
}

stop_all() { # what this path started (not vmsgd, which stays)
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}

echo "# iperf3 TCP ${secs} s, ping p50 of 200; $(nproc) cores; $(date -u +%FT%TZ)"
setup_ns
ip link add vb$$ type veth peer name vc$$
ip link set vb$$ netns $A name eth1
ip link set vc$$ netns $Bn name eth1
addr
measure veth
stop_all

setup_ns
"$B/bench/tapfwd" $A $Bn &
pids+=($!)
addr
measure tapfwd
stop_all

for app in switch firewall; do
	setup_ns
	if [ $app = switch ]; then
		"$B/examples/l2switch/l2switch" dir="$work" ports=2 2>/dev/null &
	else
		"$B/examples/firewall/firewall" dir="$work" tcp=5201 2>/dev/null &
	fi
	pids+=($!)
	sleep 0.3
	"$B/tools/vmsg-tap/vmsg-tap" -q --connect "$work/port0" --netns $A --dev eth1 &
	pids+=($!)
	"$B/tools/vmsg-tap/vmsg-tap" -q --connect "$work/port1" --netns $Bn --dev eth1 &
	pids+=($!)
	addr
	measure $app
	stop_all
done

# Through vmsgd on the simulated Xen (lib/xen over sim/'s libraries).
if [ -x "$B/sim/bin/xensim" ] && [ -x "$B/dom0/vmsgd" ]; then
	export XENSIM_DIR=$work/xensim
	mkdir -p "$XENSIM_DIR"
	printf '[daemon]\ncontrol_socket = %s\n\n[service net]\noffer = 1\nopen = 2,3\nmode = direct\n' \
		"$work/vmsgd.sock" >"$work/vmsgd.conf"
	"$B/sim/bin/xensim" start >/dev/null
	"$B/sim/bin/xensim" run --domid 0 -- "$B/dom0/vmsgd" --foreground --config "$work/vmsgd.conf" \
		>"$work/vmsgd.log" 2>&1 &
	vmsgd_pid=$!
	sleep 1
	for app in switch firewall; do
		setup_ns
		if [ $app = switch ]; then
			"$B/sim/bin/xensim" run --domid 1 -- "$B/examples/netapp/l2switch-appliance" service=net >/dev/null 2>&1 &
		else
			"$B/sim/bin/xensim" run --domid 1 -- "$B/examples/netapp/firewall-appliance" service=net tcp=5201 >/dev/null 2>&1 &
		fi
		pids+=($!)
		sleep 1
		"$B/sim/bin/xensim" run --domid 2 -- "$B/tools/vmsg-tap/vmsg-tap" -q --service net --netns $A --dev eth1 &
		pids+=($!)
		"$B/sim/bin/xensim" run --domid 3 -- "$B/tools/vmsg-tap/vmsg-tap" -q --service net --netns $Bn --dev eth1 &
		pids+=($!)
		addr
		measure $app-sim
		stop_all
		sleep 1
	done
	kill "$vmsgd_pid" 2>/dev/null
	wait "$vmsgd_pid" 2>/dev/null || true
fi
if [ -n "$out" ]; then
	python3 "$here/resultset.py" net "$rec" --out "$out" --build "$B"
fi
