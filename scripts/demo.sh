#!/usr/bin/env bash
# The demo command: install what is missing, build the release flavour, and
# run the ping-pong example between two processes over the host backend.
# Arguments, if any, replace the default runs and go to vmsg-pingpong (see
# build/release/examples/pingpong/vmsg-pingpong --help).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=${VMSG_JOBS:-$(nproc)}

"$root/scripts/deps.sh"

dir=build/release
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DVMSG_SANITIZE=OFF
cmake --build "$dir" -j "$jobs" --target vmsg-pingpong

bin=$dir/examples/pingpong/vmsg-pingpong
if [ ! -x "$bin" ]; then
	echo "demo: $bin was not built" >&2
	exit 1
fi

if [ $# -gt 0 ]; then
	echo
	echo "==== $bin $* ===="
	exec "$bin" "$@"
fi

# 64-byte messages: sleeping on the event at once (next to a UNIX socket
# ping-pong measured in the same run), then spinning before sleeping.
echo
echo "==== ping-pong, blocking waits, vs AF_UNIX ===="
"$bin" --count 100000 --size 64 --wait block --compare-unix
echo
echo "==== ping-pong, spin-then-sleep waits ===="
"$bin" --count 100000 --size 64 --wait spin
