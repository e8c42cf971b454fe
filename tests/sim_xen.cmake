# Tests of the simulated Xen (sim/): grants, event channels, and Debian's
# unmodified libxenvchan and vchan-socket-proxy running on it.  Each test
# uses its own XENSIM_DIR and stops the daemon when it ends.
pkg_check_modules(SIMXEN_LIBS IMPORTED_TARGET xengnttab xenevtchn)

function(vmsg_sim_test name)
  vmsg_add_test(${name} ${ARGN} LABELS sim)
  target_compile_definitions(${name} PRIVATE
    XENSIM_BIN="${XENSIM_BIN_DIR}/xensim")
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/sim_xen)
  # xensim depends on xensimd and every drop-in library.
  add_dependencies(${name} xensim)
  if(TARGET vmsg-xenstored)
    add_dependencies(${name} vmsg-xenstored)
  endif()
endfunction()

if(SIMXEN_LIBS_FOUND AND TARGET xensim)
  vmsg_sim_test(sim_gnttab SOURCES sim_xen/sim_gnttab.c
                LIBS PkgConfig::SIMXEN_LIBS TIMEOUT 150)
endif()
if(SIMXEN_LIBS_FOUND AND TARGET xensim)
  vmsg_sim_test(sim_evtchn SOURCES sim_xen/sim_evtchn.c
                LIBS PkgConfig::SIMXEN_LIBS TIMEOUT 150)
endif()
pkg_check_modules(SIMXEN_VCHAN IMPORTED_TARGET xenvchan xenstore)
if(SIMXEN_VCHAN_FOUND AND TARGET xensim)
  vmsg_sim_test(sim_libxenvchan SOURCES sim_xen/sim_libxenvchan.c
                LIBS PkgConfig::SIMXEN_VCHAN TIMEOUT 300)
endif()
if(TARGET xensim)
  # Needs Debian's vchan-socket-proxy (xen-utils-4.17); skips without it.
  vmsg_sim_test(sim_socket_proxy SOURCES sim_xen/sim_socket_proxy.c TIMEOUT 300)
endif()
if(TARGET xensim)
  # kill -9 of `xensim run` ends its command and what that started.
  vmsg_sim_test(sim_run_death SOURCES sim_xen/sim_run_death.c TIMEOUT 150)
endif()
if(TARGET xensim)
  # tests/lib/sim.sh's sim_run empties its LOG before it returns (a
  # reused LOG's old lines fooled nbd_sim's wait for its second provider).
  add_test(NAME sim_run_log
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/sim_xen/sim_run_log.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(sim_run_log PROPERTIES TIMEOUT 120 LABELS sim)
endif()
if(TARGET xensim)
  # xensimd out of descriptors: says so, does not spin, recovers.
  add_test(NAME sim_fd_limit
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/sim_xen/sim_fd_limit.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(sim_fd_limit PROPERTIES TIMEOUT 60 LABELS sim SKIP_RETURN_CODE 77)
endif()
