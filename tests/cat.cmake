# vmsg-cat (tools/vmsg-cat): over the host backend, and in raw mode against
# Debian's unmodified vchan-socket-proxy on the simulated Xen.
if(TARGET vmsg-cat)
  vmsg_add_test(cat_host SOURCES cat/cat_host.c TIMEOUT 120)
  target_compile_definitions(cat_host PRIVATE VMSG_CAT="$<TARGET_FILE:vmsg-cat>")
  add_dependencies(cat_host vmsg-cat)

  if(VMSG_HAVE_XEN AND TARGET xensim)
    # Needs xen-utils-4.17 (skips without it). sim_harness.h is shared
    # with the sim tests.
    vmsg_add_test(cat_socket_proxy SOURCES cat/cat_socket_proxy.c
                  TIMEOUT 300 LABELS sim)
    target_compile_definitions(cat_socket_proxy PRIVATE
      VMSG_CAT="$<TARGET_FILE:vmsg-cat>" XENSIM_BIN="${XENSIM_BIN_DIR}/xensim")
    target_include_directories(cat_socket_proxy PRIVATE
                               ${CMAKE_CURRENT_SOURCE_DIR}/sim_xen)
    add_dependencies(cat_socket_proxy vmsg-cat xensim)
    # --offer and --service through vmsgd (tests/cat/cat_service.sh).
    if(VMSG_HAVE_VMSGD)
      add_test(NAME cat_service
               COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cat/cat_service.sh ${CMAKE_BINARY_DIR})
      set_tests_properties(cat_service PROPERTIES TIMEOUT 180 LABELS sim)
    endif()
    if(TARGET vmsg-xenstored)
      add_dependencies(cat_socket_proxy vmsg-xenstored)
    endif()
  endif()
endif()
