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
  # Same soname, version node and exports as Debian's library.
  add_test(NAME dropin_abi COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/dropin/dropin_abi.sh
           ${VMSG_DROPIN_LIB_DIR})
  set_tests_properties(dropin_abi PROPERTIES TIMEOUT 30 SKIP_RETURN_CODE 77 LABELS sim)
  # Needs xen-utils-4.17's vchan-socket-proxy (skips without it).
  vmsg_dropin_test(dropin_socket_proxy SOURCES dropin/dropin_socket_proxy.c
                   TIMEOUT 300)
  # Built against Debian's header and library, run on both.
  pkg_check_modules(DROPIN_DEBIAN_VCHAN IMPORTED_TARGET xenvchan)
  if(DROPIN_DEBIAN_VCHAN_FOUND)
    vmsg_dropin_test(dropin_semantics SOURCES dropin/dropin_semantics.c
                     LIBS PkgConfig::DROPIN_DEBIAN_VCHAN TIMEOUT 300)
    # A hostile vmsg peer against a libxenvchan program on both libraries.
    vmsg_dropin_test(dropin_hostile SOURCES dropin/dropin_hostile.c
                     LIBS PkgConfig::DROPIN_DEBIAN_VCHAN TIMEOUT 300)
  endif()
endif()
