# The unikernel platform (guest/, docs/unikernel.md).
#   guest_image     the echo unikernel links with no undefined symbols and
#                   has its PVH note; prints its size
#   guest_xs_ring   the xenstore ring client, hosted, against a fake ring
#   guest_pages     the page allocator, hosted
#   guest_clock     the reading of Xen's time record, hosted, with records
#                   seen on real Xen (a "negative" first stamp)
#   guest_appliance_host  the echo appliance's source as two Linux processes
#                   on the host backend (no Xen)
#   guest_multi_sim  (label sim) the echo appliance serving 8 channels at
#                   once from one wait set, as a Linux program on the
#                   simulator, 8 dom0 clients at once
#   guest_appliance_sim  (label sim) the echo appliance's source as a Linux
#                   program on the simulator: offer and open through vmsgd,
#                   the policy, the provider's death mid-stream
# The boot on real Xen is guest_xen (label xen): tests/guest/run-xen.sh.
if(TARGET echo-unikernel)
  get_target_property(VMSG_GUEST_ECHO_ELF echo-unikernel VMSG_ELF)
  add_test(NAME guest_image
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/guest/check_image.sh
                   ${VMSG_GUEST_ECHO_ELF} ${CMAKE_NM} ${CMAKE_READELF})
  set_tests_properties(guest_image PROPERTIES TIMEOUT 60)
endif()

find_package(Threads REQUIRED)
vmsg_add_test(guest_xs_ring SOURCES guest/xs_ring_test.c
              ${PROJECT_SOURCE_DIR}/guest/xs_ring.c
              LIBS Threads::Threads TIMEOUT 120)
target_include_directories(guest_xs_ring PRIVATE ${PROJECT_SOURCE_DIR}/guest)
vmsg_add_test(guest_clock SOURCES guest/clock_test.c)
target_include_directories(guest_clock PRIVATE ${PROJECT_SOURCE_DIR}/guest)
vmsg_add_test(guest_pages SOURCES guest/pages_test.c
              ${PROJECT_SOURCE_DIR}/guest/pages.c)
target_include_directories(guest_pages PRIVATE ${PROJECT_SOURCE_DIR}/guest)

# The echo appliance's messages as records for `cksum` (tests/guest/
# echo_pattern.c): the independent side of the appliance tests' checksums,
# on the host and in dom0.
add_executable(guest-echo-pattern guest/echo_pattern.c)
set_target_properties(guest-echo-pattern PROPERTIES
                      RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/guest)

# guest_xen's `trap` check boots this one: it faults on purpose, and its
# console must carry the exception report (guest/traps.c).
if(TARGET echo-unikernel)
  vmsg_add_unikernel(trap-unikernel SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/guest/trap_unikernel.c)
endif()

# dom0's side of the real-Xen check: programs that run inside dom0.
if(VMSG_HAVE_XEN AND TARGET echo-unikernel)
  pkg_check_modules(GUEST_VCHAN IMPORTED_TARGET xenvchan)
  add_executable(guest-echo-client guest/echo_client.c)
  target_link_libraries(guest-echo-client PRIVATE vmsg)
  add_executable(guest-echo-server guest/echo_server.c)
  target_link_libraries(guest-echo-server PRIVATE vmsg)
  set(guest_dom0_progs guest-echo-client guest-echo-server)
  if(GUEST_VCHAN_FOUND)
    add_executable(guest-vchan-echo-client guest/vchan_echo_client.c)
    target_link_libraries(guest-vchan-echo-client PRIVATE PkgConfig::GUEST_VCHAN)
    list(APPEND guest_dom0_progs guest-vchan-echo-client)
  endif()
  set_target_properties(${guest_dom0_progs} PROPERTIES
                        RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/guest)
endif()

# guest_xen: boot the echo unikernel on Xen in QEMU and talk to it from
# dom0 (tests/guest/run-xen.sh; minutes; skips without root or QEMU).
if(TARGET guest-echo-client AND TARGET guest-vchan-echo-client)
  add_test(NAME guest_xen
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/guest/run-xen.sh
                   --build-dir ${CMAKE_BINARY_DIR})
  set_tests_properties(guest_xen PROPERTIES TIMEOUT 1200 LABELS xen
                       SKIP_RETURN_CODE 77
                       # one emulated machine at a time: two would share
                       # the cores and each run twice as long
                       RESOURCE_LOCK vmsg_qemu)
endif()

# The echo appliance's source as two Linux processes on the host backend
# (tests/guest/appliance_host.sh).
if(TARGET echo-appliance)
  add_test(NAME guest_appliance_host
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/guest/appliance_host.sh
                   ${CMAKE_BINARY_DIR})
  set_tests_properties(guest_appliance_host PROPERTIES TIMEOUT 300)
endif()

# The echo appliance's multi=N mode (one wait set, N channels at once) as a
# Linux program on the simulator, 8 dom0 clients at once
# (tests/guest/appliance_multi_sim.sh).
if(TARGET echo-appliance AND TARGET guest-echo-client AND TARGET xensim)
  add_test(NAME guest_multi_sim
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/guest/appliance_multi_sim.sh
                   ${CMAKE_BINARY_DIR})
  set_tests_properties(guest_multi_sim PROPERTIES TIMEOUT 300 LABELS sim
                       SKIP_RETURN_CODE 77)
endif()

# The echo appliance's source as Linux programs on the simulator, through
# vmsgd (tests/guest/appliance_sim.sh).
if(VMSG_HAVE_VMSGD AND TARGET echo-appliance AND TARGET xensim)
  add_test(NAME guest_appliance_sim
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/guest/appliance_sim.sh
                   ${CMAKE_BINARY_DIR})
  set_tests_properties(guest_appliance_sim PROPERTIES TIMEOUT 300 LABELS sim
                       SKIP_RETURN_CODE 77)
endif()

# guest_sdk: every SDK call, both targets. The unikernel only
# has to link (no undefined symbol); sdk-all-uk.elf; its Linux twin runs on the simulator
# (tests/guest/sdk_sim.sh).
if(TARGET echo-unikernel)
  vmsg_add_unikernel(sdk-all-uk SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/guest/sdk_all.c)
endif()
if(TARGET vmsg_sdk_linux)
  add_executable(sdk-all guest/sdk_all.c)
  target_link_libraries(sdk-all PRIVATE vmsg_sdk_linux)
  set_target_properties(sdk-all PROPERTIES
                        RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/guest)
  if(TARGET xensim)
    add_test(NAME guest_sdk
             COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/guest/sdk_sim.sh ${CMAKE_BINARY_DIR})
    set_tests_properties(guest_sdk PROPERTIES TIMEOUT 120 LABELS sim
                         SKIP_RETURN_CODE 77)
  endif()
endif()
