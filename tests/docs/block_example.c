/* Prints the worked example of docs/block.md from the real code: the
 * frames the block protocol's messages become (lib/frame), with INFO and
 * the reply statuses produced by lib/block's server helper. The test
 * docs_block_example checks that the document shows exactly this. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmsg/block.h>

#include "../frame/frame_pair.h"

static void dump(const uint8_t *ring, uint32_t from, uint32_t n)
{
	for (uint32_t row = from; row < from + n; row += 16) {
		printf("%04x ", row);
		for (uint32_t i = row; i < row + 16; i++)
			printf("%s%02x", i % 8 == 0 ? "  " : " ", ring[i]);
		putchar('\n');
	}
}

/* Put one message on `e` as one frame; return the ring offset it took. */
static uint32_t put(struct vmsg_ring_end *e, uint32_t *at, uint16_t type,
		    const void *msg, uint32_t len)
{
	struct vmsg_frame_tx tx = {0};
	void *p;
	uint32_t off = *at;

	ASSERT_EQ(vmsg_frame_reserve(e, &tx, type, 0, len, &p), 0);
	memcpy(p, msg, len);
	vmsg_frame_commit(e, &tx);
	*at += vmsg_frame_size(len);
	return off;
}

/* The server helper's view of a request message. */
static int32_t status_of(vmsg_blk_server *s, const void *msg, uint32_t len)
{
	struct vmsg_msg m = { VMSG_TYPE_BLK_REQ, msg, len };
	struct vmsg_blk_request rq;
	ASSERT_EQ(vmsg_blk_server_parse(s, &m, &rq), 0);
	return rq.status;
}

int main(void)
{
	struct frame_pair p;
	uint32_t l = 0, r = 0, off;
	uint8_t hello[VMSG_BLK_HELLO_SIZE], info[VMSG_BLK_INFO_SIZE];
	uint8_t req[VMSG_BLK_REQ_HDR + 512], rep[VMSG_BLK_REPLY_HDR];
	static uint64_t mem[4096];
	vmsg_blk_server *s;
	struct vmsg_blk_info disk = {
		.size = 1024u * 1024u * 1024u, .logical_block = 512,
		.physical_block = 4096, .max_req = 8u * 1024u * 1024u,
		.depth = 128,
		.flags = VMSG_BLK_F_FLUSH | VMSG_BLK_F_FUA |
			 VMSG_BLK_F_WRITE_ZEROES,
	};

	frame_pair_open(&p, 12, 12);
	memset(p.left, 0, 4096);
	memset(p.right, 0, 4096);
	ASSERT_EQ(vmsg_blk_server_init(&s, mem, sizeof(mem), &disk), 0);

	printf("1. HELLO (type 0x0b00), client to server: depth 64, "
	       "max_req 4 MiB:\n\n");
	vmsg_blk_put_hello(hello, 64, 4u * 1024u * 1024u);
	off = put(&p.cli, &l, VMSG_TYPE_BLK_HELLO, hello, sizeof(hello));
	dump(p.left, off, 24);

	printf("\n2. INFO (type 0x0b01), the server's answer: a 1 GiB disk, "
	       "512-byte logical\n   and 4 KiB physical blocks, depth and "
	       "max_req lowered to the client's,\n   flags FLUSH|FUA|"
	       "WRITE_ZEROES (0x16):\n\n");
	struct vmsg_msg hm = { VMSG_TYPE_BLK_HELLO, hello, sizeof(hello) };
	ASSERT_EQ(vmsg_blk_server_hello(s, &hm, info), 0);
	off = put(&p.srv, &r, VMSG_TYPE_BLK_INFO, info, sizeof(info));
	dump(p.right, off, 48);

	printf("\n3. REQ (type 0x0b02): WRITE (op 2) with FUA, id "
	       "0x100000000, 512 bytes\n   at offset 0x2000, the data "
	       "(0xab...) in the same message. The first\n   48 of its "
	       "544 ring bytes:\n\n");
	struct vmsg_blk_req_hdr h = {
		.id = 0x100000000ull, .offset = 0x2000, .length = 512,
		.op = VMSG_BLK_OP_WRITE, .flags = VMSG_BLK_REQ_FUA,
	};
	vmsg_blk_put_req(req, &h);
	memset(req + VMSG_BLK_REQ_HDR, 0xab, 512);
	off = put(&p.cli, &l, VMSG_TYPE_BLK_REQ, req, sizeof(req));
	dump(p.left, off, 48);
	int32_t st = status_of(s, req, sizeof(req));

	printf("\n4. REPLY (type 0x0b03) to it: status %d, no data:\n\n", st);
	vmsg_blk_put_reply(rep, h.id, st, 0);
	off = put(&p.srv, &r, VMSG_TYPE_BLK_REPLY, rep, sizeof(rep));
	dump(p.right, off, 32);
	ASSERT_EQ(vmsg_blk_server_done(s, h.id), 0);

	printf("\n5. A READ (op 1) of 4 KiB at the last 512 bytes of the "
	       "disk, id 0x200000001,\n   and the server helper's reply: "
	       "status -28 (-ENOSPC, 0xffffffe4):\n\n");
	h = (struct vmsg_blk_req_hdr){
		.id = 0x200000001ull, .offset = disk.size - 512,
		.length = 4096, .op = VMSG_BLK_OP_READ,
	};
	vmsg_blk_put_req(req, &h);
	off = put(&p.cli, &l, VMSG_TYPE_BLK_REQ, req, VMSG_BLK_REQ_HDR);
	dump(p.left, off, 32);
	st = status_of(s, req, VMSG_BLK_REQ_HDR);
	ASSERT_EQ(st, -ENOSPC);
	vmsg_blk_put_reply(rep, h.id, st, 0);
	off = put(&p.srv, &r, VMSG_TYPE_BLK_REPLY, rep, sizeof(rep));
	dump(p.right, off, 32);

	vmsg_blk_server_fini(s);
	frame_pair_close(&p);
	return 0;
}
