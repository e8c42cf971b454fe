# freestanding_nm: lib/ring and lib/frame compile with no libc headers and
# need nothing from the world but memcpy/memmove/memset.
# VMSG_RING_SOURCES / VMSG_FRAME_SOURCES come from lib/CMakeLists.txt.

add_test(NAME freestanding_nm
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/freestanding/check_nm.sh
                 ${CMAKE_C_COMPILER} ${CMAKE_NM} ${PROJECT_SOURCE_DIR}
                 ${VMSG_RING_SOURCES} ${VMSG_FRAME_SOURCES})
set_tests_properties(freestanding_nm PROPERTIES TIMEOUT 120)

# freestanding_net: lib/net compiles the same way and needs, beyond those
# three, only the channel layer it runs on.
add_test(NAME freestanding_net
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/freestanding/check_nm.sh
                 ${CMAKE_C_COMPILER} ${CMAKE_NM} ${PROJECT_SOURCE_DIR}
                 ${VMSG_NET_SOURCES})
set_tests_properties(freestanding_net PROPERTIES TIMEOUT 120
                     ENVIRONMENT "VMSG_NM_ALLOW=vmsg_chan_*")
