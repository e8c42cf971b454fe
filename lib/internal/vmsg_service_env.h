/* Private: the world of the vmsgd client core (lib/service), as each
 * target supplies it: lib/service/env_linux.c for libvmsg on Linux,
 * guest/service_env.c for the unikernel. A target defines one const
 * struct vmsg__svc_env and its vmsg_ctl_open() as vmsg__ctl_open() over it.
 */
#ifndef VMSG_SERVICE_ENV_H
#define VMSG_SERVICE_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmsg/chan.h>
#include <vmsg/service.h>
#include <vmsg/xen.h>

#include "vmsg_chan_internal.h"
#include "vmsg_xen_msg.h"

/* A pollable fd for vmsg_ctl_fd(), where the target has one (Linux: an
 * epoll set holding the control channel's fd and a timer). All optional
 * as a whole: a target without sets vmsg__svc_env.poll to NULL and
 * vmsg_ctl_fd() returns -ENOTSUP. */
struct vmsg__svc_poll_ops {
	/* Make the per-handle state *os, at the handle's first
	 * vmsg_ctl_fd(). 0 or -errno. */
	int (*open)(void **os);
	void (*close)(void *os);
	int (*fd)(void *os);
	/* c is the new control channel: watch it, stop ticking. 0 or -errno
	 * (the channel is then given up). */
	int (*attached)(void *os, vmsg_chan *c);
	/* c (the control channel) is about to be closed: stop watching it and
	 * tick every retry_ms until the next attached(). c is NULL for a set
	 * made while there is no control channel: tick only. */
	void (*detached)(void *os, vmsg_chan *c, unsigned retry_ms);
	/* A served channel waiting for its consumer: make the fd readable
	 * when it has an event (its consumer connects), or stop. */
	int (*watch)(void *os, vmsg_chan *c);
	void (*unwatch)(void *os, vmsg_chan *c);
	/* Make the fd readable in ms (0: at once; < 0: never). */
	void (*deadline)(void *os, int ms);
	/* A poller's wake-up is being handled: clear the ticks and the
	 * deadline due. */
	void (*drain)(void *os);
};

/* What the core needs from its world. Every member but poll, ctl_connect
 * and serve_prefix is required. */
struct vmsg__svc_env {
	/* Serve one channel end at `path` for `client_domid`, or connect to
	 * one `server_domid` serves there: vmsg_xen_serve() and
	 * vmsg_xen_connect() in both Xen worlds (lib/xenplat), a test's own,
	 * or the host backend in host mode (env_host.c). `peer_uid` is the
	 * uid vmsgd says the peer's process runs as: only host mode uses it
	 * (the host backend's SO_PEERCRED check, vmsg/host.h). */
	int (*serve)(vmsg_chan **out, uint16_t client_domid, uint32_t peer_uid,
		     const char *path, const struct vmsg_chan_opts *o);
	int (*connect)(vmsg_chan **out, uint16_t server_domid,
		       uint32_t peer_uid, const char *path,
		       const struct vmsg_chan_opts *o, int timeout_ms);
	/* Optional, all three or none (docs/protocol.md, "Setup by
	 * message"): serve a channel for `client_domid` without xenstore,
	 * giving back the control page's grant and the unbound port; connect
	 * to one with those; mark a connected channel's peer gone when vmsgd
	 * says so. vmsg__xen_serve_msg()/_connect_msg()/_chan_peer_gone() in
	 * both Xen worlds. Without them (host mode, a test's env) the
	 * library does not announce VMSG_FEATURE_SVC_SETUP_MSG and vmsgd
	 * uses xenstore paths with it. */
	int (*serve_msg)(vmsg_chan **out, uint16_t client_domid,
			 const char *name, const struct vmsg_chan_opts *o,
			 uint32_t *ring_ref, uint32_t *port);
	int (*connect_msg)(vmsg_chan **out, uint16_t server_domid,
			   const char *name, uint32_t ring_ref, uint32_t port,
			   const struct vmsg_chan_opts *o);
	int (*peer_gone)(vmsg_chan *c);
	/* Optional, all three or none: connect_msg in two steps, for a spare
	 * vmsgd announced (lib/service/ahead.c): map and bind without coming
	 * in, come in, or give up one that did not (vmsg__xen_connect_early,
	 * vmsg__chan_come, vmsg__chan_discard in both Xen worlds). */
	int (*connect_early)(vmsg_chan **out, uint16_t server_domid,
			     const char *name, uint32_t ring_ref,
			     uint32_t port, const struct vmsg_chan_opts *o);
	int (*come)(vmsg_chan *c);
	void (*discard)(vmsg_chan *c);
	/* Optional: a served channel's client has it (vmsgd asked for the
	 * spare after it: docs/protocol.md, "Spare channels"); mark the
	 * client live for it. vmsg__xen_chan_admit() in both Xen worlds. */
	int (*admit)(vmsg_chan *c);
	/* Optional, both or none: open the handles of our role's next
	 * channel end (server: a provider's; client: a consumer's) while we
	 * wait anyway, so that its setup does not wait for them; close them
	 * if no end took them. vmsg__xen_prepare()/_unprepare() on Linux. */
	int (*prepare)(bool server);
	void (*unprepare)(bool server);
	/* Optional (host mode): reach vmsgd by the target's own rendezvous
	 * instead of the control channel at VMSG_CTL_PATH_PREFIX/<domid>.
	 * Returns the control channel, connected, and the number vmsgd
	 * gave this connection in *id (it changes at each reconnect).
	 * Errors as vmsg_ctl_open()'s (-ENOENT: no vmsgd there). */
	int (*ctl_connect)(vmsg_chan **out, uint16_t *id,
			   const struct vmsg_chan_opts *o, int timeout_ms);
	/* Optional (host mode): the prefix every path vmsgd asks us to serve
	 * at must start with, for our number `id`, into buf; its length or
	 * -ENAMETOOLONG. Without: "/local/domain/<id>/data/vmsg/". */
	int (*serve_prefix)(char *buf, size_t cap, uint16_t id);
	/* Our domain id (< VMSG_DOMID_LIMIT), or -errno. */
	int (*own_domid)(void);
	/* A monotonic clock in ms, and a pause. */
	uint64_t (*now_ms)(void);
	void (*sleep_ms)(unsigned ms);
	/* The children of xenstore directory `path`, each NUL-terminated,
	 * into buf[0..cap); returns how many, -ENAMETOOLONG when they do not
	 * fit, or xenstore's error (-ENOENT, -EACCES, ...). */
	int (*xs_directory)(const char *path, char *buf, size_t cap);
	/* Zeroed memory, NULL when there is none; freed with its size. */
	void *(*alloc)(size_t size);
	void (*free)(void *p, size_t size);
	const struct vmsg__svc_poll_ops *poll; /* optional */
};

/* The target's own text for vmsg_ctl_open()'s error err (host mode names
 * its directory), or NULL for the common one. Each target defines it. */
const char *vmsg__svc_target_strerror(int err);

/* serve and connect for both Xen worlds (the Linux one, env_linux.c, and
 * the PVH one, guest/service_env.c): vmsg_xen_serve()/_connect(), where
 * Xen's grants name the peer's domain and peer_uid means nothing. */
static inline int vmsg__svc_xen_serve(vmsg_chan **out, uint16_t client_domid,
				      uint32_t peer_uid, const char *path,
				      const struct vmsg_chan_opts *o)
{
	(void)peer_uid;
	return vmsg_xen_serve(out, client_domid, path, o);
}

static inline int vmsg__svc_xen_connect(vmsg_chan **out,
					uint16_t server_domid,
					uint32_t peer_uid, const char *path,
					const struct vmsg_chan_opts *o,
					int timeout_ms)
{
	(void)peer_uid;
	return vmsg_xen_connect(out, server_domid, path, o, timeout_ms);
}

/* The Xen operations of an env, the same in both Xen worlds (Linux's
 * env_linux.c and the unikernel's guest/service_env.c): one list, so that
 * an operation added for one is there for the other. */
#define VMSG__SVC_XEN_ENV_OPS                                                \
	.serve = vmsg__svc_xen_serve, .connect = vmsg__svc_xen_connect,      \
	.serve_msg = vmsg__xen_serve_msg,                                    \
	.connect_msg = vmsg__xen_connect_msg,                                \
	.peer_gone = vmsg__xen_chan_peer_gone, .admit = vmsg__xen_chan_admit, \
	.connect_early = vmsg__xen_connect_early, .come = vmsg__chan_come,  \
	.discard = vmsg__chan_discard

/* vmsg_ctl_open() over env (which must outlive the handle). */
int vmsg__ctl_open(vmsg_ctl **out, const struct vmsg__svc_env *env,
		   int timeout_ms);

#endif
