#!/bin/bash
# /init of the tests/xen dom0 image: bring up the Xen toolstack, run every
# scenario in /opt/vmsg/scenarios/ (NN-name.sh, in order), power off.
#
# Each scenario prints "PASS name" or "FAIL name: why" on the console (which
# is Xen's serial line, which run-scenarios.sh logs). A scenario that ends
# without either, or overruns its time, gets a FAIL line from here. The run
# is framed by "VMSG-XEN begin n=N" and "VMSG-XEN end pass=P fail=F".
#
# Kernel command line knobs (set by run-scenarios.sh):
#   vmsg.only=a:b      run only the scenarios named a and b ("none": none)
#   vmsg.shell=1       end in a root shell on the console instead of
#                      powering off (the --keep interactive command)
export PATH=/opt/vmsg/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
export LD_LIBRARY_PATH=/opt/vmsg/lib
export HOME=/root TERM=dumb

say() { echo "VMSG-XEN $* (uptime $(cut -d' ' -f1 /proc/uptime))"; }

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
say userspace

# Debian's kernel has the Xen device drivers as modules.
for m in xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd; do
	modprobe "$m" || say "modprobe $m failed"
done
mount -t xenfs xenfs /proc/xen
mkdir -p /run/xen /run/xenstored /var/lib/xen /var/lib/xenstored \
	/var/log/xen/console /var/run/xen
xenstored --pid-file /run/xenstored.pid
# xen-init-dom0 needs xenstored answering.
for _ in $(seq 50); do xenstore-read /tool/xenstored >/dev/null 2>&1 && break; sleep 0.1; done
xen-init-dom0 >/dev/null
# Guest consoles go to /var/log/xen/console/guest-<name>.log, which the
# scenarios read for the guests' results.
xenconsoled --pid-file /run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console
say toolstack-up
xl info | grep -E '^(xen_version|virt_caps|nr_cpus|free_memory)' || true

cmdline=$(cat /proc/cmdline)
only=
shell=0
for arg in $cmdline; do
	case $arg in
	vmsg.only=*) only=${arg#vmsg.only=} ;;
	vmsg.shell=1) shell=1 ;;
	esac
done

# Scenario NN-name.sh is named "name".
scenario_name() {
	local b
	b=$(basename "$1" .sh)
	echo "${b#[0-9][0-9]-}"
}

# $1 = name, $2 = script: without vmsg.only, every scenario that is not
# marked "# optional:" (those run only when named).
selected() {
	[ -z "$only" ] && ! grep -q '^# optional:' "$2" && return 0
	[ -z "$only" ] && return 1
	case ":$only:" in *":$1:"*) return 0 ;; esac
	return 1
}

# Leave nothing behind for the next scenario: no guests, no processes.
cleanup_after() {
	local d
	for d in $(xl list 2>/dev/null | awk 'NR > 1 && $2 != 0 {print $1}'); do
		xl destroy "$d" 2>/dev/null
	done
	pkill -KILL -g "$1" 2>/dev/null || true
}

scripts=()
for s in /opt/vmsg/scenarios/[0-9][0-9]-*.sh; do
	[ -f "$s" ] && selected "$(scenario_name "$s")" "$s" && scripts+=("$s")
done

npass=0
nfail=0
say "begin n=${#scripts[@]}"
for s in "${scripts[@]}"; do
	name=$(scenario_name "$s")
	# A scenario may declare its own budget: "# timeout: SECONDS".
	tmo=$(sed -n 's/^# timeout: *\([0-9][0-9]*\).*/\1/p' "$s" | head -n 1)
	say "run $name timeout=${tmo:=300}"
	out=/tmp/scenario-$name.out
	# Its own session, so that cleanup_after can kill whatever it left.
	SCENARIO=$name setsid timeout -k 5 "$tmo" bash "$s" >"$out" 2>&1 </dev/null &
	pid=$!
	tail -n +1 -f --pid=$pid "$out" 2>/dev/null
	wait $pid
	rc=$?
	cleanup_after $pid
	if grep -q "^PASS $name\$" "$out"; then
		npass=$((npass + 1))
	elif grep -q "^FAIL $name: " "$out"; then
		nfail=$((nfail + 1))
	else
		nfail=$((nfail + 1))
		if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
			echo "FAIL $name: timed out after ${tmo} s"
		else
			echo "FAIL $name: ended (rc=$rc) without a PASS or FAIL line"
		fi
	fi
done
say "end pass=$npass fail=$nfail"

if [ $shell = 1 ]; then
	echo "dom0 shell on the console; 'poweroff' ends the VM (Ctrl-a x quits QEMU)"
	exec setsid bash -l </dev/hvc0 >/dev/hvc0 2>&1
fi
poweroff
