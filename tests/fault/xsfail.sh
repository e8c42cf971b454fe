#!/usr/bin/env bash
# fault_xenstore: xenstore errors from the simulated xenstored (its rule
# node /tool/xenstored/fail, sim/xenstored/fail.c) in the requests of one
# guest, while vmsgd serves others. For each error ERR of EIO, EACCES,
# ENOSPC and EAGAIN, for N = 1, 2, ... until the guest's run no longer
# reaches request N:
#  - consumer: dom2's Nth request fails once with ERR while it opens
#    dom1's `echo1` through vmsgd (vmsg_ctl_open + vmsg_service_open) and
#    exchanges 3 messages;
#  - provider: dom3's Nth request fails while it offers `echo3`
#    (vmsg_ctl_open + vmsg_service_offer) and serves one consumer, dom4;
#  - channel: the Nth request of the client, dom5, of a lib/xen channel
#    (vmsg_xen_connect, tests/fault/fault_chan.c) to dom0's server fails;
# and, for EIO, the consumer (fault_chan open: 2 s deadlines) and the
# channel once more with every request from the Nth on failing (a
# persistent error: the guest must give up. A persistent EACCES makes
# lib/xen and vmsg_ctl_open wait for their deadlines, by design: Xen
# answers EACCES for keys not written yet; the one-shot EACCES runs cover
# it at a cost of seconds per N less.)
# Every run must end (no hang: 30 s), without a signal (a crash), either
# in success or with status 1 and the guest's error message; no guest
# memory may be left (LeakSanitizer in the asan build; failalloc.so's exit
# report in the release build: no vmsg allocation live at exit); and while
# each run goes on, dom6 opens `echo1` and exchanges messages: vmsgd still
# serves the others.
# usage: xsfail.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/../lib/sim.sh"
sim_init fault_xenstore "$1"
app=$build/examples/echo-unikernel/echo-appliance
chan=$build/tests/fault_chan
lib=$build/tests/libfailalloc.so
sim_need "$xensim" "$vmsgd" "$app" "$chan"
max_n=${XSFAIL_MAX_N:-300}
. "$(dirname "$0")/guests.sh"
fault_guests_start

# Release build: failalloc.so in counting mode (N=0) in the guests, for
# its exit report; the asan build has LeakSanitizer instead.
pre=()
[ -f "$lib" ] && pre=(env "LD_PRELOAD=$lib" FAILALLOC_N=0
	"FAILALLOC_REPORT=$dir/report")

rule() { "$xensim" run --domid 0 -- xenstore-write /tool/xenstored/fail "$*" ||
	fail "cannot set the rule '$*'"; }
hits() { grep -c '^vmsg-xenstored: injected' "$XENSIM_DIR/xensimd.log"; }

# guest_ok LOG STATUS WHAT: the run's rules but success.
guest_ok() {
	local log=$1 st=$2 what=$3
	[ "$st" -lt 124 ] || { cat "$log"; fail "$what: status $st (a hang or a signal)"; }
	if grep -q 'Sanitizer' "$log"; then
		cat "$log"; fail "$what: a sanitizer report"
	fi
	[ "$st" = 0 ] || [ "$st" = 1 ] || { cat "$log"; fail "$what: status $st"; }
}

check_report() { # WHAT: no vmsg memory live at a guest's exit
	[ -f "$dir/report" ] || return 0
	if grep -q '^failalloc: live\|live [1-9]' "$dir/report"; then
		cat "$dir/report"; fail "$1: guest memory left allocated at exit"
	fi
	rm -f "$dir/report"
}


consumer() { # WHAT
	local st
	timeout 30 "$xensim" run --domid 2 -- "${pre[@]}" "$app" open=echo1 \
		count=3 size=100 >"$dir/c2.log" 2>&1
	st=$?
	guest_ok "$dir/c2.log" "$st" "$1"
	grep -q '^OPEN ' "$dir/c2.log" || { cat "$dir/c2.log"; fail "$1: the guest did not run"; }
	if [ "$st" = 1 ]; then
		grep -q '^OPEN .*: ' "$dir/c2.log" ||
			{ cat "$dir/c2.log"; fail "$1: failed without a word"; }
	else
		grep -q '^OPEN ok 3 messages' "$dir/c2.log" ||
			{ cat "$dir/c2.log"; fail "$1: status 0 without OPEN ok"; }
	fi
	check_report "$1"
	last_ok=$st
}

provider() { # WHAT
	local st pst ppid
	rm -f "$dir/p3.log" # not the last run's "offering" line, please
	"$xensim" run --domid 3 -- "${pre[@]}" "$app" vmsgd=1 svc=echo3 \
		clients=1 >"$dir/p3.log" 2>&1 &
	ppid=$!
	sim_track "$ppid"
	sim_wait 10 grep -q "offering 'echo3'\|^ECHO .*: " "$dir/p3.log"
	timeout 30 "$xensim" run --domid 4 -- "$app" open=echo3 count=3 \
		size=100 >"$dir/c4.log" 2>&1
	st=$?
	guest_ok "$dir/c4.log" "$st" "$1 (its consumer)"
	# clients=1: the provider ends after its one channel; one whose
	# offer failed has ended already; one that offered but whose
	# channel failed to come is stopped (SIGTERM, forwarded).
	[ -z "${XSFAIL_VERBOSE:-}" ] || [ "$st" = 0 ] ||
		{ echo "  --- $1:"; sed 's/^/    /' "$dir/p3.log" "$dir/c4.log"; }
	# After its consumer failed, a provider that offered serves on
	# (rightly: others may come); else it ends after the one channel.
	if [ "$st" = 0 ]; then
		for _ in $(seq 50); do kill -0 "$ppid" 2>/dev/null || break; sleep 0.1; done
	fi
	kill -0 "$ppid" 2>/dev/null && kill -TERM "$ppid"
	sim_reap "$ppid"
	pst=$?
	[ "$pst" = 143 ] && pst=0 # stopped by us
	guest_ok "$dir/p3.log" "$pst" "$1 (the provider)"
	grep -q '^ECHO ' "$dir/p3.log" || { cat "$dir/p3.log"; fail "$1: the provider did not run"; }
	if [ "$pst" = 1 ]; then
		grep -q '^ECHO .*: ' "$dir/p3.log" ||
			{ cat "$dir/p3.log"; fail "$1: the provider failed without a word"; }
	fi
	check_report "$1"
	last_ok=$st
}

# consumer, with a short deadline (fault_chan open: 2 s), for the
# persistent errors (the echo appliance waits 120 s for vmsgd).
quick_consumer() { # WHAT
	local st
	timeout 30 "$xensim" run --domid 2 -- "${pre[@]}" "$chan" open echo1 \
		>"$dir/c2.log" 2>&1
	st=$?
	guest_ok "$dir/c2.log" "$st" "$1"
	grep -q '^fault_chan: ' "$dir/c2.log" || { cat "$dir/c2.log"; fail "$1: the guest did not run"; }
	if [ "$st" = 1 ]; then
		grep -q '^fault_chan: open: .*: ' "$dir/c2.log" ||
			{ cat "$dir/c2.log"; fail "$1: failed without a word"; }
	fi
	check_report "$1"
	last_ok=$st
}

channel() { # WHAT: dom5 connects to a lib/xen channel of dom0's
	local st sst spid p=/local/domain/0/data/vchan/5/xsfail
	rm -f "$dir/stop" "$dir/srv.out"
	"$xensim" run --domid 0 -- "$chan" server xen "$p" "$dir/stop" 5 \
		>"$dir/srv.out" 2>&1 &
	spid=$!
	sim_track "$spid"
	sim_wait 10 grep -q '^ready' "$dir/srv.out" || fail "$1: no server"
	timeout 30 "$xensim" run --domid 5 -- "${pre[@]}" "$chan" client xen \
		"$p" 0 >"$dir/c5.log" 2>&1
	st=$?
	[ "$st" = 0 ] || touch "$dir/stop"
	sim_reap "$spid"
	sst=$?
	guest_ok "$dir/c5.log" "$st" "$1"
	grep -q '^fault_chan: ' "$dir/c5.log" || { cat "$dir/c5.log"; fail "$1: the guest did not run"; }
	if [ "$st" = 1 ]; then
		grep -q '^fault_chan: client: .*: ' "$dir/c5.log" ||
			{ cat "$dir/c5.log"; fail "$1: failed without a word"; }
	fi
	[ "$sst" = 0 ] || [ "$sst" = 1 ] || { cat "$dir/srv.out"; fail "$1: the server: status $sst"; }
	check_report "$1"
	last_ok=$st
}

# sweep KIND DOMID ERR COUNT [TYPE [MUST]]: N = 1, 2, ... until the rule
# (on requests of TYPE only, if given) is not reached; with MUST=ok every
# run must succeed.
sweep() {
	local kind=$1 domid=$2 err=$3 count=$4 type=${5:-} must=${6:-} n before how=once
	[ "$count" = 0 ] && how="and every later one"
	ok=0 errs=0 t0=$SECONDS
	for n in $(seq "$max_n"); do
		before=$(hits)
		rule "$domid $n $err $count $type"
		other_start
		"$kind" "$kind: dom$domid request $n ($how): $err"
		other_done "$kind: dom$domid request $n: $err"
		if [ "$(hits)" != "$before" ]; then
			[ "$last_ok" = 0 ] && ok=$((ok + 1)) || errs=$((errs + 1))
			[ "$must" != ok ] || [ "$last_ok" = 0 ] ||
				fail "$kind: dom$domid's ${type:-request} $n: $err: not retried"
		fi
		rule off
		[ -z "${XSFAIL_VERBOSE:-}" ] || echo "  N=$n: status $last_ok, $((SECONDS - t0)) s"
		if [ "$(hits)" = "$before" ]; then
			echo "fault_xenstore: $kind, $err${type:+ on $type}$([ "$count" = 0 ] && echo ' (persistent)'):" \
				"N=1..$((n - 1)): $errs runs ended with an error," \
				"$ok succeeded (retried or not needed), $((SECONDS - t0)) s"
			return
		fi
	done
	fail "$kind: still reaching request $max_n"
}

for err in ${XSFAIL_ERRS:-EIO EACCES ENOSPC}; do
	[ -n "${XSFAIL_ONLY:-}" ] || sweep consumer 2 "$err" 1
	sweep provider 3 "$err" 1
	[ -n "${XSFAIL_ONLY:-}" ] || sweep channel 5 "$err" 1
done
# EAGAIN is what Xen's xenstored answers a transaction's end that must be
# run again; the library's transactions retry it, so each run succeeds.
sweep consumer 2 EAGAIN 1 TRANSACTION_END ok
sweep provider 3 EAGAIN 1 TRANSACTION_END ok
sweep channel 5 EAGAIN 1 TRANSACTION_END ok
[ -n "${XSFAIL_NO_PERSIST:-}" ] || {
sweep quick_consumer 2 EIO 0
sweep channel 5 EIO 0
}
kill -TERM "$vmsgd_pid"
sim_reap "$vmsgd_pid" || fail "vmsgd did not exit 0 on SIGTERM"
if grep -q 'Sanitizer' "$dir/vmsgd.log"; then
	tail -n 40 "$dir/vmsgd.log"; fail "a sanitizer report in vmsgd"
fi
echo "fault_xenstore: vmsgd served dom6 during every run"
