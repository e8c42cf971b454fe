#!/usr/bin/env bash
# guest_appliance_host: the echo appliance's source (examples/echo-unikernel/
# echo.c) as two plain Linux processes on the host backend (guest/linux/,
# `host=DIR`): no Xen, no simulator. The server (`clients=2 cksum=1`)
# echoes; a client (`role=client`) sends 200 typed messages of 1..40000
# bytes and checks every echo ("PING ok"); a second client does it again on
# the reopened channel; the server then exits 0. What crossed the channel
# is checked against an independent source: `cksum` of the records that
# guest-echo-pattern (tests/guest/echo_pattern.c) writes must equal the
# CRC the server printed of each client's records as it received them, and
# the CRC each client printed of the echoes it received.
# usage: appliance_host.sh BUILD_DIR
set -uo pipefail
app=$1/examples/echo-unikernel/echo-appliance
pattern=$1/tests/guest/guest-echo-pattern
for b in "$app" "$pattern"; do
	[ -x "$b" ] || { echo "appliance_host: $b not built"; exit 1; }
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/vmsg-apph.XXXXXX")
srv=
cleanup() {
	local st=$?
	[ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
	[ "$st" -ne 0 ] && [ -f "$dir/server.log" ] && { echo "---- server.log"; cat "$dir/server.log"; }
	rm -rf "$dir"
	exit "$st"
}
trap cleanup EXIT
fail() { echo "appliance_host: FAIL: $*"; exit 1; }

# The expected CRC and length of the 200 records, as `cksum` prints them.
want=$("$pattern" 200 40000 | cksum) || fail "guest-echo-pattern | cksum"
"$app" host="$dir" clients=2 cksum=1 >"$dir/server.log" 2>&1 &
srv=$!
for _ in $(seq 300); do grep -q "ECHO serving" "$dir/server.log" && break; sleep 0.1; done
grep -q "ECHO serving messages" "$dir/server.log" || fail "the server did not start"
for n in 1 2; do
	out=$(timeout 120 "$app" host="$dir" role=client count=200) || fail "client $n: $out"
	echo "$out"
	echo "$out" | grep -q '^PING ok 200 messages' || fail "client $n: no PING ok"
	got=$(echo "$out" | sed -n 's/^PING ok .* received cksum \([0-9]* [0-9]*\),.*/\1/p')
	[ "$got" = "$want" ] || fail "client $n: the echoes it received: cksum [$got], want [$want]"
done
wait "$srv"
st=$?
srv=
cat "$dir/server.log"
[ "$st" -eq 0 ] || fail "server exit status $st"
grep -q "ECHO done: .* 400 messages" "$dir/server.log" || fail "server did not echo 400 messages"
for n in 1 2; do
	got=$(sed -n "s/^ECHO client $n done: .* received cksum \([0-9]* [0-9]*\)\$/\1/p" "$dir/server.log")
	[ "$got" = "$want" ] || fail "the server's records of client $n: cksum [$got], want [$want]"
done
echo "appliance_host: both clients' records, as the server received them and as the echoes came back: cksum $want"
echo "appliance_host: ok"
