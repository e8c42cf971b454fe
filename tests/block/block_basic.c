/* block_basic: lib/block's client against its server helper over the host
 * backend (a RAM disk in a thread that answers in reversed batches): the
 * negotiation, every operation, 4 MiB requests both ways at once (neither
 * side may stall the other), a queue of 64 kept full with completions in
 * any order, each checked against a private copy of the disk, and the
 * checks a client makes before it sends. */
#include "block_test_util.h"

#define DISK (64u * 1024u * 1024u)
#define DEPTH 64u

static char dir[256], path[300];
static uint8_t *mirror;

static void fill(uint8_t *p, size_t n, uint64_t *seed)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = vmsg_test_rand(seed);
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

static void test_blocking(struct bt_client *b, uint64_t *seed)
{
	vmsg_blk_client *cl = b->cl;
	uint8_t *w = malloc(BT_MAX_REQ), *r = malloc(BT_MAX_REQ);

	/* A 4 MiB write and read back, and a block at the very end. */
	fill(w, BT_MAX_REQ, seed);
	ASSERT_EQ(vmsg_blk_client_io(cl, VMSG_BLK_OP_WRITE, w, BT_MAX_REQ,
				     8192, 0, 10000), 0);
	memcpy(mirror + 8192, w, BT_MAX_REQ);
	ASSERT_EQ(vmsg_blk_client_io(cl, VMSG_BLK_OP_READ, r, BT_MAX_REQ,
				     8192, 0, 10000), 0);
	ASSERT_MEM_EQ(r, w, BT_MAX_REQ);
	ASSERT_EQ(vmsg_blk_client_io(cl, VMSG_BLK_OP_WRITE, w, 512,
				     DISK - 512, VMSG_BLK_REQ_FUA, 10000), 0);
	memcpy(mirror + DISK - 512, w, 512);
	ASSERT_EQ(vmsg_blk_client_io(cl, VMSG_BLK_OP_READ, r, 512, DISK - 512,
				     0, 10000), 0);
	ASSERT_MEM_EQ(r, w, 512);

	/* WRITE_ZEROES and TRIM (the RAM disk zeroes both), FLUSH. */
	ASSERT_EQ(vmsg_blk_client_io(cl, VMSG_BLK_OP_WRITE_ZEROES, NULL, 65536,
				     8192, 0, 10000), 0);
	memset(mirror + 8192, 0, 65536);
	ASSERT_EQ(vmsg_blk_client_io(cl, VMSG_BLK_OP_READ, r, 65536, 8192, 0,
				     10000), 0);
	ASSERT_MEM_EQ(r, mirror + 8192, 65536);
	ASSERT_EQ(vmsg_blk_client_io(cl, VMSG_BLK_OP_FLUSH, NULL, 0, 0, 0,
				     10000), 0);

	/* What the client refuses to send. */
	ASSERT_EQ(vmsg_blk_client_io(cl, VMSG_BLK_OP_READ, r, 512, DISK, 0,
				     1000), -ENOSPC);
	ASSERT_EQ(vmsg_blk_client_io(cl, VMSG_BLK_OP_READ, r, 1024,
				     DISK - 512, 0, 1000), -ENOSPC);
	ASSERT_EQ(vmsg_blk_client_io(cl, VMSG_BLK_OP_READ, r, 512,
				     UINT64_MAX - 511, 0, 1000), -ENOSPC);
	ASSERT_EQ(vmsg_blk_client_io(cl, VMSG_BLK_OP_READ, r, 100, 0, 0, 1000),
		  -EINVAL);
	ASSERT_EQ(vmsg_blk_client_io(cl, VMSG_BLK_OP_READ, r, 512, 100, 0,
				     1000), -EINVAL);
	ASSERT_EQ(vmsg_blk_client_io(cl, VMSG_BLK_OP_READ, r, BT_MAX_REQ + 512,
				     0, 0, 1000), -EINVAL);
	ASSERT_EQ(vmsg_blk_client_io(cl, 77, r, 512, 0, 0, 1000), -EOPNOTSUPP);
	ASSERT_EQ(vmsg_blk_client_io(cl, VMSG_BLK_OP_FLUSH, NULL, 512, 0, 0,
				     1000), -EINVAL);
	ASSERT_EQ(vmsg_blk_client_outstanding(cl), 0);
	free(w);
	free(r);
}

struct req {
	struct vmsg_blk_io io;
	uint8_t *buf;
	uint64_t seq;
};

/* Keep DEPTH requests in flight, each on its own region so that their
 * results do not depend on the order the server runs them in. */
static void test_deep(struct bt_client *b, uint64_t *seed, unsigned total,
		      uint32_t maxlen)
{
	vmsg_blk_client *cl = b->cl;
	struct req q[DEPTH];
	struct vmsg_blk_done done[DEPTH];
	uint64_t region = DISK / DEPTH, next_seq = 0, last_seq = 0;
	unsigned submitted = 0, completed = 0, out_of_order = 0;

	for (unsigned i = 0; i < DEPTH; i++)
		q[i].buf = malloc(maxlen);
	for (;;) {
		while (submitted < total &&
		       vmsg_blk_client_outstanding(cl) < DEPTH) {
			/* The free slot: the one whose request completed. */
			unsigned i = submitted < DEPTH ? submitted : 0;
			if (submitted >= DEPTH) {
				for (i = 0; i < DEPTH; i++)
					if (q[i].seq == UINT64_MAX)
						break;
				ASSERT_LT(i, DEPTH);
			}
			uint32_t len = 512u * (1 + (uint32_t)(vmsg_test_rand(seed) %
							      (maxlen / 512)));
			uint64_t off = i * region +
				       512u * (vmsg_test_rand(seed) %
					       ((region - len) / 512 + 1));
			bool write = vmsg_test_rand(seed) & 1;
			q[i].io = (struct vmsg_blk_io){
				.op = write ? VMSG_BLK_OP_WRITE : VMSG_BLK_OP_READ,
				.length = len, .offset = off, .buf = q[i].buf,
				.user = i,
			};
			if (write) {
				fill(q[i].buf, len, seed);
				memcpy(mirror + off, q[i].buf, len);
			}
			q[i].seq = next_seq++;
			ASSERT_EQ(vmsg_blk_client_submit(cl, &q[i].io, 10000), 0);
			submitted++;
		}
		if (completed == total)
			break;
		int n = vmsg_blk_client_reap(cl, done, DEPTH, 10000);
		ASSERT_GT(n, 0);
		for (int k = 0; k < n; k++) {
			struct req *r = &q[done[k].user];
			ASSERT_EQ(done[k].status, 0);
			if (r->io.op == VMSG_BLK_OP_READ)
				ASSERT_MEM_EQ(r->buf, mirror + r->io.offset,
					      r->io.length);
			if (r->seq < last_seq)
				out_of_order++;
			last_seq = r->seq;
			r->seq = UINT64_MAX;
			completed++;
		}
	}
	printf("deep: %u requests up to %u bytes, %u completed out of order\n",
	       total, maxlen, out_of_order);
	ASSERT_GT(out_of_order, 0);
	for (unsigned i = 0; i < DEPTH; i++)
		free(q[i].buf);
}

int main(void)
{
	struct bt_disk d;
	struct bt_client b;
	uint64_t seed = 0x5eed0001;

	ht_mkdtemp(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/disk", dir);
	mirror = calloc(1, DISK);
	bt_disk_start(&d, path, DISK, 16);
	ASSERT_EQ(bt_connect(&b, path, DEPTH, BT_MAX_REQ), 0);

	const struct vmsg_blk_info *i = vmsg_blk_client_info(b.cl);
	ASSERT_EQ(i->size, DISK);
	ASSERT_EQ(i->logical_block, 512);
	ASSERT_EQ(i->physical_block, 4096);
	ASSERT_EQ(i->max_req, BT_MAX_REQ);
	ASSERT_EQ(i->depth, DEPTH); /* the server offers 128, we asked 64 */
	ASSERT_EQ(i->flags, VMSG_BLK_F_FLUSH | VMSG_BLK_F_FUA |
				    VMSG_BLK_F_TRIM | VMSG_BLK_F_WRITE_ZEROES);

	test_blocking(&b, &seed);
	test_deep(&b, &seed, 20000, 16384);
	/* Large requests both ways, a deep queue of them: READ replies and
	 * WRITE requests far larger than the 1 MiB rings cross. */
	test_deep(&b, &seed, 400, BT_MAX_REQ / 4);
	ASSERT_EQ(vmsg_blk_client_outstanding(b.cl), 0);

	bt_close(&b);
	bt_disk_stop(&d);
	ASSERT_EQ(d.result, -EPIPE);
	free(mirror);
	ht_rmdir(dir);
	printf("block_basic: ok\n");
	return 0;
}
