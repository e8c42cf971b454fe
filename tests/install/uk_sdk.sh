#!/bin/sh
# install_uk_sdk: the unikernel SDK as an appliance author outside the tree
# gets it. Install a build into a temporary prefix; write a project of one
# C file (hello.c: a unikernel that serves a vmsg channel and echoes, using
# only the installed headers) with a CMakeLists.txt that calls
# find_package(vmsg) and vmsg_add_unikernel(); configure and build it
# against the prefix alone; the image must link with nothing undefined,
# carry the PVH entry note and one load segment at 1 MiB
# (tests/guest/check_image.sh), and hello.cfg must name it.
# usage: uk_sdk.sh CMAKE BUILD_DIR CC NM READELF
set -eu

cmake=$1 build=$2 cc=$3 nm=$4 readelf=$5
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmsg-uksdk.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
prefix=$tmp/prefix

fail() { echo "install_uk_sdk: FAIL: $*" >&2; exit 1; }
step() { echo "install_uk_sdk: $*"; }

step "cmake --install $build --prefix $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log" >&2; fail "cmake --install failed"; }
sdk=$(find "$prefix" -type d -name vmsg-guest)
[ -n "$sdk" ] || fail "no <libdir>/vmsg-guest in the install"
for f in libvmsg_guest.a boot.o unikernel.cmake arch/link.ld xl.cfg.in image_size.cmake; do
	[ -f "$sdk/$f" ] || fail "not installed: $sdk/$f"
done
[ -f "$prefix/include/vmsg/guest.h" ] || fail "not installed: include/vmsg/guest.h"

app=$tmp/app
mkdir -p "$app"
cat >"$app/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.20)
project(hello C)
find_package(vmsg REQUIRED)
vmsg_add_unikernel(hello SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/hello.c
                   MEMORY 16 CMDLINE "peer=0")
CMAKE
cat >"$app/hello.c" <<'C'
/* An appliance outside the tree: serve one channel for dom0 and echo. */
#include <vmsg/chan.h>
#include <vmsg/guest.h>
#include <vmsg/xen.h>

int app_main(const char *cmdline)
{
	char path[96];
	int n = vmsg_xen_path(path, sizeof path, guest_domid(), 0, "hello");
	if (n < 0)
		return 1;
	vmsg_chan *c;
	int r = vmsg_xen_serve(&c, 0, path, 0);
	if (r < 0) {
		guest_printf("hello: serve: %s\n", vmsg_strerror(r));
		return 1;
	}
	guest_printf("hello: serving at %s (%s)\n", path, cmdline);
	if (vmsg_chan_accept(c, -1) == 0) {
		char buf[256];
		uint16_t type;
		while ((r = vmsg_chan_recv(c, &type, buf, sizeof buf, -1)) >= 0)
			(void)vmsg_chan_send(c, type, buf, (size_t)r, 0, -1);
	}
	vmsg_chan_close(c);
	return 0;
}
C
step "configure and build $app against $prefix only"
"$cmake" -S "$app" -B "$app/build" -DCMAKE_C_COMPILER="$cc" \
	-DCMAKE_PREFIX_PATH="$prefix" >"$tmp/configure.log" 2>&1 ||
	{ cat "$tmp/configure.log" >&2; fail "configure failed"; }
"$cmake" --build "$app/build" >"$tmp/build.log" 2>&1 ||
	{ cat "$tmp/build.log" >&2; fail "build failed"; }
# Nothing of the tree on the compile lines: only the prefix's headers.
src=$(cd "$here/../.." && pwd)
if grep -q -- "-I$src" "$app/build/CMakeFiles/hello.dir/build.make" 2>/dev/null ||
	grep -rq -- "-I$src/" "$app/build/CMakeFiles" 2>/dev/null; then
	fail "the out-of-tree build used the source tree's headers"
fi
sh "$here/../guest/check_image.sh" "$app/build/hello.elf" "$nm" "$readelf" ||
	fail "hello.elf is not a bootable image"
grep -q 'kernel = "/boot/hello.elf"' "$app/build/hello.cfg" || fail "hello.cfg does not name /boot/hello.elf"
grep -q 'memory = 16' "$app/build/hello.cfg" || fail "hello.cfg does not carry MEMORY 16"
step "ok: hello.elf built outside the tree from the installed SDK"
