/* Private: how long a peer has left a fragmented message incomplete, for
 * the receivers that bound it (vmsgd's partial_message_ms, docs/vmsgd.md
 * "Limits"; vmsg-blockd's --partial-timeout, docs/storage.md). A peer
 * that sends the first fragments of a large message and never the rest
 * holds the receiver's reassembly buffer, which cannot be freed while the
 * message is incomplete, for as long as its channel lives. Public calls
 * only (vmsg_chan_rx_partial, vmsg_chan_stats): one copy for both
 * daemons, each on its own clock. */
#ifndef VMSG_PARTIAL_H
#define VMSG_PARTIAL_H

#include <stdbool.h>
#include <stdint.h>

#include <vmsg/chan.h>

/* Watches one channel end for a fragmented message left incomplete.
 * Zero-initialised: nothing seen yet. */
struct vmsg__partial_watch {
	uint64_t since_ms; /* 0: none seen incomplete */
	uint64_t msgs;     /* the end's rx_msgs then: a new one restarts */
};

/* Has one message on `ch` been incomplete for `limit_ms` or more, at
 * `now` (ms of the caller's clock, never 0)? Called now and then (a
 * daemon's tick, or each step): a message seen incomplete at two looks
 * with no message completed between them is the same one. */
static inline bool vmsg__partial_expired(struct vmsg__partial_watch *w,
					 vmsg_chan *ch, uint32_t limit_ms,
					 uint64_t now)
{
	struct vmsg_chan_stats st;
	if (!ch || vmsg_chan_rx_partial(ch, NULL) != 1 ||
	    vmsg_chan_stats(ch, &st) < 0) {
		w->since_ms = 0;
		return false;
	}
	/* A message completed since the last look means this incomplete
	 * one is another (a stream of large messages is fragmented nearly
	 * all the time, each one briefly). */
	if (!w->since_ms || st.rx_msgs != w->msgs) {
		w->since_ms = now;
		w->msgs = st.rx_msgs;
		return false;
	}
	return now - w->since_ms >= limit_ms;
}

#endif
