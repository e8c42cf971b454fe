# The host backend (lib/host): platform ops over memfd + eventfd + UNIX socket.
vmsg_add_test(host_platform SOURCES host/host_platform.c TIMEOUT 60 LABELS host)
vmsg_add_test(host_one_client SOURCES host/host_one_client.c TIMEOUT 60 LABELS host)
vmsg_add_test(host_peer_death SOURCES host/host_peer_death.c TIMEOUT 60 LABELS host)
# Close delivers, in the one window a two-process test hits only by chance.
vmsg_add_test(host_close_race SOURCES host/host_close_race.c
              LIBS Threads::Threads TIMEOUT 60 LABELS host)
vmsg_add_test(host_chan_basic SOURCES host/host_chan_basic.c TIMEOUT 60 LABELS host)
vmsg_add_test(host_rx_kept SOURCES host/host_rx_kept.c TIMEOUT 60 LABELS host)
vmsg_add_test(host_unreserve SOURCES host/host_unreserve.c TIMEOUT 60 LABELS host)
vmsg_add_test(host_chan_reopen SOURCES host/host_chan_reopen.c TIMEOUT 60 LABELS host)
vmsg_add_test(host_waitset SOURCES host/host_waitset.c TIMEOUT 120 LABELS host)
vmsg_add_test(host_waitset_spin SOURCES host/host_waitset_spin.c TIMEOUT 120 LABELS host)
vmsg_add_test(host_access SOURCES host/host_access.c TIMEOUT 120 LABELS host)
