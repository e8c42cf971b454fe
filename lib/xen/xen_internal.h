/* Private to lib/xen: the Xen platform's state and the split between
 * xen_platform.c (grants, event channel, waiting, life cycle) and
 * xen_store.c (the xenstore handshake: publish, unpublish, lookup).
 *
 * One struct vmsg_xen_platform serves one channel end. A server shares
 * pages (xengntshr) and allocates the event port; a client maps the
 * server's grants (xengnttab) and binds that port. Every mapping is
 * remembered with the handle that made it, so unmap and destroy undo each
 * one with the matching call.
 */
#ifndef VMSG_XEN_INTERNAL_H
#define VMSG_XEN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <xenevtchn.h>
#include <xengnttab.h>

struct xs_handle;

#include <vmsg/platform.h>
#include <vmsg/xen.h>

#define XEN_PAGE 4096u
/* chan maps or shares at most two regions (the control page and the ring
 * pages); a few spare slots cost nothing. */
#define XEN_MAX_REGIONS 4
/* Largest event port we accept from xenstore: Xen's FIFO ABI limit. */
#define XEN_PORT_MAX ((1u << 17) - 1)
/* Domain ids at and above this are reserved by Xen (DOMID_FIRST_RESERVED). */
#define XEN_DOMID_LIMIT 0x7ff0u
/* While a client waits for the server's keys, re-read them at least this
 * often even without a watch event (a watch on an unreadable parent may
 * stay silent). */
#define XEN_LOOKUP_POLL_MS 200

struct xen_region {
	void *addr;     /* NULL: slot free */
	uint32_t pages;
	bool shared;    /* xengntshr_share_* (server) vs xengnttab_map_* */
	bool notify;    /* carries our unmap notification */
};

struct vmsg_xen_platform {
	struct vmsg_platform base; /* first: the ops table */
	bool server;
	uint16_t peer;             /* the other end's domain */
	char *path;                /* the xenstore directory */

	xenevtchn_handle *evt;
	int evfd;                  /* xenevtchn_fd(evt), non-blocking */
	int32_t port;              /* our local port; -1 before alloc/bind */

	xengntshr_handle *shr;     /* server */
	xengnttab_handle *tab;     /* client */
	bool notify_set;           /* the one unmap-notify region exists */
	struct xen_region reg[XEN_MAX_REGIONS];

	/* Server: what publish wrote, for unpublish. */
	bool published;
	bool made_dir;             /* publish created <path> itself */

	/* A destroyed peer domain (xen_death.c). */
	uint8_t *ctl_page;         /* the control page (carries the notify) */
	struct xs_handle *xsw;     /* dom0: watches @releaseDomain, or NULL */
	int xsfd;                  /* its fd, or -1 */
	int epfd;                  /* evfd (+ xsfd, pendfd) for fd(), or -1 */
	bool peer_seen;            /* its domain was seen alive */

	/* pend(): an eventfd in epfd, made on first use, and whether it
	 * holds an event that wait/ack have not consumed yet. */
	int pendfd;
	bool pended;
};

static inline struct vmsg_xen_platform *vmsg__xen_of(struct vmsg_platform *p)
{
	return (struct vmsg_xen_platform *)p;
}

/* A negative errno from the errno a Xen library left (never 0). */
int vmsg__xen_err(void);
uint64_t vmsg__xen_now_ns(void);

/* xen_death.c: a destroyed peer domain runs no unmap notification; dom0
 * watches @releaseDomain instead. death_check returns 1 when it found the
 * peer gone and cleared its live byte. */
void vmsg__xen_death_open(struct vmsg_xen_platform *x);
int vmsg__xen_death_check(struct vmsg_xen_platform *x);
void vmsg__xen_death_close(struct vmsg_xen_platform *x);

/* xen_store.c */
int vmsg__xen_publish(struct vmsg_platform *p, uint32_t ring_ref,
		      uint32_t port);
void vmsg__xen_unpublish(struct vmsg_platform *p);
int vmsg__xen_lookup(struct vmsg_platform *p, uint32_t *ring_ref,
		     uint32_t *port, int timeout_ms);

#endif
