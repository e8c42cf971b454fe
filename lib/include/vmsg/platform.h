/* vmsg/platform.h - the seam between the channel protocol and the world.
 *
 * Error contract: >= 0 success, negative errno on failure.
 *
 * lib/chan speaks the vchan handshake through this table and nothing else,
 * so the same channel code runs over the host backend (memfd + eventfd +
 * UNIX socket), Xen's libraries (grant tables, event channels, xenstore) and
 * the freestanding unikernel platform. The operations are shaped after
 * Xen's primitives; a backend that is not Xen emulates them.
 *
 * One platform instance serves one channel end and is created by the
 * backend's constructor (for example vmsg_host_platform_new()) with the
 * address and peer already fixed. lib/chan calls:
 *
 *   server: port_alloc -> share(1 page, notify at srv_live)
 *           -> share(ring pages) -> publish(ring_ref, port)
 *   client: lookup(&ring_ref, &port) -> port_bind
 *           -> map(1 page, notify at cli_live)
 *           -> [validate orders and grants] -> map(ring pages)
 *   both:   notify / wait / fd / ack / pend while connected; destroy at the
 *           end.
 *   vmsg_waitset: wait_any over the platforms of many channels.
 *
 * "Notify at offset" is Xen's unmap notification: when this side unmaps the
 * page or dies, the byte at that offset of the first page is cleared and the
 * peer's event port is signalled. That is how a channel sees its peer die.
 */
#ifndef VMSG_PLATFORM_H
#define VMSG_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vmsg_platform;

struct vmsg_platform_ops {
	const char *name;

	/* Allocate `n` zeroed pages shared with the peer, mapped contiguously
	 * at *addr; their references go to refs[0..n-1]. notify_off >= 0 asks
	 * for unmap notification on the byte at that offset of the first page,
	 * signalled through the port from port_alloc (which must come first
	 * when notify_off >= 0). */
	int (*share)(struct vmsg_platform *p, uint32_t n, void **addr,
		     uint32_t *refs, int notify_off);
	/* Map `n` pages of the peer named by refs, contiguously, read-write.
	 * notify_off as above, with the port from port_bind. */
	int (*map)(struct vmsg_platform *p, uint32_t n, const uint32_t *refs,
		   void **addr, int notify_off);
	/* Undo share or map. */
	void (*unmap)(struct vmsg_platform *p, void *addr, uint32_t n);

	/* Server: an unbound event port the peer may bind. */
	int (*port_alloc)(struct vmsg_platform *p, uint32_t *port);
	/* Client: bind the server's port. */
	int (*port_bind)(struct vmsg_platform *p, uint32_t remote_port);
	/* Kick the peer. */
	int (*notify)(struct vmsg_platform *p);
	/* Block until an event arrives (consuming it) or timeout_ms passes
	 * (-1: forever). Returns 1 for an event, 0 on timeout. Also performs
	 * the backend's own housekeeping (the host backend accepts its one
	 * client and notices a hung-up peer here). */
	int (*wait)(struct vmsg_platform *p, int timeout_ms);
	/* Consume pending events without blocking; same housekeeping. Returns
	 * 1 if any event was pending, 0 if none. */
	int (*ack)(struct vmsg_platform *p);
	/* A file descriptor that polls readable when an event is pending, or
	 * -ENOTSUP where the platform has none (unikernels). Optional. */
	int (*fd)(struct vmsg_platform *p);
	/* Make an event pending on our own port, as if the peer had kicked:
	 * the fd polls readable, and the next wait, ack or wait_any reports
	 * it. A receiving call that stops on its work budget with fragments
	 * still in the ring uses it, so that a caller sleeping on the fd or
	 * in a wait set calls again (the peer, having published them, kicks
	 * no more). Never blocks. Optional on a platform with neither fd nor wait_any
	 * (nobody sleeps outside the library there, and every call looks at
	 * the ring before it waits). */
	int (*pend)(struct vmsg_platform *p);
	/* Block until the event of at least one of ps[0..n-1] (platforms of
	 * this same family: the same wait_any) arrives or timeout_ms passes
	 * (-1: forever, 0: just look). Consumes the events it reports and
	 * sets fired[i] = 1 for each (fired zeroed by the caller); the same
	 * housekeeping as wait. Returns how many fired, 0 on timeout.
	 * n <= VMSG_WAITSET_MAX. Optional: vmsg/waitset.h needs it. */
	int (*wait_any)(struct vmsg_platform *const *ps, unsigned n,
			int timeout_ms, uint8_t *fired);

	/* Server: advertise ring_ref and port to the peer at the address the
	 * platform was created with, readable by the peer only. */
	int (*publish)(struct vmsg_platform *p, uint32_t ring_ref,
		       uint32_t port);
	/* Server: withdraw what publish advertised (once the client is in,
	 * and at close). A platform may do it at its next notify (after the
	 * kick), wait, wait_any, ack or destroy instead of at once, so that the server's first message
	 * does not wait for it (Xen's does: the removal is a xenstore
	 * transaction); a publish in between keeps what it wrote. */
	void (*unpublish)(struct vmsg_platform *p);
	/* Client: read the server's ring_ref and port. May block up to
	 * timeout_ms for the server to appear. -ENOENT when there is none.
	 * (A server's side may admit the client it finds here: cli_live
	 * VMSG_LIVE_ADMITTED, vmsg/ring.h.) */
	int (*lookup)(struct vmsg_platform *p, uint32_t *ring_ref,
		      uint32_t *port, int timeout_ms);

	/* Private memory for the channel (state, reassembly buffer). */
	void *(*alloc)(struct vmsg_platform *p, size_t size);
	void (*free)(struct vmsg_platform *p, void *ptr, size_t size);
	/* A monotonic clock in nanoseconds. */
	uint64_t (*now_ns)(struct vmsg_platform *p);

	/* Release everything the platform still holds. */
	void (*destroy)(struct vmsg_platform *p);
};

/* Backends embed this as their first member. */
struct vmsg_platform {
	const struct vmsg_platform_ops *ops;
};

#ifdef __cplusplus
}
#endif
#endif
