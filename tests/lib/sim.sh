# tests/lib/sim.sh: what the shell tests on the simulated Xen share: a
# private directory, a simulator in it, vmsgd in dom0, background domains,
# and a cleanup that stops every one of them. Sourced, after `set -uo
# pipefail`:
#
#   . "$(dirname "$0")/../lib/sim.sh"
#   sim_init NAME BUILD_DIR  $dir: a new directory under TMPDIR, removed at
#                            exit; XENSIM_DIR=$dir/xensim (exported);
#                            $build $xensim $vmsgd $vmsgctl; fail(); the
#                            EXIT trap (sim_cleanup) and INT/TERM traps
#   sim_need FILE...         each must be built (executable), else FAIL
#   sim_start                xensim start, or FAIL
#   sim_run DOMID LOG CMD... CMD as domain DOMID in the background (its
#                            `xensim run`, which passes signals on), output
#                            to LOG, emptied before sim_run returns; its
#                            pid in $sim_pid, stopped at exit
#   sim_track PID...         stop these too at exit; sim_forget PID: not
#   sim_reap PID             wait for PID and forget it; its status (a
#                            waited-for pid must leave the list: the
#                            number may be reused by then)
#   sim_vmsgd CONF [LOG]     vmsgd --foreground in dom0 with CONF, output to
#                            $dir/LOG (vmsgd.log); returns once it is ready
#                            (FAIL after 10 s); its `xensim run` in $vmsgd_pid
#   sim_wait SECONDS CMD...  retries CMD (quietly) every 0.1 s until it
#                            succeeds: 0, or 1 when SECONDS have passed
#   ctl ARGS...              vmsgctl on $dir/vmsgd.sock (the control_socket
#                            the tests' policies name)
#
# At exit, whatever the status: every tracked pid gets SIGTERM, newest
# first (`xensim run` forwards it to its command), and is waited for; one
# still there after 5 s is killed (SIGKILL, its children too) and named.
# Then any process whose command line names $dir/ (a pipeline's member
# the test never had the pid of) gets SIGTERM, sim_cleanup_hook runs if
# the test defines it (namespaces to delete, say), the simulator stops,
# and, when the test failed, the last SIM_LOG_LINES (20; 0: none) lines of
# each $dir/*.log are shown before $dir goes.

sim_init() { # NAME BUILD_DIR
	sim_name=$1
	build=$(cd "$2" && pwd) || { echo "$sim_name: FAIL: no build dir $2"; exit 1; }
	xensim=$build/sim/bin/xensim
	vmsgd=$build/dom0/vmsgd
	vmsgctl=$build/dom0/vmsgctl
	dir=$(mktemp -d "${TMPDIR:-/tmp}/vmsg-$sim_name.XXXXXX") ||
		{ echo "$sim_name: FAIL: mktemp"; exit 1; }
	export XENSIM_DIR=$dir/xensim
	mkdir -p "$XENSIM_DIR"
	sim_pids=()
	: "${SIM_LOG_LINES:=20}"
	trap sim_cleanup EXIT
	trap 'exit 130' INT TERM
}

fail() { echo "$sim_name: FAIL: $*"; exit 1; }

sim_need() {
	local b
	for b in "$@"; do
		[ -x "$b" ] || fail "$b not built"
	done
}

sim_start() { "$xensim" start >/dev/null || fail "xensim start"; }

sim_track() { sim_pids+=("$@"); }

sim_forget() { # PID: drop it from the list (whole entries only)
	local p keep=()
	for p in "${sim_pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	sim_pids=("${keep[@]}")
}

sim_reap() { # PID
	local st=0
	wait "$1" || st=$?
	sim_forget "$1"
	return "$st"
}

sim_run() { # DOMID LOG CMD...
	local d=$1 log=$2
	shift 2
	# Emptied here, not by a `>` of the background command: that one
	# happens in the child whenever it gets to run, and a caller that
	# waits for a line in LOG (sim_wait ... grep) could find, on a
	# loaded machine, the line of a previous process that wrote the
	# same LOG (nbd_sim's second provider, which then "offered" before
	# it had even started).
	: >"$log"
	"$xensim" run --domid "$d" -- "$@" >>"$log" 2>&1 &
	sim_pid=$!
	sim_pids+=("$sim_pid")
}

sim_wait() { # SECONDS CMD...
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

sim_vmsgd() { # CONF [LOG]
	local log=$dir/${2:-vmsgd.log}
	sim_run 0 "$log" "$vmsgd" --foreground --config "$1"
	vmsgd_pid=$sim_pid
	sim_wait 10 grep -q ready "$log" || fail "vmsgd did not start ($log)"
}

ctl() { "$vmsgctl" --socket "$dir/vmsgd.sock" "$@"; }

# Stops one process: SIGTERM, up to 5 s, then SIGKILL for it and its
# children (said, since a test's process should end on SIGTERM).
sim__stop() { # PID
	local p=$1 k
	kill -TERM "$p" 2>/dev/null || { wait "$p" 2>/dev/null; return 0; }
	for _ in $(seq 50); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$p" 2>/dev/null; then
		echo "$sim_name: warning: $(ps -o args= -p "$p" | cut -c1-80) did not exit on SIGTERM: killed"
		for k in $(pgrep -P "$p"); do kill -KILL "$k" 2>/dev/null; done
		kill -KILL "$p" 2>/dev/null
	fi
	wait "$p" 2>/dev/null
	return 0
}

sim_cleanup() {
	local st=$? i f
	trap - EXIT
	for ((i = ${#sim_pids[@]} - 1; i >= 0; i--)); do
		sim__stop "${sim_pids[i]}"
	done
	pkill -TERM -f -- "$dir/" 2>/dev/null
	if declare -F sim_cleanup_hook >/dev/null; then
		sim_cleanup_hook
	fi
	"$xensim" stop >/dev/null 2>&1
	if [ "$st" -ne 0 ] && [ "$SIM_LOG_LINES" -gt 0 ]; then
		for f in "$dir"/*.log; do
			[ -f "$f" ] && { echo "---- $(basename "$f")"; tail -n "$SIM_LOG_LINES" "$f"; }
		done
	fi
	rm -rf "$dir"
	exit "$st"
}
