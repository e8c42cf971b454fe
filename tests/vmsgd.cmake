# vmsgd on the simulated Xen: named services in direct mode, the policy,
# and a guest's death. Each test runs its own XENSIM_DIR, starts vmsgd as
# dom0 with a temporary config and stops it (SIGTERM, exit 0) at the end.
if(VMSG_HAVE_VMSGD AND TARGET xensim AND TARGET vmsgd)
  function(vmsgd_test name)
    vmsg_add_test(${name} SOURCES vmsgd/${name}.c TIMEOUT 300 LABELS sim)
    target_compile_definitions(${name} PRIVATE
      XENSIM_BIN="${XENSIM_BIN_DIR}/xensim"
      VMSGD_BIN="$<TARGET_FILE:vmsgd>"
      VMSGCTL_BIN="$<TARGET_FILE:vmsgctl>")
    target_include_directories(${name} PRIVATE
      ${CMAKE_CURRENT_SOURCE_DIR}/sim_xen ${CMAKE_CURRENT_SOURCE_DIR}/vmsgd)
    add_dependencies(${name} xensim vmsgd vmsgctl)
    if(TARGET vmsg-xenstored)
      add_dependencies(${name} vmsg-xenstored)
    endif()
  endfunction()
  vmsgd_test(vmsgd_direct)
  vmsgd_test(vmsgd_policy)
  vmsgd_test(vmsgd_death)
  vmsgd_test(vmsgd_relay)
  vmsgd_test(vmsgd_bridge)
  vmsgd_test(vmsgd_many)
  vmsgd_test(vmsgd_restart)
  vmsgd_test(vmsgd_badinput)
  vmsgd_test(vmsgd_limits)
  vmsgd_test(vmsgd_bounds)
  vmsgd_test(vmsgd_keptmem)
  # The per-domain totals of queued bytes go back to 0 as channels close
  # (and vmsgd's check of them against a recount never fires).
  vmsgd_test(vmsgd_queuedcount)
  # A guest's bridge connections held back by its bound take turns.
  vmsgd_test(vmsgd_bridgefair)
  # A listen bridge's clients that read nothing do not hold its guest back.
  vmsgd_test(vmsgd_slowclient)
  # Its channels that each collect a large message at the bound go on.
  vmsgd_test(vmsgd_heldpartial)
  target_link_libraries(vmsgd_heldpartial PRIVATE pthread)
  vmsgd_test(vmsgd_noconnect)
  vmsgd_test(vmsgd_abandon)
  vmsgd_test(vmsgd_relaylinger)
  vmsgd_test(vmsgd_bridgelinger)
  vmsgd_test(vmsgd_directlinger)
  vmsgd_test(vmsgd_ringsize)
  vmsgd_test(vmsgd_flood)
  vmsgd_test(vmsgd_flush)
  vmsgd_test(vmsgd_seqpacket)
  vmsgd_test(vmsgd_spare)
  vmsgd_test(vmsgd_sparelinger)
  # The provider's library admits the consumer of a channel vmsgd gave.
  vmsgd_test(vmsgd_spareadmit)
  # A channel closed before its admitted consumer came keeps what was sent.
  vmsgd_test(vmsgd_admitclose)
  # A poller that takes one channel per wake-up misses no open.
  vmsgd_test(vmsgd_pollone)
  vmsgd_test(vmsgd_prepared)
  # The provider answers the next Serve for the same domain from a channel
  # it served ahead (the simulated hypervisor stopped meanwhile).
  vmsgd_test(vmsgd_warm)
  # vmsg_ctl_fd()'s set, made at its first call, takes in a served channel
  # waiting for its consumer and a Serve waiting unread.
  vmsgd_test(vmsgd_latefd)
  # A channel from vmsg_service_open closed with vmsg_chan_close: vmsgd is
  # told, and its later Closed for it touches nothing freed.
  vmsgd_test(vmsgd_chanclose)
  # vmsg_chan_close() in one thread racing the handle's Closed for the
  # same channel in another (ASan and TSan see the ordering).
  vmsgd_test(vmsgd_chanrace)
  target_link_libraries(vmsgd_chanrace PRIVATE pthread)
  # A spare announced to its consumer (Spare) is mapped while vmsgd
  # answers the Open that takes it; one not taken is given up.
  vmsgd_test(vmsgd_spareahead)
  # Channels one guest holds at once under xenstored's default quotas,
  # and the error when the provider's quota is full (needs libxenstore
  # itself to fill it). Setup by message: a dom0 watcher of xenstore
  # sees no write per brokered channel.
  pkg_check_modules(VT_XENSTORE IMPORTED_TARGET xenstore)
  if(VT_XENSTORE_FOUND)
    vmsgd_test(vmsgd_ceiling)
    target_link_libraries(vmsgd_ceiling PRIVATE PkgConfig::VT_XENSTORE)
    vmsgd_test(vmsgd_setupmsg)
    target_link_libraries(vmsgd_setupmsg PRIVATE PkgConfig::VT_XENSTORE)
    # Several processes of one domain at once, each on a control channel
    # of its own (its loser of a claim reads vmsgd's keys itself).
    vmsgd_test(vmsgd_multiproc)
    target_link_libraries(vmsgd_multiproc PRIVATE PkgConfig::VT_XENSTORE)
    # 10,000 channels opened and closed one after another, no leak
    # (its dom0 role counts xenstore's nodes).
    vmsgd_test(vmsgd_fanout)
    target_link_libraries(vmsgd_fanout PRIVATE PkgConfig::VT_XENSTORE)
  endif()
  # The stock key-value server as the provider that unclaimed channels
  # must not fill up.
  if(TARGET vmsg-kv-server)
    vmsgd_test(vmsgd_unclaimed)
    target_compile_definitions(vmsgd_unclaimed PRIVATE
      KV_SERVER_BIN="$<TARGET_FILE:vmsg-kv-server>")
    add_dependencies(vmsgd_unclaimed vmsg-kv-server)
  endif()
  # vmsgctl --json against hostile Hello names, checked with jansson's
  # strict parser (vmsgd needs jansson already).
  pkg_check_modules(VT_JANSSON REQUIRED IMPORTED_TARGET jansson)
  vmsgd_test(vmsgd_json)
  # vmsg_ctl_open's errors, and vmsg-kv's words for them.
  if(TARGET vmsg-kv AND TARGET vmsg-cat)
    vmsgd_test(vmsgd_ctlopen)
    target_compile_definitions(vmsgd_ctlopen PRIVATE
      VMSG_KV_BIN="$<TARGET_FILE:vmsg-kv>"
      VMSG_CAT_BIN="$<TARGET_FILE:vmsg-cat>")
    add_dependencies(vmsgd_ctlopen vmsg-kv vmsg-cat)
  endif()
  target_link_libraries(vmsgd_json PRIVATE PkgConfig::VT_JANSSON)
  # The Prometheus endpoint, when vmsgd has it (libmicrohttpd):
  # tests/vmsgd/metrics.sh, with promtool and a Prometheus server.
  # A domid re-created at once is served again (tests/vmsgd/domid_reuse.sh).
  if(TARGET echo-appliance)
    add_test(NAME vmsgd_domid_reuse
             COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/vmsgd/domid_reuse.sh ${CMAKE_BINARY_DIR})
    set_tests_properties(vmsgd_domid_reuse PROPERTIES TIMEOUT 300 LABELS sim)
  endif()
  # Host mode: vmsgd between processes of this machine, no Xen, no
  # simulator (tests/vmsgd/host.sh; runs as root for a second uid).
  # No two of vmsgd's .c files call each other in a loop (docs/vmsgd.md,
  # "Inside vmsgd"); and the check itself finds a circle.
  add_test(NAME vmsgd_callgraph
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/vmsgd/callgraph.sh
                   $<TARGET_OBJECTS:vmsgd>)
  add_test(NAME vmsgd_callgraph_selftest
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/vmsgd/callgraph.sh --selftest)
  set_tests_properties(vmsgd_callgraph vmsgd_callgraph_selftest PROPERTIES
                       TIMEOUT 60 SKIP_RETURN_CODE 77)
  vmsg_add_test(vmsgd_host_env SOURCES vmsgd/vmsgd_host_env.c TIMEOUT 60
                LABELS host)
  # A user's rendezvous connections are bounded (max_clients_per_user,
  # max_host_clients); runs as root for a second uid.
  vmsg_add_test(vmsgd_host_users SOURCES vmsgd/vmsgd_host_users.c
                TIMEOUT 180 LABELS host)
  target_compile_definitions(vmsgd_host_users PRIVATE
    VMSGD_BIN="$<TARGET_FILE:vmsgd>" VMSGCTL_BIN="$<TARGET_FILE:vmsgctl>")
  add_dependencies(vmsgd_host_users vmsgd vmsgctl)
  if(TARGET vmsg-kv-server AND TARGET vmsg-cat)
    add_test(NAME vmsgd_host
             COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/vmsgd/host.sh ${CMAKE_BINARY_DIR})
    set_tests_properties(vmsgd_host PROPERTIES TIMEOUT 180 LABELS host)
  endif()
  get_property(vt_metrics GLOBAL PROPERTY VMSGD_HAVE_METRICS)
  if(vt_metrics AND TARGET echo-appliance)
    add_test(NAME vmsgd_metrics
             COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/vmsgd/metrics.sh ${CMAKE_BINARY_DIR})
    set_tests_properties(vmsgd_metrics PROPERTIES TIMEOUT 180 LABELS sim)
  endif()
endif()
