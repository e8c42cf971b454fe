# vmsgd in dom0 with two PV guests, relayed mode: the same as vmsgd-direct,
# but vmsgd serves B's end itself and copies every message between B and A;
# vmsgctl must show the channel relayed, with its byte counters covering
# the 4 MiB each way. The steps are in vmsgd-pair.sh.
# timeout: 400
MODE=relayed
. /opt/vmsg/scenarios/vmsgd-pair.sh
