/* frame_batch: N reserves then one commit publish everything with one
 * index update (the reader sees nothing before, all after), and the kick
 * semantic: commit returns 1 only when the reader asked for
 * VMSG_NOTIFY_WRITE, once per request however many frames the batch has;
 * release likewise for VMSG_NOTIFY_READ. */
#include <stdint.h>

#include "frame_pair.h"

enum { N = 7 };

static void clear_notify(struct frame_pair *p)
{
	p->page->cli_notify = 0;
	p->page->srv_notify = 0;
}

/* Reserve N frames of various sizes (the ring never fills). */
static void reserve_batch(struct frame_pair *p, struct vmsg_frame_tx *tx,
			  uint16_t base)
{
	struct vmsg_frame f;
	uint32_t prod = p->page->left.prod;
	int ready = vmsg_ring_data_ready(&p->srv);
	int have = ready > 0;

	for (int i = 0; i < N; i++) {
		void *pl;
		uint32_t len = (uint32_t)(i * 37);
		ASSERT_EQ(vmsg_frame_reserve(&p->cli, tx, (uint16_t)(base + i),
					     0, len, &pl),
			  0);
		memset(pl, base + i, len);
		/* Still invisible: no index moved, nothing to peek. */
		ASSERT_EQ(p->page->left.prod, prod);
		ASSERT_EQ(vmsg_ring_data_ready(&p->srv), ready);
		if (!have)
			ASSERT_EQ(vmsg_frame_peek(&p->srv, &f), 0);
	}
}

/* After a commit: all N frames are there at once, in order. */
static void drain_batch(struct frame_pair *p, uint16_t base, int kicks_read)
{
	struct vmsg_frame f;
	uint32_t ready = 0;

	for (int i = 0; i < N; i++)
		ready += vmsg_frame_size((uint32_t)(i * 37));
	/* (batches may queue behind one another; a pad may precede) */
	ASSERT_GE(vmsg_ring_data_ready(&p->srv), ready);
	for (int i = 0; i < N; i++) {
		ASSERT_EQ(vmsg_frame_peek(&p->srv, &f), 1);
		ASSERT_EQ(f.type, base + i);
		ASSERT_EQ(f.len, (uint32_t)(i * 37));
		for (uint32_t j = 0; j < f.len; j++)
			ASSERT_EQ(f.data[j], (uint8_t)(base + i));
		int k = vmsg_frame_release(&p->srv, &f);
		/* A writer's READ request is honoured by the first release
		 * only. */
		ASSERT_EQ(k, kicks_read && i == 0 ? 1 : 0);
	}
}

static void assert_empty(struct frame_pair *p)
{
	struct vmsg_frame f;

	ASSERT_EQ(vmsg_frame_peek(&p->srv, &f), 0);
	ASSERT_EQ(vmsg_ring_data_ready(&p->srv), 0);
}

int main(void)
{
	struct frame_pair p;
	struct vmsg_frame_tx tx = {0};
	void *pl;

	frame_pair_open(&p, 12, 10);

	/* libxenvchan's initial state: both sides ask for write kicks, so
	 * the very first commit kicks; the next does not. */
	ASSERT_EQ(vmsg_frame_reserve(&p.cli, &tx, 0x100, 0, 1, &pl), 0);
	ASSERT_EQ(vmsg_frame_commit(&p.cli, &tx), 1);
	ASSERT_EQ(vmsg_frame_reserve(&p.cli, &tx, 0x100, 0, 1, &pl), 0);
	ASSERT_EQ(vmsg_frame_commit(&p.cli, &tx), 0);
	frame_pair_close(&p);

	frame_pair_open(&p, 12, 10);
	clear_notify(&p);

	/* No request: a batch publishes without a kick. */
	reserve_batch(&p, &tx, 0x100);
	ASSERT_EQ(vmsg_frame_commit(&p.cli, &tx), 0);
	drain_batch(&p, 0x100, 0);
	assert_empty(&p);

	/* The reader asks for a kick: one batch commit kicks once. */
	vmsg_ring_request_notify(&p.srv, VMSG_NOTIFY_WRITE);
	ASSERT_EQ(p.page->cli_notify & VMSG_NOTIFY_WRITE, VMSG_NOTIFY_WRITE);
	reserve_batch(&p, &tx, 0x200);
	ASSERT_EQ(vmsg_frame_commit(&p.cli, &tx), 1);
	ASSERT_EQ(p.page->cli_notify & VMSG_NOTIFY_WRITE, 0);
	/* Not again for the next batch. */
	reserve_batch(&p, &tx, 0x300);
	ASSERT_EQ(vmsg_frame_commit(&p.cli, &tx), 0);
	drain_batch(&p, 0x200, 0);
	drain_batch(&p, 0x300, 0);
	assert_empty(&p);

	/* An empty commit neither kicks nor eats the request. */
	vmsg_ring_request_notify(&p.srv, VMSG_NOTIFY_WRITE);
	ASSERT_EQ(vmsg_frame_commit(&p.cli, &tx), 0);
	ASSERT_EQ(p.page->cli_notify & VMSG_NOTIFY_WRITE, VMSG_NOTIFY_WRITE);
	reserve_batch(&p, &tx, 0x400);
	ASSERT_EQ(vmsg_frame_commit(&p.cli, &tx), 1);

	/* A READ request is not a WRITE request. */
	vmsg_ring_request_notify(&p.srv, VMSG_NOTIFY_READ);
	reserve_batch(&p, &tx, 0x500);
	ASSERT_EQ(vmsg_frame_commit(&p.cli, &tx), 0);
	p.page->cli_notify = 0;

	/* The writer waits for space: the reader's first release kicks. */
	vmsg_ring_request_notify(&p.cli, VMSG_NOTIFY_READ);
	ASSERT_EQ(p.page->srv_notify, VMSG_NOTIFY_READ);
	drain_batch(&p, 0x400, 1);
	drain_batch(&p, 0x500, 0);
	assert_empty(&p);
	ASSERT_EQ(p.page->srv_notify, 0);

	/* Batches keep working across the ring's wrap. */
	for (int round = 0; round < 50; round++) {
		vmsg_ring_request_notify(&p.srv, VMSG_NOTIFY_WRITE);
		reserve_batch(&p, &tx, (uint16_t)(0x1000 + round * 16));
		ASSERT_EQ(vmsg_frame_commit(&p.cli, &tx), 1);
		drain_batch(&p, (uint16_t)(0x1000 + round * 16), 0);
		assert_empty(&p);
	}
	ASSERT_GT(p.cli.tx.idx, 4u * 4096u);

	frame_pair_close(&p);
	printf("ok\n");
	return 0;
}
