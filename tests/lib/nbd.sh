# The NBD tests' scaffolding (nbd_chain.sh, nbd_source.sh; sourced, POSIX
# sh): nbd_init NAME TOOL... skips (77) without one of the tools, makes
# $tmp and kills what the test started ($pids) at exit.
# nbdkit_ ARGS: nbdkit, with the ASan runtime loaded first in the ASan
# flavour (VMSG_NBDKIT_PRELOAD; nbdkit's own allocations are not ours to
# leak-check). It execs: started with &, the function runs in a subshell,
# and $! must be nbdkit itself (an orphaned nbdkit would hold ctest's pipe
# open). wait_for PATH: a UNIX socket appears within 5 s. now_ms and
# copy_fails: tests/lib/copy_fails.sh.
nbd_init() {
	name=$1; shift
	for t in "$@"; do
		command -v "$t" >/dev/null || { echo "SKIP: no $t"; exit 77; }
	done
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmsg-$name.XXXXXX")
	pids=""
	trap nbd_cleanup EXIT INT TERM
}
nbd_cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
nbdkit_() {
	if [ -n "${VMSG_NBDKIT_PRELOAD:-}" ]; then
		LD_PRELOAD=$VMSG_NBDKIT_PRELOAD ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" exec nbdkit "$@"
	else
		exec nbdkit "$@"
	fi
}
fail() { echo "FAIL: $*" >&2; exit 1; }
. "$(dirname "$0")/../lib/copy_fails.sh"
wait_for() {
	i=0
	while [ ! -S "$1" ]; do
		i=$((i + 1)); [ $i -lt 500 ] || fail "no socket $1"
		sleep 0.01
	done
}
