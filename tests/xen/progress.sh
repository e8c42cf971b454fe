# Progress of a boot under QEMU, for tests/xen/run-scenarios.sh and
# tests/guest/run-xen.sh (sourced): while QEMU runs, the milestones dom0
# prints on the serial log are repeated on our stdout as they appear,
# "PROG: [m:ss/limit] what", and a line every minute says that it is still
# running when dom0 has said nothing new. ctest shows a test's output only
# at its end, so each line also goes to $VMSG_PROGRESS_LOG when that is
# set: scripts/test.sh sets it and shows that file live during the
# real-Xen pass. The lines start with "PROG:", so the verdicts, which are
# read from the serial log and never from this output, are unaffected.

# progress_start PROG LIMIT_S: start the clock.
progress_start() {
	prog_name=$1 prog_limit=$2 prog_t0=$SECONDS prog_seen=0 prog_said=$SECONDS
}

# progress MESSAGE...: one line, stamped with the time so far.
progress() {
	local t=$((SECONDS - prog_t0)) msg
	msg=$(printf '%s: [%d:%02d/%d:%02d] %s' "$prog_name" $((t / 60)) $((t % 60)) \
		$((prog_limit / 60)) $((prog_limit % 60)) "$*")
	echo "$msg"
	if [ -n "${VMSG_PROGRESS_LOG:-}" ]; then
		echo "$msg" >>"$VMSG_PROGRESS_LOG" || true
	fi
	prog_said=$SECONDS
}

# progress_poll SERIAL_LOG ERE [SED]: repeat the log's lines matching ERE
# that were not repeated yet (after the sed script SED, if given, which
# may rewrite them); say "still running" after a quiet minute.
progress_poll() {
	local log=$1 ere=$2 script=${3:-} lines line
	[ -f "$log" ] || return 0 # QEMU's output has not started yet
	lines=$(tr -d '\r' <"$log" | grep -aE "$ere" | tail -n +$((prog_seen + 1)) || true)
	if [ -n "$lines" ]; then
		prog_seen=$((prog_seen + $(printf '%s\n' "$lines" | wc -l)))
		[ -z "$script" ] || lines=$(printf '%s\n' "$lines" | sed -E "$script")
		while IFS= read -r line; do
			progress "$line"
		done <<<"$lines"
	elif [ $((SECONDS - prog_said)) -ge 60 ]; then
		progress "still running ($(wc -l <"$log") serial log lines)"
	fi
}
