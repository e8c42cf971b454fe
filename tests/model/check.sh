#!/usr/bin/env bash
# Model-check tests/model/ring.pml with spin, then check that the model
# is not vacuous: each mutation of the protocol must give a counterexample.
# Usage: check.sh [MODEL]   (needs spin and a C compiler: scripts/deps.sh)
set -euo pipefail

model=${1:-$(dirname "$0")/ring.pml}
cc=${CC:-cc}
if ! command -v spin >/dev/null 2>&1; then
	echo "model: spin is not installed (scripts/deps.sh installs it)" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vmsg-model.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$model" "$work/ring.pml"
cd "$work"

fail=0

# run NAME EXPECT [-Dmacro...]: EXPECT is "clean" or the text the
# counterexample must contain.
run() {
	local name=$1 expect=$2
	shift 2
	rm -f pan pan.* ring.pml.trail
	spin -a "$@" ring.pml >spin.out 2>&1 || { cat spin.out; fail=1; return; }
	"$cc" -O0 -DSAFETY -o pan pan.c 2>cc.out || { cat cc.out; fail=1; return; }
	./pan -m100000 -w20 >pan.out 2>&1 || true
	local errors states depth secs
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.out)
	states=$(sed -n 's/^ *\([0-9e.+]*\) states, stored.*/\1/p' pan.out)
	depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' pan.out)
	secs=$(sed -n 's/^pan: elapsed time \([0-9.e+-]*\) seconds.*/\1/p' pan.out)
	printf 'model: %-22s errors %s, %s states, depth %s, %s s\n' \
		"$name" "${errors:-?}" "${states:-?}" "${depth:-?}" "${secs:-?}"
	if grep -q 'max search depth too small' pan.out; then
		echo "model: $name: search depth limit reached: not a full search" >&2
		fail=1
		return
	fi
	if [ "$expect" = clean ]; then
		if [ "${errors:-x}" != 0 ]; then
			echo "model: $name: the protocol model has a counterexample:" >&2
			cat pan.out >&2
			[ -f ring.pml.trail ] && spin -t -p "$@" ring.pml | tail -60 >&2
			fail=1
		fi
	else
		if [ "${errors:-0}" = 0 ] || ! grep -qF -- "$expect" pan.out; then
			echo "model: $name: spin found no counterexample (expected: $expect): the model is vacuous" >&2
			cat pan.out >&2
			fail=1
		fi
	fi
}

# The protocol as lib/chan does it, in two sizes: a ring of 2 slots with
# 3 bytes (wrap, a writer that waits for space) and of 1 slot.
run 'protocol'             clean
run 'protocol 1-slot'      clean -DSIZE=1 -DN=2
# Each mutation breaks one rule the protocol needs; spin must see it.
run 'kick before publish'  'r_asleep' -DMUT_KICK_EARLY
run 'space kick early'     'w_asleep' -DMUT_SPACE_KICK_EARLY
run 'no re-check'          '_asleep' -DMUT_NO_RECHECK
run 'close final at once'  'assertion violated (received==prod)' -DMUT_GONE_FINAL
run 'close without kick'   'r_asleep' -DMUT_CLOSE_NO_KICK

if [ "$fail" -ne 0 ]; then
	echo "model: FAILED" >&2
	exit 1
fi
echo "model: the protocol holds; every mutation was caught"
