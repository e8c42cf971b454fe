# tests/lib/copy_fails.sh: the kill-in-the-middle check the NBD tests share
# (sourced by tests/lib/nbd.sh and tests/lib/sim_nbd.sh; POSIX sh):
#   now_ms                      the clock in ms
#   copy_fails PID T0 LOG WHAT [PID...]
#       the nbdcopy PID (a child of this shell), whose link below was
#       killed at T0 (now_ms), must fail within a second of the kill.
#       A hang is ended after 10 s, with what each thread of PID (and of
#       the other PIDs) waits on, and fails the test as too slow. Prints
#       "ok: ..." with the time and LOG's first line (nbdcopy's stderr);
#       sets copy_rc (its exit status) and copy_ms.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
copy_fails() {
	cf_pid=$1 cf_t0=$2 cf_log=$3 cf_what=$4
	shift 4
	cf_ps="-p $cf_pid"
	for cf_p in "$@"; do cf_ps="$cf_ps -p $cf_p"; done
	( for _ in $(seq 100); do kill -0 "$cf_pid" 2>/dev/null || exit 0; sleep 0.1; done
	  if kill -0 "$cf_pid" 2>/dev/null; then
		echo "HANG: nbdcopy still running 10 s after the kill of $cf_what"
		# shellcheck disable=SC2086 # one word per option
		ps -L -o pid,tid,stat,wchan:32,comm $cf_ps
		kill -9 "$cf_pid"
	  fi ) & cf_wd=$!
	copy_rc=0; wait "$cf_pid" || copy_rc=$?
	wait "$cf_wd" 2>/dev/null || true
	copy_ms=$(( $(now_ms) - cf_t0 ))
	[ "$copy_rc" -ne 0 ] || fail "nbdcopy succeeded after the kill of $cf_what"
	[ "$copy_ms" -lt 1000 ] || fail "nbdcopy took $copy_ms ms to fail after the kill of $cf_what"
	echo "ok: nbdcopy failed (exit $copy_rc: $(head -n 1 "$cf_log")) $copy_ms ms after kill -9 of $cf_what"
}
