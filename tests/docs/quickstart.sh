#!/usr/bin/env bash
# docs_quickstart: docs/quickstart.md run as a reader would: this build is
# installed into a temporary prefix, which goes on PATH and pkg-config's
# path, then every file and command block of the page runs in order
# (tests/docs/run_doc.py).
# usage: quickstart.sh CMAKE BUILD_DIR [EXTRA_CFLAGS]
set -euo pipefail
cmake=$1 build=$(cd "$2" && pwd) extra=${3:-}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmsg-quickstart.XXXXXX")
trap 'pkill -TERM -f -- "$tmp/" 2>/dev/null || true; rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; exit 1; }
cat >"$tmp/prelude.sh" <<PRELUDE
export PATH="$prefix/bin:$prefix/sbin:\$PATH"
export PKG_CONFIG_PATH="$(dirname "$(find "$prefix" -name vmsg.pc)")"
export LD_LIBRARY_PATH="$prefix/lib"
# The sanitizer flavour's library needs the same flags in its programs.
cc() { command cc $extra "\$@"; }
doc_cleanup() {
	# vmsgd detached (not a job of the shell): its pid file names it.
	[ -f "$tmp/work/vmsgd.pid" ] && kill -TERM "\$(cat "$tmp/work/vmsgd.pid")" 2>/dev/null
	XENSIM_DIR=$tmp/work/xensim xensim stop >/dev/null 2>&1 || true
}
PRELUDE
python3 "$src/tests/docs/run_doc.py" "$src/docs/quickstart.md" "$tmp/work" \
	--prelude "$tmp/prelude.sh"
