# vmsg to vmsg on the Xen backend between dom0 (server) and a PV guest
# (client): 64 MiB each way as typed messages, every byte checked and both
# ends' checksums compared; then the same as a raw byte stream, which is the
# figure to set beside libxenvchan's (same exchange, same ring sizes),
# after 30 channels set up one after another as 10-vchan-pv.sh does.
# timeout: 600
. /opt/vmsg/scenarios/lib.sh
stream_pair pv dom0 vmsg vmsg msg --msg --rtt 500 --down 64M --up 64M || fail "messages: $SP_WHY"
stream_figures "lib=vmsg guest=pv mode=msg"
stream_pair pv dom0 vmsg vmsg raw --setup 30 --rtt 500 --down 64M --up 64M || fail "raw: $SP_WHY"
stream_figures "lib=vmsg guest=pv mode=raw"
pass
