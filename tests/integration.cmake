# Two-process integration tests over the host backend (tests/integration/).
set(INTEG_COMMON integration/integ.c)

vmsg_add_test(integ_stream_1g SOURCES integration/integ_stream.c ${INTEG_COMMON}
              ARGS msg 1073741824 TIMEOUT 600 LABELS long)
vmsg_add_test(integ_stream_raw SOURCES integration/integ_stream.c ${INTEG_COMMON}
              ARGS raw 268435456 TIMEOUT 600 LABELS long)
vmsg_add_test(integ_million SOURCES integration/integ_million.c ${INTEG_COMMON}
              TIMEOUT 300)
vmsg_add_test(integ_kill_server SOURCES integration/integ_kill.c ${INTEG_COMMON}
              ARGS server TIMEOUT 120)
vmsg_add_test(integ_kill_client SOURCES integration/integ_kill.c ${INTEG_COMMON}
              ARGS client TIMEOUT 120)
vmsg_add_test(integ_close_delivers SOURCES integration/integ_close_delivers.c
              ${INTEG_COMMON} TIMEOUT 120)
vmsg_add_test(integ_nonblock_fd SOURCES integration/integ_nonblock_fd.c
              ${INTEG_COMMON} TIMEOUT 180)
vmsg_add_test(integ_bad_input SOURCES integration/integ_bad_input.c
              ${INTEG_COMMON} TIMEOUT 60)
vmsg_add_test(integ_hostile_peer SOURCES integration/integ_hostile_peer.c
              ${INTEG_COMMON} TIMEOUT 300)
