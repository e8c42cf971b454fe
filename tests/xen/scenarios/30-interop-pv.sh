# Interop on real Xen: Debian's libxenvchan on one end and vmsg (raw byte
# stream) on the other, both ways round: a vmsg server in dom0 with a
# libxenvchan client in a PV guest, then a libxenvchan server in dom0 with a
# vmsg client in the guest, then the guest as the vmsg server and dom0 as a
# libxenvchan client. Data flows both ways in each, checked.
# timeout: 400
. /opt/vmsg/scenarios/lib.sh
stream_pair pv dom0 vmsg vchan vs --rtt 100 --down 16M --up 16M ||
	fail "vmsg server (dom0), libxenvchan client (guest): $SP_WHY"
stream_pair pv dom0 vchan vmsg vc --rtt 100 --down 16M --up 16M ||
	fail "libxenvchan server (dom0), vmsg client (guest): $SP_WHY"
stream_pair pv guest vmsg vchan gs --rtt 100 --down 16M --up 16M ||
	fail "vmsg server (guest), libxenvchan client (dom0): $SP_WHY"
pass
