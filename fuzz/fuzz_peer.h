/* fuzz_peer.h - an in-memory platform for the fuzz targets: one channel
 * end of libvmsg (lib/chan, unchanged) over a shared page that lives in
 * this process, whose other side is the harness, driven by the fuzz input.
 *
 * The library end is either the client (fuzz_peer_connect: the harness
 * lays the page out as a server would, the library maps it) or the server
 * (fuzz_peer_serve: the library shares the page, the harness attaches to
 * it as the client). The harness's own end is a plain struct
 * vmsg_ring_end on the same page, through which it writes well-formed
 * frames (fuzz_peer_send) or pokes raw bytes and indices (fuzz_peer_page
 * and friends) — anything a hostile peer could do to the shared memory.
 *
 * Nothing blocks and no time passes for real: the clock is a counter that
 * each look at it advances by a microsecond, and a wait advances it by the
 * whole timeout (after giving the harness's on_wait hook a turn, which is
 * how a peer acts "while the library sleeps"). So every call with a
 * timeout ends, and a call that does not is a hang the fuzzer reports as
 * a timeout.
 */
#ifndef VMSG_FUZZ_PEER_H
#define VMSG_FUZZ_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <vmsg/chan.h>
#include <vmsg/frame.h>
#include <vmsg/platform.h>
#include <vmsg/ring.h>

struct fuzz_peer {
	struct vmsg_platform plat; /* first: what the library is given */
	bool lib_is_server;
	/* The shared memory (owned by the harness when the library is the
	 * client, by the platform's share when it is the server). */
	struct vmsg_vchan_page *page;
	uint8_t *rings;
	uint32_t ring_pages;
	/* The harness's end of the channel, valid once attached. */
	struct vmsg_ring_end end;
	struct vmsg_frame_tx ftx;
	bool attached;
	bool attached_lib_page; /* the library has mapped the page */
	/* A message larger than the free space goes out in parts: the rest
	 * waits here (a private copy) for fuzz_peer_pump. */
	struct vmsg_frag_tx frag;
	uint8_t *frag_buf;
	bool frag_busy;
	/* An event file descriptor for callers that poll (vmsgd), or -1. */
	int fd;
	/* Clock and counters. */
	uint64_t now_ns;
	unsigned notifies, waits, pends;
	bool destroyed;
	/* Called from the library's wait: the peer's turn. Returns 1 when it
	 * did something worth an event, 0 for none (a timeout). */
	int (*on_wait)(struct fuzz_peer *fp);
	void *arg;
};

/* Library as client: lay out a page with rings of the given orders (10 ..
 * 14 here), attach the harness's server end, and connect the library to
 * it with opts (NULL: defaults). Returns 0 with *out, or the connect's
 * error (fp is then unusable). Call fuzz_peer_fini after vmsg_chan_close. */
int fuzz_peer_connect(struct fuzz_peer *fp, unsigned left_order,
		      unsigned right_order, const struct vmsg_chan_opts *o,
		      vmsg_chan **out);

/* A valid pair of ring orders (10 .. 14) picked by sel. */
void fuzz_peer_orders(unsigned sel, unsigned *left, unsigned *right);

/* Library as server: fp's platform for vmsg_chan_serve. Attach the
 * harness's client end afterwards with fuzz_peer_attach. */
void fuzz_peer_init_server(struct fuzz_peer *fp);
/* Attach the harness as the client of a served page (orders as the server
 * laid them out), and mark it connected. 0 or -errno. */
int fuzz_peer_attach(struct fuzz_peer *fp);

/* Send one message of `type` from the harness's end, fragmented as the
 * library would (vmsg_frag_*), and publish it. Returns 1 when all of it
 * went out, 0 when the ring filled first (the rest waits for
 * fuzz_peer_pump) or a message is still in parts (this one is dropped),
 * -errno when the harness's end is broken or the message cannot be
 * sent at all (-EINVAL for type 0, the frame layer's PAD). */
int fuzz_peer_send(struct fuzz_peer *fp, uint16_t type, const void *buf,
		   size_t len);
/* Send more of a message in parts, as far as the space allows. 1 when
 * none is left, 0 when some still is, -errno. */
int fuzz_peer_pump(struct fuzz_peer *fp);

/* Read and throw away whatever the library sent us (so that it never
 * stalls on a full ring unless the harness wants it to). */
void fuzz_peer_drain(struct fuzz_peer *fp);

/* Free what the harness owns (after the library's channel is closed). */
void fuzz_peer_fini(struct fuzz_peer *fp);

/* A property the target checks: on failure, say which and abort (the
 * fuzzer keeps the input as a crash). */
#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n",          \
				__FILE__, __LINE__, #c);                       \
			abort();                                               \
		}                                                              \
	} while (0)

/* A byte reader over the fuzz input. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};
static inline bool fuzz_in_left(const struct fuzz_in *in)
{
	return in->n > 0;
}
static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}
static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint16_t lo = fuzz_u8(in);
	return (uint16_t)(lo | (uint16_t)fuzz_u8(in) << 8);
}
static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	uint32_t lo = fuzz_u16(in);
	return lo | (uint32_t)fuzz_u16(in) << 16;
}
/* Up to `max` bytes of the input (fewer at its end); *len gets the count. */
static inline const uint8_t *fuzz_bytes(struct fuzz_in *in, size_t max,
					size_t *len)
{
	const uint8_t *p = in->p;
	size_t k = max < in->n ? max : in->n;
	in->p += k;
	in->n -= k;
	*len = k;
	return p;
}

#endif
