/* sim_xs_basic: Debian's xenstore-utils, unmodified, against
 * vmsg-xenstored as domain 0: write, read, list, ls, exists, rm, and a
 * directory too large for one reply (libxenstore's DIRECTORY_PART path). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmsg_test.h"
#include "xs_harness.h"

#define RUN(h, out, ...)                                                       \
	xsh_run((h), 0, (out), sizeof(out),                                    \
		(const char *const[]){__VA_ARGS__, NULL})

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

int main(int argc, char **argv)
{
	ASSERT_EQ(argc, 2);
	xsh_need_utils();
	struct xsh h;
	xsh_start(&h, argv[1]);
	static char out[65536];

	ASSERT_EQ(RUN(&h, out, "xenstore-write", "/vm/a", "hello world",
		      "/vm/b/c", "deep"),
		  0);
	ASSERT_EQ(RUN(&h, out, "xenstore-read", "/vm/a"), 0);
	ASSERT_TRUE(strcmp(out, "hello world\n") == 0);
	/* Missing intermediate node /vm/b was created, with an empty value. */
	ASSERT_EQ(RUN(&h, out, "xenstore-read", "/vm/b"), 0);
	ASSERT_TRUE(strcmp(out, "\n") == 0);
	ASSERT_EQ(RUN(&h, out, "xenstore-read", "/vm/b/c"), 0);
	ASSERT_TRUE(strcmp(out, "deep\n") == 0);

	ASSERT_EQ(RUN(&h, out, "xenstore-list", "/vm"), 0);
	ASSERT_TRUE(strcmp(out, "a\nb\n") == 0);
	ASSERT_EQ(RUN(&h, out, "xenstore-ls", "-p", "/vm"), 0);
	ASSERT_TRUE(strstr(out, "a = \"hello world\"") != NULL);
	ASSERT_TRUE(strstr(out, "c = \"deep\"") != NULL);
	ASSERT_TRUE(strstr(out, "(n0)") != NULL);

	ASSERT_EQ(RUN(&h, out, "xenstore-exists", "/vm/b/c"), 0);
	ASSERT_NE(RUN(&h, out, "xenstore-exists", "/vm/nope"), 0);
	ASSERT_NE(RUN(&h, out, "xenstore-read", "/vm/nope"), 0);
	/* Xen's name rules: no "//", no trailing '/', no '.'. */
	ASSERT_NE(RUN(&h, out, "xenstore-write", "/vm//x", "1"), 0);
	ASSERT_NE(RUN(&h, out, "xenstore-write", "/vm/x.y", "1"), 0);

	/* rm is recursive. */
	ASSERT_EQ(RUN(&h, out, "xenstore-rm", "/vm/b"), 0);
	ASSERT_NE(RUN(&h, out, "xenstore-exists", "/vm/b/c"), 0);
	ASSERT_NE(RUN(&h, out, "xenstore-exists", "/vm/b"), 0);
	ASSERT_EQ(RUN(&h, out, "xenstore-list", "/vm"), 0);
	ASSERT_TRUE(strcmp(out, "a\n") == 0);

	/* 300 children of 24 characters: more than one 4096-byte reply. */
	static const char *wargv[2 + 600 + 1];
	static char names[300][64];
	wargv[0] = "xenstore-write";
	for (int i = 0; i < 300; i++) {
		snprintf(names[i], sizeof(names[i]),
			 "/big/child-name-padding-%03d", i);
		wargv[1 + 2 * i] = names[i];
		wargv[2 + 2 * i] = "v";
	}
	wargv[601] = NULL;
	ASSERT_EQ(xsh_run(&h, 0, out, sizeof(out), wargv), 0);
	ASSERT_EQ(RUN(&h, out, "xenstore-list", "/big"), 0);
	ASSERT_EQ(count_lines(out), 300);
	ASSERT_TRUE(strstr(out, "child-name-padding-000\n") != NULL);
	ASSERT_TRUE(strstr(out, "child-name-padding-299\n") != NULL);

	ASSERT_EQ(RUN(&h, out, "xenstore-rm", "/big"), 0);
	ASSERT_NE(RUN(&h, out, "xenstore-exists", "/big"), 0);

	xsh_stop(&h);
	return 0;
}
