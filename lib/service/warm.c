/* A provider's warm channel: one channel served ahead, set up by message,
 * for the consumer domain and ring sizes of the last Serve, so that the
 * next Serve like it is answered with that channel's grant and port at
 * once (docs/protocol.md, "The warm channel"). Freestanding, as the rest
 * of the client.
 *
 * Serving is most of what a provider does for an open on demand: two
 * grants and an unbound port, each a call into the hypervisor (on the
 * simulated Xen, a round trip to its daemon), about half of an open's
 * time. A process that serves one domain tends to serve it again (a
 * channel per request, a consumer that reconnects), so the library does
 * that work while it has nothing else to do: in an accept, before it
 * waits, never between a Serve and its answer. A Serve for another domain
 * or other sizes is served as before, and the warm channel it did not fit
 * is closed, after that answer, in the next accept; the next is served
 * once a Serve is like the one before it (a provider whose consumers take
 * turns gains nothing from one, and would serve every channel twice).
 *
 * What a warm channel holds, a channel's worth (grants to that domain, a
 * port bound for it, the ring's pages), is at most one per handle, freed
 * by vmsg_ctl_close. Nothing of it is given to anyone until vmsgd's Serve
 * names its domain: that domain can map its pages (it can guess the
 * grant), as it can a spare's or any channel's served for it before its
 * Opened, and finds a waiting server's page, which lib/chan reads as
 * hostile input either way. */
#include "service_private.h"
#include "vmsg_text.h"

static bool fits(const struct ctl_warm_key *k, uint16_t domid,
		 const struct vmsg_chan_opts *o)
{
	return k->set && k->domid == domid &&
	       k->rx_ring_size == o->rx_ring_size &&
	       k->tx_ring_size == o->tx_ring_size && k->max_msg == o->max_msg;
}

static void key_opts(const struct ctl_warm_key *k, struct vmsg_chan_opts *o)
{
	vmsg_chan_opts_init(o);
	o->rx_ring_size = k->rx_ring_size;
	o->tx_ring_size = k->tx_ring_size;
	o->max_msg = k->max_msg;
}

int vmsg__svc_warm_serve(vmsg_ctl *ctl, uint16_t domid, const char *path,
			 const struct vmsg_chan_opts *o, vmsg_chan **c,
			 uint32_t *ref, uint32_t *port)
{
	struct ctl_warm *w = &ctl->warm;
	/* Only one still waiting for a client: a client of that domain may
	 * have taken it meanwhile (it can guess the grant), or found it
	 * broken; then it is closed, and this Serve served anew. */
	if (w->c && vmsg_chan_state(w->c) != VMSG_CHAN_WAITING) {
		vmsg_chan_close(w->c);
		w->c = NULL;
	}
	if (w->c && fits(&w->has, domid, o)) {
		*c = w->c;
		*ref = w->ref;
		*port = w->port;
		w->c = NULL;
		return 0;
	}
	/* The next warm channel is for this Serve's like; one that did not
	 * fit is closed off this Serve's time (vmsg__svc_warm_up). After such
	 * a miss, only a Serve like the one before it warms again: a
	 * provider whose consumers take turns would serve each channel
	 * twice. */
	if (fits(&w->want, domid, o))
		w->missed = false;
	w->want.set = true;
	w->want.domid = domid;
	w->want.rx_ring_size = o->rx_ring_size;
	w->want.tx_ring_size = o->tx_ring_size;
	w->want.max_msg = o->max_msg;
	(void)vmsg__text_copy(w->want.path, sizeof w->want.path, path);
	return ctl->env->serve_msg(c, domid, path, o, ref, port);
}

void vmsg__svc_warm_up(vmsg_ctl *ctl)
{
	struct ctl_warm *w = &ctl->warm;
	/* Not while a consumer maps one of ours: its binds and maps go to
	 * the same hypervisor (on the simulator, the same one daemon) and
	 * CPUs as our serving would, and it waits for them. Its connect
	 * wakes the accept that comes back here. */
	if (!w->want.set || vmsg__svc_served_wait_ms(ctl) >= 0)
		return;
	struct vmsg_chan_opts o;
	key_opts(&w->want, &o);
	if (w->c && !fits(&w->has, w->want.domid, &o)) {
		vmsg_chan_close(w->c); /* the last Serve was not like it */
		w->c = NULL;
		w->missed = true;
	}
	if (w->c || w->missed)
		return;
	if (ctl->env->serve_msg(&w->c, w->want.domid, w->want.path, &o,
				&w->ref, &w->port) < 0) {
		/* Out of grants or ports, say: not again until a Serve has
		 * been served the usual way. */
		w->c = NULL;
		w->want.set = false;
		return;
	}
	w->has = w->want;
}

void vmsg__svc_warm_close(vmsg_ctl *ctl)
{
	vmsg_chan_close(ctl->warm.c);
	ctl->warm.c = NULL;
	ctl->warm.want.set = false;
	ctl->warm.missed = false;
}
