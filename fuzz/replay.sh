#!/usr/bin/env bash
# A fuzz target's corpus replay (ctest's fuzz_NAME, fuzz/CMakeLists.txt):
# runs the target with the replay arguments and fails as it does (a
# crash, a sanitizer report, a leak, a hang), and also when the corpus
# reaches fewer edges than the target's floor in FLOORS (libFuzzer's
# last "cov: N" line). A replay passes on a target that crashes on
# nothing because it runs nothing: a harness half that fails early on
# every input. docs/testing.md, "Fuzzers".
#
#   fuzz/replay.sh NAME FLOORS TARGET ARGS...
set -uo pipefail

if [ $# -lt 3 ]; then
	echo "usage: fuzz/replay.sh NAME FLOORS TARGET ARGS..." >&2
	exit 2
fi
name=$1 floors=$2
shift 2
see="see docs/testing.md, \"Fuzzers\""

floor=$(awk -v t="$name" '$1 == t { print $2 }' "$floors") || exit 1
case $floor in
'' | *[!0-9]*)
	echo "fuzz_$name: no floor for $name in $floors; $see" >&2
	exit 1
	;;
esac

# libFuzzer's output goes on to ctest as it comes (on stderr, where
# libFuzzer writes it), and the last figure is kept: "#N INITED cov: ..."
# after loading, "#N DONE cov: ..." at the end. Not tee /dev/fd/N: that
# opens a file again, from its start. pipefail: the status is the
# target's if it failed.
fig='^#[0-9]+[[:space:]]+(INITED|DONE)[[:space:]]+cov: ([0-9]+) '
cov=$("$@" 2>&1 | {
	c=
	while IFS= read -r l || [ -n "$l" ]; do
		printf '%s\n' "$l" >&2
		[[ ! $l =~ $fig ]] || c=${BASH_REMATCH[2]}
	done
	echo "$c"
})
rc=$?
[ "$rc" -eq 0 ] || exit "$rc"

if [ -z "$cov" ]; then
	echo "fuzz_$name: libFuzzer printed no \"cov:\" figure; $see" >&2
	exit 1
fi
if [ "$cov" -lt "$floor" ]; then
	echo "fuzz_$name: the corpus reaches $cov edges, its floor is $floor:" \
		"a part of the target no longer runs; $see" >&2
	exit 1
fi
echo "fuzz_$name: the corpus reaches $cov edges, its floor is $floor" >&2
# Seeds that reach more leave the floor behind: say so, failing nothing.
[ "$floor" -ge $((cov * 8 / 10)) ] ||
	echo "fuzz_$name: a floor of $((cov * 9 / 10)) (90 %) would fit this corpus" >&2
