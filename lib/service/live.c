/* The channels a handle has handed out (vmsg_service_open and _accept),
 * kept for two things: vmsgd's Closed{id} for one of them (its peer's
 * domain or control channel went), which the library passes to the
 * channel, and the Closed{id} the library sends vmsgd when the
 * application closes one, so that vmsgd stops counting it. Freestanding,
 * as the rest of the client.
 *
 * The application may close such a channel with vmsg_service_close() or
 * with vmsg_chan_close(), in another thread too (one channel, one thread;
 * one handle, one thread). The second never passes through the handle:
 * so each entry has a tag on its channel (vmsg__chan_set_tag), where the
 * close says the channel is gone before it frees it, and the handle never
 * touches a channel whose tag says so. The handle tells vmsgd of those
 * when it next opens or accepts a channel. */
#include "service_private.h"
#include "vmsg_chan_internal.h"
#include "vmsg_errno.h"

static uint32_t tag_state(const struct ctl_live *l)
{
	return __atomic_load_n(&l->tag->state, __ATOMIC_ACQUIRE);
}

static void forget(vmsg_ctl *ctl, size_t i)
{
	ctl->env->free(ctl->live[i].tag, sizeof *ctl->live[i].tag);
	ctl->live[i] = ctl->live[--ctl->nlive];
}

/* Entries whose channel the application closed with vmsg_chan_close():
 * tell vmsgd, and forget them. */
static void reap(vmsg_ctl *ctl)
{
	for (size_t i = 0; i < ctl->nlive;) {
		if (tag_state(&ctl->live[i]) != VMSG_TAG_CLOSED) {
			i++;
			continue;
		}
		vmsg__svc_send_closed(ctl, ctl->live[i].id);
		forget(ctl, i);
	}
}

void vmsg__svc_track(vmsg_ctl *ctl, vmsg_chan *c, uint32_t id,
		     bool consumer)
{
	reap(ctl);
	struct vmsg__chan_tag *t = ctl->env->alloc(sizeof *t); /* zeroed: OPEN */
	if (!t)
		return; /* untracked: only the count at vmsgd suffers */
	if (vmsg__svc_grow(ctl, (void **)&ctl->live, &ctl->caplive,
			   ctl->nlive, sizeof ctl->live[0]) < 0) {
		ctl->env->free(t, sizeof *t);
		return;
	}
	t->free = ctl->env->free;
	vmsg__chan_set_tag(c, t);
	ctl->live[ctl->nlive++] = (struct ctl_live){c, id, consumer, t};
}

int vmsg__svc_untrack(vmsg_ctl *ctl, vmsg_chan *c, struct ctl_live *out)
{
	for (size_t i = 0; i < ctl->nlive; i++) {
		/* A closed one's address may be c's again. */
		if (ctl->live[i].c != c ||
		    tag_state(&ctl->live[i]) == VMSG_TAG_CLOSED)
			continue;
		*out = ctl->live[i];
		vmsg__chan_set_tag(c, NULL); /* c is ours (the caller's thread) */
		forget(ctl, i);
		return 0;
	}
	return -ENOENT;
}

/* vmsgd's Closed{id} for a channel we handed out: the peer's domain or
 * control channel is gone, which the channel may not see by itself (a
 * destroyed domain runs no unmap notification; a consumer we admitted
 * that never came has nothing to notify). What is in the ring is still
 * read; then the channel reads -EPIPE. (env->peer_gone leaves alone a
 * served channel whose consumer is connected: it tells for itself.) */
void vmsg__svc_peer_gone(vmsg_ctl *ctl, uint32_t id)
{
	if (!id || !ctl->env->peer_gone)
		return;
	for (size_t i = 0; i < ctl->nlive; i++) {
		struct ctl_live *l = &ctl->live[i];
		if (l->id != id)
			continue;
		/* BUSY holds off a vmsg_chan_close() in another thread while
		 * we use the channel; one already closed is left alone. */
		uint32_t s = VMSG_TAG_OPEN;
		if (__atomic_compare_exchange_n(&l->tag->state, &s,
						VMSG_TAG_BUSY, false,
						__ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			(void)ctl->env->peer_gone(l->c);
			__atomic_store_n(&l->tag->state, VMSG_TAG_OPEN,
					 __ATOMIC_RELEASE);
		}
	}
}

void vmsg__svc_live_leave(vmsg_ctl *ctl)
{
	for (size_t i = 0; i < ctl->nlive; i++) {
		/* The channel stays the application's: its close frees the
		 * tag, unless it came first. */
		uint32_t s = VMSG_TAG_OPEN;
		if (!__atomic_compare_exchange_n(&ctl->live[i].tag->state, &s,
						 VMSG_TAG_LEFT, false,
						 __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			ctl->env->free(ctl->live[i].tag,
				       sizeof *ctl->live[i].tag);
	}
	ctl->nlive = 0;
}
