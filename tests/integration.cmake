# Two-process integration tests (tests/integration/). One test body, two
# backends: each program is registered as integ_NAME (host backend) and,
# where the Xen backend and the simulator are built, as integ_xen_NAME (the
# same program with --xen: its two processes are domains 0 and 1 of a
# private simulated Xen; label `sim`). integ.h explains the switch.
set(INTEG_COMMON integration/integ.c)
set(INTEG_XEN OFF)
if(VMSG_HAVE_XEN AND TARGET xensim)
  set(INTEG_XEN ON)
  list(APPEND INTEG_COMMON integration/integ_xen.c)
endif()

# integ_test(NAME SOURCES src... [ARGS a...] [TIMEOUT s] [LABELS l...]
#            [HOST_ONLY])
function(integ_test name)
  cmake_parse_arguments(T "HOST_ONLY" "TIMEOUT" "SOURCES;ARGS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  set(labels)
  if(T_LABELS)
    set(labels LABELS ${T_LABELS})
  endif()
  vmsg_add_test(integ_${name} SOURCES ${T_SOURCES} ${INTEG_COMMON}
                ARGS ${T_ARGS} TIMEOUT ${T_TIMEOUT} ${labels})
  if(NOT INTEG_XEN)
    return()
  endif()
  # Built for both, so that one binary runs either way.
  target_compile_definitions(integ_${name} PRIVATE INTEG_HAVE_XEN=1
                             XENSIM_BIN="${XENSIM_BIN_DIR}/xensim")
  target_include_directories(integ_${name} PRIVATE
                             ${CMAKE_CURRENT_SOURCE_DIR}/sim_xen)
  add_dependencies(integ_${name} xensim)
  if(TARGET vmsg-xenstored)
    add_dependencies(integ_${name} vmsg-xenstored)
  endif()
  if(T_HOST_ONLY)
    return()
  endif()
  # The driver's alarm stops the sim (and dumps its log) before ctest
  # would kill the driver and leave the daemon behind.
  math(EXPR alarm "${T_TIMEOUT} - 15")
  add_test(NAME integ_xen_${name}
           COMMAND integ_${name} --xen=${alarm} ${T_ARGS})
  set_tests_properties(integ_xen_${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
                       SKIP_RETURN_CODE 77 LABELS "sim;${T_LABELS}")
endfunction()

integ_test(stream_1g SOURCES integration/integ_stream.c
           ARGS msg 1073741824 TIMEOUT 600 LABELS long)
integ_test(stream_raw SOURCES integration/integ_stream.c
           ARGS raw 268435456 TIMEOUT 600 LABELS long)
integ_test(million SOURCES integration/integ_million.c TIMEOUT 300)
integ_test(frag_direct SOURCES integration/integ_frag_direct.c TIMEOUT 120)
integ_test(million_rx_batch SOURCES integration/integ_million.c
           ARGS rx_batch TIMEOUT 300)
integ_test(million_eager SOURCES integration/integ_million.c
           ARGS eager TIMEOUT 300)
integ_test(kill_server SOURCES integration/integ_kill.c ARGS server
           TIMEOUT 120)
integ_test(kill_client SOURCES integration/integ_kill.c ARGS client
           TIMEOUT 120)
integ_test(close_delivers SOURCES integration/integ_close_delivers.c
           TIMEOUT 120)
integ_test(nonblock_fd SOURCES integration/integ_nonblock_fd.c TIMEOUT 180)
# One end waits in every way in turn (no deadline, a deadline, an event
# loop, a poll without ack): on Xen the first sleeps in a blocking read.
integ_test(wait_styles SOURCES integration/integ_wait_styles.c TIMEOUT 120)
# Also over xen: the hostile peer rewrites the shared page and rings from
# the other domain (through the channel's internals, whatever the backend).
integ_test(hostile_peer SOURCES integration/integ_hostile_peer.c TIMEOUT 300)
# A peer that keeps one message going (empty continuations, an endless
# dropped message, a slow one): every receiving call stays bounded.
integ_test(frag_flood SOURCES integration/integ_frag_flood.c TIMEOUT 120)
# Host only: bad arguments of chan.h and host.h; xen.h's are checked by
# tests/xen_backend, and the rest of it is backend-independent.
integ_test(bad_input SOURCES integration/integ_bad_input.c TIMEOUT 60
           HOST_ONLY)
# A persistent server takes clients in turn (vmsg_chan_reopen).
integ_test(reopen SOURCES integration/integ_reopen.c TIMEOUT 120)
