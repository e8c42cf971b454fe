#!/bin/sh
# nbd_source: an NBD server as vmsg-blockd's disk (--nbd URI), with the
# nbdkit vmsg plugin in front so that the standard NBD tools drive it
# (NBD -> vmsg -> NBD):
#   1. qemu-nbd serving a qcow2 image on a UNIX socket: nbdinfo through the
#      chain sees its size and flags; qemu-io writes (plain, FUA, zeroes,
#      discard) and an nbdcopy through the chain; after it stops,
#      qemu-img compare of the qcow2 against a raw image that qemu-io wrote
#      the same way, independently;
#   2. nbdkit's memory plugin behind the blocksize-policy filter, started
#      after vmsg-blockd (which waits for it): the
#      vmsg disk's block sizes follow the server's; an image copied in and
#      qemu-io writes compare equal, from two consumers at once;
#   3. kill -9 of the NBD server in the middle of an nbdcopy: nbdcopy fails
#      within a second, vmsg-blockd stays up, logs it, answers a new
#      consumer with errors at once, and exits 0 on SIGTERM;
#   4. a read-only server (qemu-nbd -r): the vmsg disk is read-only, a
#      write fails, the image is unchanged;
#   5. a server that stops answering without closing (nbdkit's delay
#      filter: every read takes 120 s): with --nbd-timeout 2 the read
#      through the chain fails within 10 s, vmsg-blockd logs why, stays up
#      and answers the next request with an error at once.
# usage: nbd_source.sh VMSG_BLOCKD PLUGIN_SO
set -eu
blockd=$1 plugin=$2
. "$(dirname "$0")/../lib/nbd.sh"
nbd_init nbdsrc nbdkit nbdinfo nbdcopy qemu-img qemu-io qemu-nbd

# front NAME SOURCE_URI [blockd options]: vmsg-blockd --nbd SOURCE_URI on
# $tmp/NAME.vmsg, nbdkit vmsg in front on $tmp/NAME.nbd; sets BP, NP, URI.
front() {
	name=$1 src=$2; shift 2
	"$blockd" --listen "$tmp/$name.vmsg" "$@" --nbd "$src" 2>"$tmp/$name.log" &
	BP=$!; pids="$pids $BP"
	wait_for "$tmp/$name.vmsg"
	nbdkit_ -f -U "$tmp/$name.nbd" "$plugin" path="$tmp/$name.vmsg" &
	NP=$!; pids="$pids $NP"
	wait_for "$tmp/$name.nbd"
	URI="nbd+unix:///?socket=$tmp/$name.nbd"
}
stop_front() {
	# nbdkit's own exit is not under test here, and nbdkit 1.32 does not
	# always manage it after its client saw I/O errors: it may abort
	# (connections.c raw_send_socket assertion) or hang in exit
	# (p11-kit's destructor waiting on glibc's setlocale lock). Up to 5 s,
	# then kill -9; vmsg-blockd's own clean exit is checked.
	kill "$NP" 2>/dev/null || true
	i=0
	while kill -0 "$NP" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 "$NP" 2>/dev/null; then
		echo "note: nbdkit (the front) did not exit on SIGTERM: kill -9"
		kill -9 "$NP"
	fi
	wait "$NP" || true
	kill "$BP"; wait "$BP" || fail "vmsg-blockd exited with $? ($(cat "$tmp/$name.log"))"
}

MiB=1048576
head -c $((64 * MiB)) /dev/urandom > "$tmp/orig.raw"
head -c $((16 * MiB)) /dev/urandom > "$tmp/other.raw"

# 1. qemu-nbd serving a qcow2 image.
qemu-img convert -q -f raw -O qcow2 "$tmp/orig.raw" "$tmp/disk.qcow2"
qemu-nbd -f qcow2 --discard=unmap -k "$tmp/qemu.sock" "$tmp/disk.qcow2" &
QP=$!; pids="$pids $QP"
wait_for "$tmp/qemu.sock"
front q "nbd+unix:///?socket=$tmp/qemu.sock"
info=$(nbdinfo "$URI")
for want in "export-size: $((64 * MiB))" "is_read_only: false" \
	    "can_flush: true" "can_fua: true" "can_trim: true" "can_zero: true"; do
	echo "$info" | grep -q "$want" || fail "nbdinfo: no '$want' in: $info"
done
qemu-img compare -q -f raw -F raw "$tmp/orig.raw" "$URI" ||
	fail "qemu-img compare: the chain differs from the qcow2's contents"
ops="-c 'write -P 0x55 1M 64k' -c 'write -f -P 0xaa 10M 4M' \
     -c 'write -z 20M 1M' -c 'write -P 0x5a 33M 3M' -c 'write -z 34M 1M' \
     -c 'write -P 0x3c 63M 1M' -c flush"
eval qemu-io -f raw $ops "\"$URI\"" >/dev/null || fail "qemu-io through the chain"
# Discard: qemu-nbd --discard=unmap unmaps whole qcow2 clusters (64k),
# which then read as zeroes.
qemu-io -f raw -c 'discard 40M 2M' "$URI" >/dev/null || fail "qemu-io discard"
nbdcopy "$tmp/other.raw" "$URI" || fail "nbdcopy into the chain"
cp "$tmp/orig.raw" "$tmp/expect.raw"
eval qemu-io -f raw $ops "\"$tmp/expect.raw\"" >/dev/null
qemu-io -f raw -c 'write -z 40M 2M' "$tmp/expect.raw" >/dev/null
dd if="$tmp/other.raw" of="$tmp/expect.raw" conv=notrunc status=none
qemu-img compare -q -f raw -F raw "$tmp/expect.raw" "$URI" ||
	fail "qemu-img compare through the chain"
stop_front
wait "$QP" || fail "qemu-nbd exited with $?" # it ends with its client
qemu-img check -q "$tmp/disk.qcow2" || fail "qemu-img check"
qemu-img compare -q -f qcow2 -F raw "$tmp/disk.qcow2" "$tmp/expect.raw" ||
	fail "qemu-img compare: the qcow2 is not what was written"
echo "ok: qcow2 via qemu-nbd -> vmsg-blockd --nbd -> nbdkit vmsg: writes land in the qcow2"

# 2. nbdkit's memory plugin; block sizes from the server.
# The server starts 0.5 s after vmsg-blockd, which waits for it (--wait).
( sleep 0.5; exec nbdkit -f -U "$tmp/mem.sock" --filter=blocksize-policy \
	memory 64M blocksize-minimum=4096 blocksize-preferred=65536 \
	blocksize-maximum=1M ) &
MP=$!; pids="$pids $MP"
front m "nbd+unix:///?socket=$tmp/mem.sock"
info=$(nbdinfo "$URI")
for want in "export-size: $((64 * MiB))" "block_size_minimum: 4096" \
	    "block_size_preferred: 65536"; do
	echo "$info" | grep -q "$want" || fail "nbdinfo: no '$want' in: $info"
done
nbdcopy "$tmp/orig.raw" "$URI" || fail "nbdcopy into the memory disk"
cp "$tmp/orig.raw" "$tmp/mexpect.raw"
ops="-c 'write -P 0x77 5M 8M' -c 'write -z 30M 2M' -c 'write -P 0x12 60M 4k'"
eval qemu-io -f raw $ops "\"$URI\"" >/dev/null || fail "qemu-io on the memory disk"
eval qemu-io -f raw $ops "\"$tmp/mexpect.raw\"" >/dev/null
# Two consumers of the one NBD connection at once.
nbdkit_ -f -U "$tmp/m2.nbd" "$plugin" path="$tmp/m.vmsg" &
N2=$!; pids="$pids $N2"
wait_for "$tmp/m2.nbd"
qemu-img compare -q -f raw -F raw "$tmp/mexpect.raw" "$URI" & C1=$!
qemu-img compare -q -f raw -F raw "$tmp/mexpect.raw" "nbd+unix:///?socket=$tmp/m2.nbd" ||
	fail "qemu-img compare with the memory disk (second consumer)"
wait $C1 || fail "qemu-img compare with the memory disk (first consumer)"
kill "$N2"; wait "$N2" || true
stop_front
kill "$MP"; wait "$MP" || true
echo "ok: nbdkit memory -> vmsg-blockd --nbd: block sizes follow, writes and reads check, two consumers"

# 3. kill -9 of the NBD server mid-I/O.
nbdkit -f -U "$tmp/big.sock" memory 8G &
MP=$!; pids="$pids $MP"
wait_for "$tmp/big.sock"
front k "nbd+unix:///?socket=$tmp/big.sock"
nbdcopy "$URI" null: 2>"$tmp/nbdcopy.err" &
CP=$!; pids="$pids $CP"
sleep 0.5
kill -0 "$CP" 2>/dev/null || fail "nbdcopy finished before the kill (too fast to test)"
t0=$(now_ms)
kill -9 "$MP"
copy_fails "$CP" "$t0" "$tmp/nbdcopy.err" "the NBD source" "$BP"
kill -0 "$BP" 2>/dev/null || fail "vmsg-blockd died with its source"
grep -q "the NBD server went away" "$tmp/k.log" || fail "not logged: $(cat "$tmp/k.log")"
# A new consumer (a new nbdkit in front: the first may have gone with its
# client, see stop_front): vmsg-blockd still opens it, and answers its
# reads with errors at once.
kill -9 "$NP" 2>/dev/null || true; wait "$NP" 2>/dev/null || true
nbdkit_ -f -U "$tmp/k2.nbd" "$plugin" path="$tmp/k.vmsg" &
NP=$!; pids="$pids $NP"
wait_for "$tmp/k2.nbd"
URI="nbd+unix:///?socket=$tmp/k2.nbd"
nbdinfo "$URI" | grep -q "export-size: $((8192 * MiB))" ||
	fail "a new consumer was not served"
t0=$(now_ms)
if qemu-io -f raw -c 'read 0 64k' "$URI" >/dev/null 2>&1; then
	fail "a read succeeded with the source gone"
fi
t1=$(now_ms)
[ $((t1 - t0)) -lt 3000 ] || fail "a new consumer waited $((t1 - t0)) ms for its error"
stop_front
echo "ok: vmsg-blockd stayed up, answered a new consumer with an error in $((t1 - t0)) ms, exited 0"

# 4. A read-only source.
cp "$tmp/orig.raw" "$tmp/ro.raw"
qemu-nbd -r -f raw -k "$tmp/ro.sock" "$tmp/ro.raw" &
QP=$!; pids="$pids $QP"
wait_for "$tmp/ro.sock"
front r "nbd+unix:///?socket=$tmp/ro.sock"
nbdinfo "$URI" | grep -q "is_read_only: true" || fail "not read-only"
if qemu-io -f raw -c 'write -P 0x11 0 4k' "$URI" >/dev/null 2>&1; then
	fail "a write to a read-only source succeeded"
fi
qemu-img compare -q -f raw -F raw "$tmp/orig.raw" "$URI" || fail "ro compare"
stop_front
wait "$QP" || true
cmp "$tmp/orig.raw" "$tmp/ro.raw" || fail "the read-only image changed"
echo "ok: a read-only source: read-only vmsg disk, writes refused"

# 5. A source that hangs: it accepts requests and answers none.
nbdkit -f -U "$tmp/hang.sock" --filter=delay memory 64M delay-read=120 &
HP=$!; pids="$pids $HP"
wait_for "$tmp/hang.sock"
front h "nbd+unix:///?socket=$tmp/hang.sock" --nbd-timeout 2
t0=$(now_ms)
if timeout 30 qemu-io -f raw -c 'read 0 4k' "$URI" >"$tmp/hang.out" 2>&1; then
	fail "a read from a hung source succeeded"
fi
t1=$(now_ms)
[ $((t1 - t0)) -lt 10000 ] || fail "a read from a hung source took $((t1 - t0)) ms to fail (--nbd-timeout 2)"
[ $((t1 - t0)) -ge 1500 ] || fail "a read failed after $((t1 - t0)) ms, before the 2 s timeout: $(cat "$tmp/hang.out")"
hung_ms=$((t1 - t0))
grep -q "answered none of 1 requests in flight for 2000 ms (--nbd-timeout)" "$tmp/h.log" ||
	fail "the hang was not logged: $(cat "$tmp/h.log")"
kill -0 "$BP" 2>/dev/null || fail "vmsg-blockd died with its hung source"
t0=$(now_ms)
if qemu-io -f raw -c 'read 0 4k' "$URI" >/dev/null 2>&1; then
	fail "a read succeeded after the source was taken as gone"
fi
t1=$(now_ms)
[ $((t1 - t0)) -lt 3000 ] || fail "the next read waited $((t1 - t0)) ms for its error"
stop_front
kill "$HP"; wait "$HP" || true
echo "ok: a hung source: the read failed after $hung_ms ms (--nbd-timeout 2), the next after $((t1 - t0)) ms; vmsg-blockd stayed up"
exit 0
