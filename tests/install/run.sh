#!/bin/sh
# Install a build into a temporary prefix and use it the way an application
# would: through pkg-config and through find_package(vmsg), each shared
# and static.
# usage: run.sh CMAKE BUILD_DIR CC PKG_CONFIG [EXTRA_CFLAGS]
set -eu

cmake=$1 build=$2 cc=$3 pkgconfig=$4 extra=${5:-}
src=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmsg-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
prefix=$tmp/prefix

fail() { echo "install_pkgconfig: FAIL: $*" >&2; exit 1; }
step() { echo "install_pkgconfig: $*"; }

step "cmake --install $build --prefix $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log" >&2; fail "cmake --install failed"; }

pc=$(find "$prefix" -name vmsg.pc)
[ -n "$pc" ] && [ "$(echo "$pc" | wc -l)" -eq 1 ] || fail "expected one vmsg.pc, found: '$pc'"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR || true

# The .pc file must name the prefix we installed to, not the configured one.
pcprefix=$("$pkgconfig" --variable=prefix vmsg) || fail "pkg-config cannot read $pc"
[ "$pcprefix" = "$prefix" ] || fail "vmsg.pc says prefix=$pcprefix, installed to $prefix"
libdir=$("$pkgconfig" --variable=libdir vmsg)
incdir=$("$pkgconfig" --variable=includedir vmsg)

# What must be there.
for f in "$libdir/libvmsg.so" "$libdir/libvmsg.a" \
	"$incdir/vmsg/ring.h" "$incdir/vmsg/frame.h" "$incdir/vmsg/platform.h" \
	"$incdir/vmsg/chan.h" "$incdir/vmsg/host.h" "$incdir/vmsg/proto.h"; do
	[ -e "$f" ] || fail "not installed: $f"
done
ls "$incdir"/vmsg/*.pb-c.h >/dev/null 2>&1 || fail "no generated protobuf header in $incdir/vmsg"

cflags=$("$pkgconfig" --cflags vmsg)
libs=$("$pkgconfig" --libs vmsg)
static_cflags=$("$pkgconfig" --static --cflags vmsg)
# Link libvmsg.a itself (with libvmsg.so next to it, -lvmsg would pick the
# shared one); everything else as pkg-config --static says.
static_libs=$("$pkgconfig" --static --libs vmsg | sed 's/-lvmsg\( \|$\)/-l:libvmsg.a\1/')
step "cflags: $cflags"
step "libs: $libs"
step "static libs: $static_libs"

# Every installed header compiles on its own.
for h in "$incdir"/vmsg/*.h; do
	name=$(basename "$h")
	printf '#include <vmsg/%s>\n' "$name" |
		$cc $extra -std=c11 -Wall -Wextra -Werror $cflags -x c -c - -o /dev/null ||
		fail "installed header vmsg/$name does not compile on its own"
done
step "each installed header compiles on its own"

# shellcheck disable=SC2086  # the flag strings are word lists
$cc $extra -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer_shared" \
	"$src/consumer.c" $cflags $libs || fail "shared build"
readelf -d "$tmp/consumer_shared" | grep NEEDED | grep -q 'libvmsg\.so' ||
	fail "consumer_shared does not link libvmsg.so"
step "run shared"
LD_LIBRARY_PATH=$libdir "$tmp/consumer_shared" || fail "consumer_shared exited $?"

# shellcheck disable=SC2086
$cc $extra -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer_static" \
	"$src/consumer.c" $static_cflags $static_libs || fail "static build"
if readelf -d "$tmp/consumer_static" | grep NEEDED | grep -q 'libvmsg'; then
	fail "consumer_static links libvmsg dynamically"
fi
step "run static"
env -u LD_LIBRARY_PATH "$tmp/consumer_static" || fail "consumer_static exited $?"

# vmsgd (built with the Xen backend): the unit names the installed paths,
# the default policy is deny-all and valid, and a second install keeps a
# policy the operator edited.
if [ -x "$prefix/sbin/vmsgd" ]; then
	unit=$(find "$prefix" -name vmsgd.service)
	conf=$prefix/etc/vmsg/vmsgd.conf
	[ -n "$unit" ] || fail "vmsgd.service not installed"
	[ -f "$conf" ] || fail "$conf not installed"
	grep -qx "ExecStart=$prefix/sbin/vmsgd --foreground --config $conf" "$unit" ||
		fail "$unit does not start the installed vmsgd with $conf: $(grep ExecStart= "$unit")"
	grep -qx "ExecStartPre=$prefix/sbin/vmsgd --check-config $conf" "$unit" ||
		fail "$unit does not check $conf first"
	"$prefix/sbin/vmsgd" --check-config "$conf" | grep -q "0 services" ||
		fail "the default policy is not deny-all"
	echo "# edited by the operator" >>"$conf"
	"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install2.log" 2>&1 ||
		fail "second cmake --install failed"
	tail -n 1 "$conf" | grep -q "edited by the operator" ||
		fail "a second install overwrote $conf"
	step "vmsgd.service names $prefix; the default policy is deny-all and kept"
fi

# The same consumer through the CMake package, both ways.
mkdir -p "$tmp/cmake-consumer"
cp "$src/consumer.c" "$tmp/cmake-consumer/"
cat >"$tmp/cmake-consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(consumer C)
find_package(vmsg 0.1 REQUIRED)
add_executable(consumer_cmake_shared consumer.c)
target_link_libraries(consumer_cmake_shared PRIVATE vmsg::vmsg)
add_executable(consumer_cmake_static consumer.c)
target_link_libraries(consumer_cmake_static PRIVATE vmsg::vmsg_static)
CMAKE
step "find_package(vmsg) from $prefix"
"$cmake" -S "$tmp/cmake-consumer" -B "$tmp/cmake-build" \
	-DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
	-DCMAKE_C_FLAGS="$extra -Wall -Wextra -Werror" \
	>"$tmp/cmake-consumer.log" 2>&1 &&
	"$cmake" --build "$tmp/cmake-build" >>"$tmp/cmake-consumer.log" 2>&1 ||
	{ cat "$tmp/cmake-consumer.log" >&2; fail "CMake consumer build"; }
readelf -d "$tmp/cmake-build/consumer_cmake_shared" | grep NEEDED |
	grep -q 'libvmsg\.so\.0' || fail "consumer_cmake_shared does not link libvmsg.so.0"
if readelf -d "$tmp/cmake-build/consumer_cmake_static" | grep NEEDED | grep -q 'libvmsg'; then
	fail "consumer_cmake_static links libvmsg dynamically"
fi
step "run the CMake consumers"
LD_LIBRARY_PATH=$libdir "$tmp/cmake-build/consumer_cmake_shared" ||
	fail "consumer_cmake_shared exited $?"
env -u LD_LIBRARY_PATH "$tmp/cmake-build/consumer_cmake_static" ||
	fail "consumer_cmake_static exited $?"

# libvmsg-uv (vmsg/uv.h), when this build has it: its example builds
# against the install through pkg-config vmsg-uv and through the CMake
# package's vmsg::vmsg_uv, and runs (--help).
if [ -e "$libdir/libvmsg-uv.so.0" ]; then
	uvsrc=$src/../../examples/uv-echo/uv_echo.c
	# gnu11: libuv's <uv.h> needs POSIX's types (a strict c11 hides them).
	# shellcheck disable=SC2046
	$cc $extra -std=gnu11 -Wall -Wextra -Werror -o "$tmp/uv_echo_pc" "$uvsrc" \
		$("$pkgconfig" --cflags --libs vmsg-uv) || fail "pkg-config vmsg-uv build"
	LD_LIBRARY_PATH=$libdir "$tmp/uv_echo_pc" --help | grep -q "libvmsg-uv" ||
		fail "uv-echo built against the install does not run"
	mkdir -p "$tmp/cmake-uv"
	cp "$uvsrc" "$tmp/cmake-uv/"
	cat >"$tmp/cmake-uv/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(uvconsumer C)
find_package(vmsg 0.1 REQUIRED)
add_executable(uv_echo_cmake uv_echo.c)
target_link_libraries(uv_echo_cmake PRIVATE vmsg::vmsg_uv)
CMAKE
	"$cmake" -S "$tmp/cmake-uv" -B "$tmp/cmake-uv-build" \
		-DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
		-DCMAKE_C_FLAGS="$extra -Wall -Wextra -Werror" \
		>"$tmp/cmake-uv.log" 2>&1 &&
		"$cmake" --build "$tmp/cmake-uv-build" >>"$tmp/cmake-uv.log" 2>&1 ||
		{ cat "$tmp/cmake-uv.log" >&2; fail "CMake vmsg::vmsg_uv build"; }
	LD_LIBRARY_PATH=$libdir "$tmp/cmake-uv-build/uv_echo_cmake" --help | grep -q "libvmsg-uv" ||
		fail "uv-echo built with vmsg::vmsg_uv does not run"
	step "libvmsg-uv: its example builds against the install (pkg-config, CMake) and runs"
fi

step "PASS"
