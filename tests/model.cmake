# The ring protocol's Promela model (tests/model/ring.pml), checked by
# Debian's spin, and its mutations, each of which spin must refute
# (tests/model/check.sh). A few seconds; needs spin (scripts/deps.sh):
# without it the test fails rather than skips.
add_test(NAME model_ring
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/model/check.sh
                 ${CMAKE_CURRENT_SOURCE_DIR}/model/ring.pml)
set_tests_properties(model_ring PROPERTIES TIMEOUT 120 LABELS model
                     ENVIRONMENT "CC=${CMAKE_C_COMPILER}")
