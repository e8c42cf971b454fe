#!/usr/bin/env bash
# reaper_leftovers: vmsg-test-reaper, which scripts/test.sh runs ctest
# under to fail a run in which a test leaves a process behind, checked
# against commands whose leftovers are known:
#   1. a command that exits 0 and leaves two processes behind (one
#      orphaned into the reaper, one that left the session with setsid):
#      the reaper names both (name and command line), kills them, exits 3;
#   2. a clean command: exit 0, nothing reported; a failing one keeps its
#      status;
#   3. a process that ends within the grace (a cleanup that signalled
#      without waiting) is not a leftover;
#   4. the leaks of a command that failed are still reported (and killed).
# usage: selftest.sh REAPER
set -uo pipefail
reaper=$1
[ -x "$reaper" ] || { echo "reaper_leftovers: $reaper not built"; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/vmsg-reaper.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "reaper_leftovers: FAIL: $*"; [ -f "$dir/err" ] && sed 's/^/  | /' "$dir/err"; exit 1; }
# The leftovers are sleep(1) under names of their own in $dir (the name a
# process is started by is its name and the start of its command line):
# only our own processes carry them.
for w in a b c; do ln -s "$(command -v sleep)" "$dir/left-$w"; done

# 1. Two leftovers.
"$reaper" --grace 300 -- sh -c "'$dir/left-a' 1000 & setsid '$dir/left-b' 1000 & exit 0" \
	2>"$dir/err"
st=$?
[ "$st" -eq 3 ] || fail "1: exit status $st, want 3 (left running)"
for w in a b; do
	line=$(grep "^vmsg-test-reaper: left running: [0-9]* left-$w: $dir/left-$w 1000\$" "$dir/err") ||
		fail "1: no report of left-$w"
	pid=$(echo "$line" | awk '{print $4}')
	# Killed and reaped: the pid names nothing (or, reused, another
	# command line).
	if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$dir/left-"; then
		fail "1: leftover $pid still running after the reaper exited"
	fi
done
[ "$(grep -c 'left running:' "$dir/err")" -eq 2 ] || fail "1: not exactly two reports"
grep -q '2 processes left running by the tests (killed)' "$dir/err" || fail "1: no count"
echo "reaper_leftovers: two leftovers named, killed, status 3"

# 2. Clean, and failing without leftovers.
"$reaper" --grace 300 -- true 2>"$dir/err"
st=$?
[ "$st" -eq 0 ] && [ ! -s "$dir/err" ] || fail "2: clean command: status $st"
"$reaper" --grace 300 -- sh -c 'exit 5' 2>"$dir/err"
st=$?
[ "$st" -eq 5 ] && [ ! -s "$dir/err" ] || fail "2: failing command: status $st, want 5"
echo "reaper_leftovers: a clean command passes, a failing one keeps its status"

# 3. An orphan that ends within the grace.
"$reaper" --grace 3000 -- sh -c "sleep 0.5 & exit 0" 2>"$dir/err"
st=$?
[ "$st" -eq 0 ] && [ ! -s "$dir/err" ] || fail "3: status $st, want 0 and no report"
echo "reaper_leftovers: an orphan that ends within the grace is not reported"

# 4. A failing command that leaks: its status, and the report.
"$reaper" --grace 300 -- sh -c "'$dir/left-c' 1000 & exit 4" 2>"$dir/err"
st=$?
[ "$st" -eq 4 ] || fail "4: exit status $st, want 4"
grep -q "left running: [0-9]* left-c: $dir/left-c 1000\$" "$dir/err" || fail "4: no report"
echo "reaper_leftovers: ok"
