#!/usr/bin/env bash
# guest_multi_sim: the echo appliance's multi=N mode (examples/echo-
# unikernel/echo.c: N channels served at once from one vmsg_waitset) as a
# Linux program on the simulated Xen, in domain 1; 8 dom0 clients
# (guest-echo-client: 100 round trips, then 1 MiB in 32 KiB messages,
# every echo compared) connect all at once, one per channel. Every client
# must check out, and the appliance must report all 8 clients done and
# exit 0. The unikernel build of the same source runs the same exchange on
# real Xen (tests/guest/dom0-init.sh, uk-multi).
# usage: appliance_multi_sim.sh BUILD_DIR
set -uo pipefail
build=$(cd "$1" && pwd)
xensim=$build/sim/bin/xensim
app=$build/examples/echo-unikernel/echo-appliance
client=$build/tests/guest/guest-echo-client
n=8
for b in "$xensim" "$app" "$client"; do
	[ -x "$b" ] || { echo "appliance_multi_sim: $b not built"; exit 1; }
done
[ -x "$build/sim/xenstored/vmsg-xenstored" ] || { echo "no vmsg-xenstored: skip"; exit 77; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/vmsg-multi.XXXXXX")
export XENSIM_DIR=$dir/xensim
mkdir -p "$XENSIM_DIR"
pids=()
cleanup() {
	local st=$?
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	"$xensim" stop >/dev/null 2>&1 || true
	if [ "$st" -ne 0 ]; then
		for f in "$dir"/*.log; do
			[ -f "$f" ] && { echo "---- $(basename "$f")"; tail -n 25 "$f"; }
		done
	fi
	rm -rf "$dir"
	exit "$st"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "appliance_multi_sim: FAIL: $*"; exit 1; }

"$xensim" start >/dev/null || fail "xensim start"
"$xensim" run --domid 1 -- "$app" multi=$n port=echo peer=0 >"$dir/app.log" 2>&1 &
app_pid=$!
pids+=($app_pid)
for _ in $(seq 300); do
	grep -q '^MULTI serving' "$dir/app.log" && break
	sleep 0.1
done
grep -q '^MULTI serving' "$dir/app.log" || fail "the appliance does not serve"

cpids=()
for i in $(seq 0 $((n - 1))); do
	"$xensim" run --domid 0 -- "$client" 1 /local/domain/1/data/vchan/0/echo$i \
		$((1 << 20)) >"$dir/client$i.log" 2>&1 &
	cpids+=($!)
done
for i in $(seq 0 $((n - 1))); do
	wait "${cpids[i]}" || fail "client $i exited $?"
	grep -q '^ECHO-CLIENT ok' "$dir/client$i.log" || fail "client $i: no ECHO-CLIENT ok"
done
wait "$app_pid"; st=$?
pids=()
cat "$dir/app.log"
[ "$st" -eq 0 ] || fail "the appliance exited $st"
grep -q "^MULTI done: $n clients" "$dir/app.log" || fail "not all $n clients done"
echo "appliance_multi_sim: $n clients at once, each checked, from one wait set"
