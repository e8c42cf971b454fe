#!/usr/bin/env bash
# Install the Debian packages vmsg needs to build and test, if any is missing.
# Idempotent; touches nothing when everything is there (then it needs no
# root). Works on a fresh Debian 12 as root (or with sudo).
set -euo pipefail

# The one list. Add a package here, with the reason, when the build or a
# test starts to need it.
PACKAGES=(
	build-essential     # gcc 12, make, libc headers, binutils (nm, readelf)
	cmake               # build and ctest
	pkg-config          # finds libprotobuf-c; the install test uses it
	libxen-dev          # xen/io/libxenvchan.h: the ring layout is asserted against it
	libuv1-dev          # event loops of vmsgd and the simulator's xenstored
	libinih-dev         # vmsgd's policy file (INI) parser
	libjansson-dev      # vmsgd's and vmsg-bench's JSON output, escaped by a JSON library
	libprotobuf-c-dev   # protobuf-c runtime for the control messages
	protobuf-c-compiler # protoc-c, run at build time on proto/*.proto
	procps              # ps/pgrep/kill, used by the two-process tests
	xenstore-utils      # Debian's xenstore-read/-write/...: the sim's xenstore tests drive it
	xen-utils-4.17      # vchan-socket-proxy: the sim and interop tests run Debian's binary
	qemu-system-x86     # xen_qemu: boots Xen 4.17 + dom0 + guests (tests/xen)
	debootstrap         # xen_qemu: the dom0 root filesystem
	cpio                # xen_qemu: the dom0 and guest initramfs images
	busybox-static      # xen_qemu: the guests' userland
	xz-utils            # xen_qemu: unpacks the guests' kernel from the bzImage
	gnuplot-nox         # bench/run-all: renders the PNG plots (pngcairo)
	socat               # the demo (scripts/demo-sim.sh): a UNIX socket client of a vmsgd bridge
	curl                # vmsgd_bridge: an HTTP client through a vmsgd bridge; net_ns_*: through the appliances
	iproute2            # net_ns_*: ip netns/addr/link for the namespaces the network tests make
	iputils-ping        # net_ns_*: ping between the namespaces, through the switch and the firewall
	iperf3              # net_ns_*: TCP throughput through the switch and the firewall
	python3             # net_ns_*: the HTTP server (python3 -m http.server) curl fetches from
	abigail-tools       # abi_abidiff: abidw/abidiff check libvmsg.so's ABI against abi/ (docs/abi.md)
	scdoc               # man pages: man/*.scd turned into roff at build time
	liburing-dev        # vmsg-blockd: asynchronous disk I/O through io_uring
	nbdkit              # the NBD tests: nbdkit runs the vmsg plugin
	nbdkit-plugin-dev   # nbdkit-plugin.h: builds nbdkit-vmsg-plugin.so
	qemu-utils          # the NBD tests: qemu-img compare against the image
	libnbd-bin          # the NBD tests: nbdcopy and nbdinfo
	libnbd-dev          # vmsg-blockd --nbd; bench: vmsg-blk-bench (NBD)
	spin                # model_ring: model-checks the ring protocol (tests/model/ring.pml)
	clang               # the fuzz flavour: libFuzzer targets (fuzz/, scripts/fuzz.sh)
	libclang-rt-14-dev  # libFuzzer and clang's sanitizer runtimes (a Recommends of clang-14 only)
	libmicrohttpd-dev   # vmsgd's Prometheus endpoint ([daemon] metrics)
	prometheus          # vmsgd_metrics: promtool check metrics, and a server that scrapes vmsgd
	dpkg-dev            # deb_packages: dpkg-buildpackage builds vmsg's Debian packages (debian/)
	debhelper           # deb_packages: dh with the CMake build system, compat 13
	fakeroot            # deb_packages: dpkg-buildpackage's root for the packages' file owners
	lintian             # deb_packages: the packages must pass it without errors or warnings
)

missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	if [ "$status" != "install ok installed" ]; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#PACKAGES[@]} packages present"
	exit 0
fi

echo "deps: installing ${missing[*]}"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo)
	else
		echo "deps: missing ${missing[*]}: run this script as root" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -q --no-install-recommends "${missing[@]}"
