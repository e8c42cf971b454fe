#!/usr/bin/env bash
# mirror_sim: the mirror appliance's SDK build (the same source as
# mirror-unikernel) over two disks, on the simulated Xen, direct channels:
#   dom0: vmsg-blockd --xen 1:la LEG1.img, vmsg-blockd --xen 1:lb LEG2.img
#   dom1: mirror-appliance leg1=xen:0:la leg2=xen:0:lb serve=xen:0:mir
#   dom0: nbdkit vmsg xen=1 port=mir on a UNIX socket
#   1. writes through the chain (qemu-io), then qemu-img compare of the
#      export with the expected image (the same writes on a copy of the
#      image by qemu-io); both legs' files are that image, byte for byte;
#      reads went to both legs;
#   2. kill -9 of leg1's vmsg-blockd in the middle of a copy (nbdcopy,
#      slowed by nbdkit's delay filter): the copy completes, the mirror
#      says it dropped leg1; writes after it reach leg2's file (compared);
#   3. kill -9 of leg2's vmsg-blockd in the middle of a copy: the NBD
#      client fails within a second, the mirror exits 1 ("both legs");
#   4. the cmdline checks; legs of two sizes refused at start, saying so.
# usage: mirror_sim.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/sim_nbd.sh"
sim_nbd_tools nbdkit nbdcopy qemu-io qemu-img
sim_init mirror_sim "$1"
blockd=$build/dom0/vmsg-blockd
plugin=$build/dom0/nbdkit-vmsg-plugin.so
mirror=$build/examples/blk-common/mirror-appliance
sim_need "$xensim" "$blockd" "$mirror"
[ -e "$plugin" ] || fail "$plugin not built"
sim_start

MiB=1048576
head -c $((16 * MiB)) /dev/urandom >"$dir/leg1.img"
cp "$dir/leg1.img" "$dir/leg2.img" # a mirror's legs start equal
cp "$dir/leg1.img" "$dir/expected.img"

sim_run 0 "$dir/blockd1.log" "$blockd" --xen 1:la "$dir/leg1.img"
B1=$sim_pid
sim_run 0 "$dir/blockd2.log" "$blockd" --xen 1:lb "$dir/leg2.img"
B2=$sim_pid
sim_wait 10 grep -q "serving dom1" "$dir/blockd1.log" || fail "leg1's vmsg-blockd does not serve dom1"
sim_wait 10 grep -q "serving dom1" "$dir/blockd2.log" || fail "leg2's vmsg-blockd does not serve dom1"
sim_run 1 "$dir/mirror.log" "$mirror" leg1=xen:0:la leg2=xen:0:lb serve=xen:0:mir
MP=$sim_pid
sim_wait 20 grep -q "serving at /local/domain/1/data/vchan/0/mir" "$dir/mirror.log" ||
	fail "the mirror does not serve dom0"
grep -q "16777216 bytes on leg1 xen:0:la and leg2 xen:0:lb" "$dir/mirror.log" ||
	fail "the mirror's start line"
sim_run 0 "$dir/nbdkit.log" "${NBDKIT[@]}" -f -U "$dir/mir.nbd" "$plugin" xen=1 port=mir
sim_wait 10 test -S "$dir/mir.nbd" || fail "no nbdkit socket"
URI="nbd+unix:///?socket=$dir/mir.nbd"

# 1. Writes of every kind, across 1 MiB request boundaries; the expected
# image gets the same from qemu-io on a plain file.
writes=(-c "write -P 0x5a 0 4k" -c "write -P 0xa5 1020k 8k"
	-c "write -P 0x11 3m 2m" -c "write -z 7m 640k" -c "discard 9m 64k"
	-c "write -P 0x33 $((16 * MiB - 512)) 512" -c "flush")
qemu-io -f raw "${writes[@]/discard 9m 64k/write -z 9m 64k}" "$dir/expected.img" >/dev/null ||
	fail "qemu-io on the expected image"
qemu-io -f raw "${writes[@]}" "$URI" >"$dir/qemu-io.log" 2>&1 || {
	cat "$dir/qemu-io.log"; fail "qemu-io through the mirror"; }
qemu-img compare -f raw -F raw "$dir/expected.img" "$URI" >"$dir/compare.log" 2>&1 || {
	cat "$dir/compare.log"; fail "qemu-img compare: the export is not the expected image"; }
for l in 1 2; do
	cmp "$dir/expected.img" "$dir/leg$l.img" || fail "leg$l's file is not the expected image"
done
echo "ok: writes through the mirror; the export and both legs' files are the expected image"
# The report of the consumers so far: reads alternate between the legs.
sim_wait 10 grep -q "consumer 2: closed" "$dir/mirror.log" || fail "the compare's consumer did not end"
line=$(grep "requests; reads: leg1" "$dir/mirror.log" | tail -n 1)
r1=$(echo "$line" | sed -n 's/.*leg1 \([0-9]*\), leg2.*/\1/p')
r2=$(echo "$line" | sed -n 's/.*leg2 \([0-9]*\);.*/\1/p')
[ "${r1:-0}" -gt 0 ] && [ "${r2:-0}" -gt 0 ] || fail "reads did not go to both legs: $line"
echo "ok: reads went to both legs ($line)"

# A copy of the whole export through one slow NBD connection (nbdkit's
# delay filter in front of the same plugin: 1 ms per 4 KiB read, ~4 s).
slow_copy() {
	sim_run 0 "$dir/nbdkit-slow.log" "${NBDKIT[@]}" -f -U "$dir/slow.nbd" --filter=delay \
		"$plugin" xen=1 port=mir delay-read=1ms
	NP=$sim_pid
	sim_wait 10 test -S "$dir/slow.nbd" || fail "no nbdkit socket (delay filter)"
	nbdcopy --connections=1 --requests=1 --request-size=4096 \
		"nbd+unix:///?socket=$dir/slow.nbd" "$dir/copy.img" 2>"$dir/nbdcopy.log" & CP=$!
	sim_wait 10 grep -q "consumer $1: connected" "$dir/mirror.log" ||
		fail "the copy did not reach the mirror"
	sleep 0.5 # in the middle of the copy
	kill -0 "$CP" 2>/dev/null || fail "the copy finished before the kill"
}
# Kill a leg's vmsg-blockd (its xensim run's child) with SIGKILL.
kill_leg() {
	local p
	p=$(pgrep -P "$1") || fail "no vmsg-blockd under $1"
	kill -9 "$p"
	sim_reap "$1" >/dev/null 2>&1
}

# 2. leg1 dies in the middle of a copy: the copy completes on leg2.
slow_copy 3
kill_leg "$B1"
rc=0; wait "$CP" || rc=$?
[ $rc -eq 0 ] || fail "the copy failed when one leg died: $(cat "$dir/nbdcopy.log")"
cmp "$dir/expected.img" "$dir/copy.img" || fail "the copy is not the expected image"
grep -q "leg1 xen:0:la failed (.*): dropped; carrying on on the other leg" "$dir/mirror.log" ||
	fail "the mirror did not say it dropped leg1"
kill "$NP"; sim_reap "$NP" >/dev/null 2>&1; rm -f "$dir/slow.nbd"
echo "ok: kill -9 of leg1 in the middle of a copy: the copy completed, equal; $(grep -o 'leg1 xen:0:la failed.*' "$dir/mirror.log")"
# Degraded: writes reach leg2 alone.
more=(-c "write -P 0x66 2m 1m" -c "flush")
qemu-io -f raw "${more[@]}" "$dir/expected.img" >/dev/null || fail "qemu-io on the expected image (2)"
qemu-io -f raw "${more[@]}" "$URI" >/dev/null 2>"$dir/qemu-io2.log" || fail "qemu-io through the degraded mirror"
cmp "$dir/expected.img" "$dir/leg2.img" || fail "leg2's file is not the expected image after degraded writes"
echo "ok: degraded writes reached leg2's file"

# 3. leg2 dies in the middle of a copy: the disk is gone, at once.
n=$(grep -c "consumer [0-9]*: connected" "$dir/mirror.log")
slow_copy $((n + 1))
t0=$(now_ms)
kill_leg "$B2"
copy_fails "$CP" "$t0" "$dir/nbdcopy.log" "the last leg (both dead)" "$MP"
rc=0; sim_wait 10 sh -c "! kill -0 $MP 2>/dev/null" || fail "the mirror did not exit"
rc=0; sim_reap "$MP" || rc=$?
[ $rc -eq 1 ] || fail "the mirror exited $rc, not 1"
grep -q "done: both legs have failed" "$dir/mirror.log" || fail "the mirror's last words"
echo "ok: the mirror exited 1: $(grep -o 'done: both legs.*' "$dir/mirror.log")"

# 4. The cmdline: every word checked (status 2); --help 0. Legs of two
# sizes (host backend: host=DIR puts xen: addresses in DIR): status 1.
for args in "leg1=xen:0:a serve=xen:0:c" "leg1=xen:0:a leg2=xen:0:b" \
	"leg1=xen:0:a leg2=xen:0:b serve=xen:0:c colour=red" \
	"leg1=xen:x:a leg2=xen:0:b serve=xen:0:c" "leg1=xen:0:a leg2=svc:a/b serve=xen:0:c"; do
	rc=0; "$mirror" $args >"$dir/args.out" 2>&1 || rc=$?
	[ $rc -eq 2 ] && grep -q "mirror-appliance: " "$dir/args.out" ||
		fail "mirror-appliance $args: exit $rc: $(cat "$dir/args.out")"
done
"$mirror" --help | grep -q "^usage: mirror-appliance leg1=ADDR leg2=ADDR serve=ADDR" || fail "mirror-appliance --help"
mkdir -p "$dir/host"
truncate -s 8M "$dir/a.img"; truncate -s 4M "$dir/b.img"
for x in a b; do
	"$blockd" --listen "$dir/host/local_domain_0_data_vchan_0_$x" "$dir/$x.img" 2>"$dir/blockd-$x.log" &
	sim_track $!
	sim_wait 10 test -S "$dir/host/local_domain_0_data_vchan_0_$x" || fail "no vmsg-blockd for $x"
done
rc=0; "$mirror" host="$dir/host" leg1=xen:0:a leg2=xen:0:b serve=xen:0:m >"$dir/sizes.out" 2>&1 || rc=$?
[ $rc -eq 1 ] && grep -q "leg1 xen:0:a is 8388608 bytes, leg2 xen:0:b is 4194304: a mirror's legs are one size" "$dir/sizes.out" ||
	fail "legs of two sizes: exit $rc: $(cat "$dir/sizes.out")"
echo "ok: bad words end the mirror with status 2; $(cat "$dir/sizes.out")"
exit 0
