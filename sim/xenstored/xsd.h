/* xsd.h - private header of vmsg-xenstored, the simulator's xenstore daemon.
 *
 * The daemon speaks Xen's xenstore wire protocol (xen/io/xs_wire.h) on UNIX
 * sockets so that Debian's unmodified libxenstore and xenstore-utils work
 * against it. A connection's domain is the socket it arrived on:
 * DIR/dom0.sock is domain 0 (privileged), DIR/domN.sock exists while
 * domain N is introduced.
 *
 * Layout, one job per file:
 *   map.c    string-keyed hash map (nodes, transaction entries)
 *   path.c   path validation and the relations between paths
 *   perms.c  permission lists: parse, format, access check
 *   store.c  the tree: nodes, views (live or inside a transaction), quotas
 *   txn.c    transactions: optimistic, validated and applied at commit
 *   watch.c  watches and their events
 *   ops.c    one handler per request type
 *   domain.c introduce / release, per-domain sockets
 *   conn.c   listeners, connections, message framing, output queues
 *   fail.c   errors injected into one domain's requests, for tests
 *   main.c   arguments, daemon mode, signals
 *
 * Errors are negative errno values, turned into xs_wire.h's error strings
 * only when a reply is built.
 */
#ifndef VMSG_XSD_H
#define VMSG_XSD_H

#include <errno.h> /* before xs_wire.h: it defines xsd_errors then */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <xen/io/xs_wire.h>

/* ---- limits ---------------------------------------------------------------- */

#define XSD_MAX_DOMID 0xffffu
/* Domain ids that may be introduced: 1 .. DOMID_FIRST_RESERVED - 1. */
#define XSD_DOMID_FIRST_RESERVED 0x7ff0u
#define XSD_QUOTA_CONNS_DOMU 64    /* connections on one domU socket */
#define XSD_QUOTA_CONNS_DOM0 1024  /* connections on dom0's socket */
#define XSD_OUTQ_MAX (1u << 20)    /* unsent reply/event bytes per connection */

/* xenstored's per-domain quotas, with Xen 4.17's defaults and its option
 * names (tools/xenstore/xenstored_core.c). Every one applies to
 * unprivileged domains only: domain 0 is exempt. How each is counted, and
 * the comparison Xen makes, is written where it is checked; a value of 0
 * means what it means to Xen (for most: nothing allowed). */
struct xsd_quota {
	uint32_t nodes;       /* -E --entry-nb: nodes a domain owns (1000) */
	uint32_t watches;     /* -W --watch-nb: watches of a domain (128) */
	uint32_t txns;        /* -t --transaction: open transactions (10) */
	uint32_t outstanding; /* -Q outstanding=: requests in flight (20) */
	uint32_t entry_size;  /* -S --entry-size: node record bytes (2048) */
	uint32_t perms;       /* -A --perm-nb: permission entries (5) */
	uint32_t txn_nodes;   /* -Q transaction-nodes=: nodes per txn (1024) */
	uint32_t path_max;    /* -M --path-max: path bytes past a domain's
			       * home (2048); for every domain, dom0 too */
};

#define XSD_QUOTA_DEFAULTS                                                    \
	{                                                                     \
		.nodes = 1000, .watches = 128, .txns = 10, .outstanding = 20, \
		.entry_size = 2048, .perms = 5, .txn_nodes = 1024,            \
		.path_max = XENSTORE_REL_PATH_MAX,                            \
	}

/* Domain 0 is the only privileged domain here (no --priv-domid). */
static inline bool xsd_privileged(unsigned domid)
{
	return domid == 0;
}

/* ---- map.c: chained hash map keyed by a NUL-terminated string ------------ */

struct xsd_hent {
	struct xsd_hent *hnext;
	char *key; /* owned by the entry's container */
};

struct xsd_map {
	struct xsd_hent **b;
	size_t nb; /* power of two */
	size_t n;
};

int xsd_map_init(struct xsd_map *m);
void xsd_map_fini(struct xsd_map *m); /* frees the bucket array only */
struct xsd_hent *xsd_map_get(const struct xsd_map *m, const char *key);
/* The key must not be present. Returns 0 or -ENOMEM. */
int xsd_map_put(struct xsd_map *m, struct xsd_hent *e);
struct xsd_hent *xsd_map_del(struct xsd_map *m, const char *key);
/* Calls fn on every entry; fn must not modify the map. */
void xsd_map_each(const struct xsd_map *m,
		  void (*fn)(struct xsd_hent *e, void *arg), void *arg);

/* ---- path.c -------------------------------------------------------------- */

/* Turns a request's path into an absolute one: relative paths are under
 * /local/domain/<domid>. Returns a malloc'd string, or NULL with *err set
 * (-EINVAL for a name Xen would refuse, xsd_path_valid() with `path_max`;
 * -ENOMEM). */
char *xsd_path_canon(const char *in, unsigned domid, uint32_t path_max,
		     int *err);
/* Xen's node-name rules: absolute, [A-Za-z0-9/_@-], no "//", no trailing
 * '/' except for the root, and at most `path_max` bytes (the path-max
 * quota) after a leading "/local/domain/<1 to 5 digits>/", or in all
 * where there is none. */
bool xsd_path_valid(const char *p, uint32_t path_max);
/* true when `p` is `anc` or below it. */
bool xsd_path_under(const char *p, const char *anc);
/* Length of the parent's path ("/a/b" -> 2, "/a" -> 1 meaning "/"). */
size_t xsd_path_parent_len(const char *p);
/* The last component (a pointer into p). */
const char *xsd_path_base(const char *p);
/* Joins parent and child name; malloc'd, NULL on ENOMEM. */
char *xsd_path_join(const char *parent, const char *name);
/* Parses a decimal domain id without sign or junk, <= XSD_MAX_DOMID. */
int xsd_parse_domid(const char *s, unsigned *out);

/* ---- perms.c ------------------------------------------------------------- */

#define XSD_ACC_R 1u
#define XSD_ACC_W 2u

struct xsd_perm {
	uint16_t id;
	uint8_t acc; /* XSD_ACC_* */
};

/* An ordered list: [0] is the owner and the access of every domain not
 * listed later; [1..] grant a specific domain its access. */
struct xsd_perms {
	struct xsd_perm *p;
	uint32_t n; /* >= 1 */
};

int xsd_perms_copy(struct xsd_perms *dst, const struct xsd_perms *src);
void xsd_perms_free(struct xsd_perms *p);
/* Parses `n` strings like "r5", "b0", "n7" (nul-separated in buf). */
int xsd_perms_parse(struct xsd_perms *out, const char *const *s, uint32_t n);
/* Writes "r5\0b0\0..." into buf (cap bytes); returns bytes or -E2BIG. */
int xsd_perms_format(const struct xsd_perms *p, char *buf, size_t cap);
/* The access domain `domid` has; domain 0 and the owner have both. */
unsigned xsd_perms_access(const struct xsd_perms *p, unsigned domid);

/* ---- store.c: the tree ---------------------------------------------------- */

struct xsd_node {
	struct xsd_hent h; /* h.key is the absolute path */
	char *value;
	uint32_t vlen;
	struct xsd_perms perms;
	char **kids; /* children's names, in creation order */
	uint32_t nkids, kcap;
	uint32_t childlen; /* sum of the children's names' lengths + 1 each */
	/* Live nodes: the store generation of the last change to this node,
	 * its value, permissions or list of children. Unique across delete
	 * and re-create, which is what transaction validation relies on. */
	uint64_t gen;
};

struct xsd_txn;

struct xsd_store {
	struct xsd_map nodes;
	uint64_t gen;            /* last generation handed out */
	uint32_t *owned;         /* nodes owned, indexed by domid */
	struct xsd_quota q;      /* set before use; defaults from init */
};

/* Where an operation looks and writes: the live tree (tx == NULL) or a
 * transaction's private overlay on top of it. */
struct xsd_view {
	struct xsd_store *st;
	struct xsd_txn *tx;
};

int xsd_store_init(struct xsd_store *st);
void xsd_store_fini(struct xsd_store *st);

struct xsd_node *xsd_node_new(const char *path);
struct xsd_node *xsd_node_dup(const struct xsd_node *n);
void xsd_node_free(struct xsd_node *n);
int xsd_node_add_kid(struct xsd_node *n, const char *name);
void xsd_node_del_kid(struct xsd_node *n, const char *name);
int xsd_node_set_value(struct xsd_node *n, const char *v, uint32_t len);
/* The size of the node's record in Xen's database, which xenstored's
 * entry-size quota bounds: a 24-byte header (generation, number of
 * permissions, value length, children length), 8 bytes per permission,
 * the value, and the children's names with their nuls. */
static inline uint64_t xsd_record_size(uint32_t nperms, uint32_t vlen,
				       uint32_t childlen)
{
	return 24u + 8u * (uint64_t)nperms + vlen + childlen;
}

/* Live-tree primitives that keep the ownership counts right. */
struct xsd_node *xsd_live_get(struct xsd_store *st, const char *path);
int xsd_live_insert(struct xsd_store *st, struct xsd_node *n);
void xsd_live_remove(struct xsd_store *st, const char *path);
/* Replaces the node at n->h.key (present or not) with n. */
int xsd_live_replace(struct xsd_store *st, struct xsd_node *n);

/* View primitives (transaction-aware). get records the read inside a
 * transaction; edit returns a node that may be modified in place and
 * stamps a new generation on a live node. */
const struct xsd_node *xsd_view_get(struct xsd_view *v, const char *path,
				    int *err);
struct xsd_node *xsd_view_edit(struct xsd_view *v, const char *path, int *err);
int xsd_view_insert(struct xsd_view *v, struct xsd_node *n);
int xsd_view_remove(struct xsd_view *v, const char *path);

/* Operations, with Xen's permission rules, for domain `domid`. The changed
 * paths are reported through the callback so live changes fire watches. */
enum xsd_change {
	XSD_CH_WRITE,  /* created, written, or permissions changed */
	XSD_CH_RM,     /* removed as part of a subtree */
	XSD_CH_RM_TOP, /* the top of a removed subtree */
};

struct xsd_changes {
	void (*changed)(void *arg, const char *path,
			const struct xsd_perms *perms, enum xsd_change kind);
	void *arg;
};

int xsd_store_lookup(struct xsd_view *v, unsigned domid, const char *path,
		     unsigned acc, const struct xsd_node **out);
int xsd_store_write(struct xsd_view *v, unsigned domid, const char *path,
		    const char *val, uint32_t len, bool mkdir_only,
		    const struct xsd_changes *ch);
int xsd_store_rm(struct xsd_view *v, unsigned domid, const char *path,
		 const struct xsd_changes *ch);
int xsd_store_set_perms(struct xsd_view *v, unsigned domid, const char *path,
			const struct xsd_perms *np,
			const struct xsd_changes *ch);

/* ---- txn.c ----------------------------------------------------------------- */

enum xsd_tstate {
	XSD_T_READ, /* seen only: live node (or its absence) at seen_gen */
	XSD_T_COPY, /* written: `copy` is the transaction's version */
	XSD_T_GONE, /* removed inside the transaction */
};

struct xsd_tent {
	struct xsd_hent h; /* h.key is the path */
	struct xsd_tent *next; /* in the order first touched */
	uint64_t seen_gen; /* live generation when first touched; 0 = absent */
	enum xsd_tstate state;
	struct xsd_node *copy;
};

struct xsd_txn {
	struct xsd_txn *next; /* in the connection's list */
	uint32_t id;
	unsigned domid; /* whose transaction */
	struct xsd_map ents;
	struct xsd_tent *first, **tailp;
	uint32_t nents;
	uint32_t created; /* nodes created (Xen checks the quota at commit
			   * only when this is not 0) */
	/* Change in nodes owned, per domain, as Xen's transaction keeps it
	 * (created +1 for the owner, removed -1, owner changed -1/+1). */
	struct xsd_tdelta {
		uint16_t domid;
		int32_t n;
	} *deltas;
	uint32_t ndeltas, cdeltas;
	bool failed; /* out of memory while accounting: commit says ENOMEM */
};

/* A transaction of domain `domid` (whose quotas apply to it). */
struct xsd_txn *xsd_txn_new(uint32_t id, unsigned domid);
void xsd_txn_free(struct xsd_txn *t);
/* Entry for `path`, recording the live state the first time. NULL with
 * *err = -ENOSPC when an unprivileged domain's transaction would touch
 * more than the transaction-nodes quota, or -ENOMEM. */
struct xsd_tent *xsd_txn_touch(struct xsd_txn *t, struct xsd_store *st,
			       const char *path, int *err);
/* Records a change of `n` in the nodes `owner` owns, made inside t. */
void xsd_txn_account(struct xsd_txn *t, unsigned owner, int n);
/* Checks the node quota as Xen does at commit, then validates and
 * applies: -ENOSPC if the transaction created a node and would leave an
 * unprivileged domain owning the quota or more, -ENOMEM if its accounting
 * failed, -EAGAIN if anything it touched changed since. Reports applied
 * changes through ch. Does not free t. */
int xsd_txn_commit(struct xsd_txn *t, struct xsd_store *st,
		   const struct xsd_changes *ch);

/* ---- conn.c / domain.c / watch.c / ops.c ---------------------------------- */

struct xsd_server;
struct xsd_conn;

struct xsd_watch {
	struct xsd_watch *next;
	char *path;  /* absolute, or a special "@name" */
	char *token;
	bool relative; /* events reported relative to the domain's home */
};

struct xsd_listener {
	uv_pipe_t pipe;
	struct xsd_server *srv;
	struct xsd_listener *next;
	unsigned domid;
	uint64_t mfn; /* as introduced; only compared on re-introduce */
	char *path;
	uint32_t nconns;
	bool closing;
};

/* What one domain holds, counted against its quotas (all its connections
 * together: on Xen a domain has one connection, its ring, which every
 * process of a Linux guest shares through the kernel). */
struct xsd_dacct {
	uint32_t watches;
	uint32_t txns;
	uint32_t outstanding;
};

/* A request of an unprivileged domain in flight. As in Xen, it counts as
 * outstanding for its domain until its reply and every watch event it
 * caused have been delivered (here: handed to the receiving socket);
 * while a domain has the quota outstanding, no further request of it is
 * read. Each queued message holding it is one reference. */
struct xsd_ref {
	unsigned domid;
	uint32_t n;
};

struct xsd_conn {
	uv_pipe_t pipe;
	struct xsd_server *srv;
	struct xsd_listener *lis; /* NULL once the listener is gone */
	struct xsd_conn *next, *prev;
	unsigned domid;
	bool closing;
	/* Message being assembled: header then payload. */
	uint32_t have;
	unsigned char in[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
	char rbuf[16384];
	/* Held: rbuf[hoff, hlen) was read but not handled, because the
	 * domain had the outstanding quota in flight; reading is stopped. */
	bool held;
	uint32_t hoff, hlen;
	size_t outq; /* bytes queued in uv_write requests */
	struct xsd_watch *watches;
	uint32_t nwatches;
	struct xsd_txn *txns;
	uint32_t ntxns;
	uint32_t next_txid;
};

/* The injected-error rule (fail.c). */
#define XSD_FAIL_NODE "/tool/xenstored/fail"
struct xsd_fail {
	bool on;
	unsigned domid, nth, count, seen;
	int type; /* -1: any */
	int err;  /* negative errno */
};

struct xsd_server {
	uv_loop_t *loop;
	char *dir;
	struct xsd_store st;
	struct xsd_listener *listeners; /* dom0's first */
	struct xsd_conn *conns;
	struct xsd_dacct *acct; /* indexed by domid */
	struct xsd_ref *cur;    /* the request being handled, if counted */
	uv_idle_t resume;       /* feeds held connections again */
	bool verbose;
	bool stopping;
	struct xsd_fail fail;
};

/* fail.c: set the rule from XSD_FAIL_NODE's new value (cleared when the
 * value is not a rule); the error to answer a request of `domid` of
 * `type` with, or 0 to handle it. */
void xsd_fail_set(struct xsd_server *s, const char *val, uint32_t len);
int xsd_fail_check(struct xsd_server *s, unsigned domid, uint32_t type);
/* ops.c: a request type's name ("WRITE"), and back (-1: unknown). */
const char *xsd_type_name(uint32_t type);
int xsd_type_of(const char *name);

/* conn.c */
int xsd_server_init(struct xsd_server *s, uv_loop_t *loop, const char *dir);
void xsd_server_stop(struct xsd_server *s); /* closes and unlinks all */
void xsd_server_fini(struct xsd_server *s);
int xsd_listener_open(struct xsd_server *s, unsigned domid, uint64_t mfn,
		      struct xsd_listener **out);
void xsd_listener_close(struct xsd_listener *l);
struct xsd_listener *xsd_listener_find(struct xsd_server *s, unsigned domid);
void xsd_conn_close(struct xsd_conn *c);
/* Queues a message; closes the connection if its queue is over the limit.
 * A message queued with `ref` holds it until written (or dropped). */
void xsd_conn_send(struct xsd_conn *c, uint32_t type, uint32_t req_id,
		   uint32_t tx_id, const void *payload, uint32_t len,
		   struct xsd_ref *ref);
/* Drops one reference; the last ends the request's outstanding count
 * and lets its domain's held connections go on. */
void xsd_ref_put(struct xsd_server *s, struct xsd_ref *ref);

/* watch.c */
int xsd_watch_add(struct xsd_conn *c, const char *path, const char *token,
		  struct xsd_watch **out);
/* Sends one event for `path` (absolute) to the watch's connection; `ref`
 * is the request that caused it (NULL: none, or not counted). */
void xsd_watch_send(struct xsd_conn *c, const struct xsd_watch *w,
		    const char *path, struct xsd_ref *ref);
int xsd_watch_del(struct xsd_conn *c, const char *path, const char *token);
void xsd_watch_clear(struct xsd_conn *c);
/* A node changed (perms: the ones that decide who hears of it). */
void xsd_watch_fire(struct xsd_server *s, const char *path,
		    const struct xsd_perms *perms, enum xsd_change kind);
/* "@introduceDomain" / "@releaseDomain": privileged connections only. */
void xsd_watch_fire_special(struct xsd_server *s, const char *name);
/* The xsd_changes that fires watches for live changes. */
void xsd_watch_changes(struct xsd_server *s, struct xsd_changes *ch);

/* domain.c */
int xsd_domain_introduce(struct xsd_server *s, unsigned domid, uint64_t mfn);
int xsd_domain_release(struct xsd_server *s, unsigned domid);

/* ops.c: handles one complete, length-checked message. Returns 0, or -1
 * when the message is malformed and the connection must be dropped. */
int xsd_ops_handle(struct xsd_conn *c, const struct xsd_sockmsg *hdr,
		   const char *payload);
void xsd_conn_abort_txns(struct xsd_conn *c);

void xsd_log(struct xsd_server *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
