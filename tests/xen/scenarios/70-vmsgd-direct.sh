# vmsgd in dom0 with two PV guests, direct mode: guest A offers xs.stream,
# guest B opens it through vmsgd, and the channel runs between the two
# guests (grants between them, no dom0 copy); vmsgctl must show it open and
# direct from A to B while A holds it, then gone with B's domain after
# xl destroy of B. The steps are in vmsgd-pair.sh.
# timeout: 400
MODE=direct
. /opt/vmsg/scenarios/vmsgd-pair.sh
