#!/usr/bin/env bash
# guest_appliance_host: the echo appliance's source (examples/echo-unikernel/
# echo.c) as two plain Linux processes on the host backend (guest/linux/,
# `host=DIR`): no Xen, no simulator. The server (`clients=2`) echoes; a
# client (`role=client`) sends 200 typed messages of 1..40000 bytes and
# checks every echo and both checksums ("PING ok"); a second client does it
# again on the reopened channel; the server then exits 0.
# usage: appliance_host.sh BUILD_DIR
set -uo pipefail
app=$1/examples/echo-unikernel/echo-appliance
[ -x "$app" ] || { echo "appliance_host: $app not built"; exit 1; }
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

"$app" host="$dir" clients=2 >"$dir/server.log" 2>&1 &
srv=$!
for _ in $(seq 300); do grep -q "ECHO serving" "$dir/server.log" && break; sleep 0.1; done
grep -q "ECHO serving messages" "$dir/server.log" || fail "the server did not start"
for n in 1 2; do
	out=$(timeout 120 "$app" host="$dir" role=client count=200) || fail "client $n: $out"
	echo "$out"
	echo "$out" | grep -q '^PING ok 200 messages' || fail "client $n: no PING ok"
	sums=$(echo "$out" | sed -n 's/.*checksum \([0-9a-f]*\)\/\([0-9a-f]*\).*/\1 \2/p')
	set -- $sums
	[ -n "${1:-}" ] && [ "$1" = "${2:-}" ] || fail "client $n: checksums differ: $sums"
done
wait "$srv"
st=$?
srv=
cat "$dir/server.log"
[ "$st" -eq 0 ] || fail "server exit status $st"
grep -q "ECHO done: .* 400 messages" "$dir/server.log" || fail "server did not echo 400 messages"
echo "appliance_host: ok"
