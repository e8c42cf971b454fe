#!/bin/sh
# Compile the freestanding layers (lib/ring, lib/frame) as a unikernel
# would -- no libc headers (-nostdinc: /usr/include is gone, only the
# compiler's own stdint/stddef/stdbool remain), no libc (-nostdlib) -- and
# fail unless the only undefined symbols are memcpy, memmove and memset,
# and what VMSG_NM_ALLOW names (shell patterns, space-separated: lib/net
# may call the channel layer, vmsg_chan_*). VMSG_NM_INCLUDES: more include
# directories (space-separated), for sources that share a header of their
# own (the block appliances' examples/blk-common).
#
# usage: check_nm.sh CC NM SOURCE_ROOT source.c...
set -eu
if [ $# -lt 4 ]; then
	echo "usage: $0 CC NM SOURCE_ROOT source.c..." >&2
	exit 2
fi
cc=$1
nm=$2
root=$3
shift 3

gccinc=$("$cc" -print-file-name=include)
if [ ! -f "$gccinc/stdint.h" ]; then
	echo "FAIL: no compiler include directory with stdint.h ($gccinc)"
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmsg-freestanding.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

incs=""
for d in ${VMSG_NM_INCLUDES:-}; do
	incs="$incs -I $d"
done

fail=0
i=0
objs=""
for src in "$@"; do
	i=$((i + 1))
	obj="$tmp/$i.o"
	# shellcheck disable=SC2086
	if ! "$cc" -std=gnu11 -ffreestanding -nostdlib -nostdinc \
		-isystem "$gccinc" -I "$root/lib/include" -I "$root/lib/internal" \
		$incs -O2 -c "$src" -o "$obj"; then
		echo "FAIL: $src does not compile freestanding"
		fail=1
		continue
	fi
	echo "compiled: $src"
	objs="$objs $obj"
done
[ "$fail" = 0 ] || exit 1

# The layers call each other (frame -> ring), so judge them together: a
# partial link resolves the references between them, and what is still
# undefined is what the platform must supply.
# shellcheck disable=SC2086
"$cc" -nostdlib -r -o "$tmp/all.o" $objs
undef=$("$nm" -u "$tmp/all.o" | awk '{ print $NF }')
bad=""
for sym in $undef; do
	case $sym in
	memcpy | memmove | memset) ;;
	*)
		ok=0
		for pat in ${VMSG_NM_ALLOW:-}; do
			# shellcheck disable=SC2254
			case $sym in $pat) ok=1 ;; esac
		done
		[ "$ok" = 1 ] || bad="$bad $sym"
		;;
	esac
done
if [ -n "$bad" ]; then
	echo "FAIL: symbols a unikernel does not have:$bad"
	for o in $objs; do "$nm" -uA "$o"; done
	exit 1
fi
echo "ok: undefined symbols:$(printf ' %s' $undef)"
exit 0
