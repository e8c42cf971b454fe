#!/usr/bin/env bash
# The test command: install what is missing, build each flavour, run the
# suite in each, print a summary. Exits non-zero if anything failed.
#
#   release  build/release  -O2 (CMAKE_BUILD_TYPE=Release), -Werror; also
#            the Debian packages' test (deb_packages, label pkg: build,
#            lintian, install into a chroot, the demo there; root only;
#            registered in this flavour only, docs/packages.md)
#   asan     build/asan     -O0 -g, AddressSanitizer + UBSan, leak checks, -Werror
#   tsan     build/tsan     -O2 -g, ThreadSanitizer, -Werror: the tests where
#            both ends of a channel, or vmsgd's threads, live in one
#            process (host_*, integ_host_*, bench_*, vmsgd_*), and the
#            nbdkit plugin's threads (nbd_plugin_threads), where it can
#            see the ring's protocol; a report fails the test
#
#   xen      the release build's real-Xen tests (label xen: Xen 4.17 booted
#            in QEMU, tests/xen and tests/guest), after the release suite,
#            one emulated machine at a time
#   fuzz     build/fuzz: the libFuzzer targets (clang, -DVMSG_FUZZ=ON) only,
#            each replaying its seed corpus once, which must reach the
#            target's floor of edges in fuzz/coverage-floors (label fuzz;
#            fuzzing for real is scripts/fuzz.sh)
#
# Environment: VMSG_FLAVOURS="release asan tsan fuzz" picks flavours
# (default all);
# VMSG_XEN_TESTS=0 leaves the real-Xen pass out, =1 runs it even when ctest
# arguments are given (by default it runs only without them); VMSG_JOBS
# sets build parallelism (default nproc). Arguments are passed to ctest,
# e.g. ./scripts/test.sh -R chan_ or ./scripts/test.sh -L install.
set -euo pipefail

case ${1:-} in
-h | --help)
	# This file's header, without the comment marks.
	sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 0
	;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

flavours=${VMSG_FLAVOURS:-release asan tsan fuzz}
jobs=${VMSG_JOBS:-$(nproc)}

"$root/scripts/deps.sh"

# Tests write only under $TMPDIR; give them a fresh one so that anything left
# behind can be reported.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/vmsg-test.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

declare -A summary
failed=0
flavours_run=""

# run_flavour NAME CMAKE_ARGS... : configure, build and test build/NAME.
run_flavour() {
	local name=$1
	shift
	local dir=build/$name log=build/$name/ctest.log start=$SECONDS
	echo
	echo "==== $name: configure ===="
	if ! cmake -S . -B "$dir" -DVMSG_WERROR=ON "$@"; then
		summary[$name]="FAILED to configure"
		return 1
	fi
	echo "==== $name: build ===="
	if ! cmake --build "$dir" -j "$jobs"; then
		summary[$name]="FAILED to build"
		return 1
	fi
	run_ctest "$name" "$dir" "$log" "$start" -LE xen ${select:+-R "$select"} "${ctest_args[@]}"
}

# run_ctest NAME DIR LOG START CTEST_ARGS... : run ctest in DIR, summarise.
run_ctest() {
	local name=$1 dir=$2 log=$3 start=$4
	shift 4
	echo "==== $name: test ===="
	local tmp=$scratch/$name
	mkdir -p "$tmp"
	# Two at a time: the two-process tests each want both cores.
	# --timeout only covers tests that declare none.
	local rc=0
	# No test may leave a process running. ctest runs under
	# vmsg-test-reaper (tests/reaper/reaper.c), the subreaper of
	# everything the tests start: a process whose parent went away is
	# reparented to it, and once ctest has exited it names (pid, name,
	# command line) and kills whatever is still running below it. That
	# is exactly this run's processes: other runs on the same machine
	# (other checkouts, other users) are not its descendants, whereas
	# matching by name or by user would see them; matching by TMPDIR in
	# /proc/PID/environ would miss a process started with a clean
	# environment.
	local reaper=$dir/tests/vmsg-test-reaper
	if [ ! -x "$reaper" ]; then
		summary[$name]="FAILED: $reaper not built"
		return 1
	fi
	TMPDIR=$tmp "$reaper" -- ctest --test-dir "$dir" --output-on-failure -j2 \
		--no-tests=error --timeout 600 "$@" 2>&1 |
		tee "$log" || rc=$? # pipefail: ctest's (or the reaper's) status
	local line verdict=passed skipped
	[ "$rc" -eq 0 ] || verdict=FAILED
	line=$(grep -E 'tests passed, [0-9]+ tests failed out of' "$log" | tail -n 1 || true)
	# ctest counts a skipped test (exit 77) as passed: say which were,
	# and call a pass in which nothing ran what it is.
	skipped=$(sed -n '/The following tests did not run:/,/^$/p' "$log" |
		sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) (\(.*\))$/\1 (\2)/p' | paste -sd, - || true)
	if [ "$rc" -eq 0 ] && [ -n "$skipped" ]; then
		local total nskip
		total=$(echo "$line" | sed -n 's/.*out of \([0-9]*\).*/\1/p')
		nskip=$(echo "$skipped" | tr ',' '\n' | grep -c .)
		if [ -n "$total" ] && [ "$nskip" -ge "$total" ]; then
			verdict="NOT RUN (every test skipped)"
		else
			verdict="passed, $nskip skipped"
		fi
		# In CI the real-Xen pass must run (its tests fail by
		# themselves there too; this is the belt to those braces).
		if [ "${CI:-}" = true ] && [ "$name" = xen ]; then
			verdict="FAILED (CI=true: $nskip skipped)"
			rc=1
		fi
	fi
	summary[$name]="$verdict in $((SECONDS - start)) s"$'\n'"${line:-(no ctest summary line)}"
	[ -z "$skipped" ] || summary[$name]+=$'\n'"skipped: $skipped"
	if grep -q '^vmsg-test-reaper: left running:' "$log"; then
		summary[$name]="FAILED: tests left processes running (killed):"$'\n'"$(grep '^vmsg-test-reaper: left running:' "$log" | sed 's/^vmsg-test-reaper: left running: /  /')"$'\n'"${summary[$name]}"
		[ "$rc" -ne 0 ] || rc=1
	fi
	if grep -q 'The following tests FAILED' "$log"; then
		summary[$name]+=$'\n'"$(sed -n '/The following tests FAILED/,/^$/p' "$log" | grep -v '^Errors while running CTest')"
	fi
	local left
	left=$(find "$tmp" -mindepth 1 -maxdepth 1 2>/dev/null | head -n 20)
	if [ -n "$left" ]; then
		summary[$name]="warning: tests left files in TMPDIR:"$'\n'"$left"$'\n'"${summary[$name]}"
	fi
	return "$rc"
}

# The fuzz flavour: build only the fuzz targets (and the reaper) with
# clang, and replay every corpus (ctest label fuzz).
run_fuzz() {
	local dir=build/fuzz start=$SECONDS
	echo
	echo "==== fuzz: configure and build (clang, fuzz targets only) ===="
	if ! "$root/scripts/fuzz-build.sh" "$jobs"; then
		summary[fuzz]="FAILED to configure or build"
		return 1
	fi
	# Arguments that select tests of other areas select none here.
	if [ ${#ctest_args[@]} -gt 0 ] &&
		! ctest --test-dir "$dir" -N -L fuzz "${ctest_args[@]}" |
		grep -q '^Total Tests: [1-9]'; then
		summary[fuzz]="not run (the ctest arguments select no fuzz test)"
		return 0
	fi
	run_ctest fuzz "$dir" "$dir/ctest.log" "$start" -L fuzz "${ctest_args[@]}"
}

ctest_args=("$@")
xen=${VMSG_XEN_TESTS:-}
[ -n "$xen" ] || { [ $# -eq 0 ] && xen=1 || xen=0; }
for f in $flavours; do
	case $f in
	release)
		run_flavour release -DCMAKE_BUILD_TYPE=Release -DVMSG_SANITIZE=OFF || failed=1
		if [ "$xen" = 1 ] && [ -d build/release ]; then
			# Alone, after the rest: each boots Xen in QEMU (minutes,
			# both cores); RESOURCE_LOCK keeps them one at a time.
			flavours_run+=" xen"
			# ctest shows a test's output only when it ends: the
			# boots' progress lines (tests/xen/progress.sh) also go
			# to this file, shown here as they come.
			progress=$scratch/xen-progress.log
			: >"$progress"
			tail -n +1 -f "$progress" &
			tailpid=$!
			VMSG_PROGRESS_LOG=$progress run_ctest xen build/release \
				build/release/ctest-xen.log "$SECONDS" -L xen "${ctest_args[@]}" || failed=1
			kill "$tailpid" 2>/dev/null || true
			wait "$tailpid" 2>/dev/null || true
		fi
		;;
	asan)
		# Make the sanitizers fatal: a leak or any UB report fails the test.
		ASAN_OPTIONS="detect_leaks=1:abort_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
		UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}" \
		LSAN_OPTIONS="suppressions=$root/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}" \
			run_flavour asan -DCMAKE_BUILD_TYPE=Debug -DVMSG_SANITIZE=ON || failed=1
		;;
	fuzz)
		run_fuzz || failed=1
		;;
	tsan)
		# A data race (or a lock-order inversion) is a report, and a
		# report fails the test (TSan's exit code 66 at exit).
		# (A -R among the command line's ctest arguments replaces it.)
		TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1${TSAN_OPTIONS:+ $TSAN_OPTIONS}" \
		select='^(host_|integ_host_|bench_|vmsgd_|nbd_plugin_threads$)' \
			run_flavour tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVMSG_TSAN=ON || failed=1
		;;
	*)
		echo "test.sh: unknown flavour '$f' (release, asan, tsan, fuzz)" >&2
		exit 2
		;;
	esac
done

# With everything passing, the last line printed is ctest's own
# "100% tests passed, 0 tests failed out of N" of the last flavour.
echo
echo "==== summary ===="
for f in $flavours$flavours_run; do
	echo "$f: ${summary[$f]:-not run}"
done
if [ "$failed" -ne 0 ]; then
	echo "test.sh: FAILED (see above)"
	exit 1
fi
