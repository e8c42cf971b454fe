#!/usr/bin/env bash
# uv_symbols: libvmsg-uv.so exports exactly the functions vmsg/uv.h
# declares, and lib/uv/vmsg-uv.map names exactly those (docs/abi.md).
# usage: symbols.sh SRC LIBVMSG_UV_SO
set -euo pipefail
src=$1 lib=$2
fail() { echo "uv_symbols: FAIL: $*" >&2; exit 1; }
exported=$(nm -D --defined-only "$lib" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort -u)
mapped=$(grep -oE '^ +vmsg_uv_[a-z_]+;' "$src/lib/uv/vmsg-uv.map" | tr -d ' ;' | sort -u)
declared=$(grep -oE '\bvmsg_uv_[a-z_]+\(' "$src/lib/uv/include/vmsg/uv.h" | tr -d '(' | sort -u)
[ -n "$declared" ] || fail "no declaration found in vmsg/uv.h"
[ "$exported" = "$mapped" ] || fail "exported and mapped differ: $(diff <(echo "$exported") <(echo "$mapped") | grep '^[<>]' | tr '\n' ' ')"
[ "$mapped" = "$declared" ] || fail "mapped and declared differ: $(diff <(echo "$mapped") <(echo "$declared") | grep '^[<>]' | tr '\n' ' ')"
echo "uv_symbols: ok: $(echo "$declared" | wc -l) symbols, exported = mapped = declared"
