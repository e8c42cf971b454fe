#!/bin/sh
# /init of the tests/xen guest image (busybox, Xen's xenstore tools, the
# project's programs): run one job, report, power off.
#
# The scenario that creates the guest picks the job on the guest's kernel
# command line: vmsg.job=NAME runs /opt/vmsg/guest/NAME.sh, with the words
# of vmsg.args=a:b:c as its arguments. Everything the guest prints goes to
# its console, which xenconsoled in dom0 logs to
# /var/log/xen/console/guest-<name>.log; the scenario waits there for the
# closing "GUEST-DONE rc=N" line.
export PATH=/opt/vmsg/bin:/bin:/sbin:/usr/bin:/usr/sbin
export LD_LIBRARY_PATH=/opt/vmsg/lib

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /tmp
mount -t tmpfs tmpfs /tmp

job=
args=
for arg in $(cat /proc/cmdline); do
	case $arg in
	vmsg.job=*) job=${arg#vmsg.job=} ;;
	vmsg.args=*) args=${arg#vmsg.args=} ;;
	esac
done
for m in xen-evtchn xen-gntdev xen-gntalloc; do
	insmod /lib/modules/$m.ko || echo "GUEST insmod $m failed"
done
# The TAP device of scenario network's guest job (nettap.sh).
[ -f /lib/modules/tun.ko ] && { insmod /lib/modules/tun.ko || echo "GUEST insmod tun failed"; }
domid=$(xenstore-read domid)
echo "GUEST-START job=$job domid=$domid uptime=$(cut -d' ' -f1 /proc/uptime)"

if [ -f "/opt/vmsg/guest/$job.sh" ]; then
	# shellcheck disable=SC2046 # the words are the arguments
	DOMID=$domid sh "/opt/vmsg/guest/$job.sh" $(echo "$args" | tr ':' ' ')
	rc=$?
else
	echo "GUEST no job '$job'"
	rc=127
fi
echo "GUEST-DONE rc=$rc uptime=$(cut -d' ' -f1 /proc/uptime)"
sleep 1 # let xenconsoled take the last lines
poweroff -f
