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

# The pages with commands, run as a reader would (tests/docs/doc.sh,
# tests/docs/run_doc.py): every file and command block in order, in a
# private directory where build/release is this build, with this build
# also installed on PATH. vmsg_doc_test(NAME DOC TIMEOUT LABELS [--netns]);
# run_doc.py stops a page 20 s before TIMEOUT (VMSG_DOC_TIMEOUT), so that
# a page that hangs is stopped by the runner, which cleans up, not killed.
function(vmsg_doc_test name doc timeout labels)
  add_test(NAME ${name}
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/docs/doc.sh ${CMAKE_COMMAND}
                   ${CMAKE_BINARY_DIR} "${VMSG_CONSUMER_FLAGS}"
                   ${CMAKE_SOURCE_DIR}/${doc} ${ARGN})
  math(EXPR page_timeout "${timeout} - 20")
  set_tests_properties(${name} PROPERTIES TIMEOUT ${timeout} LABELS "${labels}"
                       SKIP_RETURN_CODE 77
                       ENVIRONMENT "VMSG_NBDKIT_PRELOAD=${VMSG_NBDKIT_PRELOAD};VMSG_DOC_TIMEOUT=${page_timeout}")
endfunction()
vmsg_doc_test(docs_readme README.md 120 docs)
if(VMSG_HAVE_VMSGD AND TARGET xensim)
  vmsg_doc_test(docs_quickstart docs/quickstart.md 240 sim)
endif()
if(VMSG_HAVE_VMSGD AND TARGET xensim AND TARGET nbdkit-vmsg-plugin)
  vmsg_doc_test(docs_storage docs/storage.md 240 "sim;block")
endif()
if(VMSG_HAVE_VMSGD AND TARGET xensim)
  vmsg_doc_test(docs_vmsg_cat docs/vmsg-cat.md 120 sim)
endif()
if(VMSG_HAVE_VMSGD)
  vmsg_doc_test(docs_vmsgd docs/vmsgd.md 120 docs)
endif()
if(TARGET xensim AND TARGET xenvchan_dropin)
  vmsg_doc_test(docs_libxenvchan docs/libxenvchan.md 120 sim)
endif()
if(VMSG_HAVE_VMSGD AND TARGET xensim AND TARGET echo-appliance)
  vmsg_doc_test(docs_unikernel docs/unikernel.md 180 sim)
endif()
if(VMSG_HAVE_VMSGD AND TARGET xensim AND TARGET l2switch AND TARGET vmsg-tap AND
   TARGET l2switch-appliance)
  vmsg_doc_test(docs_network docs/network.md 240 "sim;net;netns" --netns)
endif()

# docs/block.md's worked example (the block protocol's frames).
add_executable(block_example docs/block_example.c)
target_include_directories(block_example PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(block_example PRIVATE vmsg_internal)
add_test(NAME docs_block_example
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/docs/check_example.sh
                 $<TARGET_FILE:block_example> ${CMAKE_SOURCE_DIR}/docs/block.md)
set_tests_properties(docs_block_example PROPERTIES LABELS block)

# docs/net.md's worked example: a HELLO and a frame as lib/net writes them.
add_executable(net_example docs/net_example.c)
target_include_directories(net_example PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(net_example PRIVATE vmsg_internal)
add_test(NAME docs_net_example
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/docs/check_example.sh
                 $<TARGET_FILE:net_example> ${CMAKE_SOURCE_DIR}/docs/net.md)
