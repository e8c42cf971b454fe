#!/usr/bin/env bash
# sim_run_log: tests/lib/sim.sh's sim_run empties its LOG before it
# returns. A test that starts a second process with the LOG of an earlier
# one and then waits for a line in it (nbd_sim's second provider: sim_wait
# grep "offers disk" blockd.log) must not find the earlier process's line:
# when the background command's own `>LOG` emptied it, that happened in the
# child whenever it got to run, and under load nbd_sim went on before its
# provider had even started (about 1 run in 25 with two busy loops). Here a
# look right after sim_run (a builtin, no fork) finds the old line in most
# tries when the LOG is emptied only by the child.
# usage: sim_run_log.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/../lib/sim.sh"
sim_init sim_run_log "$1"
sim_need "$xensim"
sim_start
log=$dir/run.log
for i in $(seq 20); do
	echo "stale line of an earlier process" >"$log"
	sim_run 1 "$log" sh -c 'sleep 0.2; echo "run '"$i"'"'
	line=
	read -r line <"$log" || true
	case $line in
	stale*) fail "try $i: right after sim_run the LOG still held the earlier process's line" ;;
	esac
	sim_reap "$sim_pid" || fail "try $i: the run failed"
	grep -qx "run $i" "$log" || fail "try $i: its output is not in the LOG: $(cat "$log")"
done
echo "ok: 20 of 20 sim_run calls emptied their LOG before returning"
exit 0
