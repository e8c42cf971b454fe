#!/usr/bin/env bash
# build-images.sh - the images run-scenarios.sh boots: the cached base
# (base-image.sh) plus this build's libvmsg and programs.
#
#   tests/xen/build-images.sh --build-dir BUILD --out DIR
#
# Writes into DIR:
#   xen, vmlinuz  links to the cached hypervisor and dom0 kernel
#   dom0.cpio     the cached dom0 root with an overlay appended (the kernel
#                 unpacks concatenated archives in order): /init, the
#                 scenarios, /opt/vmsg/{bin,lib}, and /boot/{vmlinux,
#                 domu.cpio} for the guests, /boot/echo-unikernel.elf
#                 when the build has it (scenarios unikernel, uk-service),
#                 /boot/{ramdisk,overlay}-unikernel.elf and
#                 /opt/vmsg/lib/nbdkit-vmsg-plugin.so (scenario storage),
#                 /boot/{l2switch,firewall}-unikernel.elf (scenario network)
#   domu.cpio     the guest image: busybox, xenstore tools, the Xen device
#                 modules, /init, /opt/vmsg/{bin,lib,guest}
# Only the overlay and the guest image are made afresh: a few seconds.
#
# The project's programs: BUILD/lib/libvmsg.so*, the harness's programs in
# BUILD/tests/xen/, any vmsg* executable under BUILD/tools and BUILD/dom0,
# and the unikernel check's dom0 client BUILD/tests/guest/guest-echo-client
# when it is built (with the unikernel, examples/echo-unikernel). Each
# program's shared libraries come from the dom0 root when it has them
# (same Debian release), else from this machine (into
# /opt/vmsg/lib: libvmsg itself, the sanitizer runtimes of an ASan build).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=
out=
while [ $# -gt 0 ]; do
	case $1 in
	--build-dir) build=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	*) echo "usage: $0 --build-dir BUILD --out DIR" >&2; exit 2 ;;
	esac
done
[ -n "$build" ] && [ -n "$out" ] || { echo "usage: $0 --build-dir BUILD --out DIR" >&2; exit 2; }
build=$(cd "$build" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

base=$("$here/base-image.sh")
root=$base/rootfs

is_elf() { [ "$(head -c 4 "$1" 2>/dev/null | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; }

# The project's programs.
progs=()
for p in vmsg-xen-stream vchan-xen-stream xen-grant-probe unix-check; do
	[ -x "$build/tests/xen/$p" ] || { echo "build-images: $build/tests/xen/$p missing (build first)" >&2; exit 1; }
	progs+=("$build/tests/xen/$p")
done
# The echo unikernel and its dom0 client (scenario unikernel; it fails
# without them, as the vmsgd ones do without vmsgd).
uk_elf=$build/examples/echo-unikernel/echo-unikernel.elf
[ -x "$build/tests/guest/guest-echo-client" ] && progs+=("$build/tests/guest/guest-echo-client")
# The echo appliance's Linux build (scenario uk-service: the Linux PV
# guests among the unikernel's consumers).
[ -x "$build/examples/echo-unikernel/echo-appliance" ] && progs+=("$build/examples/echo-unikernel/echo-appliance")
# The storage scenario's disk checker for the PV guest (scenario storage).
[ -x "$build/tests/xen/blk-check" ] && progs+=("$build/tests/xen/blk-check")
# The tools (vmsg-cat, vmsg-tap: guests run them too) and the dom0
# programs (vmsgd, vmsgctl, vmsg-blockd: dom0 only). The guest image
# leaves the latter out: it is unpacked into guests of 160 MiB, and
# vmsg-blockd's libnbd alone brings some 40 MB of libraries (gnutls,
# libxml2, ICU's data) that made it too big to unpack there.
dom0progs=()
for d in "$build/tools" "$build/dom0"; do
	[ -d "$d" ] || continue
	while IFS= read -r p; do
		is_elf "$p" || continue
		if [ "$d" = "$build/dom0" ]; then dom0progs+=("$p"); else progs+=("$p"); fi
	done < <(find "$d" -maxdepth 3 -type f -name 'vmsg*' -perm -u+x ! -name '*.so*' | sort)
done
# The network scenario's baseline in dom0: bench/net/tapfwd (issue 14's
# "(b)", the least a TAP path costs), beside the switch in the same boot.
[ -x "$build/bench/tapfwd" ] && dom0progs+=("$build/bench/tapfwd")
shopt -s nullglob
vmsglibs=("$build"/lib/libvmsg.so*)
shopt -u nullglob
[ ${#vmsglibs[@]} -gt 0 ] || { echo "build-images: no $build/lib/libvmsg.so*" >&2; exit 1; }

# add_libs TREE FULL ELF...: give TREE every shared library the ELFs load.
# FULL=1: TREE is a whole root (the guest): libraries go where the dom0
# root has them. FULL=0: TREE overlays the dom0 root: only what the root
# lacks is added. Libraries the root lacks go to TREE/opt/vmsg/lib.
add_libs() {
	local tree=$1 full=$2 lib
	shift 2
	for lib in $(ldd "$@" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}' | sort -u); do
		if [ -e "$root$lib" ]; then
			if [ "$full" = 1 ] && [ ! -e "$tree$lib" ]; then
				mkdir -p "$tree$(dirname "$lib")"
				cp -L "$root$lib" "$tree$lib"
			fi
		elif [ ! -e "$tree/opt/vmsg/lib/$(basename "$lib")" ]; then
			cp -L "$lib" "$tree/opt/vmsg/lib/"
		fi
	done
}

# put_project TREE PROGRAM...: /opt/vmsg/bin and /opt/vmsg/lib.
put_project() {
	local tree=$1
	shift
	mkdir -p "$tree/opt/vmsg/bin" "$tree/opt/vmsg/lib"
	cp -a "${vmsglibs[@]}" "$tree/opt/vmsg/lib/"
	cp "$@" "$tree/opt/vmsg/bin/"
}

work=$out/tree
rm -rf "$work"
mkdir -p "$work"

# The guest image.
domu=$work/domu
mkdir -p "$domu"/{bin,sbin,usr/bin,proc,sys,dev,tmp,lib/modules,opt/vmsg/guest}
cp /bin/busybox "$domu/bin/"
for a in sh mount echo cat ls sleep poweroff insmod cut tr grep sed awk head tail date seq; do
	ln -s busybox "$domu/bin/$a"
done
xstools=()
for t in xenstore-read xenstore-write xenstore-ls xenstore-list xenstore-chmod; do
	cp -L "$root/usr/bin/$t" "$domu/usr/bin/$t"
	xstools+=("$root/usr/bin/$t")
done
# Debian's vchan-socket-proxy on Debian's libxenvchan (scenario dropin-pv:
# the guest's end, against the drop-in in dom0).
proxy=usr/lib/xen-4.17/bin/vchan-socket-proxy
if [ -x "$root/$proxy" ]; then
	mkdir -p "$domu/$(dirname "$proxy")"
	cp -L "$root/$proxy" "$domu/$proxy"
	xstools+=("$root/$proxy")
fi
cp "$base"/xen-modules/{xen-evtchn,xen-gntdev,xen-gntalloc}.ko "$domu/lib/modules/"
# Scenario network: the guest's TAP bridge (tun.ko), busybox's ip and
# ping, and Debian's iperf3 from the dom0 root (its libraries below).
cp "$base/xen-modules/tun.ko" "$domu/lib/modules/"
for a in ip ping; do ln -s busybox "$domu/bin/$a"; done
cp -L "$root/usr/bin/iperf3" "$domu/usr/bin/iperf3"
xstools+=("$root/usr/bin/iperf3")
put_project "$domu" "${progs[@]}"
add_libs "$domu" 1 "${xstools[@]}" "${progs[@]}"
# glibc loads libgcc_s at run time for pthread_cancel (libxenstore's
# reader thread); ldd does not list it.
cp -L "$root/usr/lib/x86_64-linux-gnu/libgcc_s.so.1" "$domu/usr/lib/x86_64-linux-gnu/" 2>/dev/null ||
	{ mkdir -p "$domu/usr/lib/x86_64-linux-gnu" && cp -L "$root/usr/lib/x86_64-linux-gnu/libgcc_s.so.1" "$domu/usr/lib/x86_64-linux-gnu/"; }
cp "$here"/scenarios/guest/*.sh "$domu/opt/vmsg/guest/"
install -m 755 "$here/domu-init.sh" "$domu/init"
# Uncompressed, as dom0's: the guest's kernel unpacks it under emulation.
(cd "$domu" && find . | cpio -o -H newc --quiet) >"$out/domu.cpio"

# The dom0 overlay.
ovl=$work/dom0
mkdir -p "$ovl/boot" "$ovl/opt/vmsg/scenarios"
put_project "$ovl" "${progs[@]}" "${dom0progs[@]}"
add_libs "$ovl" 0 "${progs[@]}" "${dom0progs[@]}"
cp "$here"/scenarios/*.sh "$ovl/opt/vmsg/scenarios/"
install -m 755 "$here/dom0-init.sh" "$ovl/init"
ln "$base/vmlinux" "$ovl/boot/vmlinux" 2>/dev/null || cp "$base/vmlinux" "$ovl/boot/vmlinux"
[ -f "$uk_elf" ] && cp "$uk_elf" "$ovl/boot/"
# Scenario storage: the block appliances' unikernels (examples/blk-common)
# and the nbdkit plugin (nbdkit loads it by path from /opt/vmsg/lib).
for e in "$build"/examples/blk-common/*-unikernel.elf; do
	if [ -f "$e" ]; then cp "$e" "$ovl/boot/"; fi
done
if [ -f "$build/dom0/nbdkit-vmsg-plugin.so" ]; then
	cp "$build/dom0/nbdkit-vmsg-plugin.so" "$ovl/opt/vmsg/lib/"
	add_libs "$ovl" 0 "$build/dom0/nbdkit-vmsg-plugin.so"
fi
# The network appliances' unikernels (examples/netapp; scenario network).
for e in "$build"/examples/netapp/{l2switch,firewall}-unikernel.elf; do
	[ -f "$e" ] && cp "$e" "$ovl/boot/"
done
# The drop-in libxenvchan (dropin/) for dom0's vchan-socket-proxy
# (scenario dropin-pv), apart from /opt/vmsg/lib: only what names it loads it.
if [ -e "$build/dropin/lib/libxenvchan.so.4.17" ]; then
	mkdir -p "$ovl/opt/vmsg/vchan-dropin"
	cp -a "$build"/dropin/lib/libxenvchan.so* "$ovl/opt/vmsg/vchan-dropin/"
fi
# uk-service's independent source: `cksum` of the records its consumers
# send (tests/guest/echo_pattern.c), computed here: Debian's cksum dies of
# SIGILL in dom0 under QEMU's emulated CPU (its PCLMUL path, XSAVE off).
if [ -x "$build/tests/guest/guest-echo-pattern" ]; then
	"$build/tests/guest/guest-echo-pattern" 300 40000 | cksum >"$ovl/opt/vmsg/echo-300x40000.cksum"
fi
cp "$out/domu.cpio" "$ovl/boot/domu.cpio"
(cd "$ovl" && find . -mindepth 1 | cpio -o -H newc --quiet) >"$out/dom0-overlay.cpio"
cat "$base/dom0-base.cpio" "$out/dom0-overlay.cpio" >"$out/dom0.cpio"
rm -f "$out/dom0-overlay.cpio"
rm -rf "$work"

ln -sf "$base/xen" "$out/xen"
ln -sf "$base/vmlinuz" "$out/vmlinuz"
echo "build-images: $out (base $(basename "$base"), ${#progs[@]} programs in both images, ${#dom0progs[@]} in dom0 only; guest image $(($(stat -c %s "$out/domu.cpio") / 1048576)) MiB)" >&2
