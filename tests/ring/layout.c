/* ring_layout: struct vmsg_vchan_page is byte-for-byte libxenvchan's
 * struct vchan_interface, checked against the installed Xen header at
 * build time (_Static_assert: a mismatch fails the build) and again at run
 * time so ctest reports it, together with a page written by
 * vmsg_ring_page_init read back through the Xen struct. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <xen/io/libxenvchan.h>

#include <vmsg/ring.h>

#include "vmsg_test.h"

#define SAME_FIELD(f)                                                          \
	(offsetof(struct vmsg_vchan_page, f) ==                                \
		 offsetof(struct vchan_interface, f) &&                        \
	 sizeof(((struct vmsg_vchan_page *)0)->f) ==                           \
		 sizeof(((struct vchan_interface *)0)->f))

#define ASSERT_FIELD(f) _Static_assert(SAME_FIELD(f), "field " #f " differs")

_Static_assert(sizeof(struct vmsg_vchan_page) == sizeof(struct vchan_interface),
	       "size differs");
_Static_assert(_Alignof(struct vmsg_vchan_page) ==
		       _Alignof(struct vchan_interface),
	       "alignment differs");
_Static_assert(sizeof(struct vmsg_ring_shared) == sizeof(struct ring_shared),
	       "ring_shared size differs");
ASSERT_FIELD(left);
ASSERT_FIELD(left.cons);
ASSERT_FIELD(left.prod);
ASSERT_FIELD(right);
ASSERT_FIELD(right.cons);
ASSERT_FIELD(right.prod);
ASSERT_FIELD(left_order);
ASSERT_FIELD(right_order);
ASSERT_FIELD(cli_live);
ASSERT_FIELD(srv_live);
ASSERT_FIELD(cli_notify);
ASSERT_FIELD(srv_notify);
ASSERT_FIELD(grants[0]);
_Static_assert(offsetof(struct vmsg_vchan_page, grants) ==
		       offsetof(struct vchan_interface, grants),
	       "grants offset differs");
_Static_assert(offsetof(struct vchan_interface, grants) ==
		       VMSG_VCHAN_GRANTS_OFFSET,
	       "VMSG_VCHAN_GRANTS_OFFSET differs");
_Static_assert(VMSG_NOTIFY_WRITE == VCHAN_NOTIFY_WRITE, "NOTIFY_WRITE");
_Static_assert(VMSG_NOTIFY_READ == VCHAN_NOTIFY_READ, "NOTIFY_READ");

/* The same checks at run time, through volatile so nothing is folded away
 * unseen; prints each field. */
static int check_field(const char *name, size_t our_off, size_t xen_off,
		       size_t our_size, size_t xen_size)
{
	volatile size_t a = our_off, b = xen_off, c = our_size, d = xen_size;
	fprintf(stderr, "%-12s offset %2zu/%2zu size %zu/%zu\n", name, a, b, c,
		d);
	return a == b && c == d;
}

#define CHECK_FIELD(f)                                                         \
	ok &= check_field(#f, offsetof(struct vmsg_vchan_page, f),             \
			  offsetof(struct vchan_interface, f),                 \
			  sizeof(((struct vmsg_vchan_page *)0)->f),            \
			  sizeof(((struct vchan_interface *)0)->f))

int main(void)
{
	int ok = 1;
	CHECK_FIELD(left.cons);
	CHECK_FIELD(left.prod);
	CHECK_FIELD(right.cons);
	CHECK_FIELD(right.prod);
	CHECK_FIELD(left_order);
	CHECK_FIELD(right_order);
	CHECK_FIELD(cli_live);
	CHECK_FIELD(srv_live);
	CHECK_FIELD(cli_notify);
	CHECK_FIELD(srv_notify);
	CHECK_FIELD(grants[0]);
	ok &= check_field("(struct)", 0, 0, sizeof(struct vmsg_vchan_page),
			  sizeof(struct vchan_interface));
	ASSERT_TRUE(ok);
	ASSERT_EQ(VMSG_NOTIFY_WRITE, VCHAN_NOTIFY_WRITE);
	ASSERT_EQ(VMSG_NOTIFY_READ, VCHAN_NOTIFY_READ);

	/* A page initialised by vmsg reads back right through Xen's struct. */
	static _Alignas(4096) uint8_t mem[4096];
	uint32_t grants[3] = {0x11111111u, 0x22222222u, 0x33333333u};
	memset(mem, 0xee, sizeof(mem));
	ASSERT_EQ(vmsg_ring_page_init((struct vmsg_vchan_page *)mem, 13, 10,
				      grants, 1),
		  -EINVAL);
	ASSERT_EQ(vmsg_ring_page_init((struct vmsg_vchan_page *)mem, 12, 13,
				      grants, 3),
		  0);
	const struct vchan_interface *x = (const struct vchan_interface *)mem;
	ASSERT_EQ(x->left.cons, 0);
	ASSERT_EQ(x->left.prod, 0);
	ASSERT_EQ(x->right.cons, 0);
	ASSERT_EQ(x->right.prod, 0);
	ASSERT_EQ(x->left_order, 12);
	ASSERT_EQ(x->right_order, 13);
	ASSERT_EQ(x->cli_live, 2);
	ASSERT_EQ(x->srv_live, 1);
	ASSERT_EQ(x->cli_notify, VCHAN_NOTIFY_WRITE);
	ASSERT_EQ(x->srv_notify, VCHAN_NOTIFY_WRITE);
	ASSERT_EQ(x->grants[0], 0x11111111u);
	ASSERT_EQ(x->grants[1], 0x22222222u);
	ASSERT_EQ(x->grants[2], 0x33333333u);
	ASSERT_EQ(mem[VMSG_VCHAN_GRANTS_OFFSET + 12], 0xee);
	return 0;
}
