#!/usr/bin/env bash
# deb_packages: vmsg's Debian packages (docs/packages.md), end to end.
#
#   tests/deb/run.sh SOURCE_DIR
#
# 1. copies the source tree (without build/, .git and debhelper's leftovers)
#    to a scratch directory and builds the packages there with
#    dpkg-buildpackage -us -uc;
# 2. runs lintian over the .changes: any error or warning fails;
# 3. installs every binary package (not the -dbgsym ones) with dpkg -i,
#    apt-get -f fetching their dependencies from Debian, into a chroot:
#    debootstrap bookworm minbase (tests/deb/base-chroot.sh, made once and
#    cached in /var/cache/vmsg-deb), under an overlay so the cache stays
#    as it was;
# 4. in the chroot, which sees nothing of the build, runs the key-value
#    demo from the installed paths (/usr/share/vmsg/examples/kv/
#    demo-sim.sh --installed) on the installed simulated Xen, and checks
#    what the packages promise: the conffile, the private directories of
#    the simulator's and the drop-in's libraries, pkg-config.
# Needs root (debootstrap, chroot, mounts): skips (77) without it.
set -euo pipefail

src=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${VMSG_DEB_CACHE:-/var/cache/vmsg-deb}

if [ "$(id -u)" -ne 0 ]; then
	echo "deb_packages: SKIPPED: needs root (debootstrap, chroot, mounts)"
	exit 77
fi
for c in dpkg-buildpackage dh lintian debootstrap unshare fakeroot; do
	command -v "$c" >/dev/null || {
		echo "deb_packages: $c is missing (scripts/deps.sh installs it)" >&2
		exit 1
	}
done

work=$(mktemp -d "${TMPDIR:-/tmp}/deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
# What the tools leave in TMPDIR (lintian does) goes with the rest.
mkdir -p "$work/tmp"
export TMPDIR=$work/tmp
step() { printf '\n==== deb_packages: %s (%d s)\n' "$*" "$SECONDS"; }

step "copy the source tree"
mkdir -p "$work/src/vmsg"
tar -C "$src" --exclude=./build --exclude=./.git --exclude='./obj-*' \
	--exclude=./debian/.debhelper --exclude='./debian/*.debhelper.log' \
	--exclude='./debian/*.substvars' --exclude=./debian/tmp \
	--exclude=./debian/files -cf - . | tar -C "$work/src/vmsg" -xf -

step "dpkg-buildpackage -us -uc"
(cd "$work/src/vmsg" && dpkg-buildpackage -us -uc -j"$(nproc)") \
	>"$work/build.log" 2>&1 || {
	tail -n 60 "$work/build.log"
	echo "deb_packages: FAILED: dpkg-buildpackage (log above)"
	exit 1
}
changes=$(ls "$work"/src/*.changes)
echo "built: $(basename "$changes")"

step "lintian over the .changes"
lintian_rc=0
lintian -i --fail-on error,warning --display-info "$changes" >"$work/lintian.log" 2>&1 ||
	lintian_rc=$?
cat "$work/lintian.log"
if [ "$lintian_rc" -ne 0 ] || grep -q '^[EW]: ' "$work/lintian.log"; then
	echo "deb_packages: FAILED: lintian reported errors or warnings (status $lintian_rc)"
	exit 1
fi
echo "lintian: no errors, no warnings ($(grep -c '^[IP]: ' "$work/lintian.log" || true) info/pedantic tags)"

step "the packages"
debs=()
for d in "$work"/src/*.deb; do
	case $d in *-dbgsym_*) continue ;; esac
	debs+=("$d")
done
for d in "$work"/src/*.deb; do
	printf '%-44s %7d bytes  installed %5s KiB\n' "$(basename "$d")" "$(stat -c %s "$d")" \
		"$(dpkg-deb -f "$d" Installed-Size)"
done

step "the chroot base (cached)"
base=$("$here/base-chroot.sh")
echo "base: $base"

step "install into the chroot and run the demo there"
mkdir -p "$work/debs"
cp "${debs[@]}" "$work/debs/"
# A mount and PID namespace of its own: its mounts go away with it, and
# every process started in the chroot is killed when its init exits.
rc=0
unshare --mount --pid --fork --kill-child \
	bash "$here/in-chroot.sh" "$base/rootfs" "$work" "$cache" || rc=$?
if [ "$rc" -ne 0 ]; then
	echo "deb_packages: FAILED (status $rc)"
	exit 1
fi
step "passed"
