# Freestanding errno values agree with libc's; every error has a text.
add_library(vmsg_test_errno_fs OBJECT errno/errno_values.c)
target_include_directories(vmsg_test_errno_fs PRIVATE ${CMAKE_SOURCE_DIR}/lib/internal)
target_compile_options(vmsg_test_errno_fs PRIVATE -ffreestanding)
vmsg_add_test(errno_match SOURCES errno/errno_match.c $<TARGET_OBJECTS:vmsg_test_errno_fs>)
