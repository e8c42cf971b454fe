#!/usr/bin/env bash
# Run every libFuzzer target (fuzz/, docs/testing.md "Fuzzers") for a
# while: build/fuzz built with clang and -DVMSG_FUZZ=ON, then each target
# for SECONDS (default 60), two at a time (the two cores), nice'd.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Each target starts from its seed corpus (fuzz/corpus/TARGET, read only)
# and from what earlier runs found (build/fuzz-corpus/TARGET, kept
# between runs, so that runs add up), where it adds what it finds;
# crashes, leaks and
# timeouts are saved as files under the run's directory, which the script
# names at the start and at the end with a table: target, seconds run,
# executions, executions per second, findings. Exits non-zero if any
# target found something. Replay a finding with
#   build/fuzz/fuzz/fuzz_TARGET FILE
# and turn it into a regression input: fuzz/corpus/TARGET/crash-WHAT.
#
# Environment: VMSG_FUZZ_DIR (default build/fuzz-runs/DATE-TIME) for the
# run's directory; VMSG_FUZZ_CORPUS (default build/fuzz-corpus) for the
# corpora found; VMSG_JOBS build parallelism; VMSG_FUZZ_PARALLEL targets
# at a time (default 2).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

secs=${1:-60}
shift || true
case $secs in
'' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac
jobs=${VMSG_JOBS:-$(nproc)}
par=${VMSG_FUZZ_PARALLEL:-2}
out=${VMSG_FUZZ_DIR:-$root/build/fuzz-runs/$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
corpus=${VMSG_FUZZ_CORPUS:-$root/build/fuzz-corpus}
echo "fuzz: findings and logs go to $out"

"$root/scripts/fuzz-build.sh" "$jobs"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for d in fuzz/corpus/*/; do
		targets+=("$(basename "$d")")
	done
fi

# run_one TARGET: fuzz it for $secs seconds; its log is $out/TARGET.log.
run_one() {
	local t=$1 bin=build/fuzz/fuzz/fuzz_$1
	mkdir -p "$corpus/$t" "$out/$t/findings"
	# The found corpus first: new inputs are written there, never into
	# the committed seeds. -timeout: an input running over 10 s is a
	# hang; -rss_limit_mb: one using over 2 GiB a runaway.
	nice -n 10 "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$out/$t/findings/" \
		"$corpus/$t" "fuzz/corpus/$t" >"$out/$t.log" 2>&1 || true
}

pids=()
for t in "${targets[@]}"; do
	if [ ! -x "build/fuzz/fuzz/fuzz_$t" ]; then
		echo "fuzz: no target fuzz_$t (fuzz/CMakeLists.txt)" >&2
		exit 2
	fi
	while [ "$(jobs -rp | wc -l)" -ge "$par" ]; do
		wait -n || true
	done
	echo "fuzz: $t for ${secs} s"
	run_one "$t" &
	pids+=($!)
done
wait

found=0
printf '\n%-15s %8s %12s %10s %s\n' target seconds execs "exec/s" findings
for t in "${targets[@]}"; do
	log=$out/$t.log
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	n=$(find "$out/$t/findings" -type f | wc -l)
	[ "$n" -eq 0 ] || found=1
	printf '%-15s %8s %12s %10s %s\n' "$t" "$secs" "${execs:-?}" "${rate:-?}" \
		"$([ "$n" -eq 0 ] && echo none || find "$out/$t/findings" -type f -printf '%f ')"
done
echo
if [ "$found" -ne 0 ]; then
	echo "fuzz: FOUND something: see $out/*/findings and the logs"
	exit 1
fi
echo "fuzz: nothing found ($out)"
