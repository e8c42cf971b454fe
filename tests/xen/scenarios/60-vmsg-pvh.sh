# The vmsg-to-vmsg check of 20-vmsg-pv with a PVH guest (an HVM container:
# here on the nested SVM and NPT that QEMU emulates, several times slower
# than a PV guest, hence the longer wait).
# optional: Debian's Linux kernel as a PVH guest triple-faults under QEMU
# 7.2's emulated SVM in about half the boots (in its early PIT/TSC
# calibration, a loop of intercepted IN instructions: an emulator defect,
# docs/testing.md), so this scenario runs only when named (--only
# vmsg-pvh, VMSG_XEN_ONLY=vmsg-pvh). The PVH side of the wire is checked
# in every run by vmsg's own PVH guest: the `unikernel` scenario and
# guest_xen.
# timeout: 700
. /opt/vmsg/scenarios/lib.sh
SP_WAIT=540 stream_pair pvh dom0 vmsg vmsg msg --msg --rtt 500 --down 64M --up 64M || fail "$SP_WHY"
stream_figures "lib=vmsg guest=pvh mode=msg"
pass
