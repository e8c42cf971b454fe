#!/usr/bin/env bash
# storage_xen_sim: the storage chain on direct Xen channels, on the
# simulated Xen, with the overlay appliance's SDK build (the same source
# as the overlay unikernel):
#   dom0: vmsg-blockd --xen 1:base IMAGE
#   dom1: overlay-appliance base=xen:0:base serve=xen:0:ovl
#   dom0: nbdkit vmsg xen=1 port=ovl on a UNIX socket
#   1. writes through the chain (qemu-io), then qemu-img compare of the
#      export with the expected image, made independently (the same writes
#      by qemu-io on a copy of the image file); a second NBD connection
#      (the overlay served again) sees the same; the image file unchanged,
#      byte for byte (sha256 before and after);
#   2. kill -9 of the overlay in the middle of a copy (nbdcopy, one
#      connection, slowed by nbdkit's delay filter): the NBD client fails
#      within a second, never hangs; vmsg-blockd serves a new overlay;
#   3. the same chain through vmsgd (base=svc:disk serve=svc:ovl, guests
#      only); the RAM disk appliance's SDK build served to dom0's nbdkit;
#   4. the appliances' cmdline checks; a base over the overlay's memory
#      limit refused at start.
# usage: storage_xen_sim.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/sim_nbd.sh"
sim_nbd_tools nbdkit nbdcopy qemu-io qemu-img sha256sum
sim_init storage_xen_sim "$1"
blockd=$build/dom0/vmsg-blockd
plugin=$build/dom0/nbdkit-vmsg-plugin.so
overlay=$build/examples/blk-common/overlay-appliance
sim_need "$xensim" "$blockd" "$overlay"
[ -e "$plugin" ] || fail "$plugin not built"
sim_start

MiB=1048576
head -c $((32 * MiB)) /dev/urandom >"$dir/base.img"
sum0=$(sha256sum <"$dir/base.img")

sim_run 0 "$dir/blockd.log" "$blockd" --xen 1:base "$dir/base.img"
BP=$sim_pid
sim_wait 10 grep -q "serving dom1 at /local/domain/0/data/vchan/1/base" "$dir/blockd.log" ||
	fail "vmsg-blockd does not serve dom1"
start_overlay() {
	sim_run 1 "$dir/overlay.log" "$overlay" base=xen:0:base serve=xen:0:ovl
	OP=$sim_pid
	sim_wait 20 grep -q "serving at /local/domain/1/data/vchan/0/ovl" "$dir/overlay.log" ||
		fail "the overlay does not serve dom0"
}
start_overlay
grep -q "dom1 connected on /local/domain/0/data/vchan/1/base" "$dir/blockd.log" ||
	fail "the overlay is not vmsg-blockd's consumer"
sim_run 0 "$dir/nbdkit.log" "${NBDKIT[@]}" -f -U "$dir/ovl.nbd" "$plugin" xen=1 port=ovl
NP=$sim_pid
sim_wait 10 test -S "$dir/ovl.nbd" || fail "no nbdkit socket"
URI="nbd+unix:///?socket=$dir/ovl.nbd"

# 1. The writes: whole blocks, runs across 1 MiB request boundaries, a
# zeroed range, the first and the last block; the expected image gets the
# same from qemu-io on a plain file.
writes=(-c "write -P 0x5a 0 4k" -c "write -P 0xa5 1020k 8k"
	-c "write -P 0x11 3m 2m" -c "write -z 7m 640k" -c "write -P 0x77 9m 512"
	-c "write -P 0x33 $((32 * MiB - 512)) 512" -c "flush")
cp "$dir/base.img" "$dir/expected.img"
qemu-io -f raw "${writes[@]}" "$dir/expected.img" >/dev/null || fail "qemu-io on the expected image"
cmp -s "$dir/base.img" "$dir/expected.img" && fail "the writes changed nothing"
t0=$(now_ms)
qemu-io -f raw "${writes[@]}" "$URI" >"$dir/qemu-io.log" 2>&1 || {
	cat "$dir/qemu-io.log"; fail "qemu-io through the chain"; }
t1=$(now_ms)
qemu-img compare -f raw -F raw "$dir/expected.img" "$URI" >"$dir/compare.log" 2>&1 || {
	cat "$dir/compare.log"; fail "qemu-img compare: the export is not the expected image"; }
t2=$(now_ms)
echo "ok: writes through blockd -> overlay -> nbdkit ($((t1 - t0)) ms), qemu-img compare of 32 MiB ($((t2 - t1)) ms)"
# Another NBD connection: another consumer of the overlay, same content.
qemu-img compare -q -f raw -F raw "$dir/expected.img" "$URI" || fail "second compare"
grep -q "consumer 2: closed" "$dir/overlay.log" || fail "the overlay did not serve a second consumer"
echo "ok: the overlay served again; same content"
[ "$(sha256sum <"$dir/base.img")" = "$sum0" ] || fail "the base image changed"
echo "ok: the base image is unchanged (sha256)"

# 2. kill -9 of the overlay in the middle of a copy: one NBD connection,
# one 4 KiB request at a time, each held 1 ms by nbdkit's delay filter
# (another nbdkit, in front of the same plugin): ~10 s of reads.
sim_run 0 "$dir/nbdkit-slow.log" "${NBDKIT[@]}" -f -U "$dir/slow.nbd" --filter=delay \
	"$plugin" xen=1 port=ovl delay-read=1ms
sim_wait 10 test -S "$dir/slow.nbd" || fail "no nbdkit socket (delay filter)"
nbdcopy --connections=1 --requests=1 --request-size=4096 \
	"nbd+unix:///?socket=$dir/slow.nbd" null: 2>"$dir/nbdcopy.log" & CP=$!
sim_wait 10 grep -q "consumer 4: connected" "$dir/overlay.log" || fail "the copy did not reach the overlay"
sleep 0.5 # in the middle of the copy
kill -0 "$CP" 2>/dev/null || fail "the copy finished before the kill"
app=$(pgrep -P "$OP") || fail "no overlay process under $OP"
t0=$(now_ms)
kill -9 "$app"
copy_fails "$CP" "$t0" "$dir/nbdcopy.log" "the overlay" "$NP"
sim_reap "$OP" 2>/dev/null
# The provider below carries on: a new overlay gets the base again.
start_overlay
sim_wait 10 grep -q "consumer 2: dom1 connected" "$dir/blockd.log" ||
	fail "vmsg-blockd did not serve the new overlay"
[ "$(sha256sum <"$dir/base.img")" = "$sum0" ] || fail "the base image changed"
echo "ok: vmsg-blockd serves a new overlay; the base is still unchanged"
# 3. Through vmsgd: base=svc: and serve=svc: (dom3 offers the image as
# `disk`, dom4's overlay opens it and offers `ovl`, dom5's nbdkit opens
# that); the RAM disk appliance on a direct channel (dom6).
cat >"$dir/vmsgd.conf" <<EOF
[daemon]
control_socket = $dir/vmsgd.sock

[service disk]
offer = 3
open = 4
mode = direct
ring_size = 262144
max_msg = 8388608

[service ovl]
offer = 4
open = 5
mode = direct
ring_size = 262144
max_msg = 8388608
EOF
sim_need "$vmsgd" "$build/examples/blk-common/ramdisk-appliance"
sim_vmsgd "$dir/vmsgd.conf"
sim_run 3 "$dir/blockd-svc.log" "$blockd" --service disk "$dir/base.img"
sim_wait 10 grep -q "offers disk" "$dir/blockd-svc.log" || fail "vmsg-blockd did not offer disk"
sim_run 4 "$dir/overlay-svc.log" "$overlay" base=svc:disk serve=svc:ovl
sim_wait 20 grep -q "offering service ovl" "$dir/overlay-svc.log" || fail "the overlay did not offer ovl"
sim_run 5 "$dir/nbdkit-svc.log" "${NBDKIT[@]}" -f -U "$dir/svc.nbd" "$plugin" service=ovl
sim_wait 10 test -S "$dir/svc.nbd" || fail "no nbdkit socket (service=ovl)"
qemu-io -f raw "${writes[@]}" "nbd+unix:///?socket=$dir/svc.nbd" >/dev/null 2>"$dir/qemu-io-svc.log" ||
	fail "qemu-io through vmsgd"
# The overlay serves one consumer at a time (docs/storage.md): the next
# NBD connection's open reaches it once it has seen this one's channel
# close (an open that came earlier would wait on the plugin's 10 s).
sim_wait 20 grep -q "consumer 1: closed" "$dir/overlay-svc.log" ||
	fail "the overlay never saw qemu-io's channel close"
qemu-img compare -q -f raw -F raw "$dir/expected.img" "nbd+unix:///?socket=$dir/svc.nbd" ||
	fail "qemu-img compare through vmsgd"
[ "$(sha256sum <"$dir/base.img")" = "$sum0" ] || fail "the base image changed (through vmsgd)"
echo "ok: blockd (dom3) -> svc:disk -> overlay (dom4) -> svc:ovl -> nbdkit (dom5): writes, compare, base unchanged"

sim_run 6 "$dir/ramdisk.log" "$build/examples/blk-common/ramdisk-appliance" size=8 serve=xen:0:rd
sim_wait 20 grep -q "serving at /local/domain/6/data/vchan/0/rd" "$dir/ramdisk.log" || fail "the RAM disk does not serve dom0"
sim_run 0 "$dir/nbdkit-rd.log" "${NBDKIT[@]}" -f -U "$dir/rd.nbd" "$plugin" xen=6 port=rd
sim_wait 10 test -S "$dir/rd.nbd" || fail "no nbdkit socket (xen=6)"
RD="nbd+unix:///?socket=$dir/rd.nbd"
[ "$(nbdinfo --size "$RD")" = $((8 * MiB)) ] || fail "the RAM disk is not 8 MiB"
qemu-io -f raw -c "write -P 0x42 1m 3m" "$RD" >/dev/null || fail "qemu-io write to the RAM disk"
qemu-io -f raw -c "read -P 0x42 1m 3m" -c "read -P 0 0 1m" "$RD" >"$dir/rd-read.log" 2>&1 ||
	fail "qemu-io read of the RAM disk"
grep -q "Pattern verification failed" "$dir/rd-read.log" && { cat "$dir/rd-read.log"; fail "the RAM disk returned other bytes"; }
echo "ok: ramdisk-appliance (dom6) served to dom0's nbdkit: 3 MiB written and read back, zeroes elsewhere"

# 4. The appliances' cmdline: every word checked, status 2; --help 0.
for args in "base=xen:0:b" "base=xen:0:b serve=xen:0:c colour=red" \
	"base=xen:x:b serve=xen:0:c" "base=svc:a/b serve=svc:c" \
	"base=xen:0:b serve=xen:0:c limit=0" "base=xen:0:b serve=xen:0:c base=svc:d"; do
	rc=0; "$overlay" $args >"$dir/args.out" 2>&1 || rc=$?
	[ $rc -eq 2 ] && grep -q "overlay-appliance: " "$dir/args.out" ||
		fail "overlay-appliance $args: exit $rc: $(cat "$dir/args.out")"
done
rc=0; "$build/examples/blk-common/ramdisk-appliance" serve=xen:0:r size=0 >"$dir/args.out" 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "ramdisk-appliance size=0: exit $rc"
"$overlay" --help | grep -q "^usage: overlay-appliance base=ADDR serve=ADDR" || fail "overlay-appliance --help"
rc=0; "$xensim" run --domid 0 -- "$blockd" --xen 1:a --xen 2 --xen 1:a "$dir/base.img" >"$dir/args.out" 2>&1 || rc=$?
[ $rc -eq 2 ] && grep -q -- "--xen 1:a: expected DOMID\[:PORT\].*each channel once" "$dir/args.out" ||
	fail "vmsg-blockd with a --xen channel twice: exit $rc: $(cat "$dir/args.out")"
echo "ok: bad cmdline words end the appliances (and a --xen given twice, vmsg-blockd) with status 2; --help prints the usage"
# A base the overlay's memory may not hold is refused at start, saying
# why (on the host backend: host=DIR puts xen: addresses in DIR).
mkdir -p "$dir/host"
truncate -s 64M "$dir/big.img"
"$blockd" --listen "$dir/host/local_domain_0_data_vchan_0_big" "$dir/big.img" 2>"$dir/blockd-big.log" &
sim_track $!
sim_wait 10 test -S "$dir/host/local_domain_0_data_vchan_0_big" || fail "no vmsg-blockd for the big base"
rc=0; "$overlay" host="$dir/host" base=xen:0:big serve=xen:0:o >"$dir/big.out" 2>&1 || rc=$?
[ $rc -eq 1 ] && grep -q "base xen:0:big is 67108864 bytes: over limit=48 MiB" "$dir/big.out" ||
	fail "a 64 MiB base: exit $rc: $(cat "$dir/big.out")"
echo "ok: $(cat "$dir/big.out")"
exit 0
