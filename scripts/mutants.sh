#!/usr/bin/env bash
# mutants.sh - break the code on purpose, one small change at a time, and
# check that the tests named for each change catch it.
#
#   scripts/mutants.sh [--list] [--only NAME[,NAME...]] [--jobs N] [--help]
#
# The catalogue is tests/mutants/NAME.patch: a comment header, then a diff
# that patch -p1 takes. The header says what the change breaks and names
# the tests that must fail with it in place:
#
#   # Mutant: ring_prod_unchecked
#   # The reader accepts any producer index from the peer ...
#   # Tests: ring_hostile integ_hostile_peer@honest-tests
#   # Env: VAR=value                (optional: set for the tests)
#
# A test written TEST@BRANCH is one that does not catch the mutant yet and
# is expected to once BRANCH (a rewrite of that test) has landed; it is
# run and reported like the others.
#
# The developer's tree is never changed: the tree (without build/ and
# .git) is copied to a scratch directory ($VMSG_MUTANTS_DIR, default
# build/mutants/ of the tree, kept between runs so that builds are
# incremental), built once unchanged (release flavour) and the named tests
# run there as a baseline (they must pass: a test that fails anyway proves
# nothing). Then for each mutant: apply the patch to the copy, build,
# run its tests (each with a private TMPDIR), reverse the patch.
#
# Tests labelled xen (real Xen under QEMU, minutes each) run one QEMU at a
# time (flock /tmp/vmsg-qemu.lock); VMSG_XEN_TESTS=0 leaves them out and
# reports them as not run.
#
# Output: one line per mutant and test: caught (the test failed), survived
# (it passed), or not run; then a summary. Exit: 0 when every test of
# every mutant run caught it; 1 when one survived, a patch no longer
# applies, a mutant does not build, or the baseline fails; 2 on bad usage.
# Not part of ./scripts/test.sh (each mutant needs a rebuild): run it
# before a release and after changing a test or the code it guards.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cat_dir=$root/tests/mutants
scratch=${VMSG_MUTANTS_DIR:-$root/build/mutants}
jobs=${VMSG_JOBS:-$(nproc)}
list=0
only=

usage() { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	--list) list=1; shift ;;
	--only) only=${2:?--only needs a name}; shift 2 ;;
	--jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "mutants: unknown argument '$1' (--help)" >&2; exit 2 ;;
	esac
done

# header FILE KEY: the value of "# KEY: value" in a patch's header.
header() { sed -n "/^diff /q; /^# $2: /{s///p;q}" "$1"; }

mutants=()
for p in "$cat_dir"/*.patch; do
	n=$(basename "$p" .patch)
	if [ -n "$only" ] && [[ ",$only," != *",$n,"* ]]; then
		continue
	fi
	mutants+=("$n")
done
if [ -n "$only" ]; then
	for want in ${only//,/ }; do
		[ -f "$cat_dir/$want.patch" ] ||
			{ echo "mutants: no mutant '$want' (--list)" >&2; exit 2; }
	done
fi
[ ${#mutants[@]} -gt 0 ] || { echo "mutants: nothing in $cat_dir" >&2; exit 2; }

if [ "$list" = 1 ]; then
	printf '%-28s %s\n' MUTANT TESTS
	for n in "${mutants[@]}"; do
		printf '%-28s %s\n' "$n" "$(header "$cat_dir/$n.patch" Tests)"
	done
	exit 0
fi

# The scratch copy: a fresh source tree with the files' times kept (so the
# build there only redoes what changed since the last run), its build dir
# kept.
src=$scratch/src
bld=$scratch/release
mkdir -p "$scratch"
rm -rf "$src"
mkdir -p "$src"
tar -C "$root" --exclude=./build --exclude=./.git -cf - . | tar -C "$src" -xf -

build() {
	cmake -S "$src" -B "$bld" -DCMAKE_BUILD_TYPE=Release -DVMSG_WERROR=ON \
		-DVMSG_SANITIZE=OFF >"$scratch/configure.log" 2>&1 &&
		nice cmake --build "$bld" -j"$jobs" >"$scratch/build.log" 2>&1
}

# run_tests NAME... : run the named tests in the scratch build, print
# "NAME STATUS" per test (STATUS: Passed, Failed, Timeout, Skipped, ...).
run_tests() {
	local env=$1; shift
	local t re tmp out
	for t in "$@"; do
		tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmsg-mutant.XXXXXX")
		re="^${t}\$"
		local cmd=(ctest --test-dir "$bld" -R "$re" --output-on-failure)
		if is_xen "$t"; then
			if [ "${VMSG_XEN_TESTS:-1}" = 0 ]; then
				echo "$t not-run"
				rm -rf "$tmp"
				continue
			fi
			cmd=(flock /tmp/vmsg-qemu.lock "${cmd[@]}")
		fi
		out=$(env $env TMPDIR="$tmp" "${cmd[@]}" 2>&1 || true)
		echo "$out" >>"$scratch/tests.log"
		rm -rf "$tmp"
		# ctest's one status line for the test (no pipes: grep -q in a
		# pipeline under pipefail can fail on a match).
		line=$(grep -E "Test +#[0-9]+: $t " <<<"$out" || true)
		line=${line##*$'\n'}
		if [ -z "$line" ]; then
			echo "$t missing"
		elif [[ $line =~ \ Passed\  ]]; then
			echo "$t Passed"
		elif [[ $line == *'***Skipped'* || $line == *'***Not Run (Disabled)'* ]]; then
			echo "$t Skipped"
		else
			echo "$t Failed"
		fi
	done
}

is_xen() {
	local l
	l=$(ctest --test-dir "$bld" -N -L '^xen$' -R "^$1\$" 2>/dev/null || true)
	[[ $l == *"Test #"* || $l =~ Test\ +# ]]
}

# patch_src [-R] [--dry-run] < PATCH: apply a catalogue patch to the copy
# (GNU patch: the copy is no git tree, and the header is its preamble).
patch_src() { patch -d "$src" -p1 -s -f --no-backup-if-mismatch "$@"; }

# The tests of one mutant: "name" or "name@branch" words.
tests_of() { header "$cat_dir/$1.patch" Tests; }
env_of() { header "$cat_dir/$1.patch" Env; }

: >"$scratch/tests.log"
echo "mutants: scratch tree $src, build $bld (logs in $scratch)"
echo "mutants: building the unchanged tree"
if ! build; then
	echo "mutants: the unchanged tree does not build: $scratch/build.log" >&2
	tail -n 20 "$scratch/build.log" >&2
	exit 1
fi

# Baseline: every test named by a selected mutant passes unmutated (with
# that mutant's environment).
echo "mutants: baseline (the named tests, unmutated)"
bad=0
declare -A seen
for n in "${mutants[@]}"; do
	for w in $(tests_of "$n"); do
		t=${w%@*}
		key="$t|$(env_of "$n")"
		[ -z "${seen[$key]:-}" ] || continue
		seen[$key]=1
		read -r _ st < <(run_tests "$(env_of "$n")" "$t")
		case $st in
		Passed|not-run) ;;
		*) echo "mutants: baseline: $t $st unmutated (tests.log)" >&2; bad=1 ;;
		esac
	done
done
[ "$bad" = 0 ] || exit 1

rows=()
survived=0 caught=0 notrun=0 broken=0
for n in "${mutants[@]}"; do
	p=$cat_dir/$n.patch
	echo "mutants: $n"
	if ! patch_src --dry-run <"$p" >/dev/null 2>&1; then
		rows+=("$n|-|stale: the patch no longer applies")
		broken=$((broken + 1))
		continue
	fi
	patch_src <"$p" >/dev/null
	if ! build; then
		rows+=("$n|-|does not build (fix the patch): $(grep -m1 -E 'error' "$scratch/build.log" || true)")
		broken=$((broken + 1))
		patch_src -R <"$p" >/dev/null
		continue
	fi
	words=$(tests_of "$n")
	plain=()
	for w in $words; do plain+=("${w%@*}"); done
	while read -r t st; do
		after=
		for w in $words; do
			[ "${w%@*}" = "$t" ] && [ "$w" != "$t" ] && after=${w#*@}
		done
		case $st in
		Passed|Skipped)
			verdict="SURVIVED${after:+ (expected to be caught after branch $after)}"
			[ "$st" = Skipped ] && verdict="$verdict, the test skipped"
			survived=$((survived + 1)) ;;
		Failed) verdict="caught"; caught=$((caught + 1)) ;;
		not-run) verdict="not run (VMSG_XEN_TESTS=0)"; notrun=$((notrun + 1)) ;;
		*) verdict="no such test"; broken=$((broken + 1)) ;;
		esac
		rows+=("$n|$t|$verdict")
	done < <(run_tests "$(env_of "$n")" "${plain[@]}")
	patch_src -R <"$p" >/dev/null
done
# Leave the copy as the developer's tree is, for the next incremental run.
build || true

echo
echo "==== mutants ===="
printf '%-28s %-28s %s\n' MUTANT TEST RESULT
for r in "${rows[@]}"; do
	IFS='|' read -r n t v <<<"$r"
	printf '%-28s %-28s %s\n' "$n" "$t" "$v"
done
echo "${#mutants[@]} mutants: $caught caught, $survived survived, $notrun not run, $broken broken"
[ "$survived" = 0 ] && [ "$broken" = 0 ]
