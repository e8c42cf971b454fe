#!/bin/sh
# nbd_chain: image file -> vmsg-blockd (host backend) -> nbdkit vmsg plugin
# on a UNIX socket -> the standard NBD tools:
#   1. nbdinfo sees the size and the flags (multi-conn among them: every
#      consumer of vmsg-blockd sees one disk); qemu-img compare: identical;
#   2. nbdcopy of another image into the export over four NBD connections
#      (four channels, vmsg-blockd's log counts them), and qemu-io writes
#      of patterns from another: qemu-img compare against the expected
#      image, and after the chain stops the file itself is byte for byte
#      the expected image;
#   3. a read-only export refuses writes (qemu-io fails, the file unchanged);
#   4. kill -9 of the provider in the middle of an nbdcopy: nbdcopy fails
#      within a second, it does not hang;
#   5. the RAM disk appliance (vmsg-ramdisk) behind the same plugin: an
#      image copied in with nbdcopy and qemu-io writes compare equal to the
#      expected image, also from a second NBD connection after the first;
#      no multi-conn (the appliance serves one consumer at a time);
#   6. the chain of the issue: base image -> vmsg-blockd --read-only ->
#      vmsg-overlay (copy-on-write) -> nbdkit vmsg -> qemu-io writes and
#      qemu-img compare against the expected image; the base file is
#      unchanged, byte for byte;
#   7. both vmsg ends spinning (vmsg-blockd --spin-us, the plugin's
#      spin-us=): an nbdcopy and qemu-io writes compare equal; a kill -9 of
#      the provider while the plugin spins fails nbdcopy within a second;
#      a bad spin-us= is refused with its reason.
# usage: nbd_chain.sh VMSG_BLOCKD PLUGIN_SO VMSG_RAMDISK VMSG_OVERLAY
set -eu
blockd=$1 plugin=$2 ramdisk=$3 overlay=$4
. "$(dirname "$0")/../lib/nbd.sh"
nbd_init nbd nbdkit nbdinfo nbdcopy qemu-img qemu-io

# start_chain NAME IMAGE [blockd options]: sets BP, NP and URI; the
# plugin gets $plugin_args too
plugin_args=
start_chain() { # NAME IMAGE [vmsg-blockd options]; its log: $tmp/NAME.log
	name=$1 img=$2; shift 2
	"$blockd" --listen "$tmp/$name.vmsg" "$@" "$img" 2>"$tmp/$name.log" &
	BP=$!; pids="$pids $BP"
	wait_for "$tmp/$name.vmsg"
	nbdkit_ -f -U "$tmp/$name.nbd" "$plugin" path="$tmp/$name.vmsg" $plugin_args &
	NP=$!; pids="$pids $NP"
	wait_for "$tmp/$name.nbd"
	URI="nbd+unix:///?socket=$tmp/$name.nbd"
}
stop_chain() {
	kill "$NP"; wait "$NP" || true
	kill "$BP"; wait "$BP" || fail "vmsg-blockd exited with $?"
}

MiB=1048576
head -c $((64 * MiB)) /dev/urandom > "$tmp/disk.img"
head -c $((64 * MiB)) /dev/urandom > "$tmp/other.img"
cp "$tmp/disk.img" "$tmp/orig.img"

# 1.
start_chain rw "$tmp/disk.img"
info=$(nbdinfo "$URI")
echo "$info" | grep -q "export-size: $((64 * MiB))" || fail "nbdinfo: $info"
echo "$info" | grep -q "can_flush: true" || fail "nbdinfo flush: $info"
echo "$info" | grep -q "block_size_minimum: 512" || fail "nbdinfo block: $info"
echo "$info" | grep -q "can_multi_conn: true" || fail "nbdinfo multi-conn: $info"
qemu-img compare -q -f raw -F raw "$tmp/orig.img" "$URI" ||
	fail "qemu-img compare: the export differs from the image"
echo "ok: nbdinfo, qemu-img compare"

# 2. Writes through the chain, nbdcopy's over four connections at once.
before=$(grep -c "connected on" "$tmp/rw.log" || true)
nbdcopy --connections=4 --threads=4 "$tmp/other.img" "$URI" || fail "nbdcopy into the export"
conns=$(( $(grep -c "connected on" "$tmp/rw.log") - before ))
[ "$conns" -eq 4 ] || fail "nbdcopy --connections=4 --threads=4 made $conns channels (multi-conn)"
cp "$tmp/other.img" "$tmp/expect.img"
qemu-io -f raw -c 'write -P 0x55 1M 64k' -c 'write -P 0xaa 10M 4M' \
	-c 'write -z 20M 1M' -c flush "$URI" >/dev/null || fail "qemu-io"
qemu-io -f raw -c 'write -P 0x55 1M 64k' -c 'write -P 0xaa 10M 4M' \
	-c 'write -z 20M 1M' "$tmp/expect.img" >/dev/null
qemu-img compare -q -f raw -F raw "$tmp/expect.img" "$URI" ||
	fail "qemu-img compare after writes"
stop_chain
cmp "$tmp/disk.img" "$tmp/expect.img" || fail "the file is not what was written"
echo "ok: nbdcopy over 4 connections and qemu-io writes landed in the file"

# 3. Read-only.
cp "$tmp/disk.img" "$tmp/before.img"
start_chain ro "$tmp/disk.img" --read-only
nbdinfo "$URI" | grep -q "is_read_only: true" || fail "not read-only"
if qemu-io -f raw -c 'write -P 0x11 0 4k' "$URI" >/dev/null 2>&1; then
	fail "a write to a read-only export succeeded"
fi
qemu-img compare -q -f raw -F raw "$tmp/before.img" "$URI" || fail "ro compare"
stop_chain
cmp "$tmp/disk.img" "$tmp/before.img" || fail "read-only export changed the file"
echo "ok: read-only"

# 4. kill -9 of the provider mid-I/O (kill_mid_copy NAME [blockd options]).
truncate -s 8G "$tmp/big.img"
kill_mid_copy() {
	name=$1; shift
	start_chain "$name" "$tmp/big.img" "$@"
	nbdcopy "$URI" null: 2>"$tmp/nbdcopy.err" &
	CP=$!; pids="$pids $CP"
	sleep 0.5
	kill -0 "$CP" 2>/dev/null || fail "nbdcopy finished before the kill (too fast to test)"
	t0=$(now_ms)
	kill -9 "$BP"
	copy_fails "$CP" "$t0" "$tmp/nbdcopy.err" "the provider" "$NP"
	# Its nbdkit goes with the others at the end (kill -9, nbd_cleanup).
}
kill_mid_copy kill

# 5. The RAM disk appliance.
"$ramdisk" --listen "$tmp/ram.vmsg" --size 64 2>"$tmp/ram.log" &
RP=$!; pids="$pids $RP"
wait_for "$tmp/ram.vmsg"
nbdkit_ -f -U "$tmp/ram.nbd" "$plugin" path="$tmp/ram.vmsg" &
NP=$!; pids="$pids $NP"
wait_for "$tmp/ram.nbd"
URI="nbd+unix:///?socket=$tmp/ram.nbd"
nbdinfo "$URI" | grep -q "can_multi_conn: false" ||
	fail "the RAM disk (one consumer at a time) offers multi-conn"
nbdcopy "$tmp/orig.img" "$URI" || fail "nbdcopy into the RAM disk"
cp "$tmp/orig.img" "$tmp/ram-expect.img"
qemu-io -f raw -c 'write -P 0x77 5M 8M' -c 'write -z 30M 2M' "$URI" >/dev/null ||
	fail "qemu-io on the RAM disk"
qemu-io -f raw -c 'write -P 0x77 5M 8M' -c 'write -z 30M 2M' "$tmp/ram-expect.img" >/dev/null
qemu-img compare -q -f raw -F raw "$tmp/ram-expect.img" "$URI" ||
	fail "qemu-img compare with the RAM disk"
echo "ok: the RAM disk appliance through nbdkit: nbdcopy, qemu-io, compare"

# 6. image -> provider -> overlay -> nbdkit.
cp "$tmp/orig.img" "$tmp/base.img"
"$blockd" -q --read-only --listen "$tmp/base.vmsg" "$tmp/base.img" &
pids="$pids $!"
wait_for "$tmp/base.vmsg"
"$overlay" --base "$tmp/base.vmsg" --listen "$tmp/ov.vmsg" 2>"$tmp/ov.log" &
pids="$pids $!"
wait_for "$tmp/ov.vmsg"
nbdkit_ -f -U "$tmp/ov.nbd" "$plugin" path="$tmp/ov.vmsg" &
NP=$!; pids="$pids $NP"
wait_for "$tmp/ov.nbd"
URI="nbd+unix:///?socket=$tmp/ov.nbd"
cp "$tmp/orig.img" "$tmp/ov-expect.img"
ops="-c 'write -P 0x31 0 4k' -c 'write -P 0x32 3M 5M' -c 'write -z 40M 1M' -c 'write -P 0x33 64512k 512k' -c flush"
eval qemu-io -f raw $ops "\"$URI\"" >/dev/null || fail "qemu-io on the overlay"
eval qemu-io -f raw $ops "\"$tmp/ov-expect.img\"" >/dev/null
qemu-img compare -q -f raw -F raw "$tmp/ov-expect.img" "$URI" ||
	fail "qemu-img compare through the overlay"
cmp "$tmp/orig.img" "$tmp/base.img" || fail "the overlay wrote to its base"
echo "ok: image -> vmsg-blockd -> vmsg-overlay -> nbdkit: writes compare, the base unchanged"

# 7. Spinning ends.
plugin_args="spin-us=200"
start_chain spin "$tmp/disk.img" --spin-us=200
nbdcopy "$tmp/orig.img" "$URI" || fail "nbdcopy into the spinning chain"
cp "$tmp/orig.img" "$tmp/spin-expect.img"
qemu-io -f raw -c 'write -P 0x44 7M 1M' -c 'write -P 0x45 60M 4k' -c flush "$URI" >/dev/null ||
	fail "qemu-io through the spinning chain"
qemu-io -f raw -c 'write -P 0x44 7M 1M' -c 'write -P 0x45 60M 4k' "$tmp/spin-expect.img" >/dev/null
qemu-img compare -q -f raw -F raw "$tmp/spin-expect.img" "$URI" ||
	fail "qemu-img compare through the spinning chain"
stop_chain
cmp "$tmp/disk.img" "$tmp/spin-expect.img" || fail "the file is not what was written (spin)"
echo "ok: spinning plugin and provider: nbdcopy and qemu-io writes compare"
kill_mid_copy spinkill --spin-us=200
plugin_args=
rc=0
out=$(nbdkit_ -f -U "$tmp/bad.nbd" "$plugin" path="$tmp/none.vmsg" spin-us=x 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "nbdkit took spin-us=x"
echo "$out" | grep -q "spin-us=x: expected 0..1000000 microseconds" ||
	fail "spin-us=x: $out"
echo "ok: spin-us=x refused"
exit 0
