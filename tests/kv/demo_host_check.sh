#!/usr/bin/env bash
# demo_host: run scripts/demo-host.sh (the key-value demo through vmsgd in
# host mode, no Xen, no simulator) against this build and check its result
# lines: the client reads back what it put over a direct channel, the open
# of kv.text gets the policy's refusal naming the user, vmsgctl lists the
# server's client with its user, a latency figure is printed, and the demo
# says ok.
set -uo pipefail
demo=$1
build=$2
out=$(mktemp "${TMPDIR:-/tmp}/demo_host.XXXXXX")
trap 'rm -f "$out"' EXIT

VMSG_DEMO_BENCH=500 "$demo" "$build" >"$out" 2>&1
st=$?
cat "$out"
bad=0
need() {
	if ! grep -qF -- "$1" "$out"; then
		echo "demo_host: missing from the demo's output: $1" >&2
		bad=1
	fi
}
user=$(id -un)
need "demo: the client put and got back 'hello from a plain process'"
need "demo: refused: vmsg-kv: open 'kv.text': permission denied: service 'kv.text': user $user (uid $(id -u)) may not open it (policy)"
need "demo: latency: 500 get round trips"
need "demo: result: ok"
if ! grep -Eq "^ +[0-9]+ +connected +2 +0 +[0-9]+ +$user " "$out"; then
	echo "demo_host: vmsgctl did not list the server's client as $user" >&2
	bad=1
fi
if [ "$st" -ne 0 ]; then
	echo "demo_host: the demo exited with status $st" >&2
	bad=1
fi
exit "$bad"
