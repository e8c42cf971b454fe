# The drop-in libxenvchan (dropin/, docs/libxenvchan.md) on the simulated
# Xen, against Debian's libxenvchan and itself.
if(TARGET xenvchan_dropin AND TARGET xensim)
  function(vmsg_dropin_test name)
    vmsg_add_test(${name} ${ARGN} LABELS sim)
    target_compile_definitions(${name} PRIVATE
      XENSIM_BIN="${XENSIM_BIN_DIR}/xensim" DROPIN_LIB_DIR="${VMSG_DROPIN_LIB_DIR}")
    target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/sim_xen
                               ${CMAKE_CURRENT_SOURCE_DIR}/dropin)
    add_dependencies(${name} xensim xenvchan_dropin)
    if(TARGET vmsg-xenstored)
      add_dependencies(${name} vmsg-xenstored)
    endif()
  endfunction()
  # Needs xen-utils-4.17's vchan-socket-proxy (skips without it).
  vmsg_dropin_test(dropin_socket_proxy SOURCES dropin/dropin_socket_proxy.c
                   TIMEOUT 300)
endif()
