/* vmsgd: the dom0 service broker. One libuv loop; one control channel per
 * guest domain; services offered and opened by name under a default-deny
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

/* Watches one channel end for a fragmented message left incomplete. */
struct partial_watch {
	uint64_t since_ms; /* 0: none seen incomplete */
	uint64_t msgs;     /* the end's rx_msgs then: a new one restarts */
};

/* Has one message on `ch` been incomplete for `limit_ms` or more? Called
 * from the tick: a message seen incomplete at two looks with no message
 * completed between them is the same one. */
bool partial_expired(struct partial_watch *w, vmsg_chan *ch,
		     uint32_t limit_ms, uint64_t now);
/* The bytes of domain `domid`'s data vmsgd holds now: what its relayed
 * channels' ends keep of its fragmented messages, and its bridges' socket
 * write queues. */
uint64_t guest_queued(struct vmsgd *d, uint16_t domid);
/* May vmsgd read more of domain `domid`'s data (its queued bytes below
 * max_queued_bytes)? dom0 (a listen bridge's socket) always may. */
bool guest_may_queue(struct vmsgd *d, uint16_t domid);
/* Domain `domid`'s Opens in progress: not answered, or answered with an
 * end vmsgd serves that the guest has not connected to yet. */
uint32_t guest_pending_opens(struct vmsgd *d, uint16_t domid);

/* ---- state -------------------------------------------------------------- */

/* Control messages are small; a larger one is dropped unread. */
#define VMSG_CTL_MSG_MAX 4096

enum sess_state { SESS_WAITING, SESS_HELLO, SESS_READY };

struct session {
	struct vmsgd *d;
	struct session *next;
	/* The guest's domid; in host mode the client's number (1..32751,
	 * one per connection, in the protocol's domid fields). */
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
	uint64_t connects;   /* Hellos: its control channel came up */
	uint64_t resets;     /* control channel reset by vmsgd */
	uint64_t refused;    /* requests refused (policy, limits) */
	struct rl_state rl;  /* ratelimit.c; kept across reconnects */
	/* Back-off: resets in a row, when its channel was last served, and
	 * (reserve) when to serve the next one. */
	uint32_t backoff_level;
	uint64_t served_ms, serve_at_ms;
	struct partial_watch partial;
	struct vmsg_arena arena;
	uint64_t arena_buf[2048];
};

struct service {
	struct service *next;
	char name[VMSG_SERVICE_NAME_MAX + 1];
	uint16_t provider; /* 0: a connect bridge of dom0 */
};

/* CH_LINGER: the consumer has closed (or gone), but an end of the
 * channel is still held: a direct channel's provider has not said it
 * closed its end yet, or a bridge is still handing the socket what the
 * guest sent. A lingering channel is listed (vmsgctl: "lingering") and
 * counts against the consumer's max_channels_per_domain until it ends. */
enum chan_state { CH_PENDING, CH_OPEN, CH_LINGER };

/* How a channel's data flows. */
enum chan_mode {
	CHM_DIRECT,     /* guest to guest; vmsgd only brokered it */
	CHM_RELAYED,    /* vmsgd holds both ends and copies messages */
	CHM_BRIDGE_IN,  /* a listen bridge's socket is the consumer */
	CHM_BRIDGE_OUT, /* a guest is the consumer of a dom0 socket */
};

struct relay;
struct bconn;

/* What differs between vmsgd's two worlds (the way lib/service has its
 * env table): xs.c's for Xen (a guest domain per session, served at
 * VMSG_CTL_PATH_PREFIX/<domid>, found through xenstore), host.c's for
 * host mode (a process per session, met on host_dir/vmsgd.sock). The
 * control protocol (session.c) and the broker are the same. */
struct session_ops {
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

struct channel {
	struct channel *next;
	uint32_t id;
	char service[VMSG_SERVICE_NAME_MAX + 1];
	uint16_t provider, consumer; /* 0: dom0 (a bridge's socket) */
	int state;
	int mode;             /* enum chan_mode */
	uint32_t req_id;      /* the consumer's Open */
	uint64_t deadline_ms; /* pending: give up then; open with vmsgd's
				 end served: the consumer must be in by then;
				 lingering direct: forgotten then, said the
				 provider so or not */
	uint64_t max_msg;
	uint32_t ring_size;
	char path[128];       /* where the provider serves (direct, relayed,
				 bridge in) or vmsgd does (bridge out) */
	char relay_path[128]; /* relayed: where vmsgd serves the consumer */
	char bridge[VMSG_SERVICE_NAME_MAX + 1]; /* bridges: its name */
	char sock[160];       /* bridges: the socket's address */
	/* Set up by message (docs/protocol.md, "Setup by message"). by_msg:
	 * Serve said by_message (direct, relayed), and the provider's
	 * ServeResult gave prov_ref and prov_port; ring_ref and event_port
	 * are what Opened carries (direct: the provider's; relayed: those of
	 * the end vmsgd serves the consumer, when that is by message too). */
	bool by_msg;
	bool setup_xenstore; /* the policy's setup = xenstore */
	uint32_t prov_ref, prov_port;
	uint32_t ring_ref, event_port;
	struct relay *relay;  /* CHM_RELAYED, owned by relay.c */
	struct bconn *bconn;  /* bridges, owned by bridge.c */
};

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
	struct service *services;
	struct channel *channels;
	uint32_t next_id;
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
	bool stopping;
	struct metrics *metrics; /* metrics.c; NULL: no endpoint */
	bool rescan_retry; /* xs.c: a domain to serve again from the tick */
	/* host mode (host.c) */
	uv_pipe_t host_sock;
	bool host_open;
	char host_dir[HOST_DIR_MAX + 1]; /* the policy's, real path */
	char host_sock_path[108];
	uint16_t next_client;
};

uint64_t vmsgd_now_ms(void);

/* metrics.c: the Prometheus endpoint of [daemon] metrics, if any (and
 * if vmsgd was built with libmicrohttpd: VMSGD_HAVE_METRICS). */
int metrics_start(struct vmsgd *d);
void metrics_stop(struct vmsgd *d);

/* Counters of vmsgd's own ends of c (ctlsock.c); false for a direct
 * channel, whose data never passes dom0. */
bool channel_counters(const struct channel *c, struct chan_counters *k);

/* session.c */
struct session *session_find(struct vmsgd *d, uint16_t domid);
/* A session for guest domain `domid` (Xen: uid and pid 0), or for host
 * client number `domid`, a process of `uid` and `pid`. */
int session_new(struct vmsgd *d, uint16_t domid, uint32_t uid, int pid);
/* Host mode: a client that has not connected to its control channel
 * this long after it was served one is forgotten. */
#define HOST_CONNECT_MS 10000u
void session_gone(struct vmsgd *d, uint16_t domid);
void session_close_all(struct vmsgd *d);
void sessions_tick(struct vmsgd *d);
/* Serve the control channels whose back-off is over (d->backoff's
 * callback; also from the tick). */
void sessions_serve_due(struct vmsgd *d);
/* Is domain s's next control channel held back (vmsgctl: "backoff")? */
bool session_backing_off(const struct session *s);
/* vmsgd's client end `end` of channel c, just connected to the provider:
 * 0 when its rings are within the policy's ring_size, else -EPROTO with
 * why filled (the caller refuses the channel). */
/* May the consumer's end of c be set up by message (its library
 * announced it, the policy does not say setup = xenstore)? */
bool channel_consumer_by_msg(struct vmsgd *d, const struct channel *c);
int channel_check_rings(const struct channel *c, vmsg_chan *end, char *why,
			size_t cap);
/* Ask the provider to serve channel c (consumer_domid as given). */
int channel_request_serve(struct vmsgd *d, struct channel *c,
			  uint16_t consumer_domid);
/* A new channel id, path-safe and never 0. */
uint32_t channel_new_id(struct vmsgd *d);
struct channel *channel_lookup(struct vmsgd *d, uint32_t id);
/* Tell the consumer where to connect (bridge out, once its socket is up). */
void channel_opened(struct vmsgd *d, struct channel *c, uint16_t at_domid,
		    const char *path);
/* A pending channel fails: answer the consumer, forget it. */
void channel_fail(struct vmsgd *d, struct channel *c, int code,
		  const char *text);
/* A relay or bridge has ended: log, forget the channel (closing what it
 * holds through relay_detach / bridge_detach; a bridge that still
 * flushes its socket keeps it listed as lingering, see bridge_detach). */
void channel_end(struct vmsgd *d, struct channel *c, const char *why);
/* A lingering bridge is done with its socket: forget the channel. */
void channel_forget(struct vmsgd *d, struct channel *c);

/* relay.c */
/* The provider has served a relayed channel: connect to it, serve the
 * consumer's end. 0, or -errno with why filled. */
int relay_start(struct vmsgd *d, struct channel *c, char *why, size_t cap);
/* The channel is being forgotten: close both ends (orderly). */
void relay_detach(struct channel *c);
/* Is vmsgd's end for the consumer still waiting for it? */
bool relay_waiting(const struct channel *c);
void relay_counters(const struct channel *c, struct chan_counters *k);
/* The bytes of domain `domid`'s messages c's ends hold (fragmented ones,
 * incomplete or waiting for room at the destination). */
uint64_t relay_queued(const struct channel *c, uint16_t domid);
/* Tick: has a message on one of c's ends stayed incomplete beyond the
 * policy's partial_message_ms? (The caller ends the channel.) Also
 * resumes a direction held back by its writer's max_queued_bytes. */
bool relay_tick(struct channel *c, uint64_t now);
void relays_close_all(struct vmsgd *d);

/* bridge.c */
/* Start the listeners and register the connect services of d->pol. */
int bridges_init(struct vmsgd *d); /* logs its error */
/* Reload: make the bridges those of `np` (listeners started or stopped).
 * On failure nothing changed and err says why. */
int bridges_apply(struct vmsgd *d, const struct policy *np, char *err,
		  size_t cap);
void bridges_stop(struct vmsgd *d);
/* A listen bridge's channel was served by the provider: connect. */
void bridge_served(struct vmsgd *d, struct channel *c);
/* Bridge out: is vmsgd's end for the guest still waiting for it? */
bool bridge_waiting(const struct channel *c);
/* A guest opens a connect bridge's service: serve, connect the socket;
 * the answer comes when the socket is up. 0 or -errno (why filled). */
int bridge_open(struct vmsgd *d, struct channel *c,
		const struct policy_bridge *b, char *why, size_t cap);
/* The channel is being forgotten: close the channel end and the socket.
 * Returns true when the socket still has to take what the guest sent:
 * the bridge keeps c (then lingering) and calls channel_forget(c) when it
 * is done, within the policy's bridge_flush_ms; false: c->bconn is
 * cleared and c can go. */
bool bridge_detach(struct channel *c);
/* The guest's end of an open bridged channel says Closed: the channel
 * lingers (the rest goes to the socket within bridge_flush_ms, then it
 * ends). */
void bridge_guest_closed(struct channel *c);
void bridge_counters(const struct channel *c, struct chan_counters *k);
/* The bytes vmsgd's socket write queues hold of domain `domid`'s data
 * (every bridged connection, lingering ones too). */
uint64_t bridges_queued(struct vmsgd *d, uint16_t domid);
/* Tick: resume bridges held back by their guest's max_queued_bytes. */
void bridges_tick(struct vmsgd *d);
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

/* main.c */
int vmsgd_reload(struct vmsgd *d, char *err, size_t cap);

#endif
