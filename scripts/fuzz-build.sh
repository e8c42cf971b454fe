#!/usr/bin/env bash
# Configure and build the libFuzzer targets in build/fuzz (clang,
# -DVMSG_FUZZ=ON: coverage, ASan and UBSan everywhere), and the test
# reaper scripts/test.sh runs their corpus replays under. Used by
# scripts/fuzz.sh and scripts/test.sh's fuzz flavour.
#
#   scripts/fuzz-build.sh [JOBS]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=${1:-$(nproc)}

# -O2 with debug information: the sanitizers' reports keep their lines,
# and the fuzzers run several times faster than at -O0.
CC=clang cmake -S . -B build/fuzz -DVMSG_FUZZ=ON -DVMSG_WERROR=ON \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/fuzz -j "$jobs" --target vmsg_fuzz_all vmsg-test-reaper
