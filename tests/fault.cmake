# Fault injection (label `fault`, docs/testing.md "Fault injection").
# Allocation failure: failalloc.so, preloaded into the programs under test,
# fails their Nth vmsg allocation for every N. A preloaded malloc cannot
# sit under ASan's or TSan's (they own malloc), so those runs exist in the
# plain builds only (the release flavour of scripts/test.sh).
find_package(Threads REQUIRED)
# One channel's life, ending cleanly whatever fails (the allocation and
# xenstore scenarios' program).
add_executable(fault_chan fault/fault_chan.c)
target_link_libraries(fault_chan PRIVATE vmsg_internal Threads::Threads)
if(VMSG_HAVE_XEN)
  target_compile_definitions(fault_chan PRIVATE FAULT_HAVE_XEN=1
                             FAULT_HAVE_SERVICE=1)
endif()
if(NOT VMSG_SANITIZE AND NOT VMSG_TSAN)
  add_library(failalloc SHARED fault/failalloc.c)
  target_link_libraries(failalloc PRIVATE ${CMAKE_DL_LIBS} Threads::Threads)
  set_target_properties(failalloc PROPERTIES
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  add_test(NAME fault_alloc_host
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/fault/failalloc_chan.sh
                   ${CMAKE_BINARY_DIR} host)
  set_tests_properties(fault_alloc_host PROPERTIES TIMEOUT 300 LABELS fault)
  add_dependencies(fault_chan failalloc)
  if(VMSG_HAVE_XEN AND TARGET xensim)
    add_dependencies(fault_chan xensim)
    if(TARGET vmsg-xenstored)
      add_dependencies(fault_chan vmsg-xenstored)
    endif()
    add_test(NAME fault_alloc_xen
             COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/fault/failalloc_chan.sh
                     ${CMAKE_BINARY_DIR} xen)
    set_tests_properties(fault_alloc_xen PROPERTIES TIMEOUT 300
                         LABELS "fault;sim")
  endif()
endif()
# vmsgd with the failure injected in it: refuses to start with a word, or
# serves the guests after the failure (tests/fault/failalloc_vmsgd.sh).
if(NOT VMSG_SANITIZE AND NOT VMSG_TSAN AND VMSG_HAVE_VMSGD
   AND TARGET xensim AND TARGET vmsgd AND TARGET echo-appliance)
  add_test(NAME fault_alloc_vmsgd
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/fault/failalloc_vmsgd.sh
                   ${CMAKE_BINARY_DIR})
  set_tests_properties(fault_alloc_vmsgd PROPERTIES TIMEOUT 400
                       LABELS "fault;sim")
  # The guest side of vmsgd's services (lib/service) with the failure
  # injected in a consumer and a provider (tests/fault/failalloc_guest.sh).
  add_test(NAME fault_alloc_guest
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/fault/failalloc_guest.sh
                   ${CMAKE_BINARY_DIR})
  set_tests_properties(fault_alloc_guest PROPERTIES TIMEOUT 300
                       LABELS "fault;sim")
endif()
# EINTR on every wait: a signal without SA_RESTART, thousands of times,
# at the host backend's blocking calls and wait set, and at the Xen
# backend's on the simulator (every flavour).
vmsg_add_test(fault_eintr SOURCES fault/fault_eintr.c
              LIBS Threads::Threads TIMEOUT 120 LABELS "fault;host")
if(VMSG_HAVE_XEN AND TARGET xensim)
  add_test(NAME fault_eintr_xen
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/fault/eintr_xen.sh
                   ${CMAKE_BINARY_DIR})
  set_tests_properties(fault_eintr_xen PROPERTIES TIMEOUT 180
                       LABELS "fault;sim")
endif()
# Short reads and writes on vmsgd's control socket and a listen bridge,
# other guests served meanwhile (every flavour).
if(VMSG_HAVE_VMSGD AND TARGET xensim AND TARGET vmsgd)
  vmsg_add_test(fault_shortio SOURCES fault/fault_shortio.c TIMEOUT 300
                LABELS "fault;sim")
  target_compile_definitions(fault_shortio PRIVATE
    XENSIM_BIN="${XENSIM_BIN_DIR}/xensim"
    VMSGD_BIN="$<TARGET_FILE:vmsgd>"
    VMSGCTL_BIN="$<TARGET_FILE:vmsgctl>")
  target_include_directories(fault_shortio PRIVATE
    ${CMAKE_CURRENT_SOURCE_DIR}/sim_xen ${CMAKE_CURRENT_SOURCE_DIR}/vmsgd)
  add_dependencies(fault_shortio xensim vmsgd vmsgctl)
  if(TARGET vmsg-xenstored)
    add_dependencies(fault_shortio vmsg-xenstored)
  endif()
endif()
# xenstore errors injected into one guest's requests by the simulated
# xenstored (every flavour; the release build adds failalloc.so's count of
# live vmsg memory at the guests' exit).
if(VMSG_HAVE_VMSGD AND VMSG_HAVE_XEN AND TARGET xensim AND TARGET vmsgd
   AND TARGET echo-appliance AND TARGET vmsg-xenstored)
  add_test(NAME fault_xenstore
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/fault/xsfail.sh
                   ${CMAKE_BINARY_DIR})
  set_tests_properties(fault_xenstore PROPERTIES TIMEOUT 600
                       LABELS "fault;sim")
  add_dependencies(fault_chan xensim vmsg-xenstored)
endif()
