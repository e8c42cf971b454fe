# The Xen backend (lib/xen) on the simulated Xen: vmsg to vmsg, vmsg to
# Debian's unmodified libxenvchan both ways, permissions against a third
# domain, and throughput figures. Each test uses its own XENSIM_DIR
# (sim_harness.h) and stops the daemon when it ends. Needs vmsg_sim_test()
# from sim_xen.cmake, which the glob includes first.
if(VMSG_HAVE_XEN AND COMMAND vmsg_sim_test AND TARGET xensim)
  pkg_check_modules(XENB_VCHAN IMPORTED_TARGET xenvchan xenstore
                    xengnttab xenevtchn)
  function(vmsg_xen_test name)
    vmsg_sim_test(${name} ${ARGN})
    target_include_directories(${name} PRIVATE
                               ${CMAKE_CURRENT_SOURCE_DIR}/xen_backend)
  endfunction()

  vmsg_xen_test(xen_vmsg_pair SOURCES xen_backend/xen_vmsg_pair.c
                TIMEOUT 600)
  vmsg_xen_test(xen_waitset SOURCES xen_backend/xen_waitset.c TIMEOUT 300)
  vmsg_xen_test(xen_publish_again SOURCES xen_backend/xen_publish_again.c
                TIMEOUT 120)
  vmsg_xen_test(xen_lookup SOURCES xen_backend/xen_lookup.c TIMEOUT 120)
  vmsg_xen_test(xen_quota SOURCES xen_backend/xen_quota.c TIMEOUT 120)
  if(XENB_VCHAN_FOUND)
    vmsg_xen_test(xen_interop_vmsg_server SOURCES xen_backend/xen_interop.c
                  LIBS PkgConfig::XENB_VCHAN TIMEOUT 1200 ARGS vmsg-server)
    vmsg_xen_test(xen_interop_vmsg_client SOURCES xen_backend/xen_interop.c
                  LIBS PkgConfig::XENB_VCHAN TIMEOUT 1200 ARGS vmsg-client)
    vmsg_xen_test(xen_perms SOURCES xen_backend/xen_perms.c
                  LIBS PkgConfig::XENB_VCHAN TIMEOUT 300)
    vmsg_xen_test(xen_dom0_death SOURCES xen_backend/xen_dom0_death.c
                  LIBS PkgConfig::XENB_VCHAN TIMEOUT 120)
    vmsg_xen_test(xen_throughput SOURCES xen_backend/xen_throughput.c
                  LIBS PkgConfig::XENB_VCHAN TIMEOUT 900)
  endif()
endif()
