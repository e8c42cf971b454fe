# The mutant catalogue (tests/mutants/*.patch, scripts/mutants.sh) stays
# runnable: every patch applies and names tests that exist.
add_test(NAME mutants_apply
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/mutants/apply_check.sh
                 ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
set_tests_properties(mutants_apply PROPERTIES TIMEOUT 60 LABELS docs)
