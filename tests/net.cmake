# lib/net: Ethernet links over channels (docs/net.md), on the host backend.
vmsg_add_test(net_link SOURCES net/net_link.c TIMEOUT 60 LABELS host net)
vmsg_add_test(net_hostile SOURCES net/net_hostile.c TIMEOUT 60 LABELS host net)
