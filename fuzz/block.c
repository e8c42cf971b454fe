/* Fuzz target: the block protocol (lib/block, docs/block.md) from either
 * side, the other side being the fuzz input on a channel.
 *
 * Input: [mode: 1] then
 *   mode even (the library is the server, vmsg_blk_server_*): messages
 *     from a hostile client, each [type: 2][len: 2][bytes], handled as
 *     a simple server does: HELLO answered with INFO, requests parsed
 *     and answered (READs with data), protocol errors end the run.
 *   mode odd (the library is the client, vmsg_blk_client_*): the first
 *     message is the server's INFO ([type: 2][len: 1][bytes]); then
 *     operations: 0 submit a request [op: 1][len: 4][off: 8]; 1 a reply
 *     message from the server [type: 2][len: 2][bytes]; other: reap.
 * The messages go through the frame layer as a peer library would send
 * them (fragmented when large). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmsg/block.h>

#include "fuzz_peer.h"

#define MAX_REQ (64u * 1024u)
#define DEPTH 8u

static uint8_t data_buf[VMSG_BLK_REPLY_HDR + MAX_REQ];
static _Alignas(8) uint8_t helper_mem[1u << 16];

static bool peer_msg(struct fuzz_peer *fp, struct fuzz_in *in, size_t lenmax)
{
	uint16_t type = fuzz_u16(in);
	size_t n, want = lenmax > 0xff ? fuzz_u16(in) : fuzz_u8(in);
	const uint8_t *p = fuzz_bytes(in, want, &n);

	if (!fuzz_in_left(in) && n == 0)
		return false;
	fuzz_peer_drain(fp);
	return fuzz_peer_send(fp, type, p, n) >= 0;
}

static void server(struct fuzz_in *in)
{
	struct fuzz_peer fp;
	vmsg_chan *c = NULL;
	vmsg_blk_server *s = NULL;
	struct vmsg_blk_info info = {
		.size = 1u << 20, .logical_block = 512, .physical_block = 4096,
		.max_req = MAX_REQ, .depth = DEPTH,
		.flags = VMSG_BLK_F_FLUSH | VMSG_BLK_F_FUA | VMSG_BLK_F_TRIM |
			 VMSG_BLK_F_WRITE_ZEROES,
	};
	bool greeted = false;

	CHECK(vmsg_blk_server_size(DEPTH) <= sizeof(helper_mem));
	/* 16 KiB rings: a READ's reply of a few KiB goes out whole. */
	CHECK(fuzz_peer_connect(&fp, 14, 14, NULL, &c) == 0);
	CHECK(vmsg_blk_server_init(&s, helper_mem, sizeof(helper_mem), &info) == 0);
	while (fuzz_in_left(in) && peer_msg(&fp, in, 0xffff)) {
		struct vmsg_msg m;
		int r;
		while ((r = vmsg_chan_peek(c, &m, 0)) == 0 || r == -EMSGSIZE) {
			if (r == -EMSGSIZE)
				continue; /* dropped by the channel */
			if (!greeted) {
				uint8_t out[VMSG_BLK_INFO_SIZE];
				r = vmsg_blk_server_hello(s, &m, out);
				CHECK(r == 0 || r == -EPROTO);
				vmsg_chan_release(c);
				if (r < 0)
					goto out;
				greeted = true;
				vmsg_chan_send(c, VMSG_TYPE_BLK_INFO, out,
					       sizeof(out), 0, 0);
				continue;
			}
			struct vmsg_blk_request rq;
			r = vmsg_blk_server_parse(s, &m, &rq);
			CHECK(r == 0 || r == -EPROTO);
			if (r < 0) {
				vmsg_chan_release(c);
				goto out;
			}
			/* What the helper let through is within the disk. */
			if (rq.status == 0 && rq.h.op != VMSG_BLK_OP_FLUSH) {
				CHECK(rq.h.length <= MAX_REQ);
				CHECK(rq.h.offset <= info.size &&
				      rq.h.length <= info.size - rq.h.offset);
			}
			if (rq.status == 0 && rq.h.op == VMSG_BLK_OP_WRITE)
				CHECK(rq.data && m.len == VMSG_BLK_REQ_HDR + rq.h.length);
			vmsg_chan_release(c);
			fuzz_peer_drain(&fp);
			/* A reply that does not go out now is dropped (the
			 * run goes on: the helper's bookkeeping is fuzzed). */
			(void)vmsg_blk_server_reply(
				s, c, &rq, rq.status,
				rq.h.op == VMSG_BLK_OP_READ ? data_buf : NULL, 0);
		}
		if (r < 0 && r != -EAGAIN)
			break;
	}
out:
	vmsg_blk_server_fini(s);
	vmsg_chan_close(c);
	fuzz_peer_fini(&fp);
}

static void client(struct fuzz_in *in)
{
	struct fuzz_peer fp;
	vmsg_chan *c = NULL;
	vmsg_blk_client *cl = NULL;
	size_t need = vmsg_blk_client_size(DEPTH, MAX_REQ);
	void *mem = aligned_alloc(8, (need + 7) & ~(size_t)7);
	int r;

	CHECK(mem && need);
	CHECK(fuzz_peer_connect(&fp, 12, 12, NULL, &c) == 0);
	peer_msg(&fp, in, 0xff); /* the INFO, waiting in the ring */
	r = vmsg_blk_client_init(&cl, mem, need, c, DEPTH, MAX_REQ, 10);
	if (r < 0)
		goto out;
	const struct vmsg_blk_info *info = vmsg_blk_client_info(cl);
	/* Whatever INFO said, what the client took is valid and no more
	 * than it asked for. */
	CHECK(vmsg_blk_info_check(info) == 0);
	CHECK(info->depth <= DEPTH && info->max_req <= MAX_REQ);
	while (fuzz_in_left(in)) {
		struct vmsg_blk_done done[DEPTH];
		switch (fuzz_u8(in) % 3) {
		case 0: {
			struct vmsg_blk_io io = {0};
			io.op = fuzz_u8(in) % 6;
			io.length = fuzz_u32(in) % (MAX_REQ + 1);
			io.offset = (uint64_t)fuzz_u32(in) * 512u;
			io.buf = data_buf + VMSG_BLK_REPLY_HDR;
			io.user = io.offset;
			fuzz_peer_drain(&fp);
			r = vmsg_blk_client_submit(cl, &io, 0);
			break;
		}
		case 1:
			peer_msg(&fp, in, 0xffff);
			break;
		default:
			r = vmsg_blk_client_reap(cl, done, DEPTH, 0);
			CHECK(r <= (int)DEPTH);
			if (r == -EPROTO || r == -EPIPE)
				goto fini;
		}
	}
fini:
	vmsg_blk_client_fini(cl);
out:
	vmsg_chan_close(c);
	fuzz_peer_fini(&fp);
	free(mem);
}

/* Once per process, before the first input: the client must get past
 * init on the in-memory platform given an INFO it has to accept. The
 * target takes a failed init as the end of an input, so when the client
 * could no longer run there (it came to need a wait the platform did not
 * have) every init failed, every input passed, and the client half
 * fuzzed nothing for three days; this makes that fail every run, the
 * corpus replay of the suite's fuzz flavour included. */
static void client_canary(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	struct fuzz_peer fp;
	vmsg_chan *c = NULL;
	vmsg_blk_client *cl = NULL;
	size_t need = vmsg_blk_client_size(DEPTH, MAX_REQ);
	void *mem = aligned_alloc(8, (need + 7) & ~(size_t)7);
	const struct vmsg_blk_info info = {
		.size = 1u << 20, .logical_block = 512, .physical_block = 4096,
		.max_req = MAX_REQ, .depth = DEPTH, .flags = VMSG_BLK_F_FLUSH,
	};
	uint8_t m[VMSG_BLK_INFO_SIZE];

	CHECK(mem && need);
	CHECK(fuzz_peer_connect(&fp, 12, 12, NULL, &c) == 0);
	vmsg_blk_put_info(m, &info);
	CHECK(fuzz_peer_send(&fp, VMSG_TYPE_BLK_INFO, m, sizeof(m)) >= 0);
	CHECK(vmsg_blk_client_init(&cl, mem, need, c, DEPTH, MAX_REQ, 10) == 0);
	vmsg_blk_client_fini(cl);
	vmsg_chan_close(c);
	fuzz_peer_fini(&fp);
	free(mem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};

	client_canary();

	if (fuzz_u8(&in) & 1)
		client(&in);
	else
		server(&in);
	return 0;
}
