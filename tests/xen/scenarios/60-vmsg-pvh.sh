# The vmsg-to-vmsg check of 20-vmsg-pv with a PVH guest (an HVM container:
# here on the nested SVM and NPT that QEMU emulates, several times slower
# than a PV guest, hence the longer wait).
# timeout: 700
. /opt/vmsg/scenarios/lib.sh
SP_WAIT=540 stream_pair pvh dom0 vmsg vmsg msg --msg --rtt 500 --down 64M --up 64M || fail "$SP_WHY"
stream_figures "lib=vmsg guest=pvh mode=msg"
pass
