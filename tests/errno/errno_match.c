/* The one errno list (lib/internal/vmsg_errno.h): the values a freestanding
 * build returns are libc's (a unikernel and a Linux build of the same code
 * agree), and every error has its own text in vmsg_strerror(). The hosted
 * include below also checks each value against <errno.h> at compile time. */
#include <errno.h>

#include <vmsg/chan.h>

#include "vmsg_errno.h"
#include "vmsg_test.h"

extern const int vmsg_test_fs_errnos[];
extern const char *const vmsg_test_fs_names[];
extern const unsigned vmsg_test_fs_count;

int main(void)
{
#define HOSTED(name, value, text) {name, #name},
	static const struct {
		int value;
		const char *name;
	} libc[] = {VMSG_ERRNO_LIST(HOSTED)};
#undef HOSTED
	const unsigned n = sizeof libc / sizeof libc[0];
	ASSERT_EQ(vmsg_test_fs_count, n);
	for (unsigned i = 0; i < n; i++) {
		ASSERT_TRUE(strcmp(vmsg_test_fs_names[i], libc[i].name) == 0);
		ASSERT_EQ(vmsg_test_fs_errnos[i], libc[i].value);
		const char *t = vmsg_strerror(-libc[i].value);
		ASSERT_TRUE(strcmp(t, "unknown error") != 0);
		ASSERT_TRUE(strcmp(vmsg_strerror(libc[i].value), t) == 0);
		/* Its own text: no two rows share one. */
		for (unsigned k = 0; k < i; k++)
			ASSERT_TRUE(strcmp(vmsg_strerror(-libc[k].value), t) != 0);
	}
	/* The codes the vmsgd client and the platforms are known to return. */
	const int known[] = {ENOSPC, EMFILE, ENFILE, EPERM, ENOSYS, EROFS,
			     EISCONN, ENOTEMPTY, E2BIG, EISDIR};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		ASSERT_TRUE(strcmp(vmsg_strerror(-known[i]), "unknown error") != 0);
	ASSERT_TRUE(strcmp(vmsg_strerror(0), "success") == 0);
	ASSERT_TRUE(strcmp(vmsg_strerror(-4095), "unknown error") == 0);
	printf("%u errno values match libc's, each with its text\n", n);
	return 0;
}
