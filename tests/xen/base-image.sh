#!/usr/bin/env bash
# base-image.sh - the part of the tests/xen images that does not depend on
# this build: Debian's Xen hypervisor and kernel, and a Debian dom0 root.
# Built once per content key and cached; prints the cache directory.
#
#   tests/xen/base-image.sh          (as root: debootstrap and chroot)
#
# Cache: $VMSG_XEN_CACHE (default /var/cache/vmsg-xen)/<key>/, where <key>
# hashes the package versions it is made of and this script. A new key
# replaces the older ones. The directory holds:
#   xen          the hypervisor, gunzipped from xen-hypervisor-4.17-amd64
#                (ELF32 multiboot: QEMU's -kernel loads it as it is)
#   vmlinuz      the Debian kernel (dom0)
#   vmlinux      the same kernel with its XZ payload unpacked (the guests':
#                libxc would otherwise spend ~10 s unpacking it in dom0
#                under emulation at every xl create)
#   xen-modules/ the kernel's drivers/xen modules and tun.ko, for the guest
#                image
#   rootfs/      debootstrap minbase + xen-utils-4.17, xenstore-utils,
#                the NBD and network tools of the scenarios (DOM0_PACKAGES)
#                and the libraries the project's programs link, kernel modules
#                installed, a poweroff (minbase has none)
#   dom0-base.cpio  rootfs/ as an uncompressed newc archive (a gunzip would
#                cost seconds under emulation); the per-build overlay is
#                appended to it, and the kernel unpacks both
# Both the hypervisor and kernel packages are only unpacked (dpkg-deb -x),
# never installed on this machine.
set -euo pipefail

cache=${VMSG_XEN_CACHE:-/var/cache/vmsg-xen}
log() { echo "xen-image: $*" >&2; }

# Packages the dom0 root gets besides minbase: the Xen tools, and what the
# project's programs and the scenario scripts use there: the storage
# scenario's NBD tools (nbdkit, qemu-img) and liburing, libnbd; the network
# scenario's ip, ping and iperf3 (the guests take iperf3 from this root).
DOM0_PACKAGES=xen-utils-4.17,xenstore-utils,kmod,procps,libprotobuf-c1,libuv1,nbdkit,qemu-utils,liburing2,libnbd0,iproute2,iputils-ping,iperf3

candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}'; }

# The apt lists may be empty on a fresh machine (deps.sh updates only when it
# installs something).
if [ -z "$(candidate xen-hypervisor-4.17-amd64)" ] ||
	[ "$(candidate xen-hypervisor-4.17-amd64)" = "(none)" ]; then
	log "apt lists have no xen-hypervisor-4.17-amd64: apt-get update"
	apt-get update -q >&2
fi

# The kernel ABI linux-image-amd64 points at (6.1.0-NN-amd64 on bookworm).
kv=$(apt-cache depends linux-image-amd64 |
	sed -n 's/.*Depends: linux-image-\([0-9].*-amd64\)$/\1/p' | head -n 1)
[ -n "$kv" ] || { log "cannot resolve linux-image-amd64's kernel"; exit 1; }
# The mirror apt uses (debootstrap takes the dom0 root from it).
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian

inputs="xen-hypervisor-4.17-amd64=$(candidate xen-hypervisor-4.17-amd64)
linux-image-$kv=$(candidate "linux-image-$kv")
xen-utils-4.17=$(candidate xen-utils-4.17)
mirror=$mirror suite=bookworm packages=$DOM0_PACKAGES
script=$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"
key=$(printf '%s\n' "$inputs" | sha256sum | cut -c1-16)
dir=$cache/$key

mkdir -p "$cache"
# One builder at a time; others wait and then find it done.
exec 9>"$cache/.lock"
flock 9
if [ -f "$dir/.done" ]; then
	echo "$dir"
	exit 0
fi

log "building base image $key (cold cache: a few minutes)"
printf '%s\n' "$inputs" | sed 's/^/xen-image:   /' >&2
start=$SECONDS
tmp=$cache/.build-$key
rm -rf "$tmp"
mkdir -p "$tmp/debs" "$tmp/x"

# 1. Hypervisor and kernel, unpacked.
chown _apt "$tmp/debs" 2>/dev/null || true # apt fetches as _apt
(cd "$tmp/debs" && apt-get download -q xen-hypervisor-4.17-amd64 "linux-image-$kv" >&2)
for deb in "$tmp"/debs/*.deb; do
	dpkg-deb -x "$deb" "$tmp/x"
done
zcat "$tmp/x/boot/xen-4.17-amd64.gz" >"$tmp/xen"
cp "$tmp/x/boot/vmlinuz-$kv" "$tmp/vmlinuz"
# The bzImage wraps an XZ stream; the guests boot its contents directly.
off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$tmp/vmlinuz" | head -n 1 | cut -d: -f1)
[ -n "$off" ] || { log "no XZ payload in vmlinuz-$kv"; exit 1; }
# xz stops at the end of the first stream; what follows is padding.
tail -c +$((off + 1)) "$tmp/vmlinuz" | xz -dc --single-stream >"$tmp/vmlinux" 2>/dev/null || true
[ "$(head -c 4 "$tmp/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] ||
	{ log "unpacked vmlinux is not an ELF file"; exit 1; }
mkdir -p "$tmp/xen-modules"
cp "$tmp"/x/lib/modules/"$kv"/kernel/drivers/xen/*.ko "$tmp/xen-modules/"
# TAP devices (vmsg-tap) in dom0 and in the guests.
cp "$tmp"/x/lib/modules/"$kv"/kernel/drivers/net/tun.ko "$tmp/xen-modules/"
echo "$kv" >"$tmp/kernel-version"

# 2. The dom0 root.
log "debootstrap bookworm from $mirror"
debootstrap --variant=minbase --include="$DOM0_PACKAGES" bookworm \
	"$tmp/rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
	{ tail -n 30 "$tmp/debootstrap.log" >&2; exit 1; }
root=$tmp/rootfs
rm -rf "$root"/usr/share/{doc,man,info,locale} "$root"/var/cache/apt/* \
	"$root"/var/lib/apt/lists/*
moddir=$root/lib/modules/$kv
mkdir -p "$moddir/kernel/drivers"
cp -a "$tmp/x/lib/modules/$kv/kernel/drivers/xen" "$moddir/kernel/drivers/"
mkdir -p "$moddir/kernel/drivers/net"
cp "$tmp/x/lib/modules/$kv/kernel/drivers/net/tun.ko" "$moddir/kernel/drivers/net/"
cp "$tmp"/x/lib/modules/"$kv"/modules.{order,builtin,builtin.modinfo} "$moddir/" 2>/dev/null || true
chroot "$root" depmod -a "$kv"
# minbase has no poweroff(8): sysrq-o powers off (Xen -> ACPI S5 -> QEMU exits).
printf '#!/bin/sh\necho o >/proc/sysrq-trigger\nsleep 30\n' >"$root/usr/local/sbin/poweroff"
chmod +x "$root/usr/local/sbin/poweroff"
dpkg-query --admindir="$root/var/lib/dpkg" -W >"$tmp/dom0-packages.txt"
(cd "$root" && find . | cpio -o -H newc --quiet) >"$tmp/dom0-base.cpio"
rm -rf "$tmp/debs" "$tmp/x"

touch "$tmp/.done"
# Replace older keys: only the current one is ever used.
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name ".build-$key" -exec rm -rf {} +
mv "$tmp" "$dir"
log "base image $key built in $((SECONDS - start)) s"
echo "$dir"
