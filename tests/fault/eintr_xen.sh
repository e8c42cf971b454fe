#!/usr/bin/env bash
# fault_eintr_xen: EINTR on every wait of the Xen backend on the simulated
# Xen: a lib/xen channel between dom0 (server) and dom1 (client), each
# process's main thread sent SIGUSR1 (a handler without SA_RESTART) every
# 100 us by a thread of its own (fault_chan with FAULT_EINTR=1), while the
# client sends 10000 messages of 0 bytes to several frames and checks every
# echo. Both sides must end with status 0, each having caught over a
# thousand signals.
# usage: eintr_xen.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/../lib/sim.sh"
sim_init fault_eintr_xen "$1"
chan=$build/tests/fault_chan
sim_need "$xensim" "$chan"
sim_start
sim_run 1 "$dir/anchor.log" sleep 3600 # domain 1 lives through it all
path=/local/domain/0/data/vchan/1/eintr
export FAULT_EINTR=1 FAULT_MSGS=10000
"$xensim" run --domid 0 -- "$chan" server xen "$path" "$dir/stop" 1 \
	>"$dir/srv.log" 2>&1 &
spid=$!
sim_track "$spid"
sim_wait 10 grep -q '^ready' "$dir/srv.log" || fail "no server"
timeout 120 "$xensim" run --domid 1 -- "$chan" client xen "$path" 0 \
	>"$dir/cli.log" 2>&1
st=$?
[ "$st" = 0 ] || touch "$dir/stop"
sim_reap "$spid"
sst=$?
cat "$dir/srv.log" "$dir/cli.log"
[ "$st" = 0 ] || fail "the client: status $st"
[ "$sst" = 0 ] || fail "the server: status $sst"
grep -q '^fault_chan: client: 10000 messages echoed' "$dir/cli.log" ||
	fail "the client did not echo all"
for f in srv cli; do
	n=$(sed -n 's/^fault_chan: .*: \([0-9]*\) signals caught/\1/p' "$dir/$f.log")
	[ "${n:-0}" -ge 1000 ] || fail "$f: only ${n:-0} signals caught"
done
echo "fault_eintr_xen: 10000 messages echoed under a signal every 100 us on both sides"
