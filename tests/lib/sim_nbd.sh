# tests/lib/sim_nbd.sh: what the NBD tests on the simulated Xen share
# (nbd_sim, storage_xen_sim, mirror_sim), sourced after tests/lib/sim.sh:
#   sim_nbd_tools TOOL...  SKIP (77) without one of them
#   NBDKIT                 the command that runs nbdkit: in the ASan flavour
#                          with the ASan runtime loaded first (the plugin
#                          needs it; VMSG_NBDKIT_PRELOAD), nbdkit's own
#                          allocations not leak-checked
#   now_ms, copy_fails     tests/lib/copy_fails.sh
sim_nbd_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || { echo "SKIP: no $t"; exit 77; }
	done
}
NBDKIT=(nbdkit)
if [ -n "${VMSG_NBDKIT_PRELOAD:-}" ]; then
	NBDKIT=(env "LD_PRELOAD=$VMSG_NBDKIT_PRELOAD"
		"ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" nbdkit)
fi
. "$(dirname "${BASH_SOURCE[0]}")/copy_fails.sh"
