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
#   scripts/demo.sh storage         the storage appliances, run as
#                                   docs/storage.md walks through them:
#                                   vmsg-blockd serving an image, a qcow2
#                                   image and nbdkit's memory disk to
#                                   nbdinfo, qemu-io, qemu-img and nbdcopy
#                                   through `nbdkit vmsg`; the disk through
#                                   vmsgd on the simulated Xen, refused to a
#                                   domain the policy does not name; an
#                                   overlay chain, a guest's disk in dom0,
#                                   the mirror losing a leg
#   scripts/demo.sh network         the network appliances, run as
#                                   docs/network.md walks through them (as
#                                   root): two network namespaces joined by
#                                   the switch (ping), the firewall between
#                                   them (ping and iperf3 allowed, curl
#                                   refused), the same through vmsgd on the
#                                   simulated Xen
#   scripts/demo.sh pingpong [ARG]  the ping-pong example between two
#                                   processes over the host backend; ARGs,
#                                   if any, replace the default runs and go
#                                   to vmsg-pingpong (--help for more)
# storage and network print each command of the page and its output
# (tests/docs/doc.sh: the docs_storage and docs_network tests run the
# same pages), in a private directory, and stop what they started.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=${VMSG_JOBS:-$(nproc)}

what=kv
if [ $# -gt 0 ]; then
	case $1 in
	pingpong) what=pingpong; shift ;;
	storage | network) what=$1; shift ;;
	kv) what=kv; shift ;;
	--host | host) what=host; shift ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0 ;;
	*)
		echo "demo: unknown demo '$1' (kv, --host, storage, network or pingpong; --help)" >&2
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

if [ "$what" = storage ] || [ "$what" = network ]; then
	# The pages use most of the tree (installed, as a reader has it).
	cmake --build "$dir" -j "$jobs"
	echo
	netns=
	[ "$what" = storage ] || netns=--netns
	st=0
	VMSG_DOC_TIMEOUT=${VMSG_DOC_TIMEOUT:-300} \
		"$root/tests/docs/doc.sh" cmake "$dir" "" "docs/$what.md" $netns || st=$?
	case $st in
	0) echo "demo: result: ok" ;;
	77) echo "demo: result: not run (docs/$what.md adds network namespaces: as root)"; exit 1 ;;
	*) echo "demo: result: FAILED (exit status $st)"; exit 1 ;;
	esac
	exit 0
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
