# Real Xen under QEMU (tests/xen/, docs/testing.md "Real Xen under QEMU"):
# one test, xen_qemu, that builds (or takes from its cache) a Xen 4.17 +
# Debian dom0 + guest image set, packs this build's libvmsg and the programs
# below into it, boots it in QEMU and runs every scenario of
# tests/xen/scenarios/ inside dom0.
#
# The programs run inside the domains, not on the host: a checked stream over
# libvmsg's Xen backend, the same over Debian's libxenvchan, and a grant
# mapping probe. They go to <build>/tests/xen/, where run-scenarios.sh looks.
pkg_check_modules(XENQ_VCHAN IMPORTED_TARGET xenvchan)
pkg_check_modules(XENQ_GNTTAB IMPORTED_TARGET xengnttab)

if(VMSG_HAVE_XEN AND XENQ_VCHAN_FOUND AND XENQ_GNTTAB_FOUND)
  set(XENQ_OUT ${CMAKE_CURRENT_BINARY_DIR}/xen)

  add_executable(vmsg-xen-stream xen/xen_stream.c)
  target_link_libraries(vmsg-xen-stream PRIVATE vmsg)

  add_executable(vchan-xen-stream xen/xen_stream.c)
  target_compile_definitions(vchan-xen-stream PRIVATE XS_VCHAN)
  target_link_libraries(vchan-xen-stream PRIVATE PkgConfig::XENQ_VCHAN)

  add_executable(xen-grant-probe xen/xen_grant_probe.c)
  target_link_libraries(xen-grant-probe PRIVATE PkgConfig::XENQ_GNTTAB)

  # Scenario dropin-pv: the UNIX-socket ends of vchan-socket-proxy.
  add_executable(unix-check xen/unix_check.c)

  # Scenario storage: a PV guest's reads and writes of a dom0 disk
  # through lib/block, checksummed.
  add_executable(blk-check xen/blk_check.c)
  target_link_libraries(blk-check PRIVATE vmsg)

  set_target_properties(vmsg-xen-stream vchan-xen-stream xen-grant-probe unix-check blk-check
                        PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${XENQ_OUT})

  # Boots QEMU (software emulation, 2 vCPUs): minutes, more on a cold image
  # cache (debootstrap, about 3 min). The boot has its own limit (--timeout,
  # 1800 s); this one covers a cold cache on top. Skips (77) without root
  # or QEMU. vmsgd and vmsgctl (dom0/) go into the image when they are
  # built; the vmsgd-* scenarios fail without them.
  add_test(NAME xen_qemu
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/xen/run-scenarios.sh
                   --build-dir ${CMAKE_BINARY_DIR})
  set_tests_properties(xen_qemu PROPERTIES TIMEOUT 2400 LABELS xen
                       SKIP_RETURN_CODE 77
                       # one emulated machine at a time: two would share
                       # the cores and each run twice as long
                       RESOURCE_LOCK vmsg_qemu)
endif()
