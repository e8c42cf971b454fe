#!/usr/bin/env bash
# in-chroot.sh BASE_ROOTFS WORK CACHE: the installing half of deb_packages
# (tests/deb/run.sh), run by it as init of a mount and PID namespace of its
# own. Mounts an overlay of BASE_ROOTFS (the cached debootstrap root) at
# WORK/root, installs WORK/debs/*.deb there with dpkg -i and apt-get -f,
# and runs the installed key-value demo and checks in the chroot.
set -euo pipefail

base=$1 work=$2 cache=$3
root=$work/root
mkdir -p "$root" "$work/upper" "$work/ovl-work"
mount --make-rprivate /
# An overlay keeps the cached root unchanged; where the scratch directory
# cannot hold an overlay's upper layer (itself on an overlay, say), a copy.
if ! mount -t overlay overlay \
	-o "lowerdir=$base,upperdir=$work/upper,workdir=$work/ovl-work" "$root" 2>/dev/null; then
	echo "(no overlay here: copying the base root)"
	cp -a "$base/." "$root/"
fi
mount -t proc proc "$root/proc"
mount -t tmpfs tmpfs "$root/tmp"
mount -t tmpfs tmpfs "$root/dev/shm"
mkdir -p "$cache/archives/partial"
mount --bind "$cache/archives" "$root/var/cache/apt/archives"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
mkdir -p "$root/tmp/debs"
cp "$work"/debs/*.deb "$root/tmp/debs/"

in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
	TMPDIR=/tmp LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
fail() { echo "deb_packages: FAILED: $*"; exit 1; }

# The shared package cache: one apt at a time.
exec 8>"$cache/.archives.lock"
flock 8
echo "\$ dpkg -i /tmp/debs/*.deb"
in_root sh -c 'dpkg -i /tmp/debs/*.deb' >"$work/dpkg.log" 2>&1 ||
	echo "(dpkg -i left packages unconfigured, as expected: their dependencies come next)"
grep -E '^(Selecting|Setting up|dpkg: dependency problems)' "$work/dpkg.log" | head -n 40 || true
# The dependencies from Debian (the cached .debs when this ran before; the
# lists are the base's, refreshed if a version they name is gone).
# Two steps: apt refuses a package name beside -f while dpkg has packages
# with unmet dependencies. socat: the demo's client of the socket bridge.
apt_fix() {
	in_root apt-get install -y -q -f --no-install-recommends &&
		in_root apt-get install -y -q --no-install-recommends socat
}
echo "\$ apt-get install -f; apt-get install socat"
if ! apt_fix >"$work/apt.log" 2>&1; then
	echo "(apt-get failed: apt-get update, once)"
	tail -n 5 "$work/apt.log"
	in_root apt-get update -q >"$work/apt-update.log" 2>&1 ||
		{ cat "$work/apt-update.log"; fail "apt-get update"; }
	apt_fix >"$work/apt.log" 2>&1 || { cat "$work/apt.log"; fail "apt-get -f install"; }
fi
grep -E '^(Setting up|[0-9]+ upgraded)' "$work/apt.log" | sed 's/^/    /' | tail -n 60
flock -u 8

echo "\$ dpkg --audit; dpkg-query -W (vmsg's packages)"
audit=$(in_root dpkg --audit)
[ -z "$audit" ] || { echo "$audit"; fail "dpkg --audit reports broken packages"; }
for d in "$work"/debs/*.deb; do
	p=$(dpkg-deb -f "$d" Package)
	st=$(in_root dpkg-query -W -f='${Status} ${Version}' "$p")
	echo "    $p: $st"
	case $st in "install ok installed "*) ;; *) fail "$p is not installed" ;; esac
done

echo "\$ checks of what the packages promise"
# The default policy: a conffile, and valid (vmsgd checks it).
in_root dpkg-query -W -f='${Conffiles}\n' vmsgd | grep -q '^ /etc/vmsg/vmsgd.conf ' ||
	fail "/etc/vmsg/vmsgd.conf is not a conffile of vmsgd"
in_root vmsgd --check-config /etc/vmsg/vmsgd.conf || fail "vmsgd --check-config of the default policy"
echo "    /etc/vmsg/vmsgd.conf: a conffile, accepted by vmsgd --check-config"
# The unit names the installed daemon and policy (written at install time).
unit=$root/lib/systemd/system/vmsgd.service
grep -qx 'ExecStart=/usr/sbin/vmsgd --foreground --config /etc/vmsg/vmsgd.conf' "$unit" ||
	{ grep '^Exec' "$unit" || true; fail "vmsgd.service does not run /usr/sbin/vmsgd on /etc/vmsg/vmsgd.conf"; }
echo "    /lib/systemd/system/vmsgd.service: ExecStart=/usr/sbin/vmsgd --foreground --config /etc/vmsg/vmsgd.conf"
# The simulator's libraries carry Xen's sonames: they must stay in their
# private directory, and the loader must still find Debian's own.
shadow=$(in_root dpkg -L vmsg-xensim vmsg-libxenvchan | grep -E '^/(usr/)?lib/([^/]+/)?libxen' || true)
[ -z "$shadow" ] || fail "installed where they shadow Xen's libraries: $shadow"
cache_list=$(in_root ldconfig -p)
if grep -E '/(xensim|vmsg-vchan)/' <<<"$cache_list"; then
	fail "the loader's cache names a private library (above)"
fi
for so in libxengnttab.so.1 libxenevtchn.so.1; do
	grep -qE "^[[:space:]]*$so .* => /(usr/)?lib/[^/]+/$so\$" <<<"$cache_list" ||
		fail "the loader does not find Debian's $so"
done
echo "    the simulator's and the drop-in's libraries: private directories only"
for pc in vmsg vmsg-uv; do
	v=$(in_root pkg-config --modversion "$pc") || fail "pkg-config $pc"
	echo "    pkg-config --modversion $pc: $v"
done
# nbdkit finds the plugin by its short name (in its plugin directory).
in_root nbdkit vmsg --dump-plugin >"$work/nbdkit.log" 2>&1 ||
	{ cat "$work/nbdkit.log"; fail "nbdkit does not load the plugin as 'vmsg'"; }
grep -E '^(path|name)=' "$work/nbdkit.log" | sed 's/^/    nbdkit vmsg --dump-plugin: /'
in_root vmsg-cat --version 2>/dev/null | sed 's/^/    /' || true

echo
echo "\$ /usr/share/vmsg/examples/kv/demo-sim.sh --installed   (in the chroot)"
in_root /usr/share/vmsg/examples/kv/demo-sim.sh --installed >"$work/demo.log" 2>&1 ||
	{ cat "$work/demo.log"; fail "the installed demo failed"; }
grep '^demo:' "$work/demo.log"
for want in "demo: dom2 put and got back 'hello from dom2'" \
	"demo: dom3 denied:" \
	"demo: socat read 'hello from dom2' through the kv.text bridge" \
	"demo: dom2 read back the value dom0 wrote through the bridge" \
	"demo: result: ok"; do
	grep -qF -- "$want" "$work/demo.log" || { cat "$work/demo.log"; fail "the demo did not say: $want"; }
done
echo "deb_packages: the installed demo passed in the chroot"
