#!/bin/sh
# The worked example in a page of docs/ (protocol.md, net.md) must be what the code produces:
# compare the block between the example markers with the program's output.
set -eu
prog=$1 doc=$2
expected=$(mktemp) actual=$(mktemp)
trap 'rm -f "$expected" "$actual"' EXIT
"$prog" > "$actual"
sed -n '/<!-- example:begin -->/,/<!-- example:end -->/p' "$doc" |
	sed '1,2d;$d' | sed '$d' > "$expected"
if ! diff -u "$expected" "$actual"; then
	echo "$doc: the worked example differs from the code (above)." >&2
	exit 1
fi
echo "worked example matches the code"
