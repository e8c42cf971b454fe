#!/usr/bin/env bash
# run-xen.sh - boot the echo unikernel on real Xen 4.17 (in QEMU, software
# emulation) and talk to it from dom0. The ctest test guest_xen runs it.
#
#   tests/guest/run-xen.sh --build-dir BUILD [--keep] [--timeout SECS]
#                          [--only msg,vchan,client,multi,vmsgd,trap]
#
# Reuses the cached base image of tests/xen (tests/xen/base-image.sh: Xen,
# the Debian kernel, the dom0 root) and appends an overlay with this
# build's libvmsg, the dom0 programs of tests/guest, vmsg-cat, the
# unikernel ELF and tests/guest/dom0-init.sh as /init. dom0 runs the checks
# and prints "PASS name" / "FAIL name: why" and FIGURE lines on the serial
# console, which this script logs and turns into the verdict: every check
# of the groups asked for must print its PASS line, and none a FAIL line
# (groups: msg = echo-msg, vchan = echo-vchan, client = uk-client, multi =
# uk-multi, vmsgd = uk-vmsgd and uk-vmsgd-destroy, trap = uk-trap).
# Exit: 0 all passed; 1 a check failed or the boot did not finish; 77 skip
# (no root, QEMU or the tools the base image needs), but 1 under CI=true.
# QEMU is always stopped.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
build= keep=0 limit=900 only=
while [ $# -gt 0 ]; do
	case $1 in
	--build-dir) build=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--timeout) limit=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	*) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
[ -n "$build" ] || { echo "run-xen: --build-dir is required" >&2; exit 2; }
build=$(cd "$build" && pwd)
# The PASS lines the verdict expects, from the groups asked for (dom0-init.sh
# runs the same groups, and names its checks so).
expected=()
IFS=, read -r -a groups <<<"${only:-trap,msg,vchan,client,multi,vmsgd}"
for g in "${groups[@]}"; do
	case $g in
	msg) expected+=(echo-msg) ;;
	vchan) expected+=(echo-vchan) ;;
	client) expected+=(uk-client) ;;
	multi) expected+=(uk-multi) ;;
	vmsgd) expected+=(uk-vmsgd uk-vmsgd-destroy) ;;
	trap) expected+=(uk-trap) ;;
	*) echo "run-xen: unknown group '$g' (msg, vchan, client, multi, vmsgd, trap)" >&2; exit 2 ;;
	esac
done
# What this needs that a plain build does not: without it, skip (77),
# except in CI (CI=true), where a real-Xen test that did not run must fail
# rather than read as passed.
skip() {
	if [ "${CI:-}" = true ]; then
		echo "run-xen: FAIL: cannot run, and CI=true: $*" >&2
		exit 1
	fi
	echo "run-xen: SKIP: $*" >&2
	exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root"
qemu=$(command -v qemu-system-x86_64 || true)
for tool in "$qemu" debootstrap cpio busybox; do
	if [ -z "$tool" ] || ! command -v "$tool" >/dev/null; then
		skip "${tool:-qemu-system-x86_64} missing"
	fi
done
elf=$build/examples/echo-unikernel/echo-unikernel.elf
trap_elf=$build/tests/trap-unikernel.elf
progs=("$build/tests/guest/guest-echo-client" "$build/tests/guest/guest-echo-server"
	"$build/tests/guest/guest-vchan-echo-client")
pattern=$build/tests/guest/guest-echo-pattern
for f in "$elf" "$trap_elf" "${progs[@]}" "$pattern"; do
	[ -f "$f" ] || { echo "run-xen: $f missing (build first)" >&2; exit 1; }
done
cat_bin=$(find "$build/tools" -type f -name vmsg-cat -perm -u+x | head -n 1)
[ -n "$cat_bin" ] && progs+=("$cat_bin")
# vmsgd and vmsgctl for the unikernel <-> unikernel scenario (uk-vmsgd);
# without them dom0 reports that group as failed, not skipped.
for d in "$build/dom0/vmsgd" "$build/dom0/vmsgctl"; do
	[ -x "$d" ] && progs+=("$d")
done

work=$(mktemp -d "${TMPDIR:-/tmp}/vmsg-guest-xen.XXXXXX")
qpid=
finish() {
	local rc=$?
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill "$qpid" 2>/dev/null || true
		sleep 1
		kill -KILL "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
	fi
	if [ "$keep" = 1 ]; then echo "run-xen: kept $work"; else rm -rf "$work"; fi
	exit $rc
}
trap finish EXIT
trap 'exit 130' INT TERM

base=$("$src/tests/xen/base-image.sh")
root=$base/rootfs

# The overlay: /init, /opt/vmsg/{bin,lib}, /boot/echo-unikernel.elf.
ovl=$work/ovl
mkdir -p "$ovl/opt/vmsg/bin" "$ovl/opt/vmsg/lib" "$ovl/boot"
cp "${progs[@]}" "$ovl/opt/vmsg/bin/"
cp -a "$build"/lib/libvmsg.so* "$ovl/opt/vmsg/lib/"
# Libraries the dom0 root lacks (an ASan build's runtimes) come from here.
for lib in $(ldd "${progs[@]}" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u); do
	[ -e "$root$lib" ] || [ -e "$ovl/opt/vmsg/lib/$(basename "$lib")" ] || cp -L "$lib" "$ovl/opt/vmsg/lib/"
done
cp "$elf" "$trap_elf" "$ovl/boot/"
# uk-vmsgd's independent source: `cksum` of the records its consumer sends
# (tests/guest/echo_pattern.c), computed here: Debian's cksum dies of SIGILL
# in dom0 under QEMU's emulated CPU (its PCLMUL code path, XSAVE off).
"$pattern" 300 40000 | cksum >"$ovl/opt/vmsg/echo-300x40000.cksum"
[ -s "$ovl/opt/vmsg/echo-300x40000.cksum" ] || { echo "run-xen: guest-echo-pattern | cksum failed" >&2; exit 1; }
install -m 755 "$here/dom0-init.sh" "$ovl/init"
(cd "$ovl" && find . -mindepth 1 | cpio -o -H newc --quiet) >"$work/ovl.cpio"
cat "$base/dom0-base.cpio" "$work/ovl.cpio" >"$work/dom0.cpio"
rm -f "$work/ovl.cpio"

# As tests/xen/run-scenarios.sh: Xen on com1, dom0 on hvc0 (same serial
# line), no NIC, QEMU's "max" CPU without SMAP and XSAVE (QEMU 7.2 loses SSE
# state between domains with XSAVE on; docs/testing.md).
xen_args="console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M loglvl=all guest_loglvl=all noreboot"
dom0_args="console=hvc0 earlyprintk=xen loglevel=4${only:+ vmsg.guest_only=$only}"
log=$work/serial.log
echo "run-xen: booting (serial log $log)"
t0=$SECONDS
. "$src/tests/xen/progress.sh"
progress_start run-xen "$limit"
"$qemu" -machine pc -accel tcg -cpu "${VMSG_XEN_CPU:-max,-smap,-xsave}" -smp 2 -m 2048 \
	-display none -nic none -no-reboot -monitor none -serial stdio \
	-kernel "$base/xen" -append "$xen_args" \
	-initrd "$base/vmlinuz $dom0_args,$work/dom0.cpio" </dev/null >"$log" 2>&1 &
qpid=$!
while kill -0 "$qpid" 2>/dev/null; do
	[ $((SECONDS - t0)) -ge "$limit" ] && { echo "run-xen: QEMU still running after $limit s"; break; }
	progress_poll "$log" '^(GUEST-XEN |PASS |FAIL )'
	if grep -aq 'GUEST-XEN end' "$log" 2>/dev/null; then
		for _ in $(seq 30); do kill -0 "$qpid" 2>/dev/null || break; sleep 1; done
		break
	fi
	sleep 2
done
if kill -0 "$qpid" 2>/dev/null; then kill "$qpid" 2>/dev/null || true; sleep 1; kill -KILL "$qpid" 2>/dev/null || true; fi
wait "$qpid" 2>/dev/null || true
qpid=

echo "==== guest on real Xen ($((SECONDS - t0)) s) ===="
out=$work/serial.txt
tr -d '\r' <"$log" >"$out"
grep -aE '^(PASS|FAIL|FIGURE|INFO) ' "$out" || true
failed=0
grep -aq '^GUEST-XEN end' "$out" || { failed=1; echo "dom0 did not finish; last lines:"; tail -n 40 "$log" | sed 's/^/  | /'; }
# The verdict: each expected check by name, as tests/xen/run-scenarios.sh
# does; a FAIL line fails its check even after a PASS line.
echo "---- verdict (${#expected[@]} checks expected)"
for n in "${expected[@]}"; do
	if line=$(grep -a -m 1 "^FAIL $n: " "$out"); then
		failed=1
	elif grep -aqx "PASS $n" "$out"; then
		line="PASS $n"
	else
		line="FAIL $n: no result in the serial log"
		failed=1
	fi
	echo "$line"
done
# Results for checks this list does not know: the two lists disagree.
while read -r verdict n; do
	n=${n%%:*}
	[[ " ${expected[*]} " == *" $n "* ]] && continue
	echo "FAIL $n: a result ($verdict) for a check run-xen.sh does not expect"
	failed=1
done < <(grep -aoE '^(PASS|FAIL) [^ :]+' "$out" | sort -u)
if [ "$failed" = 1 ]; then
	echo "---- dom0 output"
	sed -n '/GUEST-XEN begin/,/GUEST-XEN end/p' "$out" | grep -av '^(XEN)' | tail -n 150
fi
exit $failed
