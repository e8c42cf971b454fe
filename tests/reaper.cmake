# vmsg-test-reaper (tests/reaper/reaper.c): scripts/test.sh runs ctest under
# it, as the subreaper of everything the tests start, and fails a flavour
# whose tests left a process running. reaper_leftovers checks it against
# commands whose leftovers are known (tests/reaper/selftest.sh).
add_executable(vmsg-test-reaper reaper/reaper.c)
set_target_properties(vmsg-test-reaper PROPERTIES
                      RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
add_test(NAME reaper_leftovers
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/reaper/selftest.sh
                 $<TARGET_FILE:vmsg-test-reaper>)
set_tests_properties(reaper_leftovers PROPERTIES TIMEOUT 60)
