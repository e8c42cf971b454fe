# The documents' worked examples are checked against the code.
add_executable(protocol_example docs/protocol_example.c)
target_include_directories(protocol_example PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(protocol_example PRIVATE vmsg_internal)
add_test(NAME docs_protocol_example
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/docs/check_example.sh
                 $<TARGET_FILE:protocol_example> ${CMAKE_SOURCE_DIR}/docs/protocol.md)

# docs/quickstart.md, run as a reader would against an installed copy of
# this build (tests/docs/quickstart.sh, tests/docs/run_doc.py).
if(VMSG_HAVE_VMSGD AND TARGET xensim)
  add_test(NAME docs_quickstart
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/docs/quickstart.sh
                   ${CMAKE_COMMAND} ${CMAKE_BINARY_DIR} "${VMSG_CONSUMER_FLAGS}")
  set_tests_properties(docs_quickstart PROPERTIES TIMEOUT 240 LABELS sim)
endif()
