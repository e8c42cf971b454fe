# What a newcomer sees: every command's error messages and exit statuses
# for wrong usage, a bad policy file, no Xen, a second vmsgd, vmsgd in a
# guest (tests/cli/cli_errors.sh; the simulator cases are label sim).
if(VMSG_HAVE_VMSGD AND TARGET xensim)
  add_test(NAME cli_errors
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/cli_errors.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(cli_errors PROPERTIES TIMEOUT 120 LABELS sim)
endif()
