#!/bin/sh
# dropin_abi: the drop-in libxenvchan exports what Debian's does, under the
# same soname and version node: every defined dynamic symbol of Debian's
# library, with its version, except close_xs_srv (an internal helper
# Debian's leaks, in no header: docs/libxenvchan.md), and nothing more.
# Usage: dropin_abi.sh DROPIN_LIB_DIR
set -eu
dir=$1
deb=$(ls /usr/lib/x86_64-linux-gnu/libxenvchan.so.4.17.* 2>/dev/null | head -n1 || true)
if [ -z "$deb" ] || ! command -v objdump >/dev/null; then
	echo "no Debian libxenvchan or objdump: skipping"
	exit 77
fi
ours=$dir/libxenvchan.so.4.17
syms() { objdump -T "$1" | awk '$2 == "g" && $4 != "*UND*" { print $(NF-1), $NF }' | sort; }
soname() { objdump -p "$1" | awk '$1 == "SONAME" { print $2 }'; }
want=$(syms "$deb" | grep -v ' close_xs_srv$')
got=$(syms "$ours")
echo "Debian's: $(soname "$deb")"; echo "$want"
echo "drop-in:  $(soname "$ours")"; echo "$got"
[ "$(soname "$deb")" = "$(soname "$ours")" ] || { echo "soname differs"; exit 1; }
[ "$want" = "$got" ] || { echo "exports differ"; exit 1; }
echo "dropin_abi: ok"
