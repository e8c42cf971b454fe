#!/usr/bin/env bash
# cat_service: vmsg-cat --offer and --service through vmsgd on the simulated
# Xen (direct mode), as a user tries a service from a shell:
#   1. dom1 `--offer echo -- cat` serves every consumer with a run of cat:
#      two consumers in dom2, one after the other, each get back exactly
#      the 200000 random bytes they sent (compared with the input file);
# (One process per domain may hold vmsgd's control channel, so each
# provider runs in a domain of its own.)
#   2. dom4 `--offer who -- sh -c 'echo $VMSG_PEER_DOMID'`: the command
#      learns the consumer's domain (2);
#   3. dom3 may not open echo: exit 1 with vmsgd's policy text;
#   4. dom5 `--offer once` (no command) serves one consumer on its own
#      stdin/stdout, both ways checked against the files, then exits 0 and
#      its offer is gone from vmsgctl;
#   5. SIGTERM ends `--offer echo -- cat` (status 143) and withdraws it.
# usage: cat_service.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/../lib/sim.sh"
sim_init cat_service "$1"
cat=$build/tools/vmsg-cat/vmsg-cat
sim_need "$xensim" "$vmsgd" "$vmsgctl" "$cat" "$build/sim/xenstored/vmsg-xenstored"
dom() { local d=$1; shift; "$xensim" run --domid "$d" -- "$@"; }
listed() { ctl list services | grep -q "^ *$1 "; }
offered() { sim_wait 10 listed "$1" || fail "service $1 never offered"; }

cat >"$dir/vmsgd.conf" <<EOF
[daemon]
control_socket = $dir/vmsgd.sock

[service echo]
offer = 1
open = 2
mode = direct

[service who]
offer = 4
open = 2
mode = direct

[service once]
offer = 5
open = 2
mode = direct
EOF
sim_start
sim_vmsgd "$dir/vmsgd.conf"

# 1. a command per consumer
# Background domains run through sim_run: $sim_pid is the domain's
# `xensim run`, and a signal to it reaches vmsg-cat.
sim_run 1 "$dir/offer-echo.log" "$cat" --offer echo -- cat
echo_pid=$sim_pid
offered echo
for n in 1 2; do
	head -c 200000 /dev/urandom >"$dir/in$n"
	dom 2 "$cat" --service echo --linger 3000 <"$dir/in$n" >"$dir/out$n" \
		2>"$dir/consumer$n.log" || fail "consumer $n: status $?"
	cmp "$dir/in$n" "$dir/out$n" || fail "consumer $n: echo differs from its input"
	echo "consumer $n: 200000 bytes echoed by cat, equal to the input"
done

# 2. the command knows its consumer
sim_run 4 "$dir/offer-who.log" \
	"$cat" --offer who -- sh -c 'echo "peer=$VMSG_PEER_DOMID service=$VMSG_SERVICE"'
offered who
got=$(dom 2 "$cat" --service who --linger 2000 </dev/null) || fail "who: status $?"
[ "$got" = "peer=2 service=who" ] || fail "who: got '$got'"
echo "who: $got"

# 3. the policy refuses dom3, with vmsgd's text (under timeout: a dom3
# let in would wait for the echo of nothing)
out=$(timeout 20 "$xensim" run --domid 3 -- "$cat" --service echo </dev/null 2>&1)
st=$?
[ "$st" -eq 1 ] || fail "dom3: status $st, want 1 ($out)"
grep -q "domain 3 may not open it (policy)" <<<"$out" || fail "dom3: '$out'"
echo "dom3: $out"

# 4. one consumer on the provider's own stdin/stdout
head -c 50000 /dev/urandom >"$dir/prov-in"
head -c 70000 /dev/urandom >"$dir/cons-in"
"$xensim" run --domid 5 -- "$cat" --offer once --linger 3000 <"$dir/prov-in" >"$dir/prov-out" \
	2>"$dir/offer-once.log" &
once_pid=$!
sim_track "$once_pid"
offered once
dom 2 "$cat" --service once --linger 3000 <"$dir/cons-in" >"$dir/cons-out" \
	2>"$dir/consumer-once.log" || fail "once consumer: status $?"
sim_reap "$once_pid"
st=$?
[ "$st" -eq 0 ] || fail "--offer once: status $st, want 0"
cmp "$dir/prov-in" "$dir/cons-out" || fail "once: provider -> consumer differs"
cmp "$dir/cons-in" "$dir/prov-out" || fail "once: consumer -> provider differs"
sim_wait 5 eval '! listed once' || fail "once still offered after its exit"
echo "once: 50000 and 70000 bytes crossed, the provider exited 0 and withdrew"

# 5. SIGTERM ends the command server and withdraws the offer
listed echo || fail "echo not listed before SIGTERM"
kill -TERM "$echo_pid"
sim_reap "$echo_pid"
st=$?
# xensim run passes on the command's status: 128 + SIGTERM.
[ "$st" -eq 143 ] || fail "--offer echo after SIGTERM: status $st, want 143"
sim_wait 5 eval '! listed echo' || fail "echo still offered after SIGTERM"
echo "SIGTERM: status 143, echo withdrawn"
echo "cat_service: ok"
