/* The simulator's private wire protocol between the drop-in Xen libraries
 * (libxengnttab, libxenevtchn, libxenctrl), the `xensim` tool and the
 * daemon `xensimd`.
 *
 * Transport: one SOCK_SEQPACKET connection to $XENSIM_DIR/xensimd.sock per
 * library handle.  Every request gets exactly one reply on the same
 * connection; the daemon never sends anything unasked, so a handle can use
 * plain blocking send/recv under its own lock.  A hang-up means the handle
 * was closed or its process died: the daemon then runs the handle's unmap
 * notifications and drops its grants and ports.
 *
 * A message is `struct xsim_msg` followed by `n` uint32 values; file
 * descriptors travel as SCM_RIGHTS ancillary data.  Not a stable ABI: the
 * libraries and the daemon come from one build. */
#ifndef XSIM_PROTO_H
#define XSIM_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define XSIM_PAGE_SIZE 4096u
/* Reserved grant references, as in Xen (GNTTAB_NR_RESERVED_ENTRIES). */
#define XSIM_GNT_FIRST_REF 8u
/* Event-channel ports per domain (the 2-level ABI's limit on 64-bit). */
#define XSIM_EVT_PORTS 4096u
/* Values per message: enough for 4096 (domid, ref) pairs. */
#define XSIM_MAX_VALS 8192u
/* Descriptors per message (Linux's SCM_MAX_FD is 253). */
#define XSIM_MAX_FDS 250u
#define XSIM_NO_NOTIFY UINT32_MAX
/* First domid Xen reserves (DOMID_FIRST_RESERVED). */
#define XSIM_DOMID_LIMIT 0x7FF0u

enum xsim_kind {
	XSIM_KIND_ANCHOR = 1, /* `xensim run`: keeps its domain alive */
	XSIM_KIND_GNTTAB,
	XSIM_KIND_GNTSHR,
	XSIM_KIND_EVTCHN,
	XSIM_KIND_CTRL, /* libxenctrl, `xensim list/stop` */
};

enum xsim_op {
	/* arg0 kind, arg1 domid; EVTCHN sends fds {slot memfd, event socket}.
	 * Reply arg0: handle id. */
	XSIM_OP_HELLO = 1,
	XSIM_OP_RELEASE,  /* anchor: the domain's command ended */
	XSIM_OP_STOP,     /* stop the daemon (reply, then exit) */
	XSIM_OP_LIST,     /* reply vals: live domids, ascending */
	/* arg0 peer domid, arg1 count, arg2 writable, arg3 notify offset,
	 * arg4 notify port; fd: memfd of count pages.  Reply arg0 share id,
	 * vals: refs. */
	XSIM_OP_SHARE,
	XSIM_OP_UNSHARE, /* arg0 share id */
	/* arg0 count, arg1 writable, arg2 notify offset, arg3 notify port;
	 * vals: (domid, ref) pairs.  Reply arg0 map id, vals: (fd index, page)
	 * per page, fds. */
	XSIM_OP_MAP,
	XSIM_OP_UNMAP, /* arg0 map id */
	XSIM_OP_EVT_UNBOUND, /* arg0 remote domid; reply arg0 port */
	XSIM_OP_EVT_INTERDOMAIN, /* arg0 remote domid, arg1 remote port */
	XSIM_OP_EVT_UNBIND, /* arg0 port */
	/* arg0 local port.  Reply result 1: not connected (drop the event);
	 * 0: arg0 peer handle id, arg1 peer port, arg2 binding generation,
	 * fds {peer slot memfd, peer event socket}. */
	XSIM_OP_EVT_PEER,
};

struct xsim_msg {
	uint32_t op;
	int32_t result; /* reply: >= 0 or -errno */
	uint32_t arg[6];
	uint32_t n; /* number of uint32 values that follow */
	uint32_t pad;
};

/* One port's slot in an event-channel handle's shared slot array.  The
 * receiving handle and every process that may raise the port map it.
 * `state` holds XSIM_EVT_PENDING / XSIM_EVT_MASKED; `gen` is the binding's
 * generation (0 = not bound), written by the daemon only, so a notifier
 * with a cached view can tell that the binding it knew is gone. */
struct xsim_evt_slot {
	uint32_t state;
	uint32_t gen;
};
#define XSIM_EVT_PENDING 1u
#define XSIM_EVT_MASKED 2u
#define XSIM_EVT_SLOTS_SIZE (XSIM_EVT_PORTS * sizeof(struct xsim_evt_slot))

/* Send one message with optional fds.  Returns 0 or -errno. */
int xsim_send(int fd, const struct xsim_msg *m, const uint32_t *vals,
	      const int *fds, unsigned nfds);
/* Receive one message: vals (room for max_vals) and up to max_fds fds
 * (extra fds are closed; *nfds gets the count kept).  Returns 0, -EPIPE on
 * hang-up, -EPROTO on a malformed message, or -errno. */
int xsim_recv(int fd, struct xsim_msg *m, uint32_t *vals, unsigned max_vals,
	      int *fds, unsigned max_fds, unsigned *nfds);
/* Request/reply on a client connection.  Returns the reply's result. */
int xsim_call(int fd, struct xsim_msg *m, const uint32_t *vals,
	      const int *fds, unsigned nfds, uint32_t *rvals, unsigned max_rvals,
	      int *rfds, unsigned max_rfds, unsigned *nrfds);

/* $XENSIM_DIR, else $XDG_RUNTIME_DIR/xensim, else /run/xensim (root) or
 * /tmp/xensim-<uid>.  Writes into buf; returns 0 or -ENAMETOOLONG. */
int xsim_state_dir(char *buf, size_t len);
/* $XENSIM_DOMID (default 0).  Returns the domid or -EINVAL. */
int xsim_self_domid(void);
/* Connect to the daemon and say hello as `kind` of domain `domid`.
 * Returns the connection fd (and the handle id in *id) or -errno. */
int xsim_connect(int kind, uint32_t domid, const int *fds, unsigned nfds,
		 uint32_t *id);

/* Raise `port` in the handle whose slots and event socket these are: set
 * it pending; if it was unmasked, mask it and queue the port number on the
 * socket (Linux's evtchn: a delivered port stays masked until unmasked). */
void xsim_evt_raise(struct xsim_evt_slot *slots, int sock, uint32_t port);
/* Unmask `port`; if it became pending while masked, deliver it now. */
void xsim_evt_unmask(struct xsim_evt_slot *slots, int sock, uint32_t port);

#endif
