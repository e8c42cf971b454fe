#!/usr/bin/env bash
# sim_fd_limit: xensimd out of file descriptors. Every domain's handles
# are connections to it, so thousands of channels take thousands of
# descriptors; when it has none left it must say so in xensimd.log (the
# clients only see their calls time out: vmsgd said "provider did not
# answer"), must not spin on the listening socket it cannot accept from,
# and must take connections again once descriptors are back. Also: it
# starts with its soft limit raised to the hard one.
# usage: sim_fd_limit.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/../lib/sim.sh"
command -v prlimit >/dev/null || { echo "SKIP: no prlimit"; exit 77; }
sim_init sim_fd_limit "$1"
sim_need "$xensim"
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -gt 256 ] || { echo "SKIP: hard limit $hard"; exit 77; }
( ulimit -Sn 256; "$xensim" start >/dev/null ) || fail "xensim start"
P=$(cat "$XENSIM_DIR/xensimd.pid")
soft=$(awk '/open files/ {print $4}' /proc/$P/limits)
[ "$soft" != 256 ] || fail "xensimd kept the soft limit of 256 it was started with"
echo "ok: xensimd's open-file limit: $soft (started under 256)"

open=$(ls /proc/$P/fd | wc -l)
prlimit --pid "$P" --nofile="$open":"$hard" || fail "prlimit"
for i in 1 2 3 4; do
	timeout 5 "$xensim" run --domid $((i + 1)) -- true >/dev/null 2>&1 &
	sim_track $!
done
sim_wait 10 grep -q "cannot take a new connection: Too many open files" "$XENSIM_DIR/xensimd.log" ||
	fail "no word of the exhausted descriptors in xensimd.log"
echo "ok: $(grep -o 'cannot take a new connection.*' "$XENSIM_DIR/xensimd.log" | head -n 1)"
# Not spinning: its CPU time grows by less than 0.2 s over a second.
t0=$(awk '{print $14 + $15}' /proc/$P/stat)
sleep 1
t1=$(awk '{print $14 + $15}' /proc/$P/stat)
hz=$(getconf CLK_TCK)
[ $(( (t1 - t0) * 1000 / hz )) -lt 200 ] || fail "xensimd used $(( (t1 - t0) * 1000 / hz )) ms of CPU in 1 s while out of descriptors"
echo "ok: $(( (t1 - t0) * 1000 / hz )) ms of CPU in a second while out of descriptors"
prlimit --pid "$P" --nofile="$soft":"$hard" || fail "prlimit back"
"$xensim" run --domid 9 -- true || fail "no domain runs once descriptors are back"
echo "ok: a domain runs once descriptors are back"
exit 0
