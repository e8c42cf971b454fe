# libvmsg-uv (vmsg/uv.h): a channel on a libuv loop. host_ in the name: the
# tsan flavour runs it (its two ends are threads of one process).
if(VMSG_HAVE_UV)
  add_test(NAME abi_uv_symbols COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/uv/symbols.sh
           ${CMAKE_SOURCE_DIR} $<TARGET_FILE:vmsg_uv>)
  set_tests_properties(abi_uv_symbols PROPERTIES TIMEOUT 60 LABELS abi)
  vmsg_add_test(host_uv_adapter SOURCES uv/host_uv_adapter.c
                LIBS vmsg_uv Threads::Threads TIMEOUT 120 LABELS host)
endif()
# Its example: uv-echo serving two channels from one loop.
if(TARGET uv-echo)
  add_executable(uv_echo_check uv/uv_echo_check.c)
  target_include_directories(uv_echo_check PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(uv_echo_check PRIVATE vmsg)
  add_test(NAME host_uv_echo COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/uv/uv_echo.sh
           $<TARGET_FILE:uv-echo> $<TARGET_FILE:uv_echo_check>)
  set_tests_properties(host_uv_echo PROPERTIES TIMEOUT 300 LABELS host)
endif()
