/* Private: Xen channels set up by message instead of xenstore, for the
 * vmsgd client (lib/service) in both Xen worlds (docs/protocol.md, "Setup
 * by message"). lib/xenplat/xenplat_msg.c.
 *
 * The server shares the pages and allocates the unbound port exactly as
 * vmsg_xen_serve() does, but writes nothing to xenstore: it hands back
 * the control page's grant reference and the port, which vmsgd carries to
 * the client in its service messages. The client binds and maps them as
 * vmsg_xen_connect() would have after reading xenstore; everything it
 * reads from the shared page is checked the same way (lib/chan). */
#ifndef VMSG_XEN_MSG_H
#define VMSG_XEN_MSG_H

#include <stdbool.h>
#include <stdint.h>

#include <vmsg/chan.h>

/* Serve one channel end for `client_domid` without xenstore; *ring_ref
 * and *port receive what a client needs (both non-zero). `name` names
 * the channel (an absolute path; nothing is written there). The channel
 * is the caller's (vmsg_chan_close); it waits for its client as a
 * vmsg_xen_serve() one does. -EINVAL, -ENOMEM, or Xen's errors. */
int vmsg__xen_serve_msg(vmsg_chan **out, uint16_t client_domid,
			const char *name, const struct vmsg_chan_opts *o,
			uint32_t *ring_ref, uint32_t *port);

/* Connect to the channel `server_domid` serves with control page grant
 * `ring_ref` and unbound port `port`, as told by vmsgd. Untrusted values:
 * a ring_ref of 0 or a port of 0 or over Xen's limit is -EPROTO before
 * anything is tried; a grant we may not map is -EPROTO, a port not
 * unbound for us -EBUSY (Xen's answers), and ring orders or grants on the
 * page that make no sense -EPROTO (lib/chan). Never blocks on xenstore. */
int vmsg__xen_connect_msg(vmsg_chan **out, uint16_t server_domid,
			  const char *name, uint32_t ring_ref, uint32_t port,
			  const struct vmsg_chan_opts *o);

/* As vmsg__xen_connect_msg, short of coming in (vmsg__chan_connect_early:
 * the server sees no client until vmsg__chan_come). For a spare vmsgd
 * announced (lib/service/ahead.c), mapped while vmsgd answers the Open
 * that takes it. */
int vmsg__xen_connect_early(vmsg_chan **out, uint16_t server_domid,
			    const char *name, uint32_t ring_ref, uint32_t port,
			    const struct vmsg_chan_opts *o);

/* vmsgd says the peer of Xen channel c is gone (its domain died, or its
 * control channel): mark it as its unmap notification would have, and
 * make an event pending so that a waiter (or a poller of its fd) looks.
 * On a server end, only a client admitted (vmsg__xen_chan_admit) that
 * never came: one that came tells for itself. 1 if done, 0 if not (or c
 * is not a Xen channel with a mapped page). */
int vmsg__xen_chan_peer_gone(vmsg_chan *c);

/* Server end c, served by message: vmsgd has given it to its client
 * (docs/protocol.md, "Spare channels"). Admit the client (cli_live from
 * WAITING to ADMITTED), so that accept returns and a first message waits
 * in the ring while the client maps. 1 if done. */
int vmsg__xen_chan_admit(vmsg_chan *c);

/* For vmsgd alone, once, before its first channel: in dom0 every Xen
 * channel end opened from now on in this process does without its own
 * xenstore connection and @releaseDomain watch (lib/xen/xen_death.c),
 * each of which costs a libxenstore reader thread, ~86 KiB of memory and
 * fds: two of each for every relayed channel and one for every control
 * channel. vmsgd watches @releaseDomain itself and closes a dead
 * domain's ends (its sessions, relays and bridges). */
void vmsg__xen_death_watch_off(void);

/* Open the handles of one channel end of a role (server: shares, client:
 * maps) ahead of it: the process's next end of that role takes them
 * instead of opening its own, one set per role at most. For a process
 * about to wait anyway (a consumer whose Open is on its way, a provider
 * between two channels), so a channel's setup does not wait for them.
 * Linux only; 0 or -errno. unprepare closes a set nobody took. */
int vmsg__xen_prepare(bool server);
void vmsg__xen_unprepare(bool server);

#endif
