#!/usr/bin/env bash
# fault_alloc_host / fault_alloc_xen: a channel's whole life (serve,
# connect, typed messages from 0 bytes to several frames, close: see
# fault_chan.c) with the Nth allocation of vmsg code failing in the server
# and, independently, the Nth in the client (tests/fault/failalloc.c), for
# N = 1, 2, ... until a run injects nothing. For every N:
#  - no process dies of a signal, a wrong echo is no outcome (status 3);
#  - each side ends with status 0, or 1 having printed its error;
#  - a run in which a failure was injected and a side ended with 1 has
#    printed "out of memory" (vmsg_strerror(-ENOMEM); the injected failure, named as
#    such; the other side may report what it saw of it, -EPIPE say);
#  - no vmsg allocation is live at either process's exit.
# N = 0 (nothing injected) must succeed on both sides.
# usage: failalloc_chan.sh BUILD_DIR host|xen
set -uo pipefail
. "$(dirname "$0")/../lib/sim.sh"
# The source lines of the report's addresses (addr2line; function names
# only in a build without -g).
lines() {
	sed -n 's/^failalloc: \(injected at\|live [0-9]* bytes from\) \([^ ]*\)+\(0x[0-9a-f]*\) .*/\2 \3/p' "$1" |
		while read -r obj off; do
			echo "  $off in $obj: $(addr2line -f -i -e "$obj" "$off" 2>/dev/null | paste -sd ' ')"
		done
}
backend=$2
sim_init "fault_alloc_$backend" "$1"
prog=$build/tests/fault_chan
lib=$build/tests/libfailalloc.so
sim_need "$prog" "$lib"
max_n=${FAILALLOC_MAX_N:-400}

if [ "$backend" = xen ]; then
	sim_need "$xensim"
	sim_start
	# A domain 1 that lives through all runs (its clients come and go).
	sim_run 1 "$dir/anchor.log" sleep 3600
	path=/local/domain/0/data/vchan/1/fault
	srv=("$xensim" run --domid 0 -- "$prog" server xen "$path")
	cli=("$xensim" run --domid 1 -- "$prog" client xen "$path" 0)
else
	path=$dir/sock
	srv=("$prog" server host "$path")
	cli=("$prog" client host "$path")
fi

# run_one N: one run; sets $srv_st $cli_st (- when the client did not run)
# and leaves the outputs in $dir/srv.out $dir/cli.out $dir/report.
run_one() {
	local n=$1 stop=$dir/stop spid
	rm -f "$stop" "$dir/report" "$dir/srv.out" "$dir/cli.out"
	export FAILALLOC_N=$n FAILALLOC_PROG=fault_chan \
		FAILALLOC_REPORT=$dir/report LD_PRELOAD=$lib
	if [ "$backend" = xen ]; then
		"${srv[@]}" "$stop" 1 >"$dir/srv.out" 2>&1 &
	else
		"${srv[@]}" "$stop" >"$dir/srv.out" 2>&1 &
	fi
	spid=$!
	sim_track "$spid"
	# The client starts once the server serves; not at all if it failed.
	while ! grep -q '^ready' "$dir/srv.out" 2>/dev/null && kill -0 "$spid" 2>/dev/null; do
		sleep 0.01
	done
	cli_st=-
	if grep -q '^ready' "$dir/srv.out"; then
		timeout 60 "${cli[@]}" >"$dir/cli.out" 2>&1
		cli_st=$?
		[ "$cli_st" = 0 ] || touch "$stop"
	fi
	sim_reap "$spid"
	srv_st=$?
	unset LD_PRELOAD FAILALLOC_N FAILALLOC_PROG FAILALLOC_REPORT
}

show() { # the run's outputs, for a failure message
	echo "--- server (status $srv_st):"; cat "$dir/srv.out"
	echo "--- client (status $cli_st):"; cat "$dir/cli.out" 2>/dev/null
	echo "--- failalloc report:"; cat "$dir/report" 2>/dev/null
	lines "$dir/report"
}

check_run() { # N
	local n=$1 st
	for st in "$srv_st" "$cli_st"; do
		case $st in
		0|1|-) ;;
		*) show; fail "N=$n: status $st (a signal, a timeout or a wrong echo)" ;;
		esac
	done
	local nrep
	nrep=$(grep -c '^failalloc: pid' "$dir/report" 2>/dev/null)
	local want=1
	[ "$cli_st" = - ] || want=2
	[ "${nrep:-0}" -ge "$want" ] || { show; fail "N=$n: $nrep exit reports, want $want"; }
	if grep -q '^failalloc: live\|live [1-9]\|overflow' "$dir/report"; then
		show; fail "N=$n: vmsg memory left allocated at exit"
	fi
	if [ "$srv_st" = 1 ] || [ "$cli_st" = 1 ]; then
		grep -qE "Cannot allocate memory|out of memory" "$dir/srv.out" "$dir/cli.out" 2>/dev/null ||
			{ show; fail "N=$n: an error exit without the injected failure's message"; }
	fi
}

# The distinct call sites the injections hit (addr2line: function names).
sites_summary() {
	local nsites
	nsites=$(awk '{ print $2 }' "$dir/sites" 2>/dev/null | sort -u | wc -l)
	echo "$sim_name: $nsites distinct allocation sites failed:"
	awk '{ print $2 }' "$dir/sites" 2>/dev/null | sort -u | while read -r at; do
		echo "  $at $(addr2line -f -e "${at%+*}" "${at##*+}" 2>/dev/null | head -1)"
	done
	[ -z "${FAILALLOC_VERBOSE:-}" ] || cat "$dir/sites"
}

run_one 0
[ -z "${FAILALLOC_VERBOSE:-}" ] || show
[ "$srv_st" = 0 ] && [ "$cli_st" = 0 ] || { show; fail "N=0: the run without injection failed"; }
check_run 0
calls=$(awk '/^failalloc: pid/ { s = s " " $5 "=" $7 } END { print s }' "$dir/report")
errors=0 clean=0
for n in $(seq "$max_n"); do
	run_one "$n"
	check_run "$n"
	sed -n "s/^failalloc: injected at \([^ ]*\) .*/N=$n \1/p" "$dir/report" >>"$dir/sites"
	injected=$(awk '/^failalloc: pid/ { s += $9 } END { print s + 0 }' "$dir/report")
	if [ "$injected" = 0 ]; then
		echo "fault_alloc_$backend: N=1..$((n - 1)): every run ended cleanly" \
			"($errors with an error exit, $clean completed despite the failure);" \
			"vmsg allocations per process without injection:$calls"
		sites_summary
		exit 0
	fi
	if [ "$srv_st" = 0 ] && [ "$cli_st" = 0 ]; then
		clean=$((clean + 1))
	else
		errors=$((errors + 1))
	fi
done
fail "still injecting at N=$max_n"
