#!/usr/bin/env bash
# fault_alloc_vmsgd: vmsgd on the simulated Xen with its Nth allocation of
# vmsg code (vmsgd's own and the library's, linked in) failing
# (tests/fault/failalloc.c), for N = 1, 2, ... until a run injects nothing.
# Each run starts vmsgd, then up to three pairs of guests, one after the
# other: pair k is domain 2k-1 offering `echo<k>` and domain 2k opening it
# for 3 messages (the echo appliance), twice, the second time from a new
# process in the same domain (vmsgd must have served the domain's control
# channel anew after the first closed), then `vmsgctl --json list services`
# (the control socket's allocations); then SIGTERM. A third pair runs
# only when the failure hit the second: the N past the second pair's
# allocations land in the shutdown. For every N:
#  - vmsgd either refuses to start (status 1, having said "out of memory"
#    or strerror(ENOMEM)) or starts;
#  - a pair that began before the failure was injected may fail (its
#    guests must still end, with no crash), but the first pair that
#    begins after it must be served: the daemon still serves others;
#  - a failure injected after "ready" leaves a word in vmsgd's log;
#  - vmsgd ends on SIGTERM with status 0, never by a signal;
#  - no vmsg allocation of vmsgd's is live at its exit.
# usage: failalloc_vmsgd.sh BUILD_DIR
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
sim_init fault_alloc_vmsgd "$1"
app=$build/examples/echo-unikernel/echo-appliance
lib=$build/tests/libfailalloc.so
sim_need "$xensim" "$vmsgd" "$vmsgctl" "$app" "$lib"
max_n=${FAILALLOC_MAX_N:-400}
cat >"$dir/vmsgd.conf" <<EOF
[daemon]
control_socket = $dir/vmsgd.sock

[service echo1]
offer = 1
open = 2
mode = direct

[service echo2]
offer = 3
open = 4
mode = direct

[service echo3]
offer = 5
open = 6
mode = direct
EOF
sim_start
oom='out of memory|Cannot allocate memory'

show() {
	local f
	for f in vmsgd.log p1.log c2.log p3.log c4.log p5.log c6.log report; do
		[ -f "$dir/$f" ] && { echo "--- $f:"; tail -n 15 "$dir/$f"; }
	done
	lines "$dir/report"
}

# injected so far (the immediate marker of a running vmsgd)
injected_now() { # (the report exists once something was written to it)
	if [ -f "$dir/report" ]; then
		grep -c '^failalloc: injecting' "$dir/report"
	else
		echo 0
	fi
}

# pair N K MUST: domain 2K-1 offers echoK, domain 2K opens it twice (two
# consumers one after the other in one domain), then vmsgctl; when MUST is
# 1, or the failure came before a step, that step must succeed, else only
# end. Adds the runs to stop to $pids.
pair() {
	local n=$1 k=$2 must=$3 p=$(($2 * 2 - 1)) c=$(($2 * 2)) st
	sim_run "$p" "$dir/p$p.log" "$app" vmsgd=1 svc="echo$k"
	pids+=("$sim_pid")
	if ! sim_wait 10 grep -q "offering 'echo$k'" "$dir/p$p.log"; then
		[ "$must" = 0 ] || { show; fail "N=$n: pair $k: the offer was not taken"; }
	fi
	# The consumer's domain outlives its first consumer (an anchor), so
	# that vmsgd serves its control channel anew when that one closes,
	# and a second consumer in it must find it.
	sim_run "$c" "$dir/a$c.log" sleep 3600
	pids+=("$sim_pid")
	local run
	for run in 1 2; do
		[ "$run" = 1 ] || [ "$(injected_now)" = 0 ] || must=1
		timeout 30 "$xensim" run --domid "$c" -- "$app" open="echo$k" \
			count=3 size=100 >"$dir/c$c.log" 2>&1
		st=$?
		[ "$st" -lt 124 ] || { show; fail "N=$n: pair $k: consumer $run: status $st"; }
		if [ "$must" = 1 ] && ! { [ "$st" = 0 ] &&
			grep -q '^OPEN ok 3 messages' "$dir/c$c.log"; }; then
			# Served all the same if vmsgd answered it: the
			# failure made this pair's provider give up (said).
			grep -q "^ECHO offer 'echo$k' refused: \|^ECHO cannot reach" "$dir/p$p.log" &&
				grep -q "^OPEN 'echo$k' refused: " "$dir/c$c.log" ||
				{ show; fail "N=$n: pair $k: consumer $run (after the failure) was not served"; }
		fi
	done
	# The control socket's allocations too: vmsgctl's answer, or (the
	# failure hit it) an error, never a hang.
	[ "$(injected_now)" = 0 ] || must=1
	timeout 20 "$vmsgctl" --socket "$dir/vmsgd.sock" --json list services \
		>"$dir/ctl$k.log" 2>&1
	st=$?
	[ "$st" -lt 124 ] || { show; fail "N=$n: pair $k: vmsgctl: status $st"; }
	if [ "$must" = 1 ]; then
		[ "$st" = 0 ] && grep -q '^{"services":\[' "$dir/ctl$k.log" ||
			{ cat "$dir/ctl$k.log"; show; fail "N=$n: pair $k: vmsgctl after the failure"; }
	elif [ "$st" != 0 ]; then
		grep -qE "$oom" "$dir/ctl$k.log" ||
			{ cat "$dir/ctl$k.log"; show; fail "N=$n: pair $k: vmsgctl failed without naming the failure"; }
	fi
}

# run_one N: one run; fails the test on a broken rule.
run_one() {
	local n=$1 vpid st
	rm -f "$dir"/*.log "$dir/report"
	LD_PRELOAD=$lib FAILALLOC_N=$n FAILALLOC_PROG=vmsgd \
		FAILALLOC_REPORT=$dir/report \
		"$xensim" run --domid 0 -- "$vmsgd" --foreground \
		--config "$dir/vmsgd.conf" >"$dir/vmsgd.log" 2>&1 &
	vpid=$!
	sim_track "$vpid"
	until grep -q ready "$dir/vmsgd.log" 2>/dev/null; do
		if ! kill -0 "$vpid" 2>/dev/null; then
			sim_reap "$vpid"
			st=$?
			[ "$st" = 1 ] || { show; fail "N=$n: vmsgd did not start: status $st"; }
			grep -qE "$oom" "$dir/vmsgd.log" ||
				{ show; fail "N=$n: vmsgd refused to start without saying why"; }
			check_report "$n"
			outcome=refused
			return
		fi
		sleep 0.02
	done
	local k must pids=()
	for k in 1 2 3; do
		must=0
		grep -q '^failalloc: injecting' "$dir/report" 2>/dev/null && must=1
		pair "$n" "$k" "$must" # adds its pids
		[ "$must" = 0 ] || break
		# Nothing injected in two pairs: N lies in the shutdown (or
		# beyond the last allocation); a third pair would only repeat
		# the second's allocations.
		[ "$k" = 2 ] && [ "$(injected_now)" = 0 ] && break
	done
	for ((k = ${#pids[@]} - 1; k >= 0; k--)); do
		sim__stop "${pids[k]}"
		sim_forget "${pids[k]}"
	done
	kill -TERM "$vpid"
	sim_reap "$vpid"
	st=$?
	[ "$st" = 0 ] || { show; fail "N=$n: vmsgd ended with status $st on SIGTERM"; }
	check_report "$n"
	outcome=served
	if [ "$(injected)" != 0 ]; then
		grep -qE "$oom" "$dir/vmsgd.log" ||
			{ show; fail "N=$n: a failure injected in a running vmsgd left no word in its log"; }
	fi
}

injected() { awk '/^failalloc: pid/ { s += $9 } END { print s + 0 }' "$dir/report"; }

check_report() { # N
	grep -q '^failalloc: pid' "$dir/report" 2>/dev/null ||
		{ show; fail "N=$1: no exit report from vmsgd"; }
	if grep -q '^failalloc: live\|live [1-9]\|overflow' "$dir/report"; then
		show; fail "N=$1: vmsgd left vmsg memory allocated at exit"
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
[ "$outcome" = served ] || fail "N=0: vmsgd did not serve"
calls=$(awk '/^failalloc: pid/ { print $7 }' "$dir/report")
refused=0 served=0
for n in $(seq "${FAILALLOC_FIRST_N:-1}" "$max_n"); do
	run_one "$n"
	sed -n "s/^failalloc: injected at \([^ ]*\) .*/N=$n \1/p" "$dir/report" >>"$dir/sites"
	if [ "$(injected)" = 0 ]; then
		echo "fault_alloc_vmsgd: N=1..$((n - 1)) ($calls vmsg allocations" \
			"in a run without injection): vmsgd refused to start" \
			"$refused times, started and served the guests after the failure $served times"
		sites_summary
		exit 0
	fi
	if [ "$outcome" = refused ]; then
		refused=$((refused + 1))
	else
		served=$((served + 1))
	fi
done
fail "still injecting at N=$max_n"
