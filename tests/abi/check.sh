#!/usr/bin/env bash
# The ABI of libvmsg.so (docs/abi.md).
#   check.sh symbols SRC BUILD: the symbols libvmsg.so exports (nm -D
#     --defined-only), the ones lib/vmsg.map names (an explicit list, no
#     globs) and the ones the installed headers declare are one set.
#   check.sh abidiff SRC BUILD: abidiff finds no change between the
#     committed baseline abi/<soname>.xml and this build. A compatible
#     addition (a new function, say) fails too, until it is recorded:
#     the baseline is always the ABI of the tree, so the next change is
#     measured against what the tree really exports.
# Either failure says to run scripts/abi-update.sh, which rewrites both.
set -euo pipefail
mode=$1 src=$2 build=$3
lib=$build/lib/libvmsg.so
fix="run scripts/abi-update.sh (docs/abi.md) and commit lib/vmsg.map and abi/"
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

case $mode in
symbols)
	# Version node names show up as absolute symbols (type A): not ours.
	nm -D --defined-only "$lib" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' |
		sort -u > "$tmp/exported"
	python3 "$src/scripts/abi-map.py" list "$src/lib/vmsg.map" > "$tmp/map" ||
		fail "lib/vmsg.map is not an explicit list: $fix"
	"$src/scripts/abi-symbols.sh" "$build" > "$tmp/public"
	[ -s "$tmp/public" ] || fail "no public symbol found in $build"
	ok=1
	if ! diff -u "$tmp/map" "$tmp/exported" > "$tmp/d1"; then
		echo "exported by libvmsg.so (+) but not in lib/vmsg.map (-), or the reverse:"
		cat "$tmp/d1"
		ok=0
	fi
	if ! diff -u "$tmp/map" "$tmp/public" > "$tmp/d2"; then
		echo "declared by an installed header (+) but not in lib/vmsg.map (-), or the reverse:"
		cat "$tmp/d2"
		ok=0
	fi
	[ $ok = 1 ] || fail "the exported symbols, lib/vmsg.map and the public headers disagree: $fix"
	echo "ok: $(wc -l < "$tmp/map") symbols, exported = mapped = declared"
	;;
abidiff)
	command -v abidiff >/dev/null || fail "no abidiff: run scripts/deps.sh (abigail-tools)"
	soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
	base=$src/abi/$soname.xml
	[ -f "$base" ] || fail "no baseline abi/$soname.xml for this soname: $fix"
	"$src/scripts/abi-dump.sh" "$build" > "$tmp/now.xml"
	rc=0
	"$src/scripts/abi-compare.sh" "$base" "$tmp/now.xml" || rc=$?
	case $rc in
	0) ;;
	4) fail "compatible ABI addition (above) not recorded in abi/$soname.xml: $fix" ;;
	8) fail "INCOMPATIBLE change to the ABI of $soname (above): undo it; or bump the soname and $fix; or, for ABI no release has shipped, run scripts/abi-update.sh --break (docs/abi.md)" ;;
	*) fail "abidiff could not compare (rc $rc)" ;;
	esac
	echo "ok: $soname matches abi/$soname.xml"
	;;
*)
	fail "usage: check.sh symbols|abidiff SRC BUILD"
	;;
esac
