# freestanding_nm: lib/ring and lib/frame compile with no libc headers and
# need nothing from the world but memcpy/memmove/memset.
# VMSG_RING_SOURCES / VMSG_FRAME_SOURCES come from lib/CMakeLists.txt.

add_test(NAME freestanding_nm
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/freestanding/check_nm.sh
                 ${CMAKE_C_COMPILER} ${CMAKE_NM} ${PROJECT_SOURCE_DIR}
                 ${VMSG_RING_SOURCES} ${VMSG_FRAME_SOURCES})
set_tests_properties(freestanding_nm PROPERTIES TIMEOUT 120)

# freestanding_block: lib/block (and the appliances' cores, with the
# lower disks' limit on silence, blk_lower.c) compiles as a unikernel would and, linked
# with the layers below it (ring, frame, chan), needs nothing from the
# world but memcpy/memmove/memset either (its clock and memory come from
# the platform table and the caller).
set(VMSG_CHAN_FS_SOURCES ${VMSG_CHAN_SOURCES})
list(FILTER VMSG_CHAN_FS_SOURCES EXCLUDE REGEX "version\\.c$") # a generated header
add_test(NAME freestanding_block
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/freestanding/check_nm.sh
                 ${CMAKE_C_COMPILER} ${CMAKE_NM} ${PROJECT_SOURCE_DIR}
                 ${VMSG_RING_SOURCES} ${VMSG_FRAME_SOURCES}
                 ${VMSG_CHAN_FS_SOURCES} ${VMSG_BLOCK_SOURCES}
                 ${PROJECT_SOURCE_DIR}/examples/blk-ramdisk/ramdisk.c
                 ${PROJECT_SOURCE_DIR}/examples/blk-overlay/overlay.c
                 ${PROJECT_SOURCE_DIR}/examples/blk-mirror/mirror.c
                 ${PROJECT_SOURCE_DIR}/examples/blk-common/blk_lower.c)
set_tests_properties(freestanding_block PROPERTIES TIMEOUT 120 LABELS block
                     ENVIRONMENT "VMSG_NM_INCLUDES=${PROJECT_SOURCE_DIR}/examples/blk-common")

# freestanding_net: lib/net compiles the same way and needs, beyond those
# three, only the channel layer it runs on.
add_test(NAME freestanding_net
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/freestanding/check_nm.sh
                 ${CMAKE_C_COMPILER} ${CMAKE_NM} ${PROJECT_SOURCE_DIR}
                 ${VMSG_NET_SOURCES})
set_tests_properties(freestanding_net PROPERTIES TIMEOUT 120
                     ENVIRONMENT "VMSG_NM_ALLOW=vmsg_chan_*")
