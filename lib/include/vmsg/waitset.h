/* vmsg/waitset.h - one blocking wait for many channels.
 *
 * Error contract: >= 0 success, negative errno on failure.
 *
 * An appliance that holds several channels (a switch with a port per
 * guest, a storage layer with a consumer side and a provider side, a
 * service with many consumers) puts them in a wait set and waits once: the
 * call returns which channels have work. It is the same on Linux and in a
 * unikernel, where it is the only way to wait on more than one channel
 * (SCHEDOP_poll on all their ports at once; a destroyed peer is still
 * noticed, docs/unikernel.md).
 *
 * The contract is vmsg_chan_fd()'s: a channel reported ready may have work
 * (data, space, a client, a close); call the non-blocking calls you need
 * (timeout 0) until they return -EAGAIN, which asks the peer for the kick
 * that makes the channel ready again (or, for a receive stopped on its
 * work budget with fragments still in the ring, makes it ready itself). Work left undone when you wait again
 * is not reported again: the wait set reports events, not states.
 *
 * The set lives in caller memory (static, on the stack or allocated) and
 * allocates nothing. Its channels' platforms must share one wait (all Xen,
 * or all host: the same `wait_any` op, vmsg/platform.h); to mix kinds on
 * Linux, poll their vmsg_chan_fd()s yourself. One thread uses a set at a
 * time, and the channels in it as chan.h says.
 */
#ifndef VMSG_WAITSET_H
#define VMSG_WAITSET_H

#include <stdint.h>

#include <vmsg/chan.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The most channels in one set (Xen's SCHEDOP_poll takes 128 ports). */
#define VMSG_WAITSET_MAX 128

struct vmsg_waitset_event {
	vmsg_chan *chan;
	void *data; /* what vmsg_waitset_add() was given */
};

/* Fields private: use the calls below. */
struct vmsg_waitset {
	unsigned n;
	vmsg_chan *chan[VMSG_WAITSET_MAX];
	void *data[VMSG_WAITSET_MAX];
	struct vmsg_platform *plat[VMSG_WAITSET_MAX];
	uint8_t fired[VMSG_WAITSET_MAX];   /* events not yet reported */
	uint8_t scratch[VMSG_WAITSET_MAX];
};

/* Make *ws an empty set. */
void vmsg_waitset_init(struct vmsg_waitset *ws);

/* Add channel c with `data` for the caller (returned with its events). c
 * must stay open while it is in the set: remove it before
 * vmsg_chan_close(). Errors: -EINVAL (NULL), -EEXIST (already in),
 * -ENOBUFS (VMSG_WAITSET_MAX channels in the set), -ENOTSUP (its platform
 * cannot wait in a set, or differs in kind from the set's others). */
int vmsg_waitset_add(struct vmsg_waitset *ws, vmsg_chan *c, void *data);

/* Take c out of the set (an event of it not yet reported is dropped).
 * Errors: -EINVAL, -ENOENT (not in the set). */
int vmsg_waitset_remove(struct vmsg_waitset *ws, vmsg_chan *c);

/* How many channels the set holds. */
unsigned vmsg_waitset_count(const struct vmsg_waitset *ws);

/* Block until at least one channel has an event, or timeout_ms passes (-1
 * forever, 0 just look). A wait that would sleep first spins for the
 * largest spin budget (opts.spin_ns, vmsg/chan.h) of the set's channels,
 * within the timeout, watching their rings: a channel whose peer published
 * or consumed meanwhile, or kicked (having published before the spin
 * began), is reported without sleeping (worth it where a
 * sleep and its wake-up cost more than the spin, say two processes on two
 * CPUs of a VM whose idle CPUs halt; docs/benchmarks.md). No budget in the
 * set: no spin. Fills ev[0..cap-1] with the channels that have,
 * in the order they were added; more than cap are kept for the next call.
 * Returns how many it filled, 0 on timeout (never -ETIMEDOUT); a caught
 * signal does not end the wait (never -EINTR: vmsg/chan.h). Errors:
 * -EINVAL (NULL or cap 0; an empty set with timeout -1, which would never
 * return), the platform's wait errors. An empty set returns 0 at once. */
int vmsg_waitset_wait(struct vmsg_waitset *ws, struct vmsg_waitset_event *ev,
		      unsigned cap, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
