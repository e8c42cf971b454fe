# The documents' worked examples are checked against the code.
add_executable(protocol_example docs/protocol_example.c)
target_include_directories(protocol_example PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(protocol_example PRIVATE vmsg_internal)
add_test(NAME docs_protocol_example
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/docs/check_example.sh
                 $<TARGET_FILE:protocol_example> ${CMAKE_SOURCE_DIR}/docs/protocol.md)

# Every figure of the README and docs/ sits in a section bench/run-all
# generates from a committed result set in bench/results/: render them all
# again from those files (no benchmark runs) and fail on any difference.
find_program(VMSG_PYTHON3 python3)
if(VMSG_PYTHON3)
  add_test(NAME docs_figures
           COMMAND ${VMSG_PYTHON3} ${CMAKE_SOURCE_DIR}/bench/run-all --check)
  set_tests_properties(docs_figures PROPERTIES TIMEOUT 60)
endif()

# docs/quickstart.md, run as a reader would against an installed copy of
# this build (tests/docs/quickstart.sh, tests/docs/run_doc.py).
if(VMSG_HAVE_VMSGD AND TARGET xensim)
  add_test(NAME docs_quickstart
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/docs/quickstart.sh
                   ${CMAKE_COMMAND} ${CMAKE_BINARY_DIR} "${VMSG_CONSUMER_FLAGS}")
  set_tests_properties(docs_quickstart PROPERTIES TIMEOUT 240 LABELS sim)
endif()

# docs/block.md's worked example (the block protocol's frames).
add_executable(block_example docs/block_example.c)
target_include_directories(block_example PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(block_example PRIVATE vmsg_internal)
add_test(NAME docs_block_example
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/docs/check_example.sh
                 $<TARGET_FILE:block_example> ${CMAKE_SOURCE_DIR}/docs/block.md)
set_tests_properties(docs_block_example PROPERTIES LABELS block)
