#!/usr/bin/env bash
# Print, one a line and sorted, the symbols libvmsg.so must export: every
# global symbol defined in the library's objects (the static libvmsg.a of
# build dir BUILD) whose name appears in the installed headers
# (lib/include/vmsg/*.h and the installed generated protobuf-c headers),
# read after the preprocessor, so that a name used only inside a comment
# does not count and one used by a static inline function does.
# Usage: scripts/abi-symbols.sh BUILD   (e.g. build/release)
set -euo pipefail
build=${1:?usage: abi-symbols.sh BUILD}
src=$(cd "$(dirname "$0")/.." && pwd)
lib=$build/lib/libvmsg.a
headers=$build/lib/vmsg-installed-headers.txt # written by lib/CMakeLists.txt
for f in "$lib" "$headers"; do
	[ -f "$f" ] || { echo "abi-symbols: no $f (build $build first)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: > "$tmp/all.c"
while read -r h; do
	[ -n "$h" ] || continue
	echo "#include \"$h\"" >> "$tmp/all.c"
done < "$headers"
# Installed headers include each other as <vmsg/...>.
${CC:-cc} -E -I "$src/lib/include" -I "$build/proto/gen" "$tmp/all.c" |
	grep -v '^#' | grep -o '[A-Za-z_][A-Za-z0-9_]*' | sort -u > "$tmp/ids"
nm -g --defined-only "$lib" | awk 'NF == 3 && $2 ~ /^[TDRBGV]$/ { print $3 }' |
	sort -u > "$tmp/defined"
comm -12 "$tmp/defined" "$tmp/ids"
