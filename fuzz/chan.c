/* Fuzz target: a channel's receive path (lib/chan: peek, release, recv,
 * the byte stream, state, and the sends that wait on the peer) over a
 * shared page whose other side, the server, is the fuzz input: it sends
 * well-formed messages (fragmented when large), writes raw bytes into
 * the ring the library reads, and rewrites the shared indices, live and
 * notify bytes at any time. The library's waits let the peer take a turn
 * (it reads what the library sent); the clock is the platform's counter,
 * so every call with a timeout ends (fuzz_peer.h).
 *
 * Input: [orders: 1][max_msg: 2][flags: 1] then operations, below.
 * Bit 1 of flags picks the byte stream (vmsg_chan_read/write) instead of
 * typed messages: vmsg/chan.h forbids mixing the two on one channel (a
 * stream read under a peeked message moves the read index past what the
 * release then consumes again), so one run uses one or the other.
 * Checked: a received message is no longer than the buffer or max_msg
 * and its type is not the frame layer's PAD; a broken channel stays
 * broken; the private ring sizes never change. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_peer.h"

static uint8_t buf[1u << 16];

static int peer_turn(struct fuzz_peer *fp)
{
	unsigned before = fp->end.rx.idx;

	fuzz_peer_drain(fp);
	(void)fuzz_peer_pump(fp);
	return fp->end.rx.idx != before;
}

/* The library's calls must end in one of these. */
static bool result_ok(int r)
{
	return r >= 0 || r == -EAGAIN || r == -ETIMEDOUT || r == -EPROTO ||
	       r == -EPIPE || r == -EMSGSIZE || r == -EBUSY || r == -EINVAL;
}

/* Once per process: bytes the peer puts in the ring must come out of the
 * byte stream, and a message it sends out of recv. A harness that could
 * no longer get either through would still replay its corpus without a
 * crash, and the byte stream's own edges are too few for the coverage
 * floor to see them go; this fails every input instead. */
static void canary(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	static const char text[] = "canary";
	struct fuzz_peer fp;
	vmsg_chan *c = NULL;
	uint16_t type = 0;

	CHECK(fuzz_peer_connect(&fp, 12, 12, NULL, &c) == 0);
	fp.on_wait = peer_turn;
	CHECK(fuzz_peer_send(&fp, 0x100, text, sizeof(text)) >= 0);
	CHECK(vmsg_chan_recv(c, &type, buf, sizeof(buf), 0) ==
	      (int)sizeof(text));
	CHECK(type == 0x100 && !memcmp(buf, text, sizeof(text)));
	vmsg_chan_close(c);
	fuzz_peer_fini(&fp);

	CHECK(fuzz_peer_connect(&fp, 12, 12, NULL, &c) == 0);
	fp.on_wait = peer_turn;
	uint32_t at = fp.page->right.prod & (fp.end.tx.size - 1);
	memcpy(fp.end.tx.data + at, text, sizeof(text));
	fp.page->right.prod += sizeof(text);
	CHECK(vmsg_chan_read(c, buf, sizeof(buf), 0) == (int)sizeof(text));
	CHECK(!memcmp(buf, text, sizeof(text)));
	vmsg_chan_close(c);
	fuzz_peer_fini(&fp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct fuzz_peer fp;
	struct vmsg_chan_opts o;
	vmsg_chan *c = NULL;
	unsigned lo, ro;
	uint32_t rx0, tx0, rx, tx;
	bool peeked = false;
	bool verbose = getenv("FUZZ_VERBOSE") != NULL;

	canary();

	fuzz_peer_orders(fuzz_u8(&in), &lo, &ro);
	vmsg_chan_opts_init(&o);
	o.max_msg = 1 + fuzz_u16(&in) % (sizeof(buf) + 1024);
	uint8_t flags = fuzz_u8(&in);
	o.rx_batch = flags & 1;
	bool stream = flags & 2;
	CHECK(fuzz_peer_connect(&fp, lo, ro, &o, &c) == 0);
	fp.on_wait = peer_turn;
	CHECK(vmsg_chan_ring_sizes(c, &rx0, &tx0) == 0);
	CHECK(rx0 == 1u << ro && tx0 == 1u << lo);

	struct vmsg_vchan_page *pg = fp.page;
	while (fuzz_in_left(&in)) {
		uint8_t op = fuzz_u8(&in);
		int was = vmsg_chan_state(c), r = 0;
		size_t n;
		const uint8_t *p;
		struct vmsg_msg m;
		uint16_t type;

		/* The library's calls of the other kind become a flush. */
		if (stream ? (op % 14 >= 6 && op % 14 <= 9) || op % 14 == 11
			   : op % 14 == 10 || op % 14 == 12)
			op = 13;
		switch (op % 14) {
		/* ---- the peer */
		case 0: /* a message */
			type = fuzz_u16(&in);
			p = fuzz_bytes(&in, fuzz_u16(&in), &n);
			r = fuzz_peer_send(&fp, type, p, n);
			if (verbose)
				fprintf(stderr, "peer sends type %#x, %zu bytes: %d\n",
					type, n, r);
			r = 0;
			break;
		case 1: { /* raw bytes anywhere in the ring we read */
			uint32_t off = fuzz_u16(&in) & (fp.end.tx.size - 1);
			p = fuzz_bytes(&in, fuzz_u8(&in), &n);
			if (n > fp.end.tx.size - off)
				n = fp.end.tx.size - off;
			memcpy(fp.end.tx.data + off, p, n);
			break;
		}
		case 2: /* our prod, moved by any amount */
			pg->right.prod += fuzz_u32(&in);
			break;
		case 3: /* the cons of the ring we write */
			pg->left.cons += fuzz_u32(&in);
			break;
		case 4: /* live and notify bytes */
			pg->srv_live = fuzz_u8(&in);
			pg->cli_notify = fuzz_u8(&in);
			pg->cli_live = fuzz_u8(&in);
			break;
		case 5:
			(void)peer_turn(&fp);
			break;
		/* ---- the library */
		case 6:
		case 7: {
			size_t cap = fuzz_u16(&in) % (sizeof(buf) + 1);
			r = vmsg_chan_recv(c, &type, buf, cap, fuzz_u8(&in) % 4);
			if (verbose)
				fprintf(stderr, "recv cap %zu\n", cap);
			if (r >= 0)
				CHECK((size_t)r <= cap && (size_t)r <= o.max_msg &&
				      type != VMSG_TYPE_PAD);
			/* A message too large for cap stays queued, and
			 * presented: a release may drop it (lib/chan). */
			if (r == -EMSGSIZE)
				peeked = true;
			break;
		}
		case 8:
			r = vmsg_chan_peek(c, &m, fuzz_u8(&in) % 4);
			if (r >= 0) {
				CHECK(m.len <= o.max_msg && m.type != VMSG_TYPE_PAD);
				/* The view is readable to its end. */
				memcpy(buf, m.data, m.len < sizeof(buf) ? m.len : sizeof(buf));
				peeked = true;
			}
			break;
		case 9:
			/* Nothing to release unless a peek presented it. */
			r = vmsg_chan_release(c);
			if (!peeked)
				CHECK(r == -EINVAL);
			peeked = false;
			break;
		case 10:
			r = vmsg_chan_read(c, buf, 1 + fuzz_u16(&in) % sizeof(buf),
					   fuzz_u8(&in) % 4);
			break;
		case 11:
			r = vmsg_chan_send(c, fuzz_u16(&in) | 0x100, buf,
					   fuzz_u16(&in) % sizeof(buf), 0,
					   fuzz_u8(&in) % 4);
			break;
		case 12:
			r = vmsg_chan_write(c, buf, 1 + fuzz_u16(&in) % 4096,
					    fuzz_u8(&in) % 4);
			break;
		default:
			r = vmsg_chan_flush(c);
		}
		if (verbose)
			fprintf(stderr, "op %u -> %d (state %d)\n", op % 14, r,
				vmsg_chan_state(c));
		CHECK(result_ok(r));
		/* What the end keeps for fragmented messages covers what it
		 * holds, within max_msg; a trim (an op byte with its top bit
		 * set) frees nothing still wanted (a presented message is
		 * read again by the next peek: ASan sees a freed view). */
		size_t held = 0, kept = 0;
		CHECK(vmsg_chan_rx_partial(c, &held) >= 0);
		CHECK(vmsg_chan_rx_kept(c, op & 0x80, &kept) == 0);
		CHECK(held <= kept && kept <= o.max_msg);
		if (was == VMSG_CHAN_BROKEN)
			CHECK(vmsg_chan_state(c) == VMSG_CHAN_BROKEN);
		CHECK(vmsg_chan_ring_sizes(c, &rx, &tx) == 0 && rx == rx0 && tx == tx0);
	}
	vmsg_chan_close(c);
	CHECK(fp.destroyed);
	fuzz_peer_fini(&fp);
	return 0;
}
