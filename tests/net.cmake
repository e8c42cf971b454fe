# lib/net: Ethernet links over channels (docs/net.md), on the host backend.
vmsg_add_test(net_link SOURCES net/net_link.c TIMEOUT 60 LABELS host net)
vmsg_add_test(net_hostile SOURCES net/net_hostile.c TIMEOUT 60 LABELS host net)

# vmsg-tap keeps hearing its signals while the peer floods the link
# (tests/net/net_tap_flood.c): root, /dev/net/tun, ip(8).
if(TARGET vmsg-tap)
  vmsg_add_test(net_tap_flood SOURCES net/net_tap_flood.c TIMEOUT 90
                LABELS net netns ARGS $<TARGET_FILE:vmsg-tap>)
endif()

# Network namespaces, TAP bridges and the appliances, with real tools
# (tests/net/netns.sh): root, iproute2, ping, iperf3, curl, python3.
add_executable(net_flood net/net_flood.c)
target_link_libraries(net_flood PRIVATE vmsg_internal)
foreach(scenario switch firewall hostile restart)
  add_test(NAME net_ns_${scenario}
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/net/netns.sh ${scenario}
                   $<TARGET_FILE:vmsg-tap> $<TARGET_FILE:l2switch>
                   $<TARGET_FILE:firewall> $<TARGET_FILE:net_flood>)
  set_tests_properties(net_ns_${scenario} PROPERTIES TIMEOUT 180
                       SKIP_RETURN_CODE 77 LABELS "net;netns"
                       RUN_SERIAL TRUE)
endforeach()

# The appliances' decisions, without channels (their sources compiled in).
vmsg_add_test(switch_unit SOURCES net/switch_unit.c
              ${PROJECT_SOURCE_DIR}/examples/netapp/netapp.c TIMEOUT 30 LABELS net)
vmsg_add_test(firewall_unit SOURCES net/firewall_unit.c
              ${PROJECT_SOURCE_DIR}/examples/netapp/netapp.c TIMEOUT 30 LABELS net)

# The switch as a service through vmsgd on the simulated Xen, bridges in
# two other domains (tests/net/netns_vmsgd.sh).
if(VMSG_HAVE_VMSGD AND TARGET xensim AND TARGET l2switch-appliance)
  add_test(NAME net_ns_vmsgd
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/net/netns_vmsgd.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(net_ns_vmsgd PROPERTIES TIMEOUT 180 SKIP_RETURN_CODE 77
                       LABELS "net;netns;sim" RUN_SERIAL TRUE)
endif()

# The appliances' SDK builds with direct Xen channels to dom0's vmsg-tap
# --xen bridges, on the simulated Xen (tests/net/netns_xen.sh).
if(TARGET xensim AND TARGET l2switch-appliance)
  add_test(NAME net_ns_xen
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/net/netns_xen.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(net_ns_xen PROPERTIES TIMEOUT 180 SKIP_RETURN_CODE 77
                       LABELS "net;netns;sim" RUN_SERIAL TRUE)
endif()

# SIGTERM ends the appliances' Linux programs in order: a client's link
# closes, the socket files go, exit 0 (tests/net/net_app_sigterm.c).
set(net_sigterm_progs $<TARGET_FILE:l2switch> $<TARGET_FILE:firewall>)
if(TARGET l2switch-appliance)
  list(APPEND net_sigterm_progs $<TARGET_FILE:l2switch-appliance>
       $<TARGET_FILE:firewall-appliance>)
endif()
vmsg_add_test(net_app_sigterm SOURCES net/net_app_sigterm.c TIMEOUT 180
              LABELS host net ARGS ${net_sigterm_progs})
add_dependencies(net_app_sigterm l2switch firewall)
if(TARGET l2switch-appliance)
  add_dependencies(net_app_sigterm l2switch-appliance firewall-appliance)
endif()

# The commands' usage errors and messages (tests/net/net_cli.sh).
set(net_cli_sdk)
if(TARGET l2switch-appliance)
  set(net_cli_sdk $<TARGET_FILE:l2switch-appliance> $<TARGET_FILE:firewall-appliance>)
endif()
add_test(NAME net_cli
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/net/net_cli.sh $<TARGET_FILE:vmsg-tap>
                 $<TARGET_FILE:l2switch> $<TARGET_FILE:firewall> ${net_cli_sdk})
set_tests_properties(net_cli PROPERTIES TIMEOUT 60 LABELS net)
