/* Private: the channel object and the helpers shared by chan's files. */
#ifndef VMSG_CHAN_PRIVATE_H
#define VMSG_CHAN_PRIVATE_H

#include <vmsg/chan.h>
#include <vmsg/frame.h>
#include <vmsg/ring.h>

#include "vmsg_chan_internal.h"

/* Hot fields first (the ring end, options, send and receive state, the
 * counters: a few cache lines every call touches), the handshake's
 * bookkeeping last (refs alone is 2 KiB). */
struct vmsg_chan {
	struct vmsg_platform *p;
	struct vmsg_ring_end end; /* private view of the shared page */
	struct vmsg_chan_opts opts;
	bool is_server;
	bool published;  /* server: the directory entry is still up */
	bool peer_gone;  /* seen the peer's live byte cleared */
	bool hung_up;    /* our live byte cleared (vmsg__chan_hangup) */
	int error;       /* sticky: -EPROTO once the peer broke the rules */
	struct vmsg__chan_tag *tag; /* a service handle's (vmsg__chan_set_tag) */

	/* Sending. */
	struct vmsg_frame_tx ftx;  /* frames reserved, not yet published */
	bool reserved;             /* vmsg_chan_reserve() awaits its commit */
	struct vmsg_frame_tx ftx_before; /* ... and ftx as it was before it
					    (vmsg_chan_unreserve) */
	size_t reserved_len;
	struct vmsg_frag_tx frag;  /* a fragmented send in progress */
	bool frag_busy;            /* ... interrupted: only the same send may go on */

	/* Receiving. */
	bool peeked;               /* a message is presented */
	bool cur_reassembled;      /* ... from the reassembly buffer */
	bool cur_waited;           /* ... which the peek had to wait for */
	struct vmsg_frame cur;     /* ... or this frame in the ring */
	struct vmsg_reasm reasm;
	void *reasm_buf;           /* opts.max_msg bytes, allocated on first use */
	size_t reasm_hw;           /* its bytes written so far: the largest
				      message collected in it (vmsg_chan_rx_kept) */
	uint32_t rx_quiet;         /* bytes released but not yet announced */

	struct vmsg_chan_stats st;

	/* What the handshake mapped, to undo at close. */
	void *page;
	void *rings;
	uint32_t ring_pages;

	/* Server: what it published, kept privately to set the page up again
	 * for a new client (vmsg_chan_reopen); the page's copy is the
	 * peer's to scribble on. */
	unsigned left_order, right_order;
	uint32_t page_ref, port;
	/* The ring pages' references (ring_pages of them, allocated with
	 * the rings; NULL for a client, which never needs them again):
	 * sized to what the rings use, not to the 512 of two 1 MiB rings,
	 * which made every channel end 2 KiB larger (issue 15's memory
	 * per idle channel). */
	uint32_t *refs;
	uint32_t nrefs; /* entries allocated at refs */
};

/* A waiting call's progress: see chan_wait.c. */
struct vmsg__wait {
	int timeout_ms;
	uint64_t spin_ns;    /* opts.spin_ns, or more in mid-message waits */
	uint64_t deadline;   /* ns; set at the first wait when timeout_ms > 0 */
	uint64_t spin_until; /* ns; 0 until the first wait */
	unsigned spins;
	bool armed;          /* asked the peer for a kick since the last try */
	uint32_t work;       /* receiving: fragment work since the last look
				at the deadline (vmsg__rx_work) */
};

/* Cheap: no clock read until the call first has to wait. */
static inline void vmsg__wait_init(struct vmsg_chan *c, struct vmsg__wait *w,
				   int timeout_ms)
{
	w->timeout_ms = timeout_ms;
	w->spin_ns = c->opts.spin_ns;
	w->deadline = 0;
	w->spin_until = 0;
	w->spins = 0;
	w->armed = false;
	w->work = 0;
}

/* In the middle of a fragmented message the peer is known to be at work
 * on the rest (writing it, or draining the ring to make room for it), so
 * a wait there spins this long before it sleeps, whatever opts.spin_ns
 * says: two wake-ups less per message larger than the ring can hold at
 * once, for at most this much CPU per wait. Calls with timeout 0 never
 * spin. */
#define VMSG__MID_MESSAGE_SPIN_NS 50000u

static inline void vmsg__wait_mid_message(struct vmsg__wait *w)
{
	if (w->spin_ns < VMSG__MID_MESSAGE_SPIN_NS)
		w->spin_ns = VMSG__MID_MESSAGE_SPIN_NS;
}

/* The work budget of a receiving call. A peer decides how many fragments
 * it sends and how fast: a message being dropped (over max_msg) may
 * announce 2^64 - 1 bytes, and fragments can keep arriving as fast as
 * they are taken, so "until the ring is empty" bounds nothing (a call
 * with timeout 0 once ran for seconds). Every fragment taken counts its
 * ring bytes plus a fixed cost (its peek, checks, release and perhaps a
 * kick: tiny fragments are not cheap); when the count reaches the budget
 * the call looks at its deadline as it would before sleeping (timeout -1
 * goes on). About a thousand small fragments or 1 MiB of large ones: a
 * few hundred microseconds, and for a legitimate message of full
 * fragments one look at the clock per MiB. */
#define VMSG__RX_BUDGET (1u << 20)
#define VMSG__RX_FRAG_COST 1024u

/* The budget is spent: 0 to go on with a new one (timeout -1, or time
 * left), else the call's -EAGAIN / -ETIMEDOUT, with an event made pending
 * on our own port (the peer will not kick for what it already sent). The
 * message in progress stays with the channel for the next call. */
int vmsg__rx_budget_spent(struct vmsg_chan *c, struct vmsg__wait *w);

/* Count one fragment taken (ring bytes `size`): 0 to go on, or the error
 * the call returns. */
static inline int vmsg__rx_work(struct vmsg_chan *c, struct vmsg__wait *w,
				uint32_t size)
{
	w->work += size + VMSG__RX_FRAG_COST;
	if (w->work < VMSG__RX_BUDGET)
		return 0;
	return vmsg__rx_budget_spent(c, w);
}

/* Milliseconds left before the call's deadline, rounded up (0: passed);
 * -1 without a deadline. The first call starts the clock. */
int vmsg__wait_ms_left(struct vmsg_chan *c, struct vmsg__wait *w);

/* Called when an operation could not proceed for lack of data (bit =
 * VMSG_NOTIFY_WRITE) or space (VMSG_NOTIFY_READ). Returns 0 when the caller
 * should try the operation again, or the error to return. */
int vmsg__wait(struct vmsg_chan *c, struct vmsg__wait *w, unsigned bit);

/* Kick the peer if it asked (`needed` from the ring/frame layer). */
void vmsg__kick(struct vmsg_chan *c, bool needed);

/* The reassembled message is gone (released, or its sender replaced):
 * empty the reassembly buffer, remembering how much of it was written. */
void vmsg__reasm_forget(struct vmsg_chan *c);

/* Announce the space of batch-released messages (opts.rx_batch). */
void vmsg__rx_announce(struct vmsg_chan *c);

/* The peer's side as seen now: one of enum vmsg_chan_state, or -EPROTO. */
int vmsg__peer_state(struct vmsg_chan *c);

#endif
