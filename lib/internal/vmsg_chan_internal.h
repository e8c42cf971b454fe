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

/* Server end c admitted its client, which has not come yet (cli_live is
 * ADMITTED: not moved to UP by the client's connect, nor cleared by its
 * close or death). */
bool vmsg__chan_admitted(vmsg_chan *c);

#endif
