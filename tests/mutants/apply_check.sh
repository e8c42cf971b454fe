#!/bin/sh
# mutants_apply: every patch of the mutant catalogue (tests/mutants/*.patch,
# scripts/mutants.sh) still applies to the tree as it is, and names the
# tests that must catch it, each a test of this build. A patch that stops
# applying when the code it breaks moves is otherwise noticed only by the
# next full catalogue run (three did, unnoticed, for a week).
# usage: apply_check.sh SRC BUILD
set -eu
src=$1 build=$2
tests=$(ctest --test-dir "$build" -N | awk '/Test +#/ { print $3 }')
n=0 bad=0
for p in "$src"/tests/mutants/*.patch; do
	n=$((n + 1))
	name=$(basename "$p" .patch)
	if ! (cd "$src" && patch -p1 --dry-run --silent -f <"$p" >/dev/null 2>&1); then
		echo "mutants_apply: $name no longer applies (rewrite it against the code: docs/testing.md, Mutants)"
		bad=1
	fi
	named=$(sed -n 's/^# Tests: //p' "$p" | tr ' ' '\n' | sed 's/@.*//' | grep -v '^$' || true)
	[ -n "$named" ] || { echo "mutants_apply: $name names no test"; bad=1; }
	for t in $named; do
		echo "$tests" | grep -qx "$t" ||
			{ echo "mutants_apply: $name names '$t', not a test of this build"; bad=1; }
	done
done
[ $bad = 0 ] || exit 1
echo "mutants_apply: $n patches apply and name tests of this build"
