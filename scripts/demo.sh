#!/usr/bin/env bash
# The demo command: install what is missing, build the release flavour, and
# run a demo.
#
#   scripts/demo.sh                 the key-value demo on the simulated Xen:
#                                   vmsgd, a service in dom1, clients in dom2
#                                   and dom3, socat through a socket bridge
#                                   (scripts/demo-sim.sh)
#   scripts/demo.sh --host          the key-value demo on the host
#                                   backend: vmsgd in host mode between
#                                   plain processes, no Xen and no
#                                   simulator (scripts/demo-host.sh)
#   scripts/demo.sh pingpong [ARG]  the ping-pong example between two
#                                   processes over the host backend; ARGs,
#                                   if any, replace the default runs and go
#                                   to vmsg-pingpong (--help for more)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=${VMSG_JOBS:-$(nproc)}

what=kv
if [ $# -gt 0 ]; then
	case $1 in
	pingpong) what=pingpong; shift ;;
	kv) what=kv; shift ;;
	--host | host) what=host; shift ;;
	-h | --help)
		sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
		exit 0 ;;
	*)
		echo "demo: unknown demo '$1' (kv, --host or pingpong; --help)" >&2
		exit 2 ;;
	esac
fi

"$root/scripts/deps.sh"

dir=build/release
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DVMSG_SANITIZE=OFF
if [ "$what" = kv ]; then
	cmake --build "$dir" -j "$jobs" --target xensim vmsg-xenstored vmsgd \
		vmsgctl vmsg-kv-server vmsg-kv
	echo
	exec "$root/scripts/demo-sim.sh" "$dir"
fi

if [ "$what" = host ]; then
	cmake --build "$dir" -j "$jobs" --target vmsgd vmsgctl vmsg-kv-server \
		vmsg-kv
	echo
	exec "$root/scripts/demo-host.sh" "$dir"
fi

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
