# libxenvchan to libxenvchan (Debian's, unmodified) between dom0 and a PV
# guest: proves the harness itself (images, toolstack, guests, grants and
# events) before any of the project's code is involved, and gives the
# libxenvchan figures the vmsg ones are compared with; first, 30 channels
# set up one after another (--setup: the client's median time from its
# connect to the server's first byte).
# timeout: 300
. /opt/vmsg/scenarios/lib.sh
stream_pair pv dom0 vchan vchan xs --setup 30 --rtt 500 --down 64M --up 64M || fail "$SP_WHY"
stream_figures "lib=vchan guest=pv mode=raw"
pass
