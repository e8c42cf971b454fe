#!/usr/bin/env bash
# vmsgd_domid_reuse: a domain that ends and is created again under the same
# id at once (the simulator reuses a domid as soon as it is free; Xen after
# its id space wraps) is served again. Written for a flake of
# net_ns_vmsgd (about 1 run in 6 under load: a re-created domain 3 got
# "no vmsgd serves this domain"); the suspected cause, a domain announced
# while its predecessor's session is still closing, is handled now (vmsgd
# looks again when that session is freed, and retries from its tick a
# domain it could not serve yet), but this test has not reproduced the
# flake, with or without that handling: it guards quick reuse as such.
# dom1 offers echo; dom2 opens it and exchanges 3 messages, 25 times in a
# row, each run a new domain 2 created right after the last one ended;
# every run must succeed. Then the same three times while vmsgd is
# stopped (the release and the new domain seen in one scan).
# Last, a process of domain 3 that connects and leaves while vmsgd is
# stopped: it left (info), it was not reset (warn, back-off).
# usage: domid_reuse.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/../lib/sim.sh"
sim_init vmsgd_domid_reuse "$1"
app=$build/examples/echo-unikernel/echo-appliance
sim_need "$xensim" "$vmsgd" "$app"
cat >"$dir/vmsgd.conf" <<EOF
[daemon]
control_socket = $dir/vmsgd.sock

[service echo]
offer = 1
open = 2
mode = direct
EOF
sim_start
sim_vmsgd "$dir/vmsgd.conf"
sim_run 1 "$dir/provider.log" "$app" vmsgd=1 svc=echo
sim_wait 10 grep -q "offering 'echo'" "$dir/provider.log" || fail "no provider"
for i in $(seq 25); do
	timeout 60 "$xensim" run --domid 2 -- "$app" open=echo count=3 size=100 \
		>"$dir/run$i.log" 2>&1 ||
		fail "run $i of a re-created domain 2: $(tail -n 3 "$dir/run$i.log")"
	grep -q '^OPEN ok 3 messages' "$dir/run$i.log" || fail "run $i: no OPEN ok"
done
echo "vmsgd_domid_reuse: 25 domains 2 in a row, each served"

# Released and re-created while vmsgd did not look: vmsgd is stopped
# (SIGSTOP) while a domain 2 ends and a new one starts, so it reads both
# events in one scan and sees domain 2 alive throughout. xenstored took
# the old domain 2 out of the permissions of vmsgd's keys at its release,
# so a kept session would leave the new one unable to reach vmsgd ("no
# vmsgd serves this domain"); vmsgd must notice and serve it afresh.
real=$(pgrep -P "$vmsgd_pid" -x vmsgd || echo "$vmsgd_pid")
for i in 1 2 3; do
	"$xensim" run --domid 2 -- sleep 60 >/dev/null 2>&1 &
	old=$!
	sim_wait 10 sh -c "\"$vmsgctl\" --socket \"$dir/vmsgd.sock\" list domains | grep -q '^ *2 '" ||
		fail "stopped case $i: vmsgd never listed the first domain 2"
	kill -STOP "$real"
	kill "$old"; wait "$old" 2>/dev/null
	timeout 60 "$xensim" run --domid 2 -- "$app" open=echo count=3 size=100 wait=20 \
		>"$dir/stopped$i.log" 2>&1 &
	new=$!
	sleep 1
	kill -CONT "$real"
	wait "$new" || fail "stopped case $i: the re-created domain 2 was not served: $(tail -n 3 "$dir/stopped$i.log")"
	grep -q '^OPEN ok 3 messages' "$dir/stopped$i.log" || fail "stopped case $i: no OPEN ok"
done
grep -q 'domain 2: released and created again under its id' "$dir/vmsgd.log" ||
	fail "vmsgd did not say it saw domain 2 re-created"
echo "vmsgd_domid_reuse: 3 domains 2 re-created while vmsgd was stopped, each served"

# A process that connects to its domain's control channel and leaves
# before vmsgd greets it (vmsgd stopped meanwhile) has left, as one that
# closes later does: an info line, no reset at warn, no back-off (a
# reset counts toward it and would delay the domain's next process).
cat=$build/tools/vmsg-cat/vmsg-cat
sim_need "$cat"
"$xensim" run --domid 3 -- sleep 60 >/dev/null 2>&1 &
keep=$!
sim_wait 10 sh -c "\"$vmsgctl\" --socket \"$dir/vmsgd.sock\" list domains | grep -q '^ *3 '" ||
	fail "vmsgd never listed domain 3"
kill -STOP "$real"
timeout 20 "$xensim" run --domid 3 -- "$cat" -c -x -d 0 -p /local/domain/0/data/vmsgd/3 --linger 0 </dev/null >"$dir/cat.log" 2>&1 ||
	{ kill -CONT "$real"; fail "vmsg-cat could not connect to domain 3's control channel: $(cat "$dir/cat.log")"; }
kill -CONT "$real"
sim_wait 10 grep -q "domain 3: disconnected" "$dir/vmsgd.log" ||
	fail "vmsgd did not say domain 3's process left"
grep -E "domain 3: (resetting|.*Hello)" "$dir/vmsgd.log" &&
	fail "a process that left before the Hello was taken for a reset"
timeout 30 "$xensim" run --domid 3 -- "$cat" -c -x -d 0 -p /local/domain/0/data/vmsgd/3 --linger 0 </dev/null >"$dir/cat2.log" 2>&1 ||
	fail "domain 3's next process could not connect: $(cat "$dir/cat2.log")"
kill "$keep"; wait "$keep" 2>/dev/null
echo "vmsgd_domid_reuse: a process gone before vmsgd's Hello left at info, without back-off"
