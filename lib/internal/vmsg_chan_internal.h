/* Private: access to a channel's shared state, for tests (the hostile-peer
 * test rewrites the shared page through these) and for sibling layers. */
#ifndef VMSG_CHAN_INTERNAL_H
#define VMSG_CHAN_INTERNAL_H

#include <vmsg/chan.h>
#include <vmsg/ring.h>

/* The channel's ring end (its shared page is ->page). NULL before the
 * handshake has mapped it. */
struct vmsg_ring_end *vmsg__chan_ring(vmsg_chan *c);

/* The platform the channel runs on. */
struct vmsg_platform *vmsg__chan_platform(vmsg_chan *c);

#endif
