#!/usr/bin/env bash
# guest_appliance_sim: the echo appliance's source (examples/echo-unikernel/
# echo.c), built as a Linux program over the SDK's Linux target, on the
# simulated Xen with vmsgd in dom0 (direct mode). Its vmsgd client is
# lib/service, the one the unikernel links too (one client core, so one
# test of it for both worlds; guest_xen runs the unikernel on real Xen):
#   1. dom1 `vmsgd=1 svc=echo cksum=1` offers echo through vmsgd; dom2
#      `open=echo` opens it and exchanges 300 typed messages of 1..40000
#      bytes, every echo checked ("OPEN ok"); the provider reports the
#      channel and names the consumer. What crossed the channel is checked
#      against an independent source: `cksum` of the records that
#      guest-echo-pattern (tests/guest/echo_pattern.c) writes must equal
#      the CRC the provider printed of the channel's records as it
#      received them, and the CRC the consumer printed of the echoes.
#   2. a second consumer (dom3) is refused by the policy with vmsgd's text.
#   3. the provider process itself (not the `xensim run` in front of it) is
#      killed (SIGKILL) mid-stream of a long exchange: its wrapper reports
#      the kill (status 137), and the consumer reports "OPEN closed" (it
#      saw the close), not a hang.
# Then vmsgd is killed (SIGKILL) and started again while
# the provider waits for consumers and a consumer pauses between two opens
# on one control channel; the provider's vmsgd client reaches the new
# vmsgd and offers echo again by itself (vmsgctl lists it), the consumer's
# second open reaches the new vmsgd and checks out, and so does a new
# consumer's.
# Then fan-out: 8 consumers at once served by one provider from one wait
# set, and a layer that is a provider and a consumer at once (fan_out).
# No step is retried: a failure of the client is a failure.
# usage: appliance_sim.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/../lib/sim.sh"
[ -x "$1/sim/xenstored/vmsg-xenstored" ] || { echo "no vmsg-xenstored: skip"; exit 77; }
SIM_LOG_LINES=25
sim_init appliance_sim "$1"
app=$build/examples/echo-unikernel/echo-appliance
pattern=$build/tests/guest/guest-echo-pattern
sim_need "$xensim" "$vmsgd" "$vmsgctl" "$app" "$pattern"
wait_for() { # PATTERN FILE-or-command...
	local pat=$1
	shift
	for _ in $(seq 300); do
		if "$@" 2>/dev/null | grep -q -- "$pat"; then return 0; fi
		sleep 0.1
	done
	fail "timed out waiting for '$pat' from $*"
}

cat >"$dir/vmsgd.conf" <<EOF
[daemon]
log_level = info
control_socket = $dir/vmsgd.sock

[service echo]
offer = 1
open = 2
mode = direct
max_channels_per_domain = 2
ring_size = 65536
max_msg = 65536

[service fan]
offer = 1
open = *
mode = direct
ring_size = 65536
max_msg = 65536

[service layer]
offer = 4
open = *
mode = direct
ring_size = 65536
max_msg = 65536
EOF
sim_start
start_vmsgd() { # [LOG]
	sim_vmsgd "$dir/vmsgd.conf" "${1:-vmsgd.log}"
	wait_for DOMID ctl list domains
}
start_vmsgd

# The CRC and length of the 300 records an exchange sends, as `cksum`
# prints them: the independent source the exchanges are checked against.
want=$("$pattern" 300 40000 | cksum) || fail "guest-echo-pattern | cksum"

# channels_done LOG: how many channels the provider has finished.
channels_done() { grep -c '^ECHO channel .* done: ' "$1"; }

# check_channel LOG N: the provider's Nth channel (from 1) carried the 300
# records, as it received them.
check_channel() {
	local line
	for _ in $(seq 300); do [ "$(channels_done "$1")" -ge "$2" ] && break; sleep 0.1; done
	line=$(grep '^ECHO channel .* done: ' "$1" | sed -n "${2}p")
	[[ $line == *" 300 messages, received cksum $want" ]] ||
		fail "the provider's record of its channel $2: [$line], want 300 messages, cksum $want"
}

# check_echoes LOG: every "OPEN ok" of the consumer's LOG received the
# 300 records back.
check_echoes() {
	local got
	got=$(sed -n 's/^OPEN ok 300 messages.* received cksum \([0-9]* [0-9]*\),.*/\1/p' "$1" | sort -u)
	[ "$got" = "$want" ] || fail "the echoes the consumer received: cksum [$got], want [$want]"
}

# exchange CONSUMER LOG PROVIDER_LOG: 300 echoed messages on a new channel;
# both directions checked against $want.
exchange() {
	local st n
	n=$(($(channels_done "$3") + 1))
	"$xensim" run --domid 2 -- "$1" open=echo count=300 size=40000 >"$2" 2>&1
	st=$?
	cat "$2"
	[ "$st" -eq 0 ] || fail "consumer exited $st"
	grep -q '^OPEN ok 300 messages' "$2" || fail "no OPEN ok"
	check_echoes "$2"
	check_channel "$3" "$n"
}

# start_provider PROGRAM LOG: offer echo from dom1; the pid of its `xensim
# run` in $ppid.
start_provider() {
	sim_run 1 "$2" "$1" vmsgd=1 svc=echo cksum=1
	ppid=$sim_pid
	wait_for "offering 'echo'" cat "$2"
}

# child_of PID: the process `xensim run` PID runs (its only child).
child_of() {
	local c
	c=$(pgrep -P "$1") || { echo "xensim run $1 has no child" >&2; return 1; }
	[ "$(echo "$c" | wc -l)" -eq 1 ] || { echo "xensim run $1 has children $c" >&2; return 1; }
	echo "$c"
}

# scenario PROVIDER CONSUMER WHAT
scenario() {
	local prov=$1 cons=$2 what=$3 ppid cpid st victim
	# 1. provider and consumer, both the appliance's source.
	start_provider "$prov" "$dir/provider.log"
	exchange "$cons" "$dir/consumer.log" "$dir/provider.log"
	grep -q "domain 2 opened 'echo'" "$dir/provider.log" || fail "provider did not name the consumer"
	echo "appliance_sim: $what: exchange ok (both ways: cksum $want)"

	# 2. the policy: dom3 may not open echo.
	"$xensim" run --domid 3 -- "$cons" open=echo count=1 >"$dir/denied.log" 2>&1
	grep -q "OPEN 'echo' refused: .*domain 3 may not open it (policy)" "$dir/denied.log" ||
		{ cat "$dir/denied.log"; fail "dom3 was not refused by the policy"; }
	echo "appliance_sim: $what: dom3 refused by the policy"

	# 3. the provider dies mid-stream; the consumer must see the close.
	sim_run 2 "$dir/consumer2.log" "$cons" open=echo count=1000000 size=4000
	cpid=$sim_pid
	wait_for "first echo" cat "$dir/consumer2.log"
	sleep 0.5
	victim=$(child_of "$ppid") || fail "no provider process under its xensim run $ppid"
	kill -KILL "$victim"
	sim_reap "$ppid"
	st=$?
	[ "$st" -eq 137 ] || fail "the provider's xensim run exited $st, want 137 (its command killed by SIGKILL)"
	! kill -0 "$victim" 2>/dev/null || fail "the provider ($victim) is still running"
	for _ in $(seq 600); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$cpid" 2>/dev/null; then
		kill "$cpid"
		fail "the consumer did not see the provider's death within 60 s"
	fi
	sim_reap "$cpid"
	st=$?
	cat "$dir/consumer2.log"
	grep -q '^OPEN closed at message' "$dir/consumer2.log" || fail "no OPEN closed"
	[ "$st" -eq 3 ] || fail "consumer exit status $st, want 3 (closed)"
	echo "appliance_sim: $what: the consumer saw the provider's death"
}

# restart PROVIDER CONSUMER WHAT: vmsgd restarts under a provider waiting
# for consumers and a consumer pausing between two opens (again=6000, on
# one control channel); both find the new vmsgd by themselves.
restart() {
	local prov=$1 cons=$2 what=$3 ppid cpid st daemon
	start_provider "$prov" "$dir/provider3.log"
	sim_run 2 "$dir/consumer3.log" "$cons" open=echo count=300 size=40000 again=6000
	cpid=$sim_pid
	wait_for "OPEN again in" cat "$dir/consumer3.log"
	# vmsgd itself, not the `xensim run` in front of it (SIGKILL is not
	# forwarded, and dom0 outlives its processes).
	daemon=$(pgrep -P "$vmsgd_pid" -x vmsgd) || fail "no vmsgd under $vmsgd_pid"
	kill -KILL "$daemon"
	sim_reap "$vmsgd_pid" 2>/dev/null
	start_vmsgd vmsgd-restarted.log
	wait_for '"name":"echo","provider":1' ctl --json list services
	kill -0 "$ppid" 2>/dev/null || fail "the provider exited when vmsgd went away"
	sim_reap "$cpid"
	st=$?
	cat "$dir/consumer3.log"
	[ "$st" -eq 0 ] || fail "consumer exited $st"
	[ "$(grep -c '^OPEN ok 300 messages' "$dir/consumer3.log")" -eq 2 ] ||
		fail "not two OPEN ok"
	check_echoes "$dir/consumer3.log"
	check_channel "$dir/provider3.log" 1
	check_channel "$dir/provider3.log" 2
	# The second open went through the new vmsgd (the old one was dead
	# before the consumer's pause ended).
	grep -q "domain 2 -> 'echo'" "$dir/vmsgd-restarted.log" ||
		fail "the second open did not reach the restarted vmsgd"
	exchange "$cons" "$dir/consumer4.log" "$dir/provider3.log"
	echo "appliance_sim: $what: vmsgd restarted; echo offered again, open sent again, both served"
	kill -TERM "$ppid" 2>/dev/null
	sim_reap "$ppid" 2>/dev/null
}

# fan_out PROGRAM: one provider (dom1, service fan) and 8 consumers
# (doms 10..17) at once, each 300 checked messages; the provider served
# them from one wait set, all 8 open at the same time (gate=8: it echoes
# nothing until it holds 8, so no consumer can finish before the last
# comes), and each of the 8 carried the 300 records. Then a layer (dom4, service layer, forward=fan)
# is a provider and a consumer at once: dom18 opens layer, the layer opens
# fan for it and passes every message on and every echo back.
fan_out() {
	local app=$1 i st line max=0 cur=0 fpid lpid cp=()
	sim_run 1 "$dir/fan.log" "$app" vmsgd=1 svc=fan cksum=1 clients=9 gate=8
	fpid=$sim_pid
	wait_for "offering 'fan'" cat "$dir/fan.log"
	for i in $(seq 10 17); do
		sim_run "$i" "$dir/fan-c$i.log" "$app" open=fan count=300 size=40000
		cp+=($sim_pid)
	done
	for i in "${!cp[@]}"; do
		sim_reap "${cp[i]}" || { cat "$dir/fan-c$((i + 10)).log"; fail "fan consumer $((i + 10)) failed"; }
		check_echoes "$dir/fan-c$((i + 10)).log"
	done
	for i in $(seq 1 8); do check_channel "$dir/fan.log" "$i"; done
	# The most channels the provider held at once, from its log's order.
	while IFS= read -r line; do
		case $line in
		*" opened 'fan'") cur=$((cur + 1)); [ $cur -gt $max ] && max=$cur ;;
		*" done: "*) cur=$((cur - 1)) ;;
		esac
	done < <(grep '^ECHO channel ' "$dir/fan.log")
	[ "$max" -eq 8 ] || fail "the provider never held the 8 channels at once (most: $max)"
	grep -q '^ECHO gate open: 8 channels open at once$' "$dir/fan.log" ||
		fail "the provider's gate did not open at 8 channels"
	echo "appliance_sim: fan-out: 8 consumers at once, each 300 records both ways (cksum $want); at most $max channels open together"

	sim_run 4 "$dir/layer.log" "$app" vmsgd=1 svc=layer forward=fan cksum=1 clients=1
	lpid=$sim_pid
	wait_for "offering 'layer' through vmsgd, forwarding to fan" cat "$dir/layer.log"
	"$xensim" run --domid 18 -- "$app" open=layer count=300 size=40000 >"$dir/layer-c.log" 2>&1 ||
		{ cat "$dir/layer-c.log"; fail "the layer's consumer failed"; }
	check_echoes "$dir/layer-c.log"
	check_channel "$dir/layer.log" 1
	check_channel "$dir/fan.log" 9
	grep -q "domain 4 opened 'fan'" "$dir/fan.log" || fail "the layer did not open fan as domain 4"
	sim_reap "$lpid" || fail "the layer exited $?"
	sim_reap "$fpid" || fail "the fan provider exited $?"
	echo "appliance_sim: layer: dom4 provider of layer and consumer of fan at once, 300 records through both (cksum $want)"
}

scenario "$app" "$app" "provider and consumer"
restart "$app" "$app" "provider and consumer"
fan_out "$app"
echo "appliance_sim: ok"
