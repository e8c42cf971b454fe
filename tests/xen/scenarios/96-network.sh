# The network appliances as PVH unikernels (examples/netapp, built with
# netapp_sdk.c; docs/network.md, "On Xen"):
#  1. the switch: unikernel `uksw` serves port=xen:0:net0,xen:0:net1 (direct
#     channels to dom0); in dom0 two `vmsg-tap --xen <uksw> --port netN`
#     bridges, each TAP device in a network namespace of its own
#     (198.18.0.0/24, no route out); 20 pings (p50 a figure) and 2 s of
#     iperf3 TCP across; then the same through bench/net/tapfwd between
#     two TAP devices (the benchmark's baseline, a figure beside the
#     switch's).
#  2. the firewall between a Linux PV guest and dom0: unikernel `ukfw`
#     (tcp=5201) has its outside on a direct channel to dom0 (a vmsg-tap
#     --xen bridge in a namespace) and offers service fwin through vmsgd
#     for its inside, which the PV guest opens with its own vmsg-tap
#     --service fwin (guest job nettap.sh: iperf3 servers on 5201 and
#     5202). Allowed: ping, iperf3 to 5201. Refused: a TCP connection to
#     5202 times out, and the firewall's drop_policy counter grows.
# timeout: 400
. /opt/vmsg/scenarios/lib.sh

SW=/boot/l2switch-unikernel.elf
FW=/boot/firewall-unikernel.elf
sock=/run/vmsgd.sock
conf=/tmp/vmsgd-net.conf
vlog=/tmp/vmsgd-net.log
[ -f "$SW" ] && [ -f "$FW" ] || fail "no $SW or $FW in the image (examples/netapp not built)"
command -v iperf3 >/dev/null || fail "no iperf3 in dom0"
modprobe tun || fail "modprobe tun"
A=netA B=netB
pids=()

# uk NAME ELF CMDLINE: create a network unikernel, paused; its domid.
uk() {
	cat >"/tmp/$1.cfg" <<-EOF
		name = "$1"
		type = "pvh"
		kernel = "$2"
		cmdline = "$3"
		memory = 32
		vcpus = 1
		on_crash = "preserve"
		on_reboot = "destroy"
		cpuid = "host,rdtscp=0"
		tsc_mode = "native"
	EOF
	rm -f "$CONSOLE_DIR/guest-$1.log"
	xl create -p "/tmp/$1.cfg" >"/tmp/$1.create" 2>&1 || { cat "/tmp/$1.create" >&2; return 1; }
	xl domid "$1"
}
uk_log() { tr -d '\r' <"$CONSOLE_DIR/guest-$1.log" 2>/dev/null; }
uk_wait() { # NAME PATTERN SECS
	for ((i = 0; i < $3 * 5; i++)); do
		uk_log "$1" | grep -aq -- "$2" && return 0
		sleep 0.2
	done
	return 1
}
why() { uk_log "$1" | tail -n 12 | sed 's/^/  | /'; xen_says "$(xl domid "$1" 2>/dev/null || echo x)" 4; }
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	for f in /tmp/tap*.log; do [ -f "$f" ] && sed "s|^|  [$(basename "$f" .log)] |" "$f" | tail -n 6; done
	[ -f "$vlog" ] && sed 's/^/  [vmsgd] /' "$vlog" | tail -n 10
	ip netns del $A 2>/dev/null
	ip netns del $B 2>/dev/null
	ip netns del tapfwdA 2>/dev/null
	ip netns del tapfwdB 2>/dev/null
	for d in uksw ukfw pvin; do xl destroy "$d" 2>/dev/null; done
}
die() { cleanup; fail "$*"; }
# bridge LOG NS ADDR MAC ARGS...: a dom0 vmsg-tap with eth1 in NS.
bridge() {
	local log=/tmp/$1.log ns=$2 addr=$3 mac=$4
	shift 4
	vmsg-tap "$@" --netns "$ns" --dev eth1 --mac "$mac" --retry-ms 200 >"$log" 2>&1 &
	pids+=($!)
	wait_file_grep "$log" "link up" 60 || die "$(basename "$log" .log): the link never came up"
	ip -n "$ns" addr add "$addr/24" dev eth1 || die "no eth1 in $ns"
}
# pings NS ADDR COUNT: no loss; sets $p50 (ms).
pings() {
	local out
	out=$(ip netns exec "$1" ping -c "$3" -i 0.2 -w 60 "$2" 2>&1) || die "ping $2: $(echo "$out" | tail -n 3)"
	echo "$out" | grep -q " 0% packet loss" || die "ping $2 lost packets: $(echo "$out" | tail -n 2)"
	p50=$(echo "$out" | sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | sort -n |
		awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	info "$(echo "$out" | tail -n 1), p50 $p50 ms"
}
# iperf NS ADDR PORT: 2 s of TCP; sets $mbits (the receiver's).
iperf() {
	local out
	out=$(timeout 60 ip netns exec "$1" iperf3 -c "$2" -p "$3" -t 2 -f m 2>&1) || die "iperf3 to $2:$3: $(echo "$out" | tail -n 3)"
	mbits=$(echo "$out" | awk '/receiver/ { print $7 }')
	info "iperf3 to $2:$3: $mbits Mbit/s"
	awk -v m="${mbits:-0}" 'BEGIN { exit !(m > 0) }' || die "iperf3 moved nothing"
}

# iperf_server NS TAG: a one-shot iperf3 server on 5201 in NS, listening.
iperf_server() {
	ip netns exec "$1" iperf3 -s -1 -p 5201 >"/tmp/iperf3-$2.log" 2>&1 &
	pids+=($!)
	for ((i = 0; i < 100; i++)); do
		ip netns exec "$1" ss -ltn | grep -q :5201 && return 0
		sleep 0.2
	done
	die "no iperf3 server in $1"
}

for ns in $A $B; do
	ip netns add $ns || die "ip netns add $ns"
	ip -n $ns link set lo up
	ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done

# ---- 1. the switch between two namespaces of dom0
t0=$(now)
dsw=$(uk uksw "$SW" "port=xen:0:net0,xen:0:net1 ports=2 stats=5") || die "cannot create uksw"
xl unpause uksw
uk_wait uksw "l2switch: running" 60 || { why uksw; die "the switch did not start"; }
info "switch unikernel domain $dsw up after $(elapsed "$t0") s ($(stat -c %s "$SW") bytes)"
bridge tapA $A 198.18.0.1 02:00:5e:00:03:01 --xen "$dsw" --port net0
bridge tapB $B 198.18.0.2 02:00:5e:00:03:02 --xen "$dsw" --port net1
uk_wait uksw "port 1: link up" 30 || { why uksw; die "the switch never saw port 1 up"; }
pings $A 198.18.0.2 20
sw_p50=$p50
iperf_server $B sw
iperf $A 198.18.0.2 5201
sw_mbits=$mbits
figure "switch_uk ping_p50_ms=$sw_p50 iperf3_mbits=$sw_mbits"
uk_wait uksw "^l2switch forwarded=" 10 || { why uksw; die "the switch printed no counters"; }
uk_log uksw | grep -a "^l2switch forwarded=" | tail -n 1 | sed 's/^/  | /'
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
pids=()

# The benchmark's baseline in the same boot (issue 14's "(b)": two TAP
# devices and bench/net/tapfwd copying frames between them, the least any
# TAP path costs), the same pings and iperf3: under emulation only the
# ratio to it says something.
command -v tapfwd >/dev/null || die "no tapfwd in dom0 (bench/ not built)"
V=tapfwdA W=tapfwdB
for ns in $V $W; do
	ip netns add $ns && ip -n $ns link set lo up || die "ip netns add $ns"
done
tapfwd $V $W >/tmp/tapfwd.log 2>&1 &
pids+=($!)
for ((i = 0; i < 100; i++)); do
	ip -n $W link show eth1 2>/dev/null | grep -q UP && break
	sleep 0.1
done
ip -n $V addr add 198.18.1.1/24 dev eth1 && ip -n $W addr add 198.18.1.2/24 dev eth1 ||
	die "tapfwd's devices: $(cat /tmp/tapfwd.log)"
pings $V 198.18.1.2 20
tf_p50=$p50
iperf_server $W tapfwd
iperf $V 198.18.1.2 5201
figure "tapfwd ping_p50_ms=$tf_p50 iperf3_mbits=$mbits"
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
pids=()
ip netns del $V; ip netns del $W
xl destroy uksw
info "switch: ping and iperf3 across, bridges stopped"

# ---- 2. the firewall between a PV guest (inside) and dom0 (outside)
cat >"$conf" <<-EOF
	[daemon]
	log_level = info
	control_socket = $sock

	[service fwin]
	offer = *
	open = *
	mode = direct
EOF
vmsgd --foreground --config "$conf" >"$vlog" 2>&1 &
pids+=($!)
for ((i = 0; i < 100; i++)); do
	vmsgctl --socket "$sock" list domains >/dev/null 2>&1 && break
	sleep 0.2
done
t1=$(now)
dfw=$(uk ukfw "$FW" "port=xen:0:outside service=fwin tcp=5201 stats=1") || die "cannot create ukfw"
xl unpause ukfw
uk_wait ukfw "firewall: running" 60 || { why ukfw; die "the firewall did not start"; }
info "firewall unikernel domain $dfw up after $(elapsed "$t1") s ($(stat -c %s "$FW") bytes)"
bridge tapO $A 198.18.0.1 02:00:5e:00:03:01 --xen "$dfw" --port outside
GUEST_MEM=160 guest_create pvin pv nettap fwin 198.18.0.2 120 >/dev/null || die "cannot create the PV guest"
guest_unpause pvin
uk_wait pvin "NETTAP ready" 120 || { guest_log pvin 20; die "the PV guest's bridge is not ready"; }
uk_wait ukfw "port 1: link up" 30 || { why ukfw; guest_log pvin 20; die "the firewall never saw its inside up"; }
info "PV guest pvin (domain $(xl domid pvin)) is the inside, through vmsgd"
pings $A 198.18.0.2 10
fw_p50=$p50
iperf $A 198.18.0.2 5201
fw_mbits=$mbits
sleep 1.5 # a counters line after the iperf3 run
counter() { uk_log ukfw | grep -a "^firewall pass_" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$1=//p"; }
before=$(counter drop_policy)
[ -n "$before" ] || { why ukfw; die "no firewall counters on its console"; }
# bash's /dev/tcp: a connect that nobody answers (the SYNs dropped) runs
# into timeout (124); a reset or a connection would end it sooner.
rc=0
ip netns exec $A timeout 4 bash -c 'exec 3<>/dev/tcp/198.18.0.2/5202' 2>/dev/null || rc=$?
[ $rc = 124 ] || die "TCP to 5202: status $rc, not a timeout (124; 0: it connected)"
rc=0
ip netns exec $A timeout 4 bash -c 'exec 3<>/dev/tcp/198.18.0.2/5201' 2>/dev/null || rc=$?
[ $rc = 0 ] || die "TCP to 5201 (allowed): status $rc"
for ((i = 0; i < 25; i++)); do
	after=$(counter drop_policy)
	[ "${after:-0}" -gt "$before" ] && break
	sleep 0.2
done
[ "${after:-0}" -gt "$before" ] || { why ukfw; die "the refused SYNs were not counted (drop_policy $before)"; }
info "TCP to 5202 timed out, 5201 connected; firewall drop_policy $before -> $after"
uk_log ukfw | grep -a "^firewall pass_" | tail -n 1 | sed 's/^/  | /'
figure "firewall_uk ping_p50_ms=$fw_p50 iperf3_mbits=$fw_mbits drop_policy=$after"
cleanup
pass
