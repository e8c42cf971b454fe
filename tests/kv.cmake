# The key-value example (examples/kv): its store and text protocol against
# hostile input, and the whole demo (scripts/demo-sim.sh) on the simulator.
if(TARGET kv_core)
  vmsg_add_test(kv_store_text SOURCES kv/kv_store_text.c LIBS kv_core)
endif()
if(VMSG_HAVE_VMSGD AND TARGET vmsg-kv-server AND TARGET xensim)
  add_test(NAME demo_sim
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/kv/demo_sim_check.sh
                   ${CMAKE_SOURCE_DIR}/scripts/demo-sim.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(demo_sim PROPERTIES TIMEOUT 300 LABELS sim)
endif()
# The same demo through vmsgd in host mode (scripts/demo-host.sh): no Xen,
# no simulator.
if(VMSG_HAVE_VMSGD AND TARGET vmsg-kv-server)
  add_test(NAME demo_host
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/kv/demo_host_check.sh
                   ${CMAKE_SOURCE_DIR}/scripts/demo-host.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(demo_host PROPERTIES TIMEOUT 120 LABELS host)
endif()
if(VMSG_HAVE_VMSGD AND TARGET vmsg-kv-server AND TARGET xensim)
  vmsg_add_test(kv_hostile SOURCES kv/kv_hostile.c LIBS kv_core TIMEOUT 300
                LABELS sim)
  target_compile_definitions(kv_hostile PRIVATE
    XENSIM_BIN="${XENSIM_BIN_DIR}/xensim"
    VMSGD_BIN="$<TARGET_FILE:vmsgd>"
    VMSGCTL_BIN="$<TARGET_FILE:vmsgctl>"
    KV_SERVER_BIN="$<TARGET_FILE:vmsg-kv-server>")
  target_include_directories(kv_hostile PRIVATE
    ${CMAKE_CURRENT_SOURCE_DIR}/sim_xen ${CMAKE_CURRENT_SOURCE_DIR}/vmsgd)
  add_dependencies(kv_hostile xensim vmsgd vmsgctl vmsg-kv-server)
endif()
