# deb_packages (label pkg): builds the Debian packages from a copy of the
# source tree with dpkg-buildpackage, runs lintian (no error, no warning),
# installs them into a debootstrap chroot and runs the key-value demo there
# from the installed paths (tests/deb/run.sh, docs/packages.md). The build
# takes both cores: it runs alone (PROCESSORS 2 under ctest -j2). The
# packages are the same whatever this build's flavour: only the plain
# build runs it (scripts/test.sh's release flavour).
if(NOT VMSG_SANITIZE AND NOT VMSG_TSAN AND NOT VMSG_FUZZ)
  add_test(NAME deb_packages
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/deb/run.sh ${PROJECT_SOURCE_DIR})
  set_tests_properties(deb_packages PROPERTIES TIMEOUT 1200 SKIP_RETURN_CODE 77
                       LABELS pkg PROCESSORS 2)
endif()
