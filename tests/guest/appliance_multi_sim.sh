#!/usr/bin/env bash
# guest_multi_sim: the echo appliance's multi=N mode (examples/echo-
# unikernel/echo.c: N channels served at once from one vmsg_waitset) as a
# Linux program on the simulated Xen, in domain 1; 8 dom0 clients
# (guest-echo-client: 100 round trips, then 1 MiB in 32 KiB messages,
# every echo compared) connect all at once, one per channel. Every client
# must check out, and the appliance must report all 8 clients done and
# exit 0. The unikernel build of the same source runs the same exchange on
# real Xen (tests/guest/dom0-init.sh, uk-multi).
# usage: appliance_multi_sim.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/../lib/sim.sh"
[ -x "$1/sim/xenstored/vmsg-xenstored" ] || { echo "no vmsg-xenstored: skip"; exit 77; }
SIM_LOG_LINES=25
sim_init appliance_multi_sim "$1"
app=$build/examples/echo-unikernel/echo-appliance
client=$build/tests/guest/guest-echo-client
n=8
sim_need "$xensim" "$app" "$client"

sim_start
sim_run 1 "$dir/app.log" "$app" multi=$n port=echo peer=0
app_pid=$sim_pid
sim_wait 30 grep -q '^MULTI serving' "$dir/app.log" || fail "the appliance does not serve"

cpids=()
for i in $(seq 0 $((n - 1))); do
	sim_run 0 "$dir/client$i.log" "$client" 1 /local/domain/1/data/vchan/0/echo$i \
		$((1 << 20))
	cpids+=($sim_pid)
done
for i in $(seq 0 $((n - 1))); do
	sim_reap "${cpids[i]}" || fail "client $i exited $?"
	grep -q '^ECHO-CLIENT ok' "$dir/client$i.log" || fail "client $i: no ECHO-CLIENT ok"
done
sim_reap "$app_pid"; st=$?
cat "$dir/app.log"
[ "$st" -eq 0 ] || fail "the appliance exited $st"
grep -q "^MULTI done: $n clients" "$dir/app.log" || fail "not all $n clients done"
echo "appliance_multi_sim: $n clients at once, each checked, from one wait set"
