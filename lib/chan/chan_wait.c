/* Waiting for the peer: spin for a budget, then ask for a kick, re-check,
 * and sleep on the platform's event. Also the peer's liveness. */
#include "chan_private.h"

#include "vmsg_barrier.h"
#include "vmsg_errno.h"
#include "vmsg_live.h"

/* Iterations between clock reads while spinning: reading the clock costs
 * more than a ring check, and the budget need not be exact. */
#define SPINS_PER_CLOCK 32u

void vmsg__kick(struct vmsg_chan *c, bool needed)
{
	if (needed) {
		c->p->ops->notify(c->p);
		c->st.kicks_sent++;
	} else {
		c->st.kicks_suppressed++;
	}
}

void vmsg__rx_announce(struct vmsg_chan *c)
{
	if (c->rx_quiet && !c->error) {
		c->rx_quiet = 0;
		vmsg__kick(c, vmsg_ring_rx_publish(&c->end));
	}
}

int vmsg__peer_state(struct vmsg_chan *c)
{
	/* Acquire: pairs with the peer's store-release of its live byte at
	 * close (or the platform's, at its death), so everything the peer put
	 * in the ring before it is visible to the ring checks that follow. */
	uint8_t live = vmsg__load_acquire(c->end.peer_live);

	if (vmsg__live_in(live, c->is_server)) {
		if (c->published) {
			/* The client is in: nobody else may find us. */
			c->p->ops->unpublish(c->p);
			c->published = false;
		}
		return VMSG_CHAN_OPEN;
	}
	if (live == VMSG_LIVE_WAITING && c->is_server)
		return VMSG_CHAN_WAITING;
	if (live == VMSG_LIVE_GONE) {
		c->peer_gone = true;
		return VMSG_CHAN_CLOSED;
	}
	/* Any other value is not a state the protocol has. */
	c->error = c->end.error = -EPROTO;
	return -EPROTO;
}

int vmsg__wait_ms_left(struct vmsg_chan *c, struct vmsg__wait *w)
{
	if (w->timeout_ms < 0)
		return -1;
	uint64_t now = c->p->ops->now_ns(c->p);
	/* The deadline is set at the first look, not at the call's start: a
	 * call that never waits never reads the clock (what it did before
	 * its first wait is short and bounded). */
	if (w->deadline == 0)
		w->deadline = now + (uint64_t)w->timeout_ms * 1000000u;
	if (now >= w->deadline)
		return 0;
	return (int)((w->deadline - now + 999999u) / 1000000u);
}

int vmsg__rx_budget_spent(struct vmsg_chan *c, struct vmsg__wait *w)
{
	w->work = 0;
	if (w->timeout_ms < 0)
		return 0;
	if (w->timeout_ms > 0 && vmsg__wait_ms_left(c, w) != 0)
		return 0; /* (the first look starts the clock) */
	/* Stop here. What the peer already published will bring no kick,
	 * and a caller that sleeps on the fd must come back for it: make
	 * our own event pending; if that fails, go on rather than strand
	 * the message. */
	if (c->p->ops->pend && c->p->ops->pend(c->p) < 0)
		return 0;
	vmsg__rx_announce(c);
	return w->timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
}

int vmsg__wait(struct vmsg_chan *c, struct vmsg__wait *w, unsigned bit)
{
	if (c->error)
		return c->error;
	if (w->timeout_ms > 0)
		(void)vmsg__wait_ms_left(c, w); /* starts the clock */
	/* Whatever this end waits for, a writer may be waiting for the space
	 * it released in a batch: tell it before waiting. */
	vmsg__rx_announce(c);

	/* Spin phase: re-check the ring without sleeping. The clock and the
	 * peer's liveness are looked at every SPINS_PER_CLOCK rounds only. */
	if (w->spin_ns && w->timeout_ms != 0 &&
	    ++w->spins % SPINS_PER_CLOCK != 0) {
		vmsg__cpu_relax();
		return 0;
	}

	/* The peer's close is final only once the ring is seen empty after
	 * the close: the first time we see it, the caller tries once more
	 * (data committed before the close must still be delivered). */
	bool was_gone = c->peer_gone;
	int st = vmsg__peer_state(c);
	if (st < 0)
		return st;
	if (st == VMSG_CHAN_CLOSED) {
		/* Nobody will ever make space; data may still be there. */
		if (bit == VMSG_NOTIFY_READ || was_gone)
			return -EPIPE;
		return 0;
	}

	if (w->spin_ns && w->timeout_ms != 0) {
		uint64_t now = c->p->ops->now_ns(c->p);
		if (w->spin_until == 0)
			w->spin_until = now + w->spin_ns;
		if (now < w->spin_until) {
			vmsg__cpu_relax();
			return 0;
		}
	}

	/* Ask for a kick, then let the caller re-check the ring once: the
	 * request ends with a full barrier, so either the peer sees our bit
	 * after publishing, or we see what it published (no lost wake-up). */
	if (!w->armed) {
		vmsg_ring_request_notify(&c->end, bit);
		w->armed = true;
		return 0;
	}
	if (w->timeout_ms == 0)
		return -EAGAIN;

	int ms = vmsg__wait_ms_left(c, w);
	if (ms == 0)
		return -ETIMEDOUT;
	c->st.sleeps++;
	int r = c->p->ops->wait(c->p, ms);
	if (r < 0)
		return r;
	if (r == 0 && w->timeout_ms > 0 && vmsg__wait_ms_left(c, w) == 0)
		return -ETIMEDOUT;
	/* Woken (or a spurious return): the peer cleared our bit when it
	 * kicked, so ask again before the next sleep. */
	w->armed = false;
	return 0;
}
