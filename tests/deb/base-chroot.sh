#!/usr/bin/env bash
# base-chroot.sh - the Debian root the package test (tests/deb/run.sh)
# installs vmsg's packages into: debootstrap bookworm minbase from the
# mirror apt uses, with this machine's apt sources and fresh package lists.
# Made once per content key and cached; prints the cache directory.
#
#   tests/deb/base-chroot.sh         (as root: debootstrap)
#
# Cache: $VMSG_DEB_CACHE (default /var/cache/vmsg-deb)/<key>/rootfs, where
# <key> hashes the mirror, the suite and this script; a new key replaces
# the older ones. The root is never changed after it is made: run.sh
# mounts it as the lower layer of an overlay (or copies it). The packages
# apt fetches into the root's /var/cache/apt/archives are kept in
# $cache/archives (run.sh bind-mounts it), so that a warm run installs
# the dependencies without the network.
set -euo pipefail

cache=${VMSG_DEB_CACHE:-/var/cache/vmsg-deb}
log() { echo "deb-chroot: $*" >&2; }

# The mirror apt uses (as tests/xen/base-image.sh finds it).
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian

inputs="mirror=$mirror suite=bookworm variant=minbase
sources=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | sha256sum | cut -d' ' -f1)
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

log "making the chroot base $key (cold cache: a few minutes)"
start=$SECONDS
tmp=$cache/.build-$key
rm -rf "$tmp"
mkdir -p "$tmp"
debootstrap --variant=minbase bookworm "$tmp/rootfs" "$mirror" \
	>"$tmp/debootstrap.log" 2>&1 ||
	{ tail -n 30 "$tmp/debootstrap.log" >&2; exit 1; }
root=$tmp/rootfs
# This machine's sources (bookworm, its updates and security): the packages
# were built against their libraries, so the chroot must see the same ones.
rm -f "$root/etc/apt/sources.list"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
	[ -f "$f" ] || continue
	mkdir -p "$root/$(dirname "$f")"
	cp "$f" "$root/$f"
done
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
# The lists, in a mount namespace of its own (its /proc goes away with it).
unshare --mount --fork sh -c "mount -t proc proc '$root/proc' && chroot '$root' apt-get update -q" >&2
rm -rf "$root"/var/cache/apt/archives/*.deb
# No daemons started by maintainer scripts in the chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
echo "$inputs" >"$tmp/inputs"
touch "$tmp/.done"

# Replace older keys with this one.
for old in "$cache"/*/; do
	old=${old%/}
	[ "$old" != "$cache/archives" ] || continue
	[ "$old" = "$dir" ] || rm -rf "$old"
done
mv "$tmp" "$dir"
mkdir -p "$cache/archives/partial"
log "chroot base $key made in $((SECONDS - start)) s"
echo "$dir"
