#!/usr/bin/env bash
# guest_sdk: the SDK's Linux target runs sdk-all (tests/guest/sdk_all.c,
# every call of vmsg/guest.h and vmsg/guest_xs.h) as domain 5 of the
# simulated Xen. usage: sdk_sim.sh BUILD_DIR
set -uo pipefail
build=$(cd "$1" && pwd)
xensim=$build/sim/bin/xensim
app=$build/tests/guest/sdk-all
for b in "$xensim" "$app"; do
	[ -x "$b" ] || { echo "sdk_sim: $b not built"; exit 1; }
done
[ -x "$build/sim/xenstored/vmsg-xenstored" ] || { echo "no vmsg-xenstored: skip"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/vmsg-sdk.XXXXXX")
export XENSIM_DIR=$dir/xensim
mkdir -p "$XENSIM_DIR"
trap '"$xensim" stop >/dev/null 2>&1; rm -rf "$dir"' EXIT
"$xensim" start >/dev/null || { echo "sdk_sim: xensim start failed"; exit 1; }
out=$("$xensim" run --domid 5 -- "$app" word=hello shutdown=1 2>&1)
st=$?
echo "$out"
[ "$st" -eq 0 ] || { echo "sdk_sim: FAIL: exit $st"; exit 1; }
echo "$out" | grep -q '^SDK ok: domain 5' || { echo "sdk_sim: FAIL: no SDK ok"; exit 1; }
echo "sdk_sim: ok"
