# vmsgd in dom0 with two PV guests, direct mode: guest A offers xs.stream,
# guest B opens it through vmsgd, and the channel runs between the two
# guests (grants between them, no dom0 copy); vmsgctl must show it open and
# direct from A to B while A holds it, then gone with B's domain after
# xl destroy of B. Before that, fan-out: B holds 100 channels of
# xs.stream.fan at once, one echoed message on each, vmsgctl lists the 100
# and then none once B closed them (issue 15). The steps are in
# vmsgd-pair.sh.
# timeout: 400
MODE=direct
FAN=100
. /opt/vmsg/scenarios/vmsgd-pair.sh
