/* Compiled with -ffreestanding: the errno values the freestanding core
 * returns (vmsg_errno.h's enum, not libc's macros), in the list's order. */
#include "vmsg_errno.h"

#if __STDC_HOSTED__
#error "this file must be compiled freestanding"
#endif

#define FS_VALUE(name, value, text) name,
const int vmsg_test_fs_errnos[] = {VMSG_ERRNO_LIST(FS_VALUE)};
#undef FS_VALUE
#define FS_NAME(name, value, text) #name,
const char *const vmsg_test_fs_names[] = {VMSG_ERRNO_LIST(FS_NAME)};
#undef FS_NAME
const unsigned vmsg_test_fs_count =
	sizeof vmsg_test_fs_errnos / sizeof vmsg_test_fs_errnos[0];
