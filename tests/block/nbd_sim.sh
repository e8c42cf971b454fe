#!/usr/bin/env bash
# nbd_sim: the storage chain through vmsgd on the simulated Xen:
#   dom1: vmsg-blockd --service disk (an image file)
#   dom2: nbdkit vmsg service=disk on a UNIX socket
#   1. qemu-img compare: the export is the image; nbdcopy of another image
#      into it over four NBD connections (four channels through vmsgd:
#      vmsg-blockd says multi-conn) and qemu-img compare again; after the
#      chain stops the file holds it, byte for byte;
#   2. a second consumer domain (dom4) at the same time reads it too;
#   3. dom3, which the policy does not let open `disk`, gets no export:
#      nbdkit logs vmsgd's policy refusal and the NBD client fails;
#   4. kill -9 of the provider in the middle of an nbdcopy (dom5): nbdcopy fails
#      within a second.
# usage: nbd_sim.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/sim_nbd.sh"
sim_nbd_tools nbdkit nbdcopy qemu-img
# (sim.sh's cleanup ends each process with SIGTERM, which `xensim run`
# forwards, and one still there after 5 s with SIGKILL: the ASan flavour's
# nbdkit, with the ASan runtime preloaded, has been seen to deadlock in
# libc's exit handlers, in freelocale.)
sim_init nbd_sim "$1"
blockd=$build/dom0/vmsg-blockd
plugin=$build/dom0/nbdkit-vmsg-plugin.so
sim_need "$xensim" "$vmsgd" "$blockd"
[ -e "$plugin" ] || fail "$plugin not built"
wait_sock() { sim_wait 10 test -S "$1" || fail "no socket $1"; }

cat >"$dir/vmsgd.conf" <<EOF
[daemon]
control_socket = $dir/vmsgd.sock

[service disk]
offer = 1
open = 2,4,5
mode = direct
ring_size = 1048576
max_msg = 8388608
EOF
sim_start
sim_vmsgd "$dir/vmsgd.conf"

MiB=1048576
head -c $((32 * MiB)) /dev/urandom >"$dir/disk.img"
head -c $((32 * MiB)) /dev/urandom >"$dir/other.img"
cp "$dir/disk.img" "$dir/orig.img"

start_provider() { # IMAGE
	sim_run 1 "$dir/blockd.log" "$blockd" --service disk "$1"
	BP=$sim_pid
	sim_wait 10 grep -q "offers disk" "$dir/blockd.log" || fail "vmsg-blockd did not offer disk"
}
start_nbdkit() { # DOMID NAME
	sim_run "$1" "$dir/nbdkit-$2.log" "${NBDKIT[@]}" -f -U "$dir/$2.nbd" "$plugin" service=disk
	NP=$sim_pid
	wait_sock "$dir/$2.nbd"
}

# 1.
start_provider "$dir/disk.img"
start_nbdkit 2 a
A="nbd+unix:///?socket=$dir/a.nbd"
qemu-img compare -q -f raw -F raw "$dir/orig.img" "$A" || fail "compare with the image"
nbdcopy --connections=4 --threads=4 "$dir/other.img" "$A" || fail "nbdcopy into the export"
qemu-img compare -q -f raw -F raw "$dir/other.img" "$A" || fail "compare after nbdcopy"
echo "ok: dom2 through vmsgd: compare, nbdcopy in, compare"

# 2. another consumer domain at the same time
start_nbdkit 4 b
B="nbd+unix:///?socket=$dir/b.nbd"
qemu-img compare -q -f raw -F raw "$dir/other.img" "$B" & C1=$!
qemu-img compare -q -f raw -F raw "$dir/other.img" "$A" & C2=$!
wait $C1 || fail "dom4 compare"
wait $C2 || fail "dom2 compare (concurrent)"
echo "ok: dom2 and dom4 at once"

# 3. the policy
start_nbdkit 3 c
if qemu-img compare -q -f raw -F raw "$dir/other.img" "nbd+unix:///?socket=$dir/c.nbd" 2>"$dir/c.err"; then
	fail "dom3 read the disk"
fi
grep -q "open service disk: .*polic" "$dir/nbdkit-c.log" || fail "dom3: no policy refusal in nbdkit's log"
echo "ok: dom3 refused: $(grep -o 'open service disk: .*' "$dir/nbdkit-c.log" | head -1)"

# the writes reached the file once the provider stops
kill "$BP"; sim_reap "$BP"
cmp "$dir/disk.img" "$dir/other.img" || fail "the file is not what was written"
echo "ok: the file holds the nbdcopy"

# 4. kill -9 of the provider mid-I/O
truncate -s 8G "$dir/big.img"
start_provider "$dir/big.img"
start_nbdkit 5 k  # a domain of its own: one vmsgd client per domain
nbdcopy "nbd+unix:///?socket=$dir/k.nbd" null: 2>"$dir/nbdcopy.err" & CP=$!
for _ in $(seq 100); do grep -q "dom5 opened disk" "$dir/blockd.log" && break; sleep 0.05; done
grep -q "dom5 opened disk" "$dir/blockd.log" ||
	fail "dom5 never reached the provider (nbdcopy: $(kill -0 "$CP" 2>/dev/null && echo "still running" || echo "ended: $(cat "$dir/nbdcopy.err")"))"
sleep 0.3 # in the middle of the copy
kill -0 "$CP" 2>/dev/null || fail "nbdcopy finished before the kill"
# vmsg-blockd itself, not the `xensim run` in front of it (SIGKILL is not
# forwarded).
daemon=$(pgrep -P "$BP" -x vmsg-blockd) || fail "no vmsg-blockd under $BP"
t0=$(now_ms)
kill -9 "$daemon"
sim_reap "$BP" 2>/dev/null
copy_fails "$CP" "$t0" "$dir/nbdcopy.err" "the provider" "$NP"
exit 0
