/* vmsgd: the dom0 service broker. One libuv loop; a control channel per
 * process of a guest domain that uses vmsgd; services offered and opened by name under a default-deny
 * policy; vmsgctl over a UNIX socket. docs/vmsgd.md describes it. */
#ifndef VMSGD_H
#define VMSGD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <vmsg/chan.h>
#include <vmsg/proto.h>
#include <vmsg/service.h>

#include "vmsg_partial.h"

/* ---- logging (log.c) ---------------------------------------------------- */

enum { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };
extern int vmsgd_log_level;
void vmsgd_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "error" ... "debug" -> level, or -1. */
int vmsgd_log_level_parse(const char *s);
const char *vmsgd_log_level_name(int level);
/* From now on log to syslog (facility daemon, ident "vmsgd"). */
void vmsgd_log_syslog(void);
bool vmsgd_log_is_syslog(void);

/* ---- policy (policy.c) -------------------------------------------------- */

#define POLICY_ANY 0xffffu /* in a domain list: every guest */
/* [daemon] host_dir: at most this long, so that the longest path inside
 * it, DIR/c/<client: 5 digits>/<channel id: 10 digits> (19 bytes more),
 * fits a UNIX socket's 107 bytes. */
#define HOST_DIR_MAX 88
/* [bridge] msg_type: the type a seqpacket bridge gives each message it
 * makes of a datagram, unless the section says otherwise. */
#define BRIDGE_MSG_TYPE_DEFAULT 1u
/* [daemon] bridge_flush_ms: default and most. */
#define BRIDGE_FLUSH_DEFAULT_MS 10000u
#define BRIDGE_FLUSH_MAX_MS 600000u

/* Who may offer or open: guest domids (Xen), or in host mode users,
 * written as names or uids and kept as uids. */
struct domlist {
	uint32_t *ids;
	size_t n;
	bool any;
	bool names; /* a user name was written (host mode only) */
	bool users; /* host mode: uids (root, 0, may be named); else domids
		       (0, dom0, is never allowed) */
	int line;   /* of its key, for the cross-section checks */
};

enum { MODE_DIRECT = 0, MODE_RELAYED = 1 };

struct policy_service {
	char name[VMSG_SERVICE_NAME_MAX + 1];
	int line; /* of its [service NAME] header */
	int mode; /* MODE_* */
	struct domlist offer, open;
	uint32_t max_channels; /* per consumer domain */
	uint32_t ring_size;
	uint64_t max_msg;
	/* setup = xenstore: direct channels publish at a xenstore path even
	 * between libraries that can be set up by message (the default,
	 * setup = message; docs/protocol.md, "Setup by message"). */
	bool setup_xenstore;
	/* spare: after a direct channel set up by message, the provider
	 * serves the next one for the same consumer process ahead of its
	 * Open (docs/protocol.md, "Spare channels"): after each one (yes),
	 * never (no), or after one that process opened within
	 * SPARE_AUTO_MS of its last open of the service (auto, the
	 * default). */
	enum { SPARE_AUTO, SPARE_YES, SPARE_NO } spare;
};

/* [bridge NAME]: a guest's service on a dom0 socket (listen), or a dom0
 * socket offered to guests as a service (connect). */
struct policy_bridge {
	char name[VMSG_SERVICE_NAME_MAX + 1];
	int line; /* of its [bridge NAME] header */
	char service[VMSG_SERVICE_NAME_MAX + 1];
	bool listen;    /* else connect */
	char addr[160]; /* as written: unix:PATH, seqpacket:PATH or
			   tcp:HOST:PORT */
	bool is_tcp, ipv6;
	bool seqpacket;    /* a SOCK_SEQPACKET UNIX socket (bridge_dgram.c) */
	uint16_t msg_type; /* seqpacket: the type of each datagram's message */
	bool has_msg_type; /* msg_type was given */
	char path[108]; /* unix, seqpacket */
	char host[64];  /* tcp: numeric */
	int port;       /* tcp; 0 (listen): the kernel picks */
};

/* A guest's limits ([daemon] keys; docs/vmsgd.md, "Limits"): token
 * buckets of `*_burst` tokens refilled at `*_per_s` on its control
 * channel, the messages handled per wake-up, and what it can make vmsgd
 * hold: bytes, pending opens, time. */
struct rl_limits {
	uint32_t requests_per_s, requests_burst; /* Offer/Open */
	uint32_t abuse_per_s, abuse_burst;       /* bad or rate-limited input */
	uint32_t log_per_s, log_burst;           /* warnings about one guest */
	uint32_t messages_per_wakeup;
	uint32_t max_queued_bytes;  /* what vmsgd holds of the guest's data */
	uint32_t max_pending_opens; /* its Opens not answered or connected */
	uint32_t partial_message_ms; /* a fragmented message left incomplete */
	uint32_t reset_backoff_ms, reset_backoff_max_ms; /* after resets */
	/* Xen: a domain's control channels at once, so its processes each
	 * attach (session.c, "several processes of a domain"). */
	uint32_t max_sessions;
	/* Host mode: the clients (sessions, connected to their control
	 * channel or not yet) one user holds at once, and all users
	 * together (host.c, on_client). */
	uint32_t max_clients_per_user;
	uint32_t max_host_clients;
};

struct policy {
	int log_level;
	/* [daemon] backend = host (docs/vmsgd.md, "Host mode"): clients are
	 * processes of this machine, met at host_dir/vmsgd.sock; the lists
	 * name users. Read at start only. */
	bool host;
	char host_dir[HOST_DIR_MAX + 1];
	struct rl_limits limits;
	/* [daemon] metrics: the Prometheus endpoint's address (metrics.c);
	 * has_metrics false: none. Read at start only. */
	bool has_metrics;
	char control_socket[108];
	/* How long a bridge may take to hand its socket what the guest sent
	 * before the channel closed; then the rest is dropped. */
	uint32_t bridge_flush_ms;
	struct policy_bridge metrics; /* its addr, path, host, port */
	struct policy_service *svc;
	size_t nsvc;
	struct policy_bridge *br;
	size_t nbr;
};

/* Parse `file` strictly. On failure returns -1 (the file is wrong) or
 * -ENOMEM (we are: "out of memory") and writes "FILE:LINE: what" into
 * err. */
int policy_load(const char *file, struct policy *out, char *err, size_t cap);
void policy_free(struct policy *p);
const struct policy_service *policy_find(const struct policy *p,
					 const char *name);
/* Does list l name `id` (a guest's domid, never 0; in host mode a uid)? */
bool policy_allows(const struct domlist *l, uint32_t id);
/* The connect bridge that provides `service` from dom0, or NULL. */
const struct policy_bridge *policy_bridge_connect(const struct policy *p,
						  const char *service);
/* "1,2,3" / "*" / "none" into buf; in host mode each uid that has a user
 * name as that name ("alice,1002"). */
void policy_domlist_str(const struct domlist *l, char *buf, size_t cap);

/* ---- rate limits (ratelimit.c) ------------------------------------------ */

/* The defaults of struct rl_limits, per control channel (docs/vmsgd.md,
 * "Limits"), and the most any of them may be set to. */
#define RL_REQ_RATE 100    /* Offer/Open per second ... */
#define RL_REQ_BURST 200   /* ... after a burst of this many */
#define RL_ABUSE_RATE 10   /* bad or rate-limited messages per second ... */
#define RL_ABUSE_BURST 100 /* ... beyond this burst: reset the channel */
#define RL_LOG_RATE 1      /* warnings about one guest's input per s ... */
#define RL_LOG_BURST 5     /* ... after this many */
#define RL_PER_WAKEUP 32   /* messages handled per wake-up per guest */
#define RL_LIMIT_MAX 1000000u
#define RL_QUEUED_BYTES (16u << 20) /* bytes of a guest's data held */
#define RL_PENDING_OPENS 32         /* a guest's opens in progress */
#define RL_PARTIAL_MS 30000u        /* a fragmented message incomplete */
#define RL_BACKOFF_MS 1000u         /* the delay after a second reset ... */
#define RL_BACKOFF_MAX_MS 60000u    /* ... doubling up to this */
#define RL_SESSIONS 4               /* a domain's control channels */
/* Host mode: each client costs vmsgd 4 or 5 fds (a listening or
 * connected socket, a memfd, an epoll fd, eventfds), so the clients of
 * all users fit the usual soft limit of 1024 fds with room to spare for
 * vmsgctl and vmsgd's own; one user gets a third of them. */
#define RL_CLIENTS_PER_USER 64      /* a user's host clients */
#define RL_HOST_CLIENTS 192         /* every user's host clients */

struct rl_bucket {
	bool init;
	uint64_t milli; /* tokens * 1000 */
	uint64_t last_ms;
};

struct rl_state {
	struct rl_bucket req, abuse, log;
	uint32_t suppressed; /* log lines not written since the last one */
	uint64_t limited;    /* requests refused for the rate */
	uint64_t bad;        /* bad messages (and rate-limited requests) */
};

bool rl_take(struct rl_bucket *b, uint32_t rate, uint32_t burst, uint64_t now);
/* A request: 0, or -EAGAIN when over the rate. */
int rl_request(struct rl_state *r, const struct rl_limits *l, uint64_t now);
/* Count a bad message: true when the guest is over the abuse limit. */
bool rl_abuse(struct rl_state *r, const struct rl_limits *l, uint64_t now);
/* May a warning about this guest's input be logged? *suppressed: how many
 * were not since the last one. */
bool rl_log(struct rl_state *r, const struct rl_limits *l, uint64_t now,
	    uint32_t *suppressed);

/* ---- bounds (bounds.c) -------------------------------------------------- */

struct vmsgd;
struct guest_dom;

/* A domain's two totals (bounds.c), each bounded by max_queued_bytes on
 * its own: the bytes of its own data vmsgd holds (collected from it,
 * queued for a connect bridge's socket), and the whole messages of
 * others' that wait in vmsgd for it to read. */
enum guest_pool { GUEST_WRITES, GUEST_READS };

/* The bytes of a guest's data vmsgd holds are counted as a running total
 * per domain, kept by deltas, so that asking (on every copy turn of every
 * channel) costs the same however many channels there are. Each place
 * that holds a guest's data (a relay's direction, a bridge connection)
 * is a struct guest_end joined to its writer's domain: after each turn
 * it reports (guest_sync) and the total moves by the difference from
 * what it last reported; when it no longer counts (its channel goes), it
 * leaves and takes all it counted with it. */
struct guest_end {
	struct guest_dom *dom;         /* NULL: not joined (or left) */
	struct guest_end *prev, *next; /* its domain's ends (bounds.c's) */
	/* Its domain's held-back ends, oldest first (bounds.c's): on the
	 * list while `held`. */
	struct guest_end *hprev, *hnext;
	bool held;
	/* The bytes of the guest's data it holds now; trim: first free its
	 * reassembly buffer if that holds nothing wanted. */
	uint64_t (*count)(void *arg, bool trim);
	/* Is a fragmented message of the guest part-way into it (its
	 * reassembly buffer: vmsg_chan_rx_partial)? */
	bool (*collecting)(void *arg);
	void *arg;
	/* Held back, its domain may queue again: read on (owner's turn). */
	void (*resume)(void *owner);
	void *owner;
	uint64_t counted; /* what it counts in its domain's total now */
};
/* Set up d's per-domain totals (a small hash table of records by domid,
 * one per domain that has ends) on d->loop; 0 or -ENOMEM. Freed by
 * guests_free, after guests_stop and the loop's end. */
int guests_init(struct vmsgd *d);
void guests_free(struct vmsgd *d);
/* e (zeroed, or left before) starts counting against domain `domid`'s
 * total `pool`, with count(arg, trim) telling what it holds (nothing
 * yet) and collecting(arg) whether it is part-way through a message.
 * resume(owner) is how guest_wake and guests_wake resume it once held
 * back (guest_hold_back). 0, or -ENOMEM (the domain's record could not
 * be made; e has not joined). */
int guest_join(struct vmsgd *d, struct guest_end *e, uint16_t domid,
	       enum guest_pool pool, uint64_t (*count)(void *arg, bool trim),
	       bool (*collecting)(void *arg), void *arg,
	       void (*resume)(void *owner), void *owner);
/* e may hold another amount now: move its domain's total by the change.
 * Nothing when e has not joined (or has left). */
void guest_sync(struct vmsgd *d, struct guest_end *e);
/* e counts no more: its domain's total loses what it counted (and it is
 * held back no more). When that may let the domain's held-back ends go
 * on (e counted bytes, or was finishing a message past the bound), they
 * are resumed at the loop's next turn, not from inside the caller's
 * teardown. */
void guest_leave(struct vmsgd *d, struct guest_end *e);
/* The bytes domain `domid`'s total `pool` counts now. GUEST_WRITES: its
 * data vmsgd holds, what its relayed and seqpacket channels' ends keep
 * for its fragmented messages (the reassembly buffers' written bytes,
 * vmsg_chan_rx_kept), less a whole one that waits for its reader, and
 * its connect bridges' socket write queues (a listen bridge's wait for
 * an outside client, bridge.c: nobody's). GUEST_READS: the whole relayed
 * messages that wait in vmsgd for it to read (its ring has no room). The
 * running total: no channel is looked at. */
uint64_t guest_queued(struct vmsgd *d, uint16_t domid, enum guest_pool pool);
/* Must e stop reading (its total at max_queued_bytes once its idle
 * reassembly buffers are freed; dom0, a listen bridge's socket, never;
 * in GUEST_WRITES, the one end of the domain let finish the message it
 * is collecting goes on; in GUEST_READS, every end part-way through a
 * message does)? true: e is one of its
 * domain's held-back ends (at the tail, or
 * where it was), which guest_wake and guests_wake resume in turn, oldest
 * first; false: it is not. An end that has not joined (or has left) is
 * never held back. */
bool guest_hold_back(struct vmsgd *d, struct guest_end *e);
/* Some of e's domain's data left vmsgd (a socket write completed, a
 * collected message was passed on):
 * resume the domain's held-back ends, oldest first, while it may queue.
 * O(1) when none is held back; else a walk of that domain's held-back
 * ends only. Each resume may end its owner (guest_leave). */
void guest_wake(struct vmsgd *d, struct guest_end *e);
/* The tick (after guests_trim): guest_wake each domain that has ends held
 * back, once. */
void guests_wake(struct vmsgd *d);
/* vmsgd is stopping: no more deferred wake-ups (guest_leave's). */
void guests_stop(struct vmsgd *d);
/* Free every end's reassembly buffer that holds nothing now (the tick). */
void guests_trim(struct vmsgd *d);
/* The check (VMSGD_CHECK_QUEUED=1 in vmsgd's environment; the tests set
 * it): recount every domain's bytes from the channels (each transport's
 * queued hook, broker.h) and abort on a difference from the running
 * total: a delta not reported. When d->check_queued: from the tick, and
 * before vmsgctl's list domains shows the totals. */
void guests_check(struct vmsgd *d);

/* ---- state -------------------------------------------------------------- */

/* Control messages are small; a larger one is dropped unread. */
#define VMSG_CTL_MSG_MAX 4096

enum sess_state { SESS_WAITING, SESS_HELLO, SESS_READY };

struct session {
	struct vmsgd *d;
	struct session *next;
	/* The session's number, its key (broker.h: "which session"). Xen:
	 * the first control channel of a domain is numbered by its domid,
	 * each further one at the same time (another process of the domain)
	 * by a number from SESS_EXTRA_FIRST up, which no domid reaches. Host
	 * mode: the client's number (1..32751, one per connection, in the
	 * protocol's domid fields). */
	uint16_t num;
	/* Its domain (Xen: grants, paths, policy, per-domain limits, what
	 * peers are told); host mode: the number again. */
	uint16_t domid;
	/* Host mode: who connected (SO_PEERCRED), and when. */
	uint32_t uid;
	int pid;
	char user[33]; /* the uid's name, or its number */
	uint64_t born_ms;
	int state;
	vmsg_chan *chan;
	struct vmsg_uv *uv; /* libvmsg-uv's watch of chan */
	bool polling;
	bool closing; /* vmsg_uv_close pending */
	bool dying;   /* domain gone: free on close */
	bool respawn; /* reset: serve anew on close */
	bool reserve; /* serving anew failed: again from the tick */
	char peer_name[VMSG_HELLO_NAME_MAX + 1];
	/* Its library set VMSG_FEATURE_SVC_SETUP_MSG in its Hello: it serves
	 * and connects with grants and ports carried in the messages. */
	bool setup_msg;
	/* ... and VMSG_FEATURE_SVC_ADMIT: its consumer side takes an
	 * admitted channel. */
	bool admit;
	/* ... and VMSG_FEATURE_SVC_SPARE: its consumer side takes Spare. */
	bool spare_msg;
	uint64_t connects;   /* Hellos: its control channel came up */
	uint64_t resets;     /* control channel reset by vmsgd */
	uint64_t refused;    /* requests refused (policy, limits) */
	struct rl_state rl;  /* ratelimit.c; kept across reconnects */
	/* Back-off: resets in a row, when its channel was last served, and
	 * (reserve) when to serve the next one. */
	uint32_t backoff_level;
	uint64_t served_ms, serve_at_ms;
	struct vmsg__partial_watch partial;
	struct vmsg_arena arena;
	uint64_t arena_buf[2048];
};


/* What differs between vmsgd's two worlds (the way lib/service has its
 * env table): xs.c's for Xen (a guest domain per session, served at
 * VMSG_CTL_PATH_PREFIX/<domid>, found through xenstore), host.c's for
 * host mode (a process per session, met on host_dir/vmsgd.sock). The
 * control protocol (session.c) and the broker are the same. */
struct session_ops {
	/* After a session was freed (its domid free again): xs.c looks for a
	 * domain re-created under it. NULL: nothing. */
	void (*freed)(struct vmsgd *d);
	/* Serve s's control channel into *out; path says where (for logs
	 * and the host rendezvous's answer). 0 or -errno (logged here). */
	int (*serve)(struct session *s, vmsg_chan **out, char *path,
		     size_t cap);
	/* Make (on) or remove what marks s as served: Xen, its xenstore
	 * folder; host, its folder for the channels it serves. 0 or -errno
	 * (logged here). */
	int (*mark)(struct session *s, bool on);
	/* Where the provider session `provider` serves channel `id`. */
	void (*chan_path)(struct vmsgd *d, uint16_t provider, uint32_t id,
			  char *buf, size_t cap);
	/* After its process left (or was reset): true, serve the same
	 * session anew (a Xen domain stays); false, forget it (in host mode
	 * each connection is a client of its own). */
	bool respawn;
};
extern const struct session_ops xen_session_ops, host_session_ops;

/* Per-channel counters of vmsgd's own ends (relays and bridges; direct
 * channels never pass dom0). c2p: consumer to provider; p2c: back. */
struct chan_counters {
	uint64_t c2p_bytes, c2p_msgs, p2c_bytes, p2c_msgs;
	uint64_t c2p_stalls, p2c_stalls; /* times a copy stopped on a full
					    destination */
	uint64_t kicks_sent, kicks_suppressed;
	bool has_sock;
	uint64_t sock_rx_bytes, sock_tx_bytes;
};

struct vmsgd {
	uv_loop_t *loop;
	const struct session_ops *sops; /* xen_ or host_session_ops */
	char config[4096];
	int cli_log_level; /* -1: from the config */
	struct policy pol;
	struct session *sessions;
	struct broker *broker; /* broker.c's: services and channels */
	/* xenstore */
	struct xs_handle *xs;
	bool owner_claimed; /* owner.c wrote our claim */
	uv_poll_t xs_poll;
	bool xs_polling;
	/* vmsgctl */
	uv_pipe_t ctl;
	bool ctl_open;
	char ctl_path[108];
	/* bridges (bridge.c) */
	struct listener *listeners;
	struct bconn *bconns;
	struct relay *relays;
	uv_signal_t sighup, sigterm, sigint;
	uv_timer_t timer;
	uv_timer_t backoff; /* serves control channels held back (session.c) */
	uv_timer_t wake_soon; /* bounds.c: guests_wake at the next turn */
	bool stopping;
	struct metrics *metrics; /* metrics.c; NULL: no endpoint */
	bool rescan_retry; /* xs.c: a domain to serve again from the tick */
	/* session.c: a spare control channel to serve again from the tick,
	 * and the last number given to a further session of a domain. */
	bool spare_retry;
	uint16_t next_extra;
	/* host mode (host.c) */
	uv_pipe_t host_sock;
	bool host_open;
	char host_dir[HOST_DIR_MAX + 1]; /* the policy's, real path */
	char host_sock_path[108];
	uint16_t next_client;
	/* Its refusals' log lines: log_burst, then log_per_s (only the log
	 * bucket is used), so a client that reconnects in a loop cannot
	 * flood the log. */
	struct rl_state host_rl;
	/* bounds.c: the per-domain totals of queued bytes (hash buckets of
	 * records by domid), and whether to check them. */
	struct guest_dom **guests;
	bool check_queued;
};

/* The monotonic clock in ms (log.c). */
uint64_t vmsgd_now_ms(void);

/* metrics.c: the Prometheus endpoint of [daemon] metrics, if any (and
 * if vmsgd was built with libmicrohttpd: VMSGD_HAVE_METRICS). */
int metrics_start(struct vmsgd *d);
void metrics_stop(struct vmsgd *d);

/* Xen: the numbers of a domain's further sessions (vmsgd.h, struct
 * session's num): above every domid (VMSG_DOMID_LIMIT is 0x7ff0). */
#define SESS_EXTRA_FIRST 0x8000u

/* session.c: the control protocol, one session per control channel: a
 * guest domain's processes (up to max_sessions_per_domain at once), or a
 * host client. It hands requests to the broker (broker.h) and sends
 * what the broker tells it through session_notify. */
struct session *session_find(struct vmsgd *d, uint16_t num);
/* The first session of guest domain `domid` (Xen: uid and pid 0; the
 * further ones come as its processes attach), or the session of host
 * client number `domid`, a process of `uid` and `pid`. */
int session_new(struct vmsgd *d, uint16_t domid, uint32_t uid, int pid);
/* Host mode: a client that has not connected to its control channel
 * this long after it was served one is forgotten. */
#define HOST_CONNECT_MS 10000u
/* Every session of domain `domid` goes (host mode: client `domid`). */
void session_gone(struct vmsgd *d, uint16_t domid);
/* Host mode: the live sessions (not going away) of user `uid` into
 * *user, and of every user into *all. */
void session_count_clients(struct vmsgd *d, uint32_t uid, uint32_t *user,
			   uint32_t *all);
/* Does domain `domid` have a session (Xen)? */
bool session_domain_served(struct vmsgd *d, uint16_t domid);
/* vmsgd stops: every control channel is closed (after the broker has
 * answered the pending opens and the transports have closed). */
void session_close_all(struct vmsgd *d);
/* The sessions' tick: back-off, host clients that never came, control
 * messages left incomplete. */
void sessions_tick(struct vmsgd *d);
/* Serve the control channels whose back-off is over (d->backoff's
 * callback; also from the tick). */
void sessions_serve_due(struct vmsgd *d);
/* Is domain s's next control channel held back (vmsgctl: "backoff")? */
bool session_backing_off(const struct session *s);

/* relay.c: relayed channels (relay_transport, broker.h). */
/* vmsgd stops: pass on what has arrived, then end every relay. */
void relays_close_all(struct vmsgd *d);

/* bridge.c: socket bridges (bridge_in_transport, bridge_out_transport). */
/* Start the listeners and register the connect services of d->pol. */
int bridges_init(struct vmsgd *d); /* logs its error */
/* Reload: make the bridges those of `np` (listeners started or stopped).
 * On failure nothing changed and err says why. */
int bridges_apply(struct vmsgd *d, const struct policy *np, char *err,
		  size_t cap);
/* vmsgd stops: close the listeners, end every bridged channel. */
void bridges_stop(struct vmsgd *d);
/* For vmsgctl: the listen address actually bound for bridge `name`. */
const char *bridge_bound(struct vmsgd *d, const char *name);

/* xs.c */
int xs_watch_start(struct vmsgd *d);
/* owner.c: refuse to run outside dom0 or beside a live vmsgd on the same
 * xenstore; claim the store for this vmsgd (and give it back at stop). */
int owner_claim(struct vmsgd *d);
void owner_release(struct vmsgd *d);
void xs_watch_stop(struct vmsgd *d);
/* Compare the sessions with the domains xenstore lists: end those of
 * domains gone, serve those new (also run on @introduceDomain and
 * @releaseDomain). */
void xs_rescan(struct vmsgd *d);
/* Mark (on) or unmark domain `domid` as one vmsgd serves: its folder
 * VMSG_CTL_PATH_PREFIX/<domid>, readable by that domain only, where its
 * control channel's keys are published. A guest tells "no vmsgd" (no
 * folder) from "another process of the domain holds the channel" (the
 * folder without keys) by it: vmsg_ctl_open()'s -ENOENT and -EBUSY. */
void xs_mark_domain(uint16_t domid, bool on);

/* host.c: host mode's rendezvous (docs/vmsgd.md, "Host mode"). */
int host_start(struct vmsgd *d); /* logs its error */
void host_stop(struct vmsgd *d);

/* ctlsock.c */
int ctlsock_start(struct vmsgd *d);
void ctlsock_stop(struct vmsgd *d);

/* reload.c: read the policy again (a failure keeps the old one; err says
 * why). */
int vmsgd_reload(struct vmsgd *d, char *err, size_t cap);

#endif
