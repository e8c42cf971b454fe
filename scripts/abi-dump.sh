#!/usr/bin/env bash
# Print the ABI of BUILD's libvmsg.so as abidw XML, restricted to the
# types the installed headers declare and without paths or source
# locations, so that two builds of one tree give the same file.
# Usage: scripts/abi-dump.sh BUILD
set -euo pipefail
build=${1:?usage: abi-dump.sh BUILD}
src=$(cd "$(dirname "$0")/.." && pwd)
hdrs=()
while read -r h; do
	[ -n "$h" ] && hdrs+=(--header-file "$h")
done < "$build/lib/vmsg-installed-headers.txt"
abidw --no-corpus-path --no-comp-dir-path --no-show-locs --no-elf-needed \
	--type-id-style hash --drop-private-types \
	"${hdrs[@]}" "$build/lib/libvmsg.so"
