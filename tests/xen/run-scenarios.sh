#!/usr/bin/env bash
# run-scenarios.sh - boot Xen 4.17 in QEMU with this build's libvmsg and
# programs, run the scenarios of tests/xen/scenarios/ in dom0, and turn the
# serial log into a pass/fail verdict. The ctest test xen_qemu runs it.
#
#   tests/xen/run-scenarios.sh --build-dir BUILD [--keep] [--only a:b]
#                              [--timeout SECS]
#
#   --build-dir  a configured and built tree (its libvmsg and tests/xen/*)
#   --keep       keep the work directory (serial log, images) and print the
#                QEMU command that boots the same images with a dom0 shell
#   --only a:b   run only the scenarios named a and b (names without NN-;
#                a scenario marked "# optional:" runs only when named);
#                the environment's VMSG_XEN_ONLY is the default (how
#                scripts/mutants.sh picks scenarios through ctest)
#   --timeout    wall-clock limit for the boot, default 1800 s (4.5 min
#                on a quiet 2-core machine; 16 min seen on a loaded one)
#
# Exit: 0 when every scenario printed PASS; 1 when any failed, the boot did
# not get through them all, or QEMU overran; 77 (skip) without root or QEMU,
# but 1 under CI=true.
# QEMU is always stopped before this script returns.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=
keep=0
only=${VMSG_XEN_ONLY:-}
limit=1800
while [ $# -gt 0 ]; do
	case $1 in
	--build-dir) build=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--only) only=$2; shift 2 ;;
	--timeout) limit=$2; shift 2 ;;
	*) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
[ -n "$build" ] || { echo "run-scenarios: --build-dir is required" >&2; exit 2; }

# What this needs that a plain build does not: without it, skip (77),
# except in CI (CI=true), where a real-Xen test that did not run must fail
# rather than read as passed.
skip() {
	if [ "${CI:-}" = true ]; then
		echo "run-scenarios: FAIL: cannot run, and CI=true: $*" >&2
		exit 1
	fi
	echo "run-scenarios: SKIP: $*" >&2
	exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot)"
qemu=$(command -v qemu-system-x86_64 || true)
for tool in "$qemu" debootstrap cpio busybox xz; do
	if [ -z "$tool" ] || ! command -v "$tool" >/dev/null; then
		skip "${tool:-qemu-system-x86_64} missing (scripts/deps.sh installs it)"
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/vmsg-xen.XXXXXX")
qpid=
spid=
finish() {
	local rc=$?
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill "$qpid" 2>/dev/null || true
		sleep 1
		kill -KILL "$qpid" 2>/dev/null || true
	fi
	[ -n "$spid" ] && wait "$spid" 2>/dev/null || true
	if [ "$keep" = 1 ]; then
		echo "run-scenarios: kept $work"
	else
		rm -rf "$work"
	fi
	exit $rc
}
trap finish EXIT
trap 'exit 130' INT TERM

t_start=$SECONDS
. "$here/progress.sh"
progress_start run-scenarios "$limit"
# The scenarios the verdict expects: those packed into the images now (the
# source tree may change while QEMU runs).
scenarios=()
for s in "$here"/scenarios/[0-9][0-9]-*.sh; do
	n=$(basename "$s" .sh)
	n=${n#[0-9][0-9]-}
	# An "# optional:" scenario runs only when --only names it
	# (tests/xen/dom0-init.sh picks the same ones).
	if [ -z "$only" ] && grep -q '^# optional:' "$s"; then
		continue
	fi
	if [ -z "$only" ] || [[ ":$only:" == *":$n:"* ]]; then
		scenarios+=("$n")
	fi
done
# Serial log lines -> progress lines: "running scenario K/N: NAME".
prog_sed='s/^\[ *[0-9.]+\] //; s/ \(uptime [^)]*\)$//'
for i in "${!scenarios[@]}"; do
	prog_sed+="; s/^VMSG-XEN run ${scenarios[i]} .*/running scenario $((i + 1))\/${#scenarios[@]}: ${scenarios[i]}/"
done
prog_sed+='; s/^VMSG-XEN //'
progress "building the images (${#scenarios[@]} scenarios; the first run debootstraps dom0)"
"$here/build-images.sh" --build-dir "$build" --out "$work"
t_images=$((SECONDS - t_start))

# Xen on the emulated com1; dom0's console is Xen's (hvc0), so both land in
# one serial log. No network device. CPU: QEMU's "max" without SMAP (with
# it the 64-bit PV dom0 dies at once: "d0v0 Unhandled: vec 14, #PF[0001]"),
# and without XSAVE (and so without AVX/AVX2, which need it). With XSAVE,
# SSE register contents leak between domains as soon as a PVH (HVM) guest
# runs: the last 48-64 bytes of 16 KiB copies (glibc's memcpy keeps them in
# XMM registers across its loop) came out wrong in the PVH guest and in
# dom0, and ld.so in dom0 built a broken library path; with AVX, PV-only
# boots showed 64 zero bytes. Without XSAVE, Xen and the guests switch FPU
# state with FXSAVE/FXRSTOR and none of it was seen. docs/testing.md, "Real
# Xen under QEMU", has the runs.
xen_args="console=com1 com1=115200,8n1 dom0_mem=1536M,max:1536M loglvl=all guest_loglvl=all noreboot ${VMSG_XEN_ARGS:-}"
dom0_args="console=hvc0 earlyprintk=xen loglevel=4"
[ -n "$only" ] && dom0_args+=" vmsg.only=$only"
qemu_args=(-machine pc -accel "${VMSG_XEN_ACCEL:-tcg}" -cpu "${VMSG_XEN_CPU:-max,-smap,-xsave}" -smp 2 -m 4096
	-display none -nic none -no-reboot -kernel "$work/xen" -append "$xen_args")

if [ "$keep" = 1 ]; then
	cat >"$work/boot-interactive.sh" <<-EOF
		#!/bin/sh
		# Boot the kept images with a root shell on dom0's console (after the
		# scenarios; drop vmsg.only=none to run them first). Ctrl-a x quits QEMU.
		exec $qemu ${qemu_args[*]@Q} -serial mon:stdio \\
		  -initrd "$work/vmlinuz console=hvc0 earlyprintk=xen loglevel=4 vmsg.only=none vmsg.shell=1,$work/dom0.cpio"
	EOF
	chmod +x "$work/boot-interactive.sh"
fi

# The serial log, each line stamped with seconds since QEMU started.
log=$work/serial.log
mkfifo "$work/serial.fifo"
(
	t0=${EPOCHREALTIME/./} # microseconds
	while IFS= read -r line; do
		us=$((${EPOCHREALTIME/./} - t0))
		printf '[%4d.%02d] %s\n' $((us / 1000000)) $((us % 1000000 / 10000)) "${line//$'\r'/}"
	done
) <"$work/serial.fifo" >"$log" &
spid=$!
echo "run-scenarios: images ready in ${t_images} s; booting (serial log: $log)"
progress_start run-scenarios "$limit" # the limit is the boot's
progress "booting Xen and dom0 in QEMU"
"$qemu" "${qemu_args[@]}" -monitor none -serial stdio \
	-initrd "$work/vmlinuz $dom0_args,$work/dom0.cpio" </dev/null >"$work/serial.fifo" 2>&1 &
qpid=$!

# Wait for QEMU to power off (dom0 does when the scenarios are done), with
# a limit; after dom0's "end" line allow it a little time to get there.
t_boot=$SECONDS
verdict=
while kill -0 "$qpid" 2>/dev/null; do
	if [ $((SECONDS - t_boot)) -ge "$limit" ]; then
		verdict="QEMU still running after $limit s"
		break
	fi
	# dom0's milestones and each scenario's start and verdict, as they come.
	progress_poll "$log" '^\[ *[0-9.]+\] (VMSG-XEN (userspace|toolstack-up|begin|run|end)|PASS |FAIL )' "$prog_sed"
	if grep -aq 'VMSG-XEN end ' "$log" 2>/dev/null; then
		for _ in $(seq 60); do
			kill -0 "$qpid" 2>/dev/null || break
			sleep 1
		done
		break
	fi
	sleep 2
done
if kill -0 "$qpid" 2>/dev/null; then
	kill "$qpid" 2>/dev/null || true
	sleep 1
	kill -KILL "$qpid" 2>/dev/null || true
fi
wait "$qpid" 2>/dev/null || true
qpid=
wait "$spid" 2>/dev/null || true
spid=
progress_poll "$log" '^\[ *[0-9.]+\] (VMSG-XEN (userspace|toolstack-up|begin|run|end)|PASS |FAIL )' "$prog_sed"
t_run=$((SECONDS - t_boot))

# The verdict, from the log alone.
failed=0
echo
echo "==== xen scenarios (boot ${t_run} s, images ${t_images} s) ===="
for n in "${scenarios[@]}"; do
	line=$(grep -aoE "(PASS $n\$|FAIL $n: .*)" "$log" | tail -n 1 || true)
	if [ -z "$line" ]; then
		line="FAIL $n: no result in the serial log (boot died or ran out of time)"
	fi
	case $line in PASS*) ;; *) failed=1 ;; esac
	echo "$line"
done
figures=$(grep -aoE 'FIGURE .*' "$log" || true)
if [ -n "$figures" ]; then
	echo "---- figures (software emulation: compare ratios, not absolutes)"
	echo "$figures"
	# vmsg against libxenvchan, same exchange in the same boot.
	# (Empty when that scenario did not run, e.g. under --only: not an
	# error, which set -e and pipefail would make of grep's status.)
	fig() { echo "$figures" | grep -- "$1" | head -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p" || true; }
	for k in setup_us rtt_us down_MiBps up_MiBps; do
		a=$(fig 'lib=vmsg guest=pv mode=raw' $k)
		b=$(fig 'lib=vchan guest=pv mode=raw' $k)
		[ -n "$a" ] && [ -n "$b" ] &&
			awk -v k=$k -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "ratio vmsg/libxenvchan (pv, raw) %s: %.2f (%s vs %s)\n", k, a / b, a, b }'
	done
	# The echo unikernel against the Linux PV guest: 64-byte typed
	# messages, timed at dom0's end, same boot.
	a=$(fig 'lib=vmsg guest=unikernel mode=msg' rtt_us)
	b=$(fig 'lib=vmsg guest=pv mode=msg' rtt_us)
	[ -n "$a" ] && [ -n "$b" ] &&
		awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "rtt_us unikernel vs Linux PV guest (vmsg, 64 B messages): %s vs %s (ratio %.2f)\n", a, b, a / b }'
fi
# The same figures as a file under the build dir, for the record: bench/run-all
# --xen FILE turns a run in which every scenario passed into a committed
# result set (bench/results/xen-*.json) and the docs' real-Xen tables.
out=$build/tests/xen/xen-figures.txt
if [ -d "$build/tests/xen" ]; then
	{
		echo "# run-scenarios.sh: the serial log's FIGURE lines; bench/run-all --xen reads this"
		echo "date $(date -u '+%Y-%m-%d %H:%M UTC')"
		echo "host $(hostname -s)"
		echo "boot_s $t_run"
		echo "only ${only:-all}"
		echo "qemu_cpu ${VMSG_XEN_CPU:-max,-smap,-xsave}"
		echo "loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
		for n in "${scenarios[@]}"; do
			line=$(grep -aoE "(PASS $n\$|FAIL $n: .*)" "$log" | tail -n 1 || true)
			echo "result ${line:-FAIL $n: no result}"
		done
		if [ -n "$figures" ]; then echo "$figures"; fi
	} >"$out.tmp" && mv "$out.tmp" "$out"
	echo "---- figures written to $out"
fi
if ! grep -aq 'VMSG-XEN end ' "$log"; then
	failed=1
	echo "dom0 did not finish the scenarios${verdict:+: $verdict}; last lines of the serial log:"
	tail -n 40 "$log" | sed 's/^/  | /'
elif [ -n "$verdict" ]; then
	failed=1
	echo "$verdict"
fi
if [ "$failed" = 1 ] && [ "$keep" = 0 ]; then
	# Keep the evidence of a failure for CI logs: the scenarios' output.
	echo "---- dom0 output of the run"
	sed -n '/VMSG-XEN begin/,/VMSG-XEN end/p' "$log" | grep -av '(XEN)' | tail -n 200
fi
if [ "$keep" = 1 ]; then
	echo "---- kept: serial log $log"
	echo "boot the same images with a dom0 shell: $work/boot-interactive.sh"
fi
exit $failed
