/* Event channels, 2-level ABI, without interrupts.
 *
 * The unikernel runs with interrupts off and no upcall: an event is only
 * its pending bit in shared_info. Our ports are masked, so Xen never tries
 * to deliver them; SCHEDOP_poll still wakes a vCPU polling a port when its
 * pending bit goes from clear to set, masked or not. So waiting is:
 * test-and-clear the bit, and if it was clear, poll the port until it is
 * set or the deadline (Xen system time) passes. An event that arrives
 * between the test and the poll leaves the bit set, and the poll returns
 * at once: none is lost.
 */
#include "guest_internal.h"

#include "vmsg_errno.h"

#define EVTCHN_2L_PORTS 4096u

static void mask(uint32_t port)
{
	__atomic_fetch_or(&guest__m.shared->evtchn_mask[port / 64],
			  1ull << (port % 64), __ATOMIC_SEQ_CST);
}

int guest__evtchn_alloc_unbound(uint16_t remote, uint32_t *port)
{
	struct xen_evtchn_alloc_unbound a = {.dom = XEN_DOMID_SELF,
					     .remote_dom = remote};
	long rc = guest__hypercall(XEN_HC_event_channel_op,
				   XEN_EVTCHNOP_alloc_unbound,
				   (uint64_t)(uintptr_t)&a, 0);
	if (rc < 0)
		return (int)rc;
	if (a.port >= EVTCHN_2L_PORTS) {
		guest__evtchn_close(a.port);
		return -ENOSPC;
	}
	mask(a.port);
	*port = a.port;
	return 0;
}

int guest__evtchn_bind(uint16_t remote, uint32_t remote_port, uint32_t *port)
{
	struct xen_evtchn_bind_interdomain b = {.remote_dom = remote,
						.remote_port = remote_port};
	long rc = guest__hypercall(XEN_HC_event_channel_op,
				   XEN_EVTCHNOP_bind_interdomain,
				   (uint64_t)(uintptr_t)&b, 0);
	if (rc < 0)
		return (int)rc;
	if (b.local_port >= EVTCHN_2L_PORTS) {
		guest__evtchn_close(b.local_port);
		return -ENOSPC;
	}
	mask(b.local_port);
	*port = b.local_port;
	return 0;
}

int guest__evtchn_send(uint32_t port)
{
	struct xen_evtchn_port s = {.port = port};
	guest__m.stats.kicks++;
	return (int)guest__hypercall(XEN_HC_event_channel_op,
				     XEN_EVTCHNOP_send,
				     (uint64_t)(uintptr_t)&s, 0);
}

void guest__evtchn_close(uint32_t port)
{
	struct xen_evtchn_port c = {.port = port};
	(void)guest__hypercall(XEN_HC_event_channel_op, XEN_EVTCHNOP_close,
			       (uint64_t)(uintptr_t)&c, 0);
	guest__evtchn_take(port); /* a stale pending bit must not outlive it */
}

int guest__evtchn_take(uint32_t port)
{
	if (port >= EVTCHN_2L_PORTS)
		return 0;
	uint64_t b = 1ull << (port % 64);
	/* Atomic: Xen sets other bits of the same word concurrently. */
	uint64_t old = __atomic_fetch_and(
		&guest__m.shared->evtchn_pending[port / 64], ~b,
		__ATOMIC_SEQ_CST);
	return (old & b) != 0;
}

int guest__evtchn_poll(uint32_t *ports, unsigned n, uint64_t deadline_ns)
{
	struct xen_sched_poll p = {
		.ports = ports,
		.nr_ports = n,
		.timeout = deadline_ns,
	};
	uint64_t t0 = guest__now_ns();
	long rc = guest__hypercall(XEN_HC_sched_op, XEN_SCHEDOP_poll,
				   (uint64_t)(uintptr_t)&p, 0);
	guest__m.stats.polls++;
	guest__m.stats.blocked_ns += guest__now_ns() - t0;
	if (rc < 0 && rc != -4 /* EINTR: the caller looks again */)
		return (int)rc;
	return 0;
}

int guest__evtchn_wait(uint32_t port, uint64_t deadline_ns)
{
	for (;;) {
		if (guest__evtchn_take(port))
			return 1;
		if (deadline_ns && guest__now_ns() >= deadline_ns)
			return 0;
		int r = guest__evtchn_poll(&port, 1, deadline_ns);
		if (r < 0)
			return r;
	}
}

int guest__evtchn_bound(uint32_t port)
{
	struct xen_evtchn_status st = {.dom = XEN_DOMID_SELF, .port = port};
	long rc = guest__hypercall(XEN_HC_event_channel_op, XEN_EVTCHNOP_status,
				   (uint64_t)(uintptr_t)&st, 0);
	if (rc < 0)
		return (int)rc;
	return st.status == XEN_EVTCHNSTAT_interdomain;
}
