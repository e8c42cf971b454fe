/* util_fmt: the freestanding formatter (lib/util/fmt.c) prints what libc's
 * snprintf prints for every conversion it supports, cuts and terminates
 * like it, and returns the whole length like it. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vmsg_fmt.h"
#include "vmsg_test.h"

#define SAME(...)                                                              \
	do {                                                                   \
		char a[64], b[64];                                             \
		int ra = vmsg__snprintf(a, sizeof a, __VA_ARGS__);             \
		int rb = snprintf(b, sizeof b, __VA_ARGS__);                   \
		if (ra != rb || strcmp(a, b) != 0)                             \
			VMSG_TEST_FAIL("'%s' (%d) vs libc '%s' (%d)", a, ra,   \
				       b, rb);                                 \
	} while (0)

int main(void)
{
	SAME("plain text");
	SAME("%u %d %i %x", 0u, -1, 42, 0xbeefu);
	SAME("%lu %llu %zu", (unsigned long)UINT64_MAX, 12345678901ull,
	     (size_t)7);
	SAME("%ld %lld", (long)INT64_MIN, -9000000000ll);
	SAME("[%5u] [%05u] [%3d] [%05d] [%08lx]", 42u, 42u, -7, -42,
	     0xabcdul);
	SAME("[%s] [%8s] [%c] [%%]", "str", "pad", 'z');
	SAME("%p", (void *)0x1234);
	SAME("/local/domain/%u/data/vchan/%u/%s", 32752u, 0u, "port");

	/* Cut: NUL-terminated, whole length returned. */
	char small[8];
	ASSERT_EQ(vmsg__snprintf(small, sizeof small, "%s-%u", "abcdef", 123u),
		  10);
	ASSERT_TRUE(strcmp(small, "abcdef-") == 0);
	ASSERT_EQ(vmsg__snprintf(small, 1, "x%u", 5u), 2);
	ASSERT_EQ(small[0], '\0');
	puts("the formatter prints as libc does");
	return 0;
}
