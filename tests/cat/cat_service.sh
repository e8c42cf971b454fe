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
build=$(cd "$1" && pwd)
xensim=$build/sim/bin/xensim
vmsgd=$build/dom0/vmsgd
vmsgctl=$build/dom0/vmsgctl
cat=$build/tools/vmsg-cat/vmsg-cat
for b in "$xensim" "$vmsgd" "$vmsgctl" "$cat" "$build/sim/xenstored/vmsg-xenstored"; do
	[ -x "$b" ] || { echo "cat_service: FAIL: $b not built"; exit 1; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/vmsg-catsvc.XXXXXX")
export XENSIM_DIR=$dir/xensim
mkdir -p "$XENSIM_DIR"
pids=()
cleanup() {
	local st=$?
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	# Whatever still names our directory (a pipeline's vmsg-cat) goes too.
	pkill -TERM -f -- "$dir/" 2>/dev/null || true
	"$xensim" stop >/dev/null 2>&1 || true
	if [ "$st" -ne 0 ]; then
		for f in "$dir"/*.log; do
			[ -f "$f" ] && { echo "---- $(basename "$f")"; tail -n 20 "$f"; }
		done
	fi
	rm -rf "$dir"
	exit "$st"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "cat_service: FAIL: $*"; exit 1; }
ctl() { "$vmsgctl" --socket "$dir/vmsgd.sock" "$@"; }
dom() { local d=$1; shift; "$xensim" run --domid "$d" -- "$@"; }
offered() { # NAME: wait until vmsgctl lists it
	for _ in $(seq 100); do
		ctl list services | grep -q "^ *$1 " && return 0
		sleep 0.1
	done
	fail "service $1 never offered"
}

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
"$xensim" start >/dev/null || fail "xensim start"
"$xensim" run --domid 0 -- "$vmsgd" --foreground --config "$dir/vmsgd.conf" >"$dir/vmsgd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q ready "$dir/vmsgd.log" && break; sleep 0.1; done
grep -q ready "$dir/vmsgd.log" || fail "vmsgd did not start"

# 1. a command per consumer
# Background domains run `xensim run` directly (not through dom()), so
# that $! is the domain's wrapper: a signal to it reaches vmsg-cat.
"$xensim" run --domid 1 -- "$cat" --offer echo -- cat >"$dir/offer-echo.log" 2>&1 &
echo_pid=$!
pids+=($echo_pid)
offered echo
for n in 1 2; do
	head -c 200000 /dev/urandom >"$dir/in$n"
	dom 2 "$cat" --service echo --linger 3000 <"$dir/in$n" >"$dir/out$n" \
		2>"$dir/consumer$n.log" || fail "consumer $n: status $?"
	cmp "$dir/in$n" "$dir/out$n" || fail "consumer $n: echo differs from its input"
	echo "consumer $n: 200000 bytes echoed by cat, equal to the input"
done

# 2. the command knows its consumer
"$xensim" run --domid 4 -- "$cat" --offer who -- sh -c 'echo "peer=$VMSG_PEER_DOMID service=$VMSG_SERVICE"' \
	>"$dir/offer-who.log" 2>&1 &
pids+=($!)
offered who
got=$(dom 2 "$cat" --service who --linger 2000 </dev/null) || fail "who: status $?"
[ "$got" = "peer=2 service=who" ] || fail "who: got '$got'"
echo "who: $got"

# 3. the policy refuses dom3, with vmsgd's text
out=$(dom 3 "$cat" --service echo </dev/null 2>&1)
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
pids+=($once_pid)
offered once
dom 2 "$cat" --service once --linger 3000 <"$dir/cons-in" >"$dir/cons-out" \
	2>"$dir/consumer-once.log" || fail "once consumer: status $?"
wait "$once_pid"
st=$?
[ "$st" -eq 0 ] || fail "--offer once: status $st, want 0"
cmp "$dir/prov-in" "$dir/cons-out" || fail "once: provider -> consumer differs"
cmp "$dir/cons-in" "$dir/prov-out" || fail "once: consumer -> provider differs"
for _ in $(seq 50); do
	ctl list services | grep -q "^ *once " || break
	sleep 0.1
done
ctl list services | grep -q "^ *once " && fail "once still offered after its exit"
echo "once: 50000 and 70000 bytes crossed, the provider exited 0 and withdrew"

# 5. SIGTERM ends the command server and withdraws the offer
ctl list services | grep -q "^ *echo " || fail "echo not listed before SIGTERM"
kill -TERM "$echo_pid"
wait "$echo_pid"
st=$?
# xensim run passes on the command's status: 128 + SIGTERM.
[ "$st" -eq 143 ] || fail "--offer echo after SIGTERM: status $st, want 143"
for _ in $(seq 50); do
	ctl list services | grep -q "^ *echo " || break
	sleep 0.1
done
ctl list services | grep -q "^ *echo " && fail "echo still offered after SIGTERM"
echo "SIGTERM: status 143, echo withdrawn"
echo "cat_service: ok"
