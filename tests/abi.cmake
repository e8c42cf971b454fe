# The ABI of libvmsg.so (docs/abi.md, tests/abi/check.sh): the exported
# symbols are exactly the explicit list of lib/vmsg.map and the installed
# headers' declarations, and abidiff finds no change against the committed
# baseline abi/<soname>.xml. Both fail with the command that records a
# change on purpose (scripts/abi-update.sh).
add_test(NAME abi_symbols
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/abi/check.sh symbols
                 ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
add_test(NAME abi_abidiff
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/abi/check.sh abidiff
                 ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
set_tests_properties(abi_symbols abi_abidiff PROPERTIES TIMEOUT 120 LABELS abi)
