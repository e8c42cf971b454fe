/* Private: access to a channel's shared state, for tests (the hostile-peer
 * test rewrites the shared page through these) and for sibling layers. */
#ifndef VMSG_CHAN_INTERNAL_H
#define VMSG_CHAN_INTERNAL_H

#include <stdbool.h>

#include <vmsg/chan.h>
#include <vmsg/ring.h>

/* The channel's ring end (its shared page is ->page). NULL before the
 * handshake has mapped it. */
struct vmsg_ring_end *vmsg__chan_ring(vmsg_chan *c);

/* The platform the channel runs on. */
struct vmsg_platform *vmsg__chan_platform(vmsg_chan *c);

/* What vmsg_chan_close() tells the peer, without releasing anything:
 * publish what was sent, clear our live byte, kick. The pages, the port
 * and the directory entry stay until vmsg_chan_close(). Once only. For a
 * server that must keep the pages for a client it admitted that has not
 * mapped them yet (lib/service/served.c, "lingering"). */
void vmsg__chan_hangup(vmsg_chan *c);

/* A client's connect in two steps (lib/service/ahead.c): the first maps
 * and binds everything vmsg_chan_connect() would, looking the server up
 * without waiting, and does not come in (cli_live is left as the server
 * has it: the server sees no client); vmsg__chan_come() comes in, as
 * vmsg_chan_connect()'s last step (-EBUSY: another client, or none
 * admitted). A channel that did not come is given up with
 * vmsg__chan_discard() (its pages unmapped: on Xen the unmap
 * notification then clears cli_live, which the server reads as a client
 * that came and went), or used as any channel once it came. */
int vmsg__chan_connect_early(vmsg_chan **out, struct vmsg_platform *p,
			     const struct vmsg_chan_opts *o);
int vmsg__chan_come(vmsg_chan *c);
void vmsg__chan_discard(vmsg_chan *c);

/* Server end c admitted its client, which has not come yet (cli_live is
 * ADMITTED: not moved to UP by the client's connect, nor cleared by its
 * close or death). */
bool vmsg__chan_admitted(vmsg_chan *c);

/* A service handle's tag on a channel it handed out (lib/service): the
 * handle keeps the channel's pointer to act on vmsgd's Closed for it, and
 * the application may close the channel with vmsg_chan_close(), in
 * another thread too. They meet at the tag's state, whichever comes
 * first; the tag is freed by the one that comes second. */
enum {
	VMSG_TAG_OPEN,   /* both hold it */
	VMSG_TAG_BUSY,   /* the handle is using the channel: a close waits */
	VMSG_TAG_CLOSED, /* the channel was closed: the handle frees it */
	VMSG_TAG_LEFT,   /* the handle was closed: the channel's close frees
			    it */
};
struct vmsg__chan_tag {
	uint32_t state;
	void (*free)(void *p, size_t size);
};

/* Put tag t on c (NULL: take it off). vmsg_chan_close() then moves the
 * tag to CLOSED, or frees it if the handle has LEFT. */
void vmsg__chan_set_tag(vmsg_chan *c, struct vmsg__chan_tag *t);

#endif
