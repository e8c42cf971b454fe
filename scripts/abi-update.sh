#!/usr/bin/env bash
# Record the ABI of libvmsg.so on purpose (docs/abi.md): rewrite
# lib/vmsg.map so that it names every symbol the installed headers declare
# (new ones under the version node of version.h), rebuild the library and
# write its ABI baseline abi/<soname>.xml with abidw. Run it after adding
# public API; commit lib/vmsg.map and abi/ with the change.
#
# An incompatible change (abidiff against the current baseline says so) is
# refused: undo it, or bump the soname (then the new soname gets a fresh
# baseline), or - only for ABI that no release has shipped - pass --break.
# Usage: scripts/abi-update.sh [--break] [BUILD]   (BUILD: build/release)
set -euo pipefail
allow_break=0
if [ "${1:-}" = "--break" ]; then
	allow_break=1
	shift
fi
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build/release}
if [ ! -f "$build/CMakeCache.txt" ]; then
	cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DVMSG_SANITIZE=OFF >/dev/null
fi
cmake --build "$build" --target vmsg_static -j2 >/dev/null

# The map: every public symbol, new ones under VMSG_<major>.<minor>.
ver() { sed -n "s/^#define VMSG_VERSION_$1 \([0-9]*\)$/\1/p" "$src/lib/include/vmsg/version.h"; }
node="VMSG_$(ver MAJOR).$(ver MINOR)"
syms=$(mktemp)
trap 'rm -f "$syms"' EXIT
"$src/scripts/abi-symbols.sh" "$build" > "$syms"
python3 "$src/scripts/abi-map.py" write "$src/lib/vmsg.map" "$syms" "$node"
cmake --build "$build" --target vmsg -j2 >/dev/null

# The baseline.
lib="$build/lib/libvmsg.so"
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
base="$src/abi/$soname.xml"
new="$base.new"
"$src/scripts/abi-dump.sh" "$build" > "$new"
if [ -f "$base" ]; then
	rc=0
	"$src/scripts/abi-compare.sh" "$base" "$new" || rc=$?
	case $rc in
	0 | 4) ;;
	8)
		if [ $allow_break -eq 0 ]; then
			rm -f "$new"
			echo "abi-update: the change above is INCOMPATIBLE with $soname: undo it, bump" >&2
			echo "  VMSG_SOVERSION in lib/CMakeLists.txt, or (ABI no release shipped) rerun" >&2
			echo "  with --break. docs/abi.md says which. Baseline left as it was." >&2
			exit 1
		fi
		;;
	*)
		rm -f "$new"
		exit 1
		;;
	esac
fi
mv "$new" "$base"
echo "abi-update: lib/vmsg.map ($(wc -l < "$syms") symbols) and ${base#"$src"/} written"
