/* Private to guest/: the byte level of the xenstore ring (io/xs_wire.h).
 *
 * The ring page is shared with xenstored, which is trusted to exist but
 * not to be sane: indices and lengths read from the page are checked, and
 * a ring that ever shows an impossible state is marked broken for good
 * (every later call returns -EPROTO).
 *
 * Blocking goes through two callbacks so that the same file runs in the
 * unikernel (event channel notify, SCHEDOP_poll) and in a hosted test
 * (a thread plays xenstored). No libc, no hypercalls here.
 */
#ifndef GUEST_XS_RING_H
#define GUEST_XS_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xen_abi.h"

struct guest_xs_ring {
	struct xs_ring_intf *intf;
	/* Kick the other side (xenstored). */
	void (*notify)(void *ctx);
	/* Sleep until the other side may have moved an index, or until
	 * deadline_ns (0: none). Returns 1 for an event, 0 on timeout. */
	int (*wait)(void *ctx, uint64_t deadline_ns);
	/* The clock the deadlines are in. */
	uint64_t (*now_ns)(void *ctx);
	void *ctx;
	int broken; /* sticky -EPROTO */
	/* Private copies of our own indices (req_prod, rsp_cons), read from
	 * the page once, at first use; the page's copies are written, never
	 * read back. Zero-initialise the struct. */
	bool started;
	uint32_t req_prod, rsp_cons;
};

/* Queue len bytes of request (blocking while the ring is full). */
int guest_xs_ring_put(struct guest_xs_ring *r, const void *buf, size_t len,
		      uint64_t deadline_ns);

/* Take exactly len bytes of response (blocking until they come). */
int guest_xs_ring_get(struct guest_xs_ring *r, void *buf, size_t len,
		      uint64_t deadline_ns);

/* Receive one whole message: its header into *h and its payload (h->len
 * bytes, at most XS_PAYLOAD_MAX) into buf, NUL-terminated (buf must hold
 * XS_PAYLOAD_MAX + 1 bytes). A header announcing more than XS_PAYLOAD_MAX
 * breaks the ring (-EPROTO). Returns h->len. */
int guest_xs_ring_recv(struct guest_xs_ring *r, struct xs_msg_hdr *h,
		       char *buf, uint64_t deadline_ns);

/* Nonzero when response bytes are waiting. */
int guest_xs_ring_has_rsp(struct guest_xs_ring *r);

#endif
