/* vmsg/service.h - named services through vmsgd (guest side).
 *
 * Error contract: >= 0 success, negative errno on failure; errno is never
 * used. A request vmsgd refused returns vmsgd's code (-EACCES for policy,
 * -ENOENT for no such service, -EEXIST, -EUSERS for a limit, ...) and its
 * text is kept for vmsg_ctl_error(); -EAGAIN with "rate limited" means
 * vmsgd's per-guest request rate was exceeded (try again later).
 *
 * Restarts: when the control channel breaks (vmsgd stopped, was killed and
 * restarted, or reset this domain's channel) the handle reconnects by
 * itself inside the next call, waiting for vmsgd within that call's
 * timeout: it connects again (failing fast and retrying every 100 ms on the
 * stale keys a killed vmsgd left), exchanges Hellos and offers again every
 * service this handle offered (a name vmsgd now refuses is dropped).
 * Channels already returned keep working: their data never passes dom0.
 * A call that finds vmsgd not back by its deadline returns -ENOTCONN
 * (offer, open) or -ETIMEDOUT / -EAGAIN (accept); the handle stays usable.
 * A request in flight when vmsgd went away is sent again to the new one.
 *
 * A process talks to vmsgd over its domain's control channel, served by
 * vmsgd at /local/domain/0/data/vmsgd/<own domid> (one process per domain
 * at a time). The protocol is in docs/protocol.md, "Service control
 * protocol"; the daemon in docs/vmsgd.md.
 *
 * Direct mode: the provider's library serves each channel itself for the
 * consumer that vmsgd names, and the consumer's library connects to it;
 * no data passes through dom0. Setup is by message (docs/protocol.md,
 * "Setup by message"): the grant reference and event port travel in the
 * service messages and nothing is written to xenstore; with a vmsgd or
 * a peer library that does not know it (or a policy saying setup =
 * xenstore), the provider publishes the channel under
 * /local/domain/<provider>/data/vmsg/svc/<id> as libxenvchan does. When
 * vmsgd says a consumer's provider is gone (its domain, or its control
 * channel), the library marks that channel's peer gone as it reads its
 * control channel (any call here; a poller of vmsg_ctl_fd() calls
 * vmsg_service_accept(..., 0)): the channel then reads what is left and
 * -EPIPE, also where no unmap notification came (a destroyed domain). The library keeps a served channel until its consumer connects,
 * and hands it to the application only then (vmsg_service_accept), or,
 * set up by message, as soon as vmsgd has given it to its consumer, who
 * is coming (docs/protocol.md, "Admitting the consumer"). One nobody
 * connects to is closed (and vmsgd told) when vmsgd says the consumer
 * closed it or went away; one not yet handed out, at the latest by its
 * connect deadline: the consumer's open wait as vmsgd passes it on
 * (Serve's connect_timeout_ms: what was left of the wait plus 1 s),
 * never more than VMSG_SERVICE_CONNECT_MAX_MS, also when vmsgd says
 * nothing. So a consumer that opens and never connects costs the
 * provider a served channel for that long at most, or, admitted, for as
 * long as it keeps its control channel (as one that connects and reads
 * nothing would). Where the policy's spare says so (yes; auto, the
 * default, for a consumer process that opens channel after channel),
 * vmsgd also asks for a channel before any open (a spare for the
 * consumer process that opened last, docs/protocol.md, "Spare
 * channels"): the library serves it at its next call once the channel it
 * follows has been taken, and keeps it as any other served channel.
 *
 * Host mode (no Xen): with the environment variable VMSG_HOST_VMSGD=DIR
 * set (not empty), vmsg_ctl_open() reaches a vmsgd that runs in host mode
 * with host_dir DIR (docs/vmsgd.md, "Host mode") instead of looking in
 * xenstore: processes of one machine offer and open services by name under
 * vmsgd's policy, which names users (the uid the kernel reports for each
 * process). Each vmsg_ctl_open() is a client of its own (several processes,
 * or handles, of one user at once); its number stands where a domid
 * stands (vmsg_ctl_domid(), vmsg_service_peer.domid) and changes at each
 * reconnect. Channels are the host backend's (vmsg/host.h), direct between
 * the two processes, and each end lets in only the uid vmsgd names.
 * Errors: -ENOENT, "is vmsgd running in host mode at DIR?", when nothing
 * answers at DIR/vmsgd.sock by the deadline; -EACCES when vmsgd or the
 * folder refuses us; -EUSERS when our user holds as many clients of
 * vmsgd as its policy allows (max_clients_per_user, 64 by default), or
 * all users together do (max_host_clients, 192), until the deadline;
 * -ETIMEDOUT when vmsgd took the connection and did not answer. -EBUSY
 * does not happen in host mode.
 *
 * Both worlds: the same client (lib/service, freestanding) runs in a
 * Linux domain (libvmsg) and in a unikernel (guest/, docs/unikernel.md);
 * only vmsg_ctl_fd() differs (-ENOTSUP in a unikernel).
 *
 * Threads: one handle is used by one thread at a time.
 */
#ifndef VMSG_SERVICE_H
#define VMSG_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include <vmsg/chan.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Frame types of the service control messages (proto/vmsg_service.proto,
 * enum ServiceType), in the control range. */
#define VMSG_TYPE_SVC_OFFER 0x0010u
#define VMSG_TYPE_SVC_RESULT 0x0011u
#define VMSG_TYPE_SVC_OPEN 0x0012u
#define VMSG_TYPE_SVC_OPENED 0x0013u
#define VMSG_TYPE_SVC_SERVE 0x0014u
#define VMSG_TYPE_SVC_SERVE_RESULT 0x0015u
#define VMSG_TYPE_SVC_CLOSED 0x0016u
#define VMSG_TYPE_SVC_SPARE 0x0017u

/* Longest service name; names are [A-Za-z0-9._-]. */
#define VMSG_SERVICE_NAME_MAX 64
/* The longest a provider's library keeps a served channel that no
 * consumer has connected to (ms). A consumer's library connects as soon
 * as it hears Opened; this bounds what one that does not can hold. */
#define VMSG_SERVICE_CONNECT_MAX_MS 30000
/* Where vmsgd serves domain N's control channel: this prefix + "/N". */
#define VMSG_CTL_PATH_PREFIX "/local/domain/0/data/vmsgd"

typedef struct vmsg_ctl vmsg_ctl;

/* Is `name` a valid service name? 1 yes, 0 no. */
int vmsg_service_name_ok(const char *name);

/* Connect to vmsgd: read our domid (xenstore key "domid"), connect to our
 * control channel (waiting up to timeout_ms for vmsgd to serve it; keys
 * that fail to connect, such as a killed vmsgd's, are retried every 100 ms
 * until the deadline), and exchange Hellos. Errors, by the deadline:
 * -ENOENT (no vmsgd serves this domain: none runs, it has not seen the
 * domain yet, or there is no xenstore here at all), -EBUSY (every
 * control channel vmsgd serves this domain is another process's: vmsgd
 * serves a domain's processes one each, up to its policy's
 * max_sessions_per_domain, 4 by default), -ETIMEDOUT (vmsgd's
 * keys are there but no Hello came back: vmsgd is stuck, or was killed and
 * not restarted); at once: -ECONNREFUSED, -EPROTONOSUPPORT (vmsgd refused
 * our Hello), -ENOMEM, -EMFILE. vmsg_ctl_strerror() says what each means
 * to a person. */
int vmsg_ctl_open(vmsg_ctl **out, int timeout_ms);

/* A text for a person about vmsg_ctl_open()'s error `err` that says what
 * to do ("no vmsgd serves this domain: is vmsgd running in dom0 ...?");
 * vmsg_strerror()'s for the errors it has nothing to add to. Static. */
const char *vmsg_ctl_strerror(int err);

/* Close the control channel (vmsgd then drops our offers and forgets our
 * channels) and every channel accepted but not yet returned. Channels
 * already returned stay open and are the caller's. Also closes the
 * handles kept ready for a next channel (vmsg_service_accept). First it
 * waits for the channels closed with vmsg_service_close() whose admitted
 * consumers have not come yet: until each came or went (vmsgd says so),
 * at most 30 s after its close. NULL is ignored. */
void vmsg_ctl_close(vmsg_ctl *ctl);

/* Our domain id. */
int vmsg_ctl_domid(vmsg_ctl *ctl);

/* A pollable fd, readable when vmsgd may have sent something (a serve
 * request for vmsg_service_accept(ctl, ..., 0)), when a consumer may have
 * connected to a served channel or one's connect deadline has come, and
 * every 100 ms while the control channel is down, so that such a poller
 * drives the reconnect. After it polls readable, call
 * vmsg_service_accept(ctl, ..., 0): once per wake-up will do (every call
 * here leaves the fd to turn readable for what vmsgd sends next, or at
 * once if something came meanwhile, a blocking call too); calling until
 * -EAGAIN takes every waiting channel in one go. The same fd for the life of the
 * handle (an epoll set the library owns; reconnects change what is inside
 * it); do not close it. The set is made at the first call (a handle never
 * polled holds no epoll set or timers, nor pays their system calls on
 * each channel), which can fail with -EMFILE or -ENOMEM; from then on the
 * call cannot fail. -ENOTSUP in a unikernel (no fds). */
int vmsg_ctl_fd(vmsg_ctl *ctl);

/* The text of the last error vmsgd sent ("" if none). Valid until the
 * next call on ctl. */
const char *vmsg_ctl_error(vmsg_ctl *ctl);

/* Offer service `name` from this domain; it is offered again after each
 * reconnect. Errors: vmsgd's (-EACCES, -EEXIST offered already, -EINVAL
 * bad name, -EAGAIN rate limited), -ENOTCONN (vmsgd not back by the
 * deadline). */
int vmsg_service_offer(vmsg_ctl *ctl, const char *name, int timeout_ms);

/* Open a channel to service `name`: vmsgd checks the policy and asks the
 * provider to serve; then connect. *out is an open client channel (close it
 * with vmsg_service_close(), which tells vmsgd at once, or
 * vmsg_chan_close(), in any thread, after which the handle tells vmsgd
 * when it next opens or accepts a channel). Errors: vmsgd's
 * (-EACCES policy, -ENOENT not offered, -EUSERS channel limit,
 * -ETIMEDOUT provider did not answer, -EHOSTDOWN provider went away,
 * -EAGAIN rate limited; -ENOENT also just after a vmsgd restart, until
 * the provider's library has offered again), -ENOTCONN (vmsgd not back by
 * the deadline), then vmsg_xen_connect()'s. */
int vmsg_service_open(vmsg_ctl *ctl, const char *name, vmsg_chan **out,
		      int timeout_ms);

/* Who is on the other end of an accepted channel.
 *
 * `domid` is the consumer's domain (host mode: its client number), for a
 * relayed channel too: vmsgd's own end is connected, but vmsgd names the
 * domain it relays for (an older vmsgd does not: 0).
 *
 * WARNING: domid 0 does not mean dom0. vmsgd itself is the consumer of a
 * listen bridge's connection (any process, or over TCP any host, that
 * reaches the bridge's socket): the provider sees domid 0 for every one
 * of them. A provider that trusts domain 0 gives dom0's rights to all of
 * them. Decide by the service, not by domid 0 (docs/vmsgd.md). */
struct vmsg_service_peer {
	uint16_t domid; /* the consumer; 0 for a bridged one (above) */
	char service[VMSG_SERVICE_NAME_MAX + 1];   /* the service opened */
	uint32_t channel_id;
};

/* Provider: handle vmsgd's serve requests and return the next channel
 * whose consumer has connected, or, set up by message, that vmsgd has
 * given to its consumer (docs/protocol.md, "Admitting the consumer" and
 * "Spare channels": the library admits that consumer, which may still be
 * connecting; what is sent waits in the ring for it; one that never
 * comes is ended by vmsgd's Closed when its consumer goes, not by the
 * connect deadline). No vmsg_chan_accept() needed. It may
 * already hold data, and even be closed by a consumer that sent and left
 * (reads return the data, then -EPIPE): read it, with timeout 0, before
 * waiting on its fd. Served
 * channels wait inside the library until then; those nobody connects to
 * are closed by it (see the top of this file). `peer` may be NULL.
 * While vmsgd is away it reconnects (see the top of this file): a call
 * with timeout 0 tries once (then waits at most ~2 s for the Hello and
 * the re-offers). Channels served for an earlier vmsgd that no consumer
 * took are closed after a reconnect. Before it waits (Linux, Xen, setup
 * by message) it opens the next channel's handles (an event channel and a
 * grant handle: two fds), so that channel's setup does not wait for them;
 * they are the process's, one set at most, until a channel takes them or
 * vmsg_ctl_close(). (vmsg_service_open opens its end's while vmsgd and
 * the provider work.) And, when no served channel waits for its consumer,
 * it serves one channel ahead for the domain and ring sizes vmsgd asked
 * for last (a "warm channel": grants, a port and ring pages, one per
 * handle, freed by vmsg_ctl_close), which answers vmsgd's next request
 * like it at once (docs/protocol.md, "The warm channel"). Errors:
 * -EAGAIN (timeout 0, nothing yet, or vmsgd not back), -ETIMEDOUT
 * (likewise, by the deadline), channel errors. */
int vmsg_service_accept(vmsg_ctl *ctl, vmsg_chan **out,
			struct vmsg_service_peer *peer, int timeout_ms);

/* Close a channel from vmsg_service_open() or _accept() and tell vmsgd
 * (which counts channels against the policy's limits; not for a channel
 * an earlier vmsgd brokered, which the current one does not know). vmsgd
 * counts a direct channel the consumer closed against the consumer until
 * the provider has closed its end too (or at most ~30 s): providers
 * should close with this call, not vmsg_chan_close().
 *
 * A provider's channel whose consumer was admitted (vmsg_service_accept)
 * and has not mapped it yet is not released at once: what was sent stays
 * for that consumer, with the grants and the event port it connects
 * with, and the library closes the channel (and tells vmsgd) once the
 * consumer came, vmsgd says it went, or after at most 30 s, in this
 * handle's later calls (vmsg_service_accept, vmsg_ctl_close, which waits
 * for it). So take c out of any wait set, and its fd out of any poll
 * set, before this call: the library may keep that fd open a while. */
void vmsg_service_close(vmsg_ctl *ctl, vmsg_chan *c);

#ifdef __cplusplus
}
#endif
#endif
