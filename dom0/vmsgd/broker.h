/* vmsgd's broker (broker.c): the one owner of the services offered and
 * the channels brokered. Everything else asks it:
 *   - session.c (the control protocol) hands it a guest's Offer, Open,
 *     ServeResult and Closed, and the end of a guest's state;
 *   - the transports (direct.c, relay.c, bridge.c) report what became
 *     of a channel (opened, failed, ended, forgotten);
 *   - ctlsock.c, metrics.c and bounds.c (its check) read the lists through
 *     broker_services() and broker_channels().
 * The broker calls nobody back by name: the transports through struct
 * transport and the sessions through struct broker_notify, both given
 * to broker_init() by main.c. So calls go one way only (docs/vmsgd.md,
 * "Inside vmsgd"); tests/vmsgd/callgraph.sh checks it.
 *
 * Which session, which domain. A domain may hold several control
 * channels at once (one per process: struct session's domid is the
 * session's number, its dom the domain). The broker keeps both apart:
 *   - "which session": prov_sess, cons_sess and broker_who's sess say whom
 *     to tell (struct broker_notify), whose requests match (ServeResult,
 *     Closed) and what goes when one session ends (broker_drop_session);
 *   - "which domain": provider, consumer and broker_who's domid are real
 *     domids: for grants and event channels (the transports), xenstore
 *     paths, the policy, the per-domain limits (max_channels,
 *     max_pending_opens, max_queued_bytes) and what peers are told.
 * In host mode both are the client's number. */
#ifndef VMSGD_BROKER_H
#define VMSGD_BROKER_H

#include "vmsgd.h"

/* ---- what the broker owns ------------------------------------------------ */

struct service {
	struct service *next; /* read-only outside broker.c */
	char name[VMSG_SERVICE_NAME_MAX + 1];
	uint16_t provider;  /* its domain; 0: a connect bridge of dom0 */
	uint16_t prov_sess; /* the session that offered it; 0: dom0 */
	uint64_t spare_opens; /* opens that took a spare (vmsgctl) */
	/* spare = auto: the last consumer sessions to open it, and when
	 * (broker.c, opened_lately). */
	struct {
		uint16_t sess;
		uint64_t ms;
	} recent[4];
};

/* CH_LINGER: the consumer has closed (or gone), but an end of the
 * channel is still held: a direct channel's provider has not said it
 * closed its end yet (also when the consumer's open timed out while its
 * Serve was out), a bridge is still handing the socket what the guest
 * sent, or (asked set: a relayed channel, a listen bridge's) the
 * consumer left, or its open timed out, while its Serve was still with
 * the provider, who may serve it yet. A lingering channel is listed (vmsgctl: "lingering") and
 * counts against the consumer's max_channels_per_domain until it ends;
 * one still asked of the provider also counts as an open in progress
 * (max_pending_opens_per_domain): it is, for the provider. */
/* CH_SPARE: a direct channel set up by message that vmsgd had the
 * provider serve before anyone asked, for the consumer session that
 * opened the service last (the policy's spare: yes, or auto). That session's
 * next Open of the service takes it (docs/protocol.md, "Spare
 * channels"); until then it is not the consumer's: not counted against
 * its limits, retired (Closed to the provider) after SPARE_MS or when
 * either session goes. Once taken it is a pending direct open like any
 * other: taken before its ServeResult, and its wait over first, it
 * lingers (asked). */
enum chan_state { CH_PENDING, CH_OPEN, CH_LINGER, CH_SPARE };

/* How a channel's data flows: the index of its transport. */
enum chan_mode {
	CHM_DIRECT,     /* guest to guest; vmsgd only brokered it */
	CHM_RELAYED,    /* vmsgd holds both ends and copies messages */
	CHM_BRIDGE_IN,  /* a listen bridge's socket is the consumer */
	CHM_BRIDGE_OUT, /* a guest is the consumer of a dom0 socket */
	CHM_COUNT
};

struct relay;
struct bconn;
struct transport;

struct channel {
	struct channel *next; /* read-only outside broker.c */
	uint32_t id;
	char service[VMSG_SERVICE_NAME_MAX + 1];
	uint16_t provider, consumer; /* domains; 0: dom0 (a bridge's socket) */
	uint16_t prov_sess, cons_sess; /* their sessions; 0: dom0 */
	int state;
	const struct transport *tp; /* how its data flows */
	uint32_t req_id;      /* the consumer's Open */
	uint64_t deadline_ms; /* pending: give up then; open with vmsgd's
				 end served: the consumer must be in by then;
				 lingering direct: forgotten then, said the
				 provider so or not; lingering asked: the
				 open's plus SERVE_GRACE_MS, then forgotten
				 (the provider told Closed) */
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
	/* Serve said admit: a direct channel set up by message whose
	 * consumer takes an admitted channel, served for its Open. */
	bool admit;
	bool asked;          /* Serve sent (a spare's too), its
				 ServeResult not come yet */
	bool setup_xenstore; /* the policy's setup = xenstore */
	bool reopen; /* its consumer session opened the service within
			SPARE_AUTO_MS before (spare = auto) */
	uint32_t prov_ref, prov_port; /* 0 until served (never 0 after) */
	uint32_t ring_ref, event_port;
	uint32_t spare_after; /* CH_SPARE: Serve's `after`, the channel
				 whose connect it must not hold up */
	struct relay *relay;  /* CHM_RELAYED, owned by relay.c */
	struct bconn *bconn;  /* bridges, owned by bridge.c */
};

/* A spare (CH_SPARE) is served once its provider's ServeResult gave a
 * grant reference, which setup_values_ok never lets be 0. */
static inline bool spare_served(const struct channel *c)
{
	return c->prov_ref != 0;
}

/* ---- the transport interface --------------------------------------------- */

/* One per enum chan_mode: how a channel's data flows once the broker has
 * admitted it. NULL hooks do nothing (or answer false/0). Every hook runs
 * on the loop; a hook that ends or fails c calls broker_end/broker_fail
 * itself and must not touch c afterwards. */
struct transport {
	const char *name;   /* vmsgctl's mode: "direct", "relayed", ... */
	const char *metric; /* the mode label of vmsgd's metrics */
	/* vmsgd serves or connects an end itself (its data passes dom0).
	 * false (direct): the broker tracks the provider's word instead:
	 * Closed from the provider ends it, the consumer's close lingers. */
	bool holds_end;
	/* Asks a guest provider to Serve once admitted; serve_dom0: for
	 * domain 0 (vmsgd connects), else for the consumer itself. */
	bool asks_provider, serve_dom0;
	/* vmsgctl lists relay_path / bridge and socket for it. */
	bool shows_relay_path, shows_bridge;
	/* Admitted (listed, pending): set up what the transport needs first.
	 * arg: what broker_open() was given. 0, or -errno with why (the
	 * broker fails the channel). */
	int (*start)(struct vmsgd *d, struct channel *c, void *arg, char *why,
		     size_t cap);
	/* May the provider serve c by message (it announced it; the policy
	 * does not say setup = xenstore)? Also asks the other end. */
	bool (*by_msg)(struct vmsgd *d, const struct channel *c);
	/* The provider served c (c->prov_* set when by message): connect,
	 * then broker_opened(), or broker_fail()/broker_end(). */
	void (*served)(struct vmsgd *d, struct channel *c);
	/* c is being forgotten: release what the transport holds. true: an
	 * end still drains (c lingers; the transport calls broker_forget()
	 * when it is done). */
	bool (*detach)(struct channel *c);
	/* Open, but is vmsgd's end still waiting for its guest? */
	bool (*waiting)(const struct channel *c);
	/* From the tick: true when a message stayed incomplete beyond the
	 * policy's partial_message_ms (the broker ends c). */
	bool (*tick)(struct channel *c, uint64_t now);
	/* vmsgd's own ends' counters into *k; false: none (direct). */
	bool (*counters)(const struct channel *c, struct chan_counters *k);
	/* A guest says it closed its end of the open c (its Closed). */
	void (*guest_closed)(struct channel *c);
	/* What c's ends count in domain `domid`'s total `pool` (vmsgd.h,
	 * guest_queued), counted from c: only guests_check's recount asks
	 * (the limits use the running totals its ends report, struct
	 * guest_end in vmsgd.h). */
	uint64_t (*queued)(const struct channel *c, uint16_t domid,
			   enum guest_pool pool);
};

extern const struct transport direct_transport;       /* direct.c */
extern const struct transport relay_transport;        /* relay.c */
extern const struct transport bridge_in_transport;    /* bridge.c */
extern const struct transport bridge_out_transport;   /* bridge.c */

/* ---- what the broker tells the sessions ---------------------------------- */

/* What the broker needs of a guest's control channel (session.c's; the
 * broker knows no session). */
struct broker_peer {
	uint32_t uid;   /* host mode: the client's uid; Xen: 0 */
	bool setup_msg; /* its library sets channels up by message */
	bool admit;     /* and takes an admitted channel (consumer side) */
	bool spare_msg; /* and takes Spare (consumer side) */
};

struct broker_notify {
	/* Is session `sess`'s control channel up (greeted)? *p is filled
	 * whenever the session exists, up or not. */
	bool (*peer)(struct vmsgd *d, uint16_t sess, struct broker_peer *p);
	/* Answer request req_id of session `sess` (nothing if it is not
	 * up). */
	void (*result)(struct vmsgd *d, uint16_t sess, uint32_t req_id,
		       int code, const char *text);
	/* Serve{c} to c->prov_sess, for consumer_domid. 0 or -errno (the
	 * provider's session was reset: c may be gone). */
	int (*serve)(struct vmsgd *d, const struct channel *c,
		     uint16_t consumer_domid, uint32_t connect_timeout_ms,
		     uint32_t consumer_uid);
	/* Opened{c} to c->cons_sess: at `at_domid`'s `path`. 0 or -errno
	 * (as serve). */
	int (*opened)(struct vmsgd *d, const struct channel *c,
		      uint16_t at_domid, const char *path,
		      uint32_t provider_uid);
	/* Closed{id} to session `sess`. It may be reset. */
	void (*closed)(struct vmsgd *d, uint16_t sess, uint32_t id);
	/* Spare{c} to c->cons_sess: spare c is served (docs/protocol.md,
	 * "Spare channels"). The session may be reset, and c gone with it. */
	void (*spare)(struct vmsgd *d, const struct channel *c);
};

extern const struct broker_notify session_notify; /* session.c */

/* ---- the broker's interface ---------------------------------------------- */

/* Set up d->broker: channel ids from a random start, the transports by
 * enum chan_mode, the sessions' notify. 0 or -ENOMEM. */
int broker_init(struct vmsgd *d, const struct broker_notify *n,
		const struct transport *const tp[CHM_COUNT]);
/* Free what is left (after the loop has ended). */
void broker_free(struct vmsgd *d);

/* Iteration (read-only: follow ->next). */
const struct service *broker_services(const struct vmsgd *d);
struct channel *broker_channels(const struct vmsgd *d);
const struct service *broker_service_find(const struct vmsgd *d,
					  const char *name);
struct channel *broker_lookup(struct vmsgd *d, uint32_t id);
/* The transport of enum chan_mode `mode` (for per-mode counts). */
const struct transport *broker_transport(const struct vmsgd *d, int mode);
/* vmsgd's ends' counters of c; false for a direct channel. */
bool broker_counters(const struct channel *c, struct chan_counters *k);
/* Domain `domid`'s Opens in progress: not answered, or answered with an
 * end vmsgd serves that the guest has not connected to yet, or left by
 * the guest while the provider still has their Serve (lingering). */
uint32_t broker_pending_opens(struct vmsgd *d, uint16_t domid);

/* Who asks: a guest's domid (a host client's number) and its session's
 * number, its uid and user name (host mode's policy names users). */
struct broker_who {
	uint16_t domid;
	uint16_t sess;
	uint32_t uid;
	const char *user;
};

/* Admission. Each checks the name, the policy and the limits, in the
 * order the guest hears them; on refusal returns -errno with text (the
 * caller answers; -EACCES, -EUSERS and -EBUSY are refusals by policy or
 * limit, which the caller logs). */
int broker_offer(struct vmsgd *d, const struct broker_who *w,
		 const char *service, char *text, size_t cap);
/* Open `service` for w (w NULL: for a listen bridge's socket, as domain
 * 0, no policy list). On 0 the channel is listed and started (arg goes to
 * its transport's start); its answer comes later through the notify (or
 * it fails then). req_id and timeout_ms: the guest's Open (0: default). */
int broker_open(struct vmsgd *d, const struct broker_who *w,
		const char *service, uint32_t req_id, uint32_t timeout_ms,
		void *arg, char *text, size_t cap);

/* The control protocol's other requests. */
/* provider, domid: the session that sent it. */
void broker_serve_result(struct vmsgd *d, uint16_t provider, uint32_t id,
			 int code, const char *text, uint32_t ring_ref,
			 uint32_t event_port);
void broker_closed(struct vmsgd *d, uint16_t domid, uint32_t id);
/* Everything of session `sess` goes: its offers and channels (those of
 * the domain's other sessions stay). `ended`: the domain or the
 * session's process is gone (not a reset by vmsgd), and consumers of its
 * open direct channels are told. */
void broker_drop_session(struct vmsgd *d, uint16_t sess, bool ended);

/* The channel state machine, for the transports. */
/* Tell the consumer where to connect; c is open. */
void broker_opened(struct vmsgd *d, struct channel *c, uint16_t at_domid,
		   const char *path);
/* A pending channel fails: answer the consumer, forget it. */
void broker_fail(struct vmsgd *d, struct channel *c, int code,
		 const char *text);
/* c has ended: log, forget (a transport that still drains keeps it
 * listed, lingering, until broker_forget). */
void broker_end(struct vmsgd *d, struct channel *c, const char *why);
/* A lingering transport is done (it has dropped its link to c). */
void broker_forget(struct vmsgd *d, struct channel *c);
/* vmsgd's client end `end` of c, just connected to the provider: 0 when
 * its rings are within the policy's ring_size, else -EPROTO with why
 * filled (the caller refuses the channel). */
int broker_check_rings(const struct channel *c, vmsg_chan *end, char *why,
		       size_t cap);
/* May the consumer's end of c be set up by message (its library
 * announced it, the policy does not say setup = xenstore)? */
bool broker_consumer_by_msg(struct vmsgd *d, const struct channel *c);

/* Deadlines, transports' partial messages, lingering direct channels. */
void broker_tick(struct vmsgd *d);
/* vmsgd stops: every pending open is answered -ESHUTDOWN. */
void broker_fail_pending(struct vmsgd *d);

/* dom0's services (connect bridges) follow policy np: check fails (-1,
 * err) when a new one takes a name a guest offers; sync adds and
 * removes them. */
int broker_bridges_check(struct vmsgd *d, const struct policy *np, char *err,
			 size_t cap);
void broker_bridges_sync(struct vmsgd *d, const struct policy *np);

#endif
