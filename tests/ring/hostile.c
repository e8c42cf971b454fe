/* ring_hostile: a peer that writes impossible indices, rewrites ours, or
 * offers bad orders. Impossible indices give a sticky -EPROTO (never a hang
 * or a stray access: canaries and ASan watch); our own index in the page is
 * ignored in favour of the private copy; bad orders and NULLs are -EINVAL.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <vmsg/ring.h>

#include "ring_pair.h"
#include "vmsg_test.h"

static uint8_t buf[4096];

/* Every call on a broken end gives -EPROTO and moves nothing. */
static void assert_broken(struct vmsg_ring_end *e)
{
	const uint8_t *sp = NULL;
	ASSERT_EQ(e->error, -EPROTO);
	ASSERT_EQ(vmsg_ring_data_ready(e), -EPROTO);
	ASSERT_EQ(vmsg_ring_buffer_space(e), -EPROTO);
	ASSERT_EQ(vmsg_ring_read(e, buf, 1), -EPROTO);
	ASSERT_EQ(vmsg_ring_recv(e, buf, 1), -EPROTO);
	ASSERT_EQ(vmsg_ring_write(e, buf, 1), -EPROTO);
	ASSERT_EQ(vmsg_ring_send(e, buf, 1), -EPROTO);
	ASSERT_EQ(vmsg_ring_rx_span(e, &sp), -EPROTO);
}

/* The peer writes `prod` for the ring we read, with our cons at `cons`. */
static void hostile_prod(unsigned order, uint32_t cons, uint32_t prod,
			 int expect)
{
	struct ring_pair p;
	ring_pair_open(&p, order, order == 10 ? 11 : 10);
	ring_pair_fill_canary(&p, true, true);
	ring_pair_reset(&p, cons, 0);
	struct vmsg_ring_end *srv = &p.srv; /* reads left */
	uint32_t cons_before = p.page->left.cons;

	p.page->left.prod = prod;
	int r = vmsg_ring_data_ready(srv);
	ASSERT_EQ(r, expect);
	if (expect < 0) {
		/* Every entry point sees it, and it stays after the peer
		 * puts a sane value back. */
		assert_broken(srv);
		p.page->left.prod = cons;
		assert_broken(srv);
		ASSERT_EQ(p.page->left.cons, cons_before);
	} else {
		/* A full ring is legal and fully readable. */
		ASSERT_EQ(vmsg_ring_read(srv, buf, sizeof(buf)), expect);
		ASSERT_EQ(vmsg_ring_data_ready(srv), 0);
	}
	ring_pair_check_canary(&p, true, true);
	ring_pair_close(&p);
}

/* The peer writes `cons` for the ring we write, with our prod at `prod`. */
static void hostile_cons(unsigned order, uint32_t prod, uint32_t cons,
			 int expect)
{
	struct ring_pair p;
	ring_pair_open(&p, order == 10 ? 11 : 10, order);
	ring_pair_fill_canary(&p, true, true);
	ring_pair_reset(&p, 0, prod);
	struct vmsg_ring_end *srv = &p.srv; /* writes right */

	p.page->right.cons = cons;
	ASSERT_EQ(vmsg_ring_buffer_space(srv), expect);
	if (expect < 0) {
		assert_broken(srv);
		p.page->right.cons = prod;
		assert_broken(srv);
		ASSERT_EQ(p.page->right.prod, prod);
	} else {
		ASSERT_EQ(vmsg_ring_write(srv, buf, sizeof(buf)), expect);
		ASSERT_EQ(vmsg_ring_buffer_space(srv), 0);
	}
	ring_pair_check_canary(&p, true, true);
	ring_pair_close(&p);
}

static void test_indices(void)
{
	for (unsigned order = 10; order <= 11; order++) {
		uint32_t size = 1u << order;
		static const uint32_t bases[] = {0, 5, 0x7fffffff, 0xfffffff0u,
						 0xffffffffu};
		for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
			uint32_t c = bases[i];
			/* prod behind cons (cons > prod). */
			hostile_prod(order, c, c - 1, -EPROTO);
			hostile_prod(order, c, c - size, -EPROTO);
			/* One more than the ring holds. */
			hostile_prod(order, c, c + size + 1, -EPROTO);
			hostile_prod(order, c, c + 0x7fffffffu, -EPROTO);
			hostile_prod(order, c, c + 0x80000000u, -EPROTO);
			hostile_prod(order, c, c ^ 0xffffffffu,
				     (c ^ 0xffffffffu) - c <= size
					     ? (int)((c ^ 0xffffffffu) - c)
					     : -EPROTO);
			/* Exactly full and empty are fine. */
			hostile_prod(order, c, c + size, (int)size);
			hostile_prod(order, c, c, 0);

			/* cons ahead of our prod. */
			hostile_cons(order, c, c + 1, -EPROTO);
			hostile_cons(order, c, c + 0x80000000u, -EPROTO);
			/* More in flight than the ring holds. */
			hostile_cons(order, c, c - size - 1, -EPROTO);
			hostile_cons(order, c, c - 0x7fffffffu, -EPROTO);
			/* Exactly full and empty. */
			hostile_cons(order, c, c - size, 0);
			hostile_cons(order, c, c, (int)size);
		}
		hostile_prod(order, 0, 0xffffffffu, -EPROTO);
		hostile_cons(order, 0xffffffffu, 0, -EPROTO); /* cons ahead */
		hostile_cons(order, 0, 0xffffffffu, (int)size - 1);
	}
}

/* The peer rewrites the indices that are ours: ignored. */
static void test_own_index_rewrite(void)
{
	struct ring_pair p;
	ring_pair_open(&p, 10, 11);
	uint8_t in[16] = "0123456789abcde", got[16];

	/* Server writes 5 bytes to the right ring; the client overwrites the
	 * server's prod; the server's next write continues from 5. */
	ASSERT_EQ(vmsg_ring_write(&p.srv, in, 5), 5);
	p.page->right.prod = 1000;
	ASSERT_EQ(vmsg_ring_buffer_space(&p.srv), 2048 - 5);
	ASSERT_EQ(vmsg_ring_write(&p.srv, in + 5, 3), 3);
	ASSERT_EQ(p.page->right.prod, 8);
	ASSERT_EQ(p.srv.tx.idx, 8);
	ASSERT_EQ(vmsg_ring_read(&p.cli, got, sizeof(got)), 8);
	ASSERT_MEM_EQ(got, in, 8);

	/* Client writes 10 bytes to the left ring, the server reads 4; the
	 * client then rewrites the server's cons; the server keeps its own. */
	ASSERT_EQ(vmsg_ring_write(&p.cli, in, 10), 10);
	ASSERT_EQ(vmsg_ring_read(&p.srv, got, 4), 4);
	p.page->left.cons = 0x1234;
	ASSERT_EQ(vmsg_ring_data_ready(&p.srv), 6);
	const uint8_t *sp = NULL;
	ASSERT_EQ(vmsg_ring_rx_span(&p.srv, &sp), 6);
	ASSERT_TRUE(sp == p.srv.rx.data + 4);
	ASSERT_EQ(vmsg_ring_read(&p.srv, got, sizeof(got)), 6);
	ASSERT_MEM_EQ(got, in + 4, 6);
	ASSERT_EQ(p.page->left.cons, 10);
	ASSERT_EQ(p.srv.error, 0);

	/* The orders in the page are not looked at after init either. */
	p.page->left_order = 20;
	p.page->right_order = 0xffff;
	ASSERT_EQ(vmsg_ring_buffer_space(&p.cli), 1024);
	ASSERT_EQ(vmsg_ring_buffer_space(&p.srv), 2048);
	ring_pair_close(&p);
}

/* An impossible page at attach time: end_init says -EPROTO, sticky. */
static void test_init_hostile(void)
{
	struct ring_pair p;
	struct vmsg_ring_end e;
	ring_pair_open(&p, 10, 11);

	p.page->left.prod = 2000; /* server reads left: 2000 > 1024 */
	ASSERT_EQ(vmsg_ring_end_init(&e, p.page, true, p.ring[0], 10,
				     p.ring[1], 11),
		  -EPROTO);
	assert_broken(&e);
	p.page->left.prod = 0;
	p.page->right.cons = 1; /* server writes right: cons ahead of prod */
	ASSERT_EQ(vmsg_ring_end_init(&e, p.page, true, p.ring[0], 10,
				     p.ring[1], 11),
		  -EPROTO);
	assert_broken(&e);
	ASSERT_EQ(vmsg_ring_end_init(&e, p.page, false, p.ring[0], 10,
				     p.ring[1], 11),
		  -EPROTO);
	p.page->right.cons = 0;
	/* A resumed page with data in flight attaches fine. */
	p.page->left.cons = 100;
	p.page->left.prod = 100 + 1024;
	ASSERT_EQ(vmsg_ring_end_init(&e, p.page, true, p.ring[0], 10,
				     p.ring[1], 11),
		  0);
	ASSERT_EQ(vmsg_ring_data_ready(&e), 1024);
	ring_pair_close(&p);
}

/* Independent statement of the rule for pairs within [10, 20]: only one
 * ring per in-page slot, and a 256-page list (order 20) runs past offset
 * 1024 (24 + 4 * 256 = 1048), so it cannot sit beside an order-10 ring. */
static bool orders_ok(unsigned l, unsigned r)
{
	if (l < 10 || l > 20 || r < 10 || r > 20)
		return false;
	if (l == r && l <= 11)
		return false;
	if ((l == 10 && r == 20) || (l == 20 && r == 10))
		return false;
	return true;
}

static void test_orders(void)
{
	ASSERT_EQ(vmsg_ring_check_orders(9, 11), -EINVAL);
	ASSERT_EQ(vmsg_ring_check_orders(11, 9), -EINVAL);
	ASSERT_EQ(vmsg_ring_check_orders(21, 10), -EINVAL);
	ASSERT_EQ(vmsg_ring_check_orders(10, 21), -EINVAL);
	ASSERT_EQ(vmsg_ring_check_orders(10, 10), -EINVAL);
	ASSERT_EQ(vmsg_ring_check_orders(11, 11), -EINVAL);
	ASSERT_EQ(vmsg_ring_check_orders(10, 20), -EINVAL);
	ASSERT_EQ(vmsg_ring_check_orders(20, 10), -EINVAL);
	ASSERT_EQ(vmsg_ring_check_orders(0xffff, 10), -EINVAL);
	ASSERT_EQ(vmsg_ring_check_orders(10, 11), 0);
	ASSERT_EQ(vmsg_ring_check_orders(11, 10), 0);
	ASSERT_EQ(vmsg_ring_check_orders(10, 19), 0);
	ASSERT_EQ(vmsg_ring_check_orders(11, 20), 0);
	ASSERT_EQ(vmsg_ring_check_orders(20, 20), 0);
	ASSERT_EQ(vmsg_ring_check_orders(12, 12), 0);
	for (unsigned l = 0; l <= 32; l++)
		for (unsigned r = 0; r <= 32; r++)
			if ((vmsg_ring_check_orders(l, r) == 0) !=
			    orders_ok(l, r))
				VMSG_TEST_FAIL("check_orders(%u, %u) = %d", l,
					       r, vmsg_ring_check_orders(l, r));

	ASSERT_EQ(vmsg_ring_order_for(0), 10);
	ASSERT_EQ(vmsg_ring_order_for(1024), 10);
	ASSERT_EQ(vmsg_ring_order_for(1025), 11);
	ASSERT_EQ(vmsg_ring_order_for(65536), 16);
	ASSERT_EQ(vmsg_ring_order_for(1u << 20), 20);
	ASSERT_EQ(vmsg_ring_order_for((1u << 20) + 1), -EINVAL);
	ASSERT_EQ(vmsg_ring_order_for(SIZE_MAX), -EINVAL);
}

static void test_page_init(void)
{
	static _Alignas(64) uint8_t mem[4096];
	struct vmsg_vchan_page *page = (struct vmsg_vchan_page *)mem;
	uint32_t grants[32] = {0};
	for (int i = 0; i < 32; i++)
		grants[i] = 0x100u + (uint32_t)i;

	ASSERT_EQ(vmsg_ring_page_init(NULL, 10, 11, NULL, 0), -EINVAL);
	ASSERT_EQ(vmsg_ring_page_init(page, 10, 10, NULL, 0), -EINVAL);
	ASSERT_EQ(vmsg_ring_page_init(page, 9, 11, NULL, 0), -EINVAL);
	ASSERT_EQ(vmsg_ring_page_init(page, 10, 12, grants, 0), -EINVAL);
	ASSERT_EQ(vmsg_ring_page_init(page, 10, 12, grants, 2), -EINVAL);
	ASSERT_EQ(vmsg_ring_page_init(page, 10, 12, NULL, 1), -EINVAL);
	ASSERT_EQ(vmsg_ring_page_init(page, 10, 11, grants, 1), -EINVAL);

	memset(mem, 0xee, sizeof(mem));
	ASSERT_EQ(vmsg_ring_page_init(page, 12, 14, grants, 5), 0);
	ASSERT_EQ(page->left.cons, 0);
	ASSERT_EQ(page->left.prod, 0);
	ASSERT_EQ(page->right.cons, 0);
	ASSERT_EQ(page->right.prod, 0);
	ASSERT_EQ(page->left_order, 12);
	ASSERT_EQ(page->right_order, 14);
	ASSERT_EQ(page->srv_live, VMSG_LIVE_UP);
	ASSERT_EQ(page->cli_live, VMSG_LIVE_WAITING);
	ASSERT_EQ(page->cli_notify, VMSG_NOTIFY_WRITE);
	ASSERT_EQ(page->srv_notify, VMSG_NOTIFY_WRITE);
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(page->grants[i], 0x100 + i);
	/* Nothing written past the grant list. */
	for (size_t i = VMSG_VCHAN_GRANTS_OFFSET + 5 * 4; i < sizeof(mem); i++)
		ASSERT_EQ(mem[i], 0xee);
}

static void test_args(void)
{
	struct ring_pair p;
	struct vmsg_ring_end e;
	ring_pair_open(&p, 10, 11);
	void *l = p.ring[0], *r = p.ring[1];

	ASSERT_EQ(vmsg_ring_end_init(NULL, p.page, true, l, 10, r, 11), -EINVAL);
	ASSERT_EQ(vmsg_ring_end_init(&e, NULL, true, l, 10, r, 11), -EINVAL);
	ASSERT_EQ(vmsg_ring_end_init(&e, p.page, true, NULL, 10, r, 11),
		  -EINVAL);
	ASSERT_EQ(vmsg_ring_end_init(&e, p.page, false, l, 10, NULL, 11),
		  -EINVAL);
	ASSERT_EQ(vmsg_ring_end_init(&e, p.page, true, l, 9, r, 11), -EINVAL);
	ASSERT_EQ(vmsg_ring_end_init(&e, p.page, true, l, 10, r, 21), -EINVAL);
	ASSERT_EQ(vmsg_ring_end_init(&e, p.page, true, l, 10, r, 10), -EINVAL);

	/* Lengths: INT_MAX + 1 never fits an int count; packets larger than
	 * the ring never fit; NULL with a length is a caller error. */
	size_t huge = (size_t)INT_MAX + 1;
	ASSERT_EQ(vmsg_ring_write(&p.cli, buf, huge), -EMSGSIZE);
	ASSERT_EQ(vmsg_ring_send(&p.cli, buf, huge), -EMSGSIZE);
	ASSERT_EQ(vmsg_ring_read(&p.srv, buf, huge), -EMSGSIZE);
	ASSERT_EQ(vmsg_ring_recv(&p.srv, buf, huge), -EMSGSIZE);
	ASSERT_EQ(vmsg_ring_send(&p.cli, buf, 1025), -EMSGSIZE);
	ASSERT_EQ(vmsg_ring_recv(&p.srv, buf, 1025), -EMSGSIZE);
	ASSERT_EQ(vmsg_ring_send(&p.srv, buf, 2049), -EMSGSIZE);
	ASSERT_EQ(vmsg_ring_write(&p.cli, NULL, 1), -EINVAL);
	ASSERT_EQ(vmsg_ring_send(&p.cli, NULL, 1), -EINVAL);
	ASSERT_EQ(vmsg_ring_read(&p.srv, NULL, 1), -EINVAL);
	ASSERT_EQ(vmsg_ring_recv(&p.srv, NULL, 1), -EINVAL);
	ASSERT_EQ(vmsg_ring_write(&p.cli, NULL, 0), 0);
	ASSERT_EQ(vmsg_ring_read(&p.srv, NULL, 0), 0);
	/* None of that broke the end or moved anything. */
	ASSERT_EQ(p.cli.error, 0);
	ASSERT_EQ(vmsg_ring_buffer_space(&p.cli), 1024);
	ASSERT_EQ(vmsg_ring_data_ready(&p.srv), 0);
	ring_pair_close(&p);
}

int main(void)
{
	test_indices();
	test_own_index_rewrite();
	test_init_hostile();
	test_orders();
	test_page_init();
	test_args();
	return 0;
}
