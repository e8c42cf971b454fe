# What the key-value demos share (scripts/demo-sim.sh on the simulated Xen,
# scripts/demo-host.sh through vmsgd in host mode); each sources this file
# from its own directory after setting
#   dir        its private directory (logs, sockets)
#   demo_logs  the files in $dir to show when something fails
#   vmsgctl    the vmsgctl to call (ctl: with $dir/vmsgd.sock)
# and uses pids (background processes, in the order started) and failed.
pids=()
failed=0

say() { printf '\n---- %s\n' "$*"; }
fail() {
	echo "demo: FAILED: $*"
	failed=1
}
ctl() { "$vmsgctl" --socket "$dir/vmsgd.sock" "$@"; }

show_logs() {
	local f
	for f in "${demo_logs[@]}"; do
		if [ -s "$dir/$f" ]; then
			echo "---- $f (last lines)"
			tail -n 30 "$dir/$f"
		fi
	done
}

# shown PROMPT CMD...: CMD as a reader would type it after PROMPT (programs
# without their directories, a word with spaces quoted), on stderr.
shown() {
	local prompt=$1 out=() a
	shift
	for a in "$@"; do
		case $a in
		*' '*) out+=("'$a'") ;;
		*) out+=("${a##*/}") ;;
		esac
	done
	printf '%s %s\n' "$prompt" "${out[*]}" >&2
}

# wait_for PATTERN CMD...: up to 20 s for CMD's output to match PATTERN;
# gives up at once when a background process has exited.
wait_for() {
	local pat=$1 p
	shift
	for _ in $(seq 200); do
		if "$@" 2>/dev/null | grep -q -- "$pat"; then
			return 0
		fi
		for p in "${pids[@]}"; do
			if ! kill -0 "$p" 2>/dev/null; then
				echo "demo: a background process exited early" >&2
				return 1
			fi
		done
		sleep 0.1
	done
	echo "demo: timed out waiting for '$pat' from: $*" >&2
	return 1
}

# stop_all: the background processes, last started first (servers close
# their channels before vmsgd goes); each must exit with status 0.
stop_all() {
	local i st
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}"
		st=0
		wait "${pids[i]}" || st=$?
		[ "$st" -eq 0 ] || fail "a process exited with status $st"
	done
	pids=()
}

# kill_all: in the EXIT trap, whatever is still running, last first.
kill_all() {
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
}

# result: the summary (on stdin) and the result line; exits 1 on failure.
result() {
	echo
	echo "==== summary ===="
	cat
	if [ "$failed" -ne 0 ]; then
		echo "demo: result: FAILED"
		show_logs
		exit 1
	fi
	echo "demo: result: ok"
}
