/* Event channels in the daemon: port allocation and binding per domain, as
 * Xen's event_channel.c does it, plus the hand-over that lets a notifier
 * raise its peer's port directly (see xsim_evt_raise): the daemon is only
 * on the bind/unbind path, never on the notify path. */
#include "xsimd.h"

#include <errno.h>
#include <stdatomic.h>

#define DOMID_SELF_ 0x7FF0u

static void slot_set(struct xsimd_conn *c, uint32_t port, uint32_t gen)
{
	if (!c || !c->slots)
		return;
	atomic_store((_Atomic uint32_t *)&c->slots[port].state, 0);
	/* The generation is written last: a notifier that sees the new gen
	 * also sees the reset state. */
	atomic_store((_Atomic uint32_t *)&c->slots[port].gen, gen);
}

static int port_alloc(struct xsimd *d, struct xsimd_domain *dom)
{
	for (uint32_t p = 1; p < XSIM_EVT_PORTS; p++)
		if (dom->ports[p].state == XSIMD_PORT_FREE)
			return (int)p;
	return -ENOSPC;
}

static uint32_t new_gen(struct xsimd *d)
{
	if (++d->next_gen == 0)
		d->next_gen = 1;
	return d->next_gen;
}

/* Close a port for good: an interdomain peer falls back to unbound, naming
 * this domain, as Xen's evtchn_close leaves it. */
static void port_close(struct xsimd *d, struct xsimd_domain *dom, uint32_t p)
{
	struct xsimd_port *lp = &dom->ports[p];

	if (lp->state == XSIMD_PORT_INTERDOMAIN) {
		struct xsimd_domain *rd = xsimd_dom_get(d, lp->remote_dom);
		if (rd && lp->remote_port < XSIM_EVT_PORTS) {
			struct xsimd_port *rp = &rd->ports[lp->remote_port];
			if (rp->state == XSIMD_PORT_INTERDOMAIN &&
			    rp->remote_dom == dom->domid && rp->remote_port == p) {
				rp->state = XSIMD_PORT_UNBOUND;
				rp->remote_dom = dom->domid;
				rp->remote_port = 0;
			}
		}
	}
	slot_set(lp->owner, p, 0);
	lp->state = XSIMD_PORT_FREE;
	lp->owner = NULL;
	lp->gen = 0;
	lp->remote_dom = lp->remote_port = 0;
}

/* The owner lets go of a port; a held port stays connected until its
 * unmap notification has been sent. */
static void port_drop(struct xsimd *d, struct xsimd_domain *dom, uint32_t p)
{
	struct xsimd_port *lp = &dom->ports[p];

	if (lp->holds) {
		slot_set(lp->owner, p, 0);
		lp->owner = NULL;
		return;
	}
	port_close(d, dom, p);
}

int xsimd_evt_unbound(struct xsimd *d, struct xsimd_conn *c, uint32_t remote)
{
	struct xsimd_domain *dom = xsimd_dom_get(d, c->domid);
	int p;

	if (remote == DOMID_SELF_)
		remote = c->domid;
	if (remote >= XSIM_DOMID_LIMIT)
		return -EINVAL;
	if (!dom)
		return -ESRCH;
	if ((p = port_alloc(d, dom)) < 0)
		return p;
	struct xsimd_port *lp = &dom->ports[p];
	lp->state = XSIMD_PORT_UNBOUND;
	lp->remote_dom = remote;
	lp->remote_port = 0;
	lp->owner = c;
	lp->gen = new_gen(d);
	slot_set(c, (uint32_t)p, lp->gen);
	return p;
}

int xsimd_evt_interdomain(struct xsimd *d, struct xsimd_conn *c,
			  uint32_t remote, uint32_t rport)
{
	struct xsimd_domain *dom = xsimd_dom_get(d, c->domid), *rd;
	int p;

	if (remote == DOMID_SELF_)
		remote = c->domid;
	if (!dom)
		return -ESRCH;
	if (remote >= XSIM_DOMID_LIMIT || !xsimd_dom_alive(d, remote) ||
	    !(rd = xsimd_dom_get(d, remote)))
		return -ESRCH;
	if (rport == 0 || rport >= XSIM_EVT_PORTS)
		return -EINVAL;
	/* Xen: the remote port must be unbound and reserved for us. */
	struct xsimd_port *rp = &rd->ports[rport];
	if (rp->state != XSIMD_PORT_UNBOUND || rp->remote_dom != c->domid ||
	    !rp->owner)
		return -EINVAL;
	if ((p = port_alloc(d, dom)) < 0)
		return p;
	struct xsimd_port *lp = &dom->ports[p];
	lp->state = XSIMD_PORT_INTERDOMAIN;
	lp->remote_dom = remote;
	lp->remote_port = rport;
	lp->owner = c;
	lp->gen = new_gen(d);
	rp->state = XSIMD_PORT_INTERDOMAIN;
	rp->remote_dom = c->domid;
	rp->remote_port = (uint32_t)p;
	slot_set(c, (uint32_t)p, lp->gen);
	/* Xen marks the new local port pending, in case the remote side
	 * signalled while it was still unbound. */
	xsim_evt_raise(c->slots, c->evt_sock, (uint32_t)p);
	return p;
}

int xsimd_evt_unbind(struct xsimd *d, struct xsimd_conn *c, uint32_t port)
{
	struct xsimd_domain *dom = xsimd_dom_get(d, c->domid);

	if (port == 0 || port >= XSIM_EVT_PORTS)
		return -EINVAL;
	if (!dom || dom->ports[port].owner != c)
		return -ENOTCONN;
	port_drop(d, dom, port);
	return 0;
}

int xsimd_evt_peer(struct xsimd *d, struct xsimd_conn *c, struct xsim_msg *m,
		   int *rfds, unsigned *nrfds)
{
	struct xsimd_domain *dom = xsimd_dom_get(d, c->domid), *rd;
	uint32_t port = m->arg[0];

	*nrfds = 0;
	if (port == 0 || port >= XSIM_EVT_PORTS)
		return -EINVAL;
	if (!dom || dom->ports[port].owner != c)
		return -ENOTCONN;
	struct xsimd_port *lp = &dom->ports[port];
	if (lp->state != XSIMD_PORT_INTERDOMAIN ||
	    !(rd = xsimd_dom_get(d, lp->remote_dom)))
		return 1;
	struct xsimd_port *rp = &rd->ports[lp->remote_port];
	if (!rp->owner || !rp->owner->slots)
		return 1;
	m->arg[0] = rp->owner->id;
	m->arg[1] = lp->remote_port;
	m->arg[2] = rp->gen;
	rfds[0] = rp->owner->evt_memfd;
	rfds[1] = rp->owner->evt_sock;
	*nrfds = 2;
	return 0;
}

void xsimd_evt_conn_gone(struct xsimd *d, struct xsimd_conn *c)
{
	struct xsimd_domain *dom = xsimd_dom_get(d, c->domid);

	if (!dom)
		return;
	for (uint32_t p = 1; p < XSIM_EVT_PORTS; p++)
		if (dom->ports[p].state != XSIMD_PORT_FREE && dom->ports[p].owner == c)
			port_drop(d, dom, p);
}

int xsimd_evt_hold(struct xsimd *d, uint32_t domid, uint32_t port)
{
	struct xsimd_domain *dom = xsimd_dom_get(d, domid);

	if (!dom || port == 0 || port >= XSIM_EVT_PORTS ||
	    dom->ports[port].state == XSIMD_PORT_FREE || !dom->ports[port].owner)
		return -EINVAL;
	dom->ports[port].holds++;
	return 0;
}

void xsimd_evt_fire_release(struct xsimd *d, uint32_t domid, uint32_t port)
{
	struct xsimd_domain *dom = xsimd_dom_get(d, domid), *rd;

	if (!dom || port == 0 || port >= XSIM_EVT_PORTS)
		return;
	struct xsimd_port *lp = &dom->ports[port];
	if (lp->state == XSIMD_PORT_INTERDOMAIN &&
	    (rd = xsimd_dom_get(d, lp->remote_dom))) {
		struct xsimd_port *rp = &rd->ports[lp->remote_port];
		if (rp->owner && rp->owner->slots)
			xsim_evt_raise(rp->owner->slots, rp->owner->evt_sock,
				       lp->remote_port);
	}
	if (lp->holds && --lp->holds == 0 && !lp->owner &&
	    lp->state != XSIMD_PORT_FREE)
		port_close(d, dom, port);
}
