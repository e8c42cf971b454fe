# The simulator's xenstore daemon (sim/xenstored), driven by Debian's own
# libxenstore and xenstore-utils (tests/sim_xenstore/). Each test starts its
# own daemon in a temporary directory; tests that need xenstore-utils skip
# (77) without them.
pkg_check_modules(XENSTORE IMPORTED_TARGET xenstore)
if(XENSTORE_FOUND AND TARGET vmsg-xenstored)
  set(SIM_XS_COMMON sim_xenstore/xs_harness.c)
  foreach(t basic perms txn watch hostile quota)
    vmsg_add_test(sim_xs_${t}
                  SOURCES sim_xenstore/xs_${t}.c ${SIM_XS_COMMON}
                  LIBS PkgConfig::XENSTORE
                  ARGS $<TARGET_FILE:vmsg-xenstored>
                  TIMEOUT 120 LABELS sim)
  endforeach()
endif()
