#!/usr/bin/env bash
# guest_sdk: the SDK's Linux target runs sdk-all (tests/guest/sdk_all.c,
# every call of vmsg/guest.h and vmsg/guest_xs.h) as domain 5 of the
# simulated Xen. usage: sdk_sim.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/../lib/sim.sh"
[ -x "$1/sim/xenstored/vmsg-xenstored" ] || { echo "no vmsg-xenstored: skip"; exit 77; }
sim_init sdk_sim "$1"
app=$build/tests/guest/sdk-all
sim_need "$xensim" "$app"
sim_start
out=$("$xensim" run --domid 5 -- "$app" word=hello shutdown=1 2>&1)
st=$?
echo "$out"
[ "$st" -eq 0 ] || fail "exit $st"
echo "$out" | grep -q '^SDK ok: domain 5' || fail "no SDK ok"
echo "sdk_sim: ok"
