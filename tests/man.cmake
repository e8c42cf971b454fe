# man_pages: install this build into a temporary prefix; every installed
# command has its man page and every --option its --help prints is in it
# (tests/man/check.sh).
if(VMSG_MAN)
  add_test(NAME man_pages
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/man/check.sh
                   ${CMAKE_COMMAND} ${CMAKE_BINARY_DIR})
  set_tests_properties(man_pages PROPERTIES TIMEOUT 180 LABELS install)
endif()
