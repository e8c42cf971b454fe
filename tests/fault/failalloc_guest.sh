#!/usr/bin/env bash
# fault_alloc_guest: the guest side of vmsgd's services (lib/service:
# vmsg_ctl_open, vmsg_service_open/offer/accept) with the guest's Nth vmsg
# allocation failing (tests/fault/failalloc.c), for N = 1, 2, ... until a
# run injects nothing, while vmsgd (not injected) serves other guests:
#  - consumer: dom2 (fault_chan open) opens dom1's `echo1` and exchanges
#    12 messages, some fragmented;
#  - provider: dom3 (fault_chan offer) offers `echo3` and serves one
#    channel, which dom4 (the echo appliance) opens;
#  - appliance: dom2 runs the echo appliance itself (guest/linux/sdk.c and
#    examples/echo-unikernel) as a consumer of `echo1`: its own allocations
#    (the command line, the echo buffers) fail too, and must be named.
# For every N: the guest under injection ends with status 0, or 1 having
# printed "out of memory" (or, for the provider, its consumer did: the
# provider's library reports a channel it could not serve to vmsgd, and
# the provider then sees its accept time out); no signal, no hang; no
# vmsg allocation live at its exit; dom6 opens `echo1` meanwhile and is
# served.
# usage: failalloc_guest.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/../lib/sim.sh"
sim_init fault_alloc_guest "$1"
app=$build/examples/echo-unikernel/echo-appliance
chan=$build/tests/fault_chan
lib=$build/tests/libfailalloc.so
sim_need "$xensim" "$vmsgd" "$app" "$chan" "$lib"
max_n=${FAILALLOC_MAX_N:-400}
oom='out of memory|Cannot allocate memory'
. "$(dirname "$0")/guests.sh"
fault_guests_start

inj() { # N PROG: the environment of a run under injection
	echo "LD_PRELOAD=$lib FAILALLOC_N=$1 FAILALLOC_PROG=$2 FAILALLOC_REPORT=$dir/report"
}


# check WHAT STATUS LOG [LOG2]: the rules of a run under injection; the
# failure may be named in LOG2 (a provider's library that could not serve
# a channel tells vmsgd, which tells the consumer).
check() {
	local what=$1 st=$2 log=$3 log2=${4:-/dev/null}
	case $st in
	0) ;;
	1) grep -qE "$oom" "$log" "$log2" ||
		{ cat "$log"; fail "$what: status 1 without naming the failure"; } ;;
	*) cat "$log"; fail "$what: status $st (a signal, a hang or a wrong echo)" ;;
	esac
	grep -q '^failalloc: pid' "$dir/report" 2>/dev/null ||
		{ cat "$log"; fail "$what: no exit report"; }
	if grep -q '^failalloc: live\|live [1-9]' "$dir/report"; then
		cat "$dir/report"; fail "$what: vmsg memory left allocated at exit"
	fi
}

consumer() { # N
	local st
	# shellcheck disable=SC2046 # inj's words are the assignments
	timeout 30 "$xensim" run --domid 2 -- env $(inj "$1" fault_chan) \
		"$chan" open echo1 >"$dir/c2.log" 2>&1
	st=$?
	check "consumer N=$1" "$st" "$dir/c2.log"
	last=$st
}

provider() { # N
	local st cst ppid
	rm -f "$dir/p3.log"
	# shellcheck disable=SC2046
	"$xensim" run --domid 3 -- env $(inj "$1" fault_chan) "$chan" \
		offer echo3 >"$dir/p3.log" 2>&1 &
	ppid=$!
	sim_track "$ppid"
	sim_wait 10 grep -q "^offered\|^fault_chan: " "$dir/p3.log"
	timeout 30 "$xensim" run --domid 4 -- "$app" open=echo3 count=3 \
		size=100 >"$dir/c4.log" 2>&1
	cst=$?
	[ "$cst" -lt 124 ] || { cat "$dir/c4.log"; fail "provider N=$1: its consumer: status $cst"; }
	# It ends after its one channel, or after failing; if the failure
	# kept the channel from it, after its accept's 3 s.
	sim_reap "$ppid"
	st=$?
	check "provider N=$1" "$st" "$dir/p3.log" "$dir/c4.log"
	last=$st
}

appliance() { # N
	local st
	# shellcheck disable=SC2046
	timeout 30 "$xensim" run --domid 2 -- env $(inj "$1" echo-appliance) \
		"$app" open=echo1 count=12 size=3000 >"$dir/a2.log" 2>&1
	st=$?
	check "appliance N=$1" "$st" "$dir/a2.log"
	last=$st
}

# sweep KIND: N = 0 (must succeed), 1, 2, ... until nothing is injected.
sweep() {
	local kind=$1 n errs=0 clean=0 calls
	for n in $(seq 0 "$max_n"); do
		rm -f "$dir/report"
		other_start
		"$kind" "$n"
		other_done "$kind N=$n"
		if [ "$n" = 0 ]; then
			[ "$last" = 0 ] || fail "$kind N=0: failed without injection"
			calls=$(awk '/^failalloc: pid/ { print $7; exit }' "$dir/report")
			continue
		fi
		sed -n "s/^failalloc: injected at \([^ ]*\) .*/\1/p" "$dir/report" >>"$dir/sites.$kind"
		if ! grep -q '^failalloc: injecting' "$dir/report"; then
			echo "fault_alloc_guest: $kind: N=1..$((n - 1)) ($calls vmsg" \
				"allocations without injection): $errs runs ended with" \
				"an error, $clean completed despite the failure;" \
				"$(sort -u "$dir/sites.$kind" | wc -l) distinct sites"
			return
		fi
		[ "$last" = 0 ] && clean=$((clean + 1)) || errs=$((errs + 1))
	done
	fail "$kind: still injecting at N=$max_n"
}

sweep consumer
sweep provider
sweep appliance
kill -TERM "$vmsgd_pid"
sim_reap "$vmsgd_pid" || fail "vmsgd did not exit 0 on SIGTERM"
echo "fault_alloc_guest: vmsgd served dom6 during every run"
