/* A spare connected to ahead of its Opened (docs/protocol.md, "Spare
 * channels"). When the provider has served a spare for our next Open of
 * a service, vmsgd says so (Spare: its id, grant and port). Our next Open
 * of that service then maps and binds the channel right after it sends
 * the Open, while vmsgd answers (on the simulated Xen those are three
 * calls into the hypervisor, the most of such an open), and comes in only
 * when the Opened names that very channel with the same values: vmsgd
 * may have answered with another (the spare retired, the policy changed),
 * and then the one made ready is given up. Nothing is trusted from the
 * Spare that the Opened does not repeat; what is mapped is the provider's
 * page, read as hostile input either way (lib/chan). Freestanding, as
 * the rest of the client. */
#include "service_private.h"
#include "vmsg_errno.h"

void vmsg__svc_ahead_note(vmsg_ctl *ctl, const struct vmsg_pbw_spare *sp)
{
	struct ctl_ahead *a = &ctl->ahead;
	/* One at a time: an open in progress (a is taken by it) keeps its
	 * own until its Opened. */
	if (a->c)
		return;
	/* What an Opened with them would need (open_connect's checks). */
	if (!ctl->by_msg || sp->channel_id == 0 || sp->ring_ref == 0 ||
	    sp->event_port == 0 || !vmsg_service_name_ok(sp->service) ||
	    !vmsg__svc_chan_named_ok(sp->path, sp->provider_domid,
				     sp->max_msg))
		return;
	a->sp = *sp;
}

/* (No strcmp in a unikernel: the length and the bytes.) */
static bool same_name(const char *a, const char *b)
{
	size_t n = __builtin_strlen(a);
	return n == __builtin_strlen(b) && __builtin_memcmp(a, b, n) == 0;
}

void vmsg__svc_ahead_start(vmsg_ctl *ctl, const char *name)
{
	struct ctl_ahead *a = &ctl->ahead;
	const struct vmsg__svc_env *env = ctl->env;
	if (!a->sp.channel_id || a->c || !env->connect_early ||
	    !same_name(a->sp.service, name))
		return;
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.max_msg = (size_t)a->sp.max_msg;
	if (env->connect_early(&a->c, (uint16_t)a->sp.provider_domid,
			       a->sp.path, a->sp.ring_ref, a->sp.event_port,
			       &o) < 0) {
		/* Retired under us, most likely: the Opened will say. */
		a->c = NULL;
		a->sp.channel_id = 0;
	}
}

int vmsg__svc_ahead_take(vmsg_ctl *ctl, const struct vmsg_pbw_opened *op,
			 vmsg_chan **out)
{
	struct ctl_ahead *a = &ctl->ahead;
	if (!a->c)
		return 0;
	if (op->channel_id != a->sp.channel_id ||
	    op->ring_ref != a->sp.ring_ref ||
	    op->event_port != a->sp.event_port ||
	    op->provider_domid != a->sp.provider_domid ||
	    (uint64_t)op->max_msg != a->sp.max_msg) {
		vmsg__svc_ahead_drop(ctl);
		return 0;
	}
	vmsg_chan *c = a->c;
	a->c = NULL;
	a->sp.channel_id = 0;
	int r = ctl->env->come(c);
	if (r < 0) {
		ctl->env->discard(c);
		return r;
	}
	*out = c;
	return 1;
}

void vmsg__svc_ahead_drop(vmsg_ctl *ctl)
{
	struct ctl_ahead *a = &ctl->ahead;
	if (!a->c)
		return;
	ctl->env->discard(a->c);
	a->c = NULL;
	a->sp.channel_id = 0;
}

void vmsg__svc_ahead_done(vmsg_ctl *ctl, const char *name)
{
	struct ctl_ahead *a = &ctl->ahead;
	vmsg__svc_ahead_drop(ctl);
	/* Spent: taken by this Open, or not, and so no longer a spare
	 * (taken the usual way, or retired). Kept, its grant and port
	 * could name another channel by our next Open: the provider reuses
	 * them, for our domain's other processes too, whose channel a
	 * mapping given up would break (its unmap clears cli_live). */
	if (a->sp.channel_id && same_name(a->sp.service, name))
		a->sp.channel_id = 0;
}

void vmsg__svc_ahead_closed(vmsg_ctl *ctl, uint32_t id)
{
	struct ctl_ahead *a = &ctl->ahead;
	if (!a->c && a->sp.channel_id == id)
		a->sp.channel_id = 0;
}
