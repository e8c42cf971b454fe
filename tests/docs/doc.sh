#!/usr/bin/env bash
# docs_*: one page of the README or docs/ run as a reader would
# (tests/docs/run_doc.py runs its file and command blocks in order).
# usage: doc.sh CMAKE BUILD_DIR EXTRA_CFLAGS DOC [--netns]
#
# The page's commands run in a private directory ($tmp/work) where
# `build/release` is this build (the sanitizer flavour's too), as at the
# top of a source tree. This build is also installed into $tmp/prefix,
# which goes first on PATH, pkg-config's path and the loader's path, for
# pages that use the installed commands. TMPDIR is $tmp/tmp, so a page's
# `mktemp -d` stays inside too.
#
# Every process a page starts is stopped: its shell's jobs (run_doc.py),
# the simulator of the XENSIM_DIR the page exported, any process named in
# a *.pid file under the work directory (a detached vmsgd), and last any
# process whose command line names $tmp/.
#
# --netns: the page adds network namespaces by name (`ip netns add red`):
# it runs in a mount namespace of its own with a private /run/netns, so
# its names are its own, and its namespaces go with it (root only; else
# the test is skipped, status 77).
set -euo pipefail
cmake=$1 build=$(cd "$2" && pwd) extra=$3 doc=$4 netns=${5:-}
src=$(cd "$(dirname "$0")/../.." && pwd)
name=$(basename "$doc" .md)
if [ "$netns" = --netns ] && [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: $name.md adds network namespaces: root only"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmsg-doc-$name.XXXXXX")
trap 'pkill -TERM -f -- "$tmp/" 2>/dev/null || true; rm -rf "$tmp"' EXIT
prefix=$tmp/prefix work=$tmp/work
mkdir -p "$work/build" "$tmp/tmp" "$tmp/wrap"
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; exit 1; }
ln -s "$build" "$work/build/release"
# The sanitizer flavour's nbdkit plugin needs the ASan runtime loaded
# first (tests/block.cmake); nbdkit's own allocations are not ours to
# leak-check. A wrapper first on PATH, so `xensim run -- nbdkit` finds it.
if [ -n "${VMSG_NBDKIT_PRELOAD:-}" ]; then
	cat >"$tmp/wrap/nbdkit" <<WRAP
#!/bin/sh
LD_PRELOAD=$VMSG_NBDKIT_PRELOAD ASAN_OPTIONS=\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}detect_leaks=0 \\
	exec $(command -v nbdkit) "\$@"
WRAP
	chmod +x "$tmp/wrap/nbdkit"
fi
cat >"$tmp/prelude.sh" <<PRELUDE
export PATH="$tmp/wrap:$prefix/bin:$prefix/sbin:\$PATH"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
export LD_LIBRARY_PATH="$prefix/lib"
export TMPDIR="$tmp/tmp"
# The sanitizer flavour's library needs the same flags in its programs.
cc() { command cc $extra "\$@"; }
doc_cleanup() {
	[ -n "\${XENSIM_DIR:-}" ] && "$build/sim/bin/xensim" stop >/dev/null 2>&1
	local f
	for f in \$(find "$work" "$tmp/tmp" -name '*.pid' 2>/dev/null); do
		kill -TERM "\$(cat "\$f")" 2>/dev/null
	done
	return 0
}
PRELUDE
run=(python3 "$src/tests/docs/run_doc.py" "$doc" "$work" --prelude "$tmp/prelude.sh"
	--timeout "${VMSG_DOC_TIMEOUT:-100}")
if [ "$netns" = --netns ]; then
	mkdir -p /run/netns
	unshare --mount --propagation private -- sh -c \
		'mount -t tmpfs -o mode=755 tmpfs /run/netns && exec "$@"' sh "${run[@]}"
else
	"${run[@]}"
fi
