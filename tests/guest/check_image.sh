#!/bin/sh
# guest_image: the echo unikernel links with no undefined symbols, is an
# x86-64 ELF with the Xen PVH entry note (type 18) pointing at its entry
# code, has one loadable segment at 1 MiB, and reports its size.
#   check_image.sh ELF NM READELF
set -eu
elf=$1 nm=$2 readelf=$3
[ -f "$elf" ] || { echo "no image $elf"; exit 1; }
und=$("$nm" -u "$elf")
[ -z "$und" ] || { echo "undefined symbols: $und"; exit 1; }
"$readelf" -h "$elf" | grep -q 'Advanced Micro Devices X86-64' || { echo "not x86-64"; exit 1; }
notes=$("$readelf" -n "$elf")
echo "$notes" | grep -q 'Xen .*0x00000012' || { echo "no Xen PHYS32_ENTRY note"; echo "$notes"; exit 1; }
entry=$("$nm" "$elf" | awk '$3 == "guest_entry32" {print $1}')
note_entry=$(echo "$notes" | sed -n 's/.*description data: \(..\) \(..\) \(..\) \(..\).*/\4\3\2\1/p')
[ -n "$entry" ] && [ "$(printf '%d' 0x$entry)" = "$(printf '%d' 0x$note_entry)" ] ||
	{ echo "note entry $note_entry != guest_entry32 $entry"; exit 1; }
loads=$("$readelf" -lW "$elf" | awk '$1 == "LOAD"')
[ "$(echo "$loads" | wc -l)" = 1 ] || { echo "expected one PT_LOAD: $loads"; exit 1; }
echo "$loads" | grep -q ' 0x0*100000 ' || { echo "not loaded at 1 MiB: $loads"; exit 1; }
size=$(wc -c <"$elf")
echo "guest_image: $(basename "$elf") $size bytes; $(size "$elf" | tail -n 1 | awk '{print "text " $1 ", data " $2 ", bss " $3}')"
