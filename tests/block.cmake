# The block protocol (lib/block, docs/block.md).

# nbdkit is not built with the sanitizers: to load the ASan flavour of the
# plugin it needs the ASan runtime first (the NBD scripts preload it).
set(VMSG_NBDKIT_PRELOAD "")
if(VMSG_SANITIZE)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE VMSG_NBDKIT_PRELOAD OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()
vmsg_add_test(block_basic SOURCES block/block_basic.c LIBS pthread TIMEOUT 120 LABELS block)
vmsg_add_test(block_hostile SOURCES block/block_hostile.c LIBS pthread TIMEOUT 120 LABELS block)
if(TARGET vmsg-blockd)
  vmsg_add_test(block_blockd SOURCES block/block_blockd.c LIBS pthread TIMEOUT 180 LABELS block)
  target_compile_definitions(block_blockd PRIVATE BLOCKD_BIN="$<TARGET_FILE:vmsg-blockd>")
  if(VMSG_HAVE_XEN) # vmsg-blockd --xen
    target_compile_definitions(block_blockd PRIVATE BLOCKD_XEN)
  endif()
  add_dependencies(block_blockd vmsg-blockd)
endif()
# The same tests with the disk behind nbdkit's file plugin and
# vmsg-blockd --nbd in front (the nbd backend, dom0/blockd/nbd.c).
find_program(VMSG_NBDKIT_BIN nbdkit)
if(TARGET vmsg-blockd AND VMSG_BLOCKD_NBD AND VMSG_NBDKIT_BIN)
  vmsg_add_test(block_blockd_nbd SOURCES block/block_blockd.c LIBS pthread TIMEOUT 180 LABELS block)
  target_compile_definitions(block_blockd_nbd PRIVATE BLOCKD_BIN="$<TARGET_FILE:vmsg-blockd>" BLOCKD_VIA_NBD)
  add_dependencies(block_blockd_nbd vmsg-blockd)
endif()
# The plugin without nbdkit: loaded with dlopen and called as nbdkit
# would (nbd_plugin_threads: 24 threads at once on one handle;
# nbd_plugin_timeout: timeout= against a silent and a slow provider);
# nbdkit_error and friends come from the test (exported to the plugin, and
# nothing else: --dynamic-list).
if(TARGET nbdkit-vmsg-plugin)
  foreach(t nbd_plugin_threads nbd_plugin_timeout)
    vmsg_add_test(${t} SOURCES block/${t}.c LIBS pthread ${CMAKE_DL_LIBS}
                  TIMEOUT 120 LABELS block)
    target_compile_definitions(${t} PRIVATE PLUGIN_SO="$<TARGET_FILE:nbdkit-vmsg-plugin>")
    target_link_options(${t} PRIVATE
                        -Wl,--dynamic-list=${CMAKE_CURRENT_SOURCE_DIR}/block/nbdkit_calls.list)
    add_dependencies(${t} nbdkit-vmsg-plugin)
  endforeach()
endif()
# The appliances' limit on a silent lower disk (timeout=, vmsg-overlay
# --timeout): the overlays over a silent and a slow base, the mirror with
# a silent and a slow leg, on the host backend.
if(TARGET overlay-appliance AND TARGET mirror-appliance AND TARGET vmsg-overlay)
  vmsg_add_test(blk_app_timeout SOURCES block/blk_app_timeout.c LIBS pthread
                TIMEOUT 180 LABELS block)
  target_compile_definitions(blk_app_timeout PRIVATE
                             OVERLAY_APPLIANCE="$<TARGET_FILE:overlay-appliance>"
                             MIRROR_APPLIANCE="$<TARGET_FILE:mirror-appliance>"
                             VMSG_OVERLAY="$<TARGET_FILE:vmsg-overlay>")
  add_dependencies(blk_app_timeout overlay-appliance mirror-appliance vmsg-overlay)
endif()
# SIGTERM ends the block appliances' Linux programs in order (vmsg-ramdisk,
# vmsg-overlay and the SDK's -appliance programs on the host backend): the
# consumer's requests answered (within the grace, for one that takes no
# replies), its channel closed, the socket removed, exit 0.
vmsg_add_test(blk_app_sigterm SOURCES block/blk_app_sigterm.c LIBS pthread
              TIMEOUT 180 LABELS block)
target_compile_definitions(blk_app_sigterm PRIVATE
                           VMSG_RAMDISK="$<TARGET_FILE:vmsg-ramdisk>"
                           VMSG_OVERLAY="$<TARGET_FILE:vmsg-overlay>")
add_dependencies(blk_app_sigterm vmsg-ramdisk vmsg-overlay)
if(TARGET ramdisk-appliance AND TARGET overlay-appliance AND
   TARGET mirror-appliance)
  target_compile_definitions(blk_app_sigterm PRIVATE
                             RAMDISK_APPLIANCE="$<TARGET_FILE:ramdisk-appliance>"
                             OVERLAY_APPLIANCE="$<TARGET_FILE:overlay-appliance>"
                             MIRROR_APPLIANCE="$<TARGET_FILE:mirror-appliance>")
  add_dependencies(blk_app_sigterm ramdisk-appliance overlay-appliance
                   mirror-appliance)
endif()
if(TARGET vmsg-blockd AND TARGET nbdkit-vmsg-plugin)
  add_test(NAME nbd_chain
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/block/nbd_chain.sh
                   $<TARGET_FILE:vmsg-blockd> $<TARGET_FILE:nbdkit-vmsg-plugin>
                   $<TARGET_FILE:vmsg-ramdisk> $<TARGET_FILE:vmsg-overlay>)
  set_tests_properties(nbd_chain PROPERTIES TIMEOUT 180 LABELS block SKIP_RETURN_CODE 77
                       ENVIRONMENT "VMSG_NBDKIT_PRELOAD=${VMSG_NBDKIT_PRELOAD}")
endif()
if(TARGET vmsg-blockd AND VMSG_BLOCKD_NBD AND TARGET nbdkit-vmsg-plugin)
  add_test(NAME nbd_source
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/block/nbd_source.sh
                   $<TARGET_FILE:vmsg-blockd> $<TARGET_FILE:nbdkit-vmsg-plugin>)
  set_tests_properties(nbd_source PROPERTIES TIMEOUT 180 LABELS block SKIP_RETURN_CODE 77
                       ENVIRONMENT "VMSG_NBDKIT_PRELOAD=${VMSG_NBDKIT_PRELOAD}")
endif()
if(TARGET vmsg-blockd AND TARGET nbdkit-vmsg-plugin AND VMSG_HAVE_VMSGD AND TARGET xensim)
  add_test(NAME nbd_sim COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/block/nbd_sim.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(nbd_sim PROPERTIES TIMEOUT 240 LABELS "block;sim" SKIP_RETURN_CODE 77
                       ENVIRONMENT "VMSG_NBDKIT_PRELOAD=${VMSG_NBDKIT_PRELOAD}")
endif()
if(TARGET vmsg-blockd AND TARGET nbdkit-vmsg-plugin AND TARGET overlay-appliance AND TARGET xensim)
  add_test(NAME storage_xen_sim
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/block/storage_xen_sim.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(storage_xen_sim PROPERTIES TIMEOUT 240 LABELS "block;sim" SKIP_RETURN_CODE 77
                       ENVIRONMENT "VMSG_NBDKIT_PRELOAD=${VMSG_NBDKIT_PRELOAD}")
endif()
# The mirror appliance over two vmsg-blockd legs, one killed, then the other.
if(TARGET vmsg-blockd AND TARGET nbdkit-vmsg-plugin AND TARGET mirror-appliance AND TARGET xensim)
  add_test(NAME mirror_sim
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/block/mirror_sim.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(mirror_sim PROPERTIES TIMEOUT 240 LABELS "block;sim" SKIP_RETURN_CODE 77
                       ENVIRONMENT "VMSG_NBDKIT_PRELOAD=${VMSG_NBDKIT_PRELOAD}")
endif()
