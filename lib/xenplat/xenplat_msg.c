/* Xen channels set up by message (vmsg_xen_msg.h): the platform's
 * publish and lookup keep the grant reference and port in the platform
 * instead of xenstore (xenplat_store.c asks vmsg__xenplat_by_msg first).
 * The same code in every OS. */
#include "vmsg_xen_msg.h"

#include <vmsg/xen.h>

#include "xenplat_os.h"

#include "vmsg_chan_internal.h"
#include "vmsg_errno.h"

int vmsg__xen_serve_msg(vmsg_chan **out, uint16_t client_domid,
			const char *name, const struct vmsg_chan_opts *o,
			uint32_t *ring_ref, uint32_t *port)
{
	if (!out || !ring_ref || !port)
		return -EINVAL;
	struct vmsg_platform *p;
	int r = vmsg_xen_platform_new(&p, client_domid, name, true);
	if (r < 0)
		return r;
	struct vmsg__xenplat *x = vmsg__xenplat_of(p);
	x->by_msg = true;
	vmsg_chan *c;
	if ((r = vmsg_chan_serve(&c, p, o)) < 0)
		return r; /* the platform went with the channel */
	/* publish() ran in the handshake and kept them. */
	*ring_ref = x->msg_ref;
	*port = x->msg_port;
	*out = c;
	return 0;
}

/* A client's platform for the grant reference and port vmsgd gave. */
static int msg_platform(struct vmsg_platform **p, uint16_t server_domid,
			const char *name, uint32_t ring_ref, uint32_t port)
{
	/* What xenstore's keys would have had to be (xenplat_store.c's
	 * read_keys): a hostile or broken vmsgd's values go no further. */
	if (ring_ref == 0 || port == 0 || port > VMSG_XEN_PORT_MAX)
		return -EPROTO;
	int r = vmsg_xen_platform_new(p, server_domid, name, false);
	if (r < 0)
		return r;
	struct vmsg__xenplat *x = vmsg__xenplat_of(*p);
	x->by_msg = true;
	x->msg_ref = ring_ref;
	x->msg_port = port;
	return 0;
}

/* come: connect as ever; else map and bind only (vmsg__chan_come later). */
static int connect_by_msg(vmsg_chan **out, uint16_t server_domid,
			  const char *name, uint32_t ring_ref, uint32_t port,
			  const struct vmsg_chan_opts *o, bool come)
{
	if (!out)
		return -EINVAL;
	struct vmsg_platform *p;
	int r = msg_platform(&p, server_domid, name, ring_ref, port);
	if (r < 0)
		return r;
	/* Nothing to wait for: the server is there, or it is not. */
	return come ? vmsg_chan_connect(out, p, o, 0)
		    : vmsg__chan_connect_early(out, p, o);
}

int vmsg__xen_connect_msg(vmsg_chan **out, uint16_t server_domid,
			  const char *name, uint32_t ring_ref, uint32_t port,
			  const struct vmsg_chan_opts *o)
{
	return connect_by_msg(out, server_domid, name, ring_ref, port, o, true);
}

int vmsg__xen_connect_early(vmsg_chan **out, uint16_t server_domid,
			    const char *name, uint32_t ring_ref, uint32_t port,
			    const struct vmsg_chan_opts *o)
{
	return connect_by_msg(out, server_domid, name, ring_ref, port, o,
			      false);
}

int vmsg__xen_chan_admit(vmsg_chan *c)
{
	struct vmsg_platform *p = c ? vmsg__chan_platform(c) : NULL;
	if (!p || !vmsg__xenplat_is(p))
		return 0;
	return vmsg__xenplat_admit(vmsg__xenplat_of(p));
}

int vmsg__xen_chan_peer_gone(vmsg_chan *c)
{
	struct vmsg_platform *p = c ? vmsg__chan_platform(c) : NULL;
	if (!p || !vmsg__xenplat_is(p))
		return 0;
	struct vmsg__xenplat *x = vmsg__xenplat_of(p);
	/* A server's client that came tells for itself (its unmap
	 * notification): only one we admitted that never came is marked. */
	if (!(x->server ? vmsg__xenplat_unadmit(x) : vmsg__xenplat_peer_gone(x)))
		return 0;
	/* Wake whoever sleeps on the channel: it looks at the live byte. */
	if (p->ops->pend)
		(void)p->ops->pend(p);
	return 1;
}
