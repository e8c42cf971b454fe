/* proto_arena: the bounded arena hands out 8-byte aligned, non-overlapping
 * blocks from the caller's buffer only, returns NULL (never wraps) when a
 * request does not fit however large it is, and starts over at reset. */
#include <errno.h>
#include <stdint.h>

#include <vmsg/proto.h>

#include "../lib/proto/arena_private.h"
#include "vmsg_test.h"

_Alignas(8) static unsigned char buf[4096 + 8];

#define IN_BUF(p, n)                                                           \
	((unsigned char *)(p) >= buf &&                                        \
	 (unsigned char *)(p) + (n) <= buf + sizeof buf)

static void test_init_errors(void)
{
	struct vmsg_arena a;
	ASSERT_EQ(vmsg_arena_init(NULL, buf, 64), -EINVAL);
	ASSERT_EQ(vmsg_arena_init(&a, NULL, 64), -EINVAL);
	/* NULL with 0 bytes: an arena where everything fails. */
	ASSERT_EQ(vmsg_arena_init(&a, NULL, 0), 0);
	ASSERT_TRUE(vmsg_arena_alloc(&a, 1) == NULL);
	ASSERT_TRUE(vmsg_arena_alloc(&a, 0) == NULL);
	/* A buffer smaller than its own misalignment has no room at all. */
	ASSERT_EQ(vmsg_arena_init(&a, buf + 1, 3), 0);
	ASSERT_TRUE(vmsg_arena_alloc(&a, 1) == NULL);
	ASSERT_TRUE(vmsg_arena_alloc(NULL, 1) == NULL);
}

static void test_alignment(void)
{
	for (size_t off = 0; off < 8; off++) {
		struct vmsg_arena a;
		ASSERT_EQ(vmsg_arena_init(&a, buf + off, 4096), 0);
		unsigned char *prev_end = NULL;
		for (size_t sz = 0; sz < 40; sz++) {
			unsigned char *p = vmsg_arena_alloc(&a, sz);
			ASSERT_TRUE(p != NULL);
			ASSERT_EQ((uintptr_t)p % 8, 0);
			ASSERT_TRUE(IN_BUF(p, sz));
			ASSERT_TRUE(p >= buf + off);
			/* Blocks do not overlap: each starts at or after the
			 * previous one's end. */
			if (prev_end)
				ASSERT_TRUE(p >= prev_end);
			memset(p, 0xa5, sz);
			prev_end = p + sz;
		}
		ASSERT_EQ(vmsg_arena_used(&a) % 8, 0);
	}
}

static void test_exhaustion(void)
{
	struct vmsg_arena a;
	ASSERT_EQ(vmsg_arena_init(&a, buf, 64), 0);
	ASSERT_TRUE(vmsg_arena_alloc(&a, 60) != NULL); /* takes 64 */
	ASSERT_EQ(vmsg_arena_used(&a), 64);
	ASSERT_TRUE(vmsg_arena_alloc(&a, 1) == NULL);
	ASSERT_EQ(vmsg_arena_used(&a), 64);
	/* 0 bytes still gets a pointer (protobuf-c treats NULL as failure),
	 * at the end of the arena, to which nothing may be written. */
	void *z = vmsg_arena_alloc(&a, 0);
	ASSERT_TRUE(z == buf + 64);

	/* Exactly full, then empty again. */
	vmsg_arena_reset(&a);
	for (int i = 0; i < 8; i++)
		ASSERT_TRUE(vmsg_arena_alloc(&a, 8) != NULL);
	ASSERT_TRUE(vmsg_arena_alloc(&a, 8) == NULL);
	ASSERT_TRUE(vmsg_arena_alloc(&a, 1) == NULL);
}

static void test_huge_sizes(void)
{
	static const size_t huge[] = {
		SIZE_MAX,         SIZE_MAX - 1,   SIZE_MAX - 7,
		SIZE_MAX - 8,     SIZE_MAX - 4095, SIZE_MAX / 2,
		SIZE_MAX / 2 + 1, (size_t)1 << 40, 4097,
	};
	struct vmsg_arena a;
	ASSERT_EQ(vmsg_arena_init(&a, buf, 4096), 0);
	ASSERT_TRUE(vmsg_arena_alloc(&a, 24) != NULL);
	for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
		ASSERT_TRUE(vmsg_arena_alloc(&a, huge[i]) == NULL);
		ASSERT_EQ(vmsg_arena_used(&a), 24);
		ASSERT_TRUE(vmsg__arena_scratch_take(&a, huge[i]) == NULL);
	}
	/* Nothing was lost to the failures. */
	ASSERT_TRUE(vmsg_arena_alloc(&a, 4096 - 24) != NULL);
	ASSERT_TRUE(vmsg_arena_alloc(&a, 1) == NULL);
}

static void test_reset(void)
{
	struct vmsg_arena a;
	ASSERT_EQ(vmsg_arena_init(&a, buf + 3, 100), 0);
	void *first = vmsg_arena_alloc(&a, 10);
	ASSERT_TRUE(first != NULL);
	ASSERT_TRUE(vmsg_arena_alloc(&a, 50) != NULL);
	ASSERT_TRUE(vmsg_arena_alloc(&a, 50) == NULL);
	vmsg_arena_reset(&a);
	ASSERT_EQ(vmsg_arena_used(&a), 0);
	ASSERT_TRUE(vmsg_arena_alloc(&a, 10) == first);
	/* The whole usable buffer (100 - 5 alignment bytes, rounded down to
	 * 88) is available again. */
	vmsg_arena_reset(&a);
	ASSERT_TRUE(vmsg_arena_alloc(&a, 88) != NULL);
	ASSERT_TRUE(vmsg_arena_alloc(&a, 1) == NULL);
	vmsg_arena_reset(NULL); /* ignored */
}

static void test_allocator_face(void)
{
	struct vmsg_arena a;
	ASSERT_EQ(vmsg_arena_init(&a, buf, 32), 0);
	ProtobufCAllocator *pa = vmsg_arena_allocator(&a);
	ASSERT_TRUE(pa == &a.allocator);
	void *p = pa->alloc(pa->allocator_data, 16);
	ASSERT_TRUE(p == buf);
	pa->free(pa->allocator_data, p); /* a no-op: space not returned */
	ASSERT_EQ(vmsg_arena_used(&a), 16);
	ASSERT_TRUE(pa->alloc(pa->allocator_data, 16) == buf + 16);
	ASSERT_TRUE(pa->alloc(pa->allocator_data, 1) == NULL);
}

static void test_scratch(void)
{
	/* Scratch comes from the far end, the bump allocator from the near
	 * end; they never overlap, and giving scratch back frees its room. */
	struct vmsg_arena a;
	ASSERT_EQ(vmsg_arena_init(&a, buf, 128), 0);
	unsigned char *s = vmsg__arena_scratch_take(&a, 40);
	ASSERT_TRUE(s == buf + 128 - 40);
	ASSERT_TRUE(vmsg_arena_alloc(&a, 88) != NULL);
	ASSERT_TRUE(vmsg_arena_alloc(&a, 1) == NULL);
	vmsg__arena_scratch_put(&a);
	ASSERT_TRUE(vmsg_arena_alloc(&a, 40) != NULL);
	ASSERT_TRUE(vmsg__arena_scratch_take(&a, 1) == NULL);

	/* Rollback to a mark frees what came after it. */
	vmsg_arena_reset(&a);
	ASSERT_TRUE(vmsg_arena_alloc(&a, 16) != NULL);
	size_t m = vmsg__arena_mark(&a);
	ASSERT_TRUE(vmsg_arena_alloc(&a, 100) != NULL);
	ASSERT_TRUE(vmsg_arena_alloc(&a, 100) == NULL);
	ASSERT_TRUE(vmsg__arena_failed(&a));
	vmsg__arena_rollback(&a, m);
	ASSERT_EQ(vmsg_arena_used(&a), 16);
	ASSERT_EQ(vmsg__arena_mark(&a), 16);
	ASSERT_TRUE(!vmsg__arena_failed(&a));
}

int main(void)
{
	test_init_errors();
	test_alignment();
	test_exhaustion();
	test_huge_sizes();
	test_reset();
	test_allocator_face();
	test_scratch();
	printf("proto_arena: ok\n");
	return 0;
}
