/* One handler per request type. Every request gets exactly one reply
 * (its own type, or XS_ERROR with an xs_wire.h error string), echoing
 * req_id and tx_id. A request whose arguments are not the nul-terminated
 * strings its type requires is a protocol violation: the connection is
 * dropped, as is one with an unknown type. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsd.h"

struct req {
	struct xsd_conn *c;
	const struct xsd_sockmsg *hdr;
	const char *pl;
	uint32_t len;
};

static const char *err_string(int err)
{
	for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (xsd_errors[i].errnum == -err)
			return xsd_errors[i].errstring;
	return "EIO";
}

static void reply(struct req *r, const void *data, uint32_t len)
{
	xsd_conn_send(r->c, r->hdr->type, r->hdr->req_id, r->hdr->tx_id, data,
		      len, r->c->srv->cur);
}

static void reply_ok(struct req *r)
{
	reply(r, "OK", 3);
}

static void reply_err(struct req *r, int err)
{
	const char *s = err_string(err);
	xsd_conn_send(r->c, XS_ERROR, r->hdr->req_id, r->hdr->tx_id, s,
		      (uint32_t)strlen(s) + 1, r->c->srv->cur);
}

/* Splits the payload into nul-terminated strings that fill it exactly.
 * Returns how many (at most max), or -1 if the payload does not end with
 * a nul or holds more than max strings. */
static int split(const struct req *r, const char **out, int max)
{
	int n = 0;
	uint32_t start = 0;
	if (r->len == 0 || r->pl[r->len - 1] != '\0')
		return -1;
	for (uint32_t i = 0; i < r->len; i++) {
		if (r->pl[i] != '\0')
			continue;
		if (n == max)
			return -1;
		out[n++] = r->pl + start;
		start = i + 1;
	}
	return n;
}

static int one_arg(const struct req *r, const char **a)
{
	return split(r, a, 1) == 1 ? 0 : -1;
}

/* The view a request works in: live, or its transaction's. */
static int view_for(struct req *r, struct xsd_view *v)
{
	v->st = &r->c->srv->st;
	v->tx = NULL;
	if (r->hdr->tx_id == 0)
		return 0;
	for (struct xsd_txn *t = r->c->txns; t; t = t->next) {
		if (t->id == r->hdr->tx_id) {
			v->tx = t;
			return 0;
		}
	}
	return -ENOENT;
}

/* Live changes fire watches at once; a transaction's fire at commit. */
static const struct xsd_changes *changes_for(struct req *r,
					     const struct xsd_view *v,
					     struct xsd_changes *ch)
{
	if (v->tx)
		return NULL;
	xsd_watch_changes(r->c->srv, ch);
	return ch;
}

/* Resolves the single path argument; replies on error. Returns the
 * canonical path (to free) or NULL. */
static char *path_arg(struct req *r, const char *arg, struct xsd_view *v)
{
	int err = view_for(r, v);
	if (err) {
		reply_err(r, err);
		return NULL;
	}
	char *p = xsd_path_canon(arg, r->c->domid, r->c->srv->st.q.path_max,
				 &err);
	if (!p)
		reply_err(r, err);
	return p;
}

static int op_read(struct req *r)
{
	const char *a;
	struct xsd_view v;
	if (one_arg(r, &a) < 0)
		return -1;
	char *p = path_arg(r, a, &v);
	if (!p)
		return 0;
	const struct xsd_node *n;
	int err = xsd_store_lookup(&v, r->c->domid, p, XSD_ACC_R, &n);
	if (err)
		reply_err(r, err);
	else
		reply(r, n->value, n->vlen);
	free(p);
	return 0;
}

static int op_write(struct req *r, bool mkdir_only)
{
	const char *a;
	struct xsd_view v;
	const char *val = NULL;
	uint32_t vlen = 0;
	if (mkdir_only) {
		if (one_arg(r, &a) < 0)
			return -1;
	} else {
		/* "path\0" followed by the value's raw bytes. */
		const char *nul = memchr(r->pl, '\0', r->len);
		if (!nul)
			return -1;
		a = r->pl;
		val = nul + 1;
		vlen = r->len - (uint32_t)(val - r->pl);
	}
	char *p = path_arg(r, a, &v);
	if (!p)
		return 0;
	struct xsd_changes ch;
	int err = xsd_store_write(&v, r->c->domid, p, val, vlen, mkdir_only,
				  changes_for(r, &v, &ch));
	/* dom0's test rule for injected errors (fail.c); outside a
	 * transaction only, so that it takes effect at once. */
	if (!err && !mkdir_only && r->hdr->tx_id == 0 &&
	    xsd_privileged(r->c->domid) && !strcmp(p, XSD_FAIL_NODE))
		xsd_fail_set(r->c->srv, val, vlen);
	if (err)
		reply_err(r, err);
	else
		reply_ok(r);
	free(p);
	return 0;
}

static int op_rm(struct req *r)
{
	const char *a;
	struct xsd_view v;
	if (one_arg(r, &a) < 0)
		return -1;
	char *p = path_arg(r, a, &v);
	if (!p)
		return 0;
	struct xsd_changes ch;
	int err = xsd_store_rm(&v, r->c->domid, p, changes_for(r, &v, &ch));
	if (err)
		reply_err(r, err);
	else
		reply_ok(r);
	free(p);
	return 0;
}

static int op_directory(struct req *r)
{
	const char *a;
	struct xsd_view v;
	if (one_arg(r, &a) < 0)
		return -1;
	char *p = path_arg(r, a, &v);
	if (!p)
		return 0;
	const struct xsd_node *n;
	int err = xsd_store_lookup(&v, r->c->domid, p, XSD_ACC_R, &n);
	free(p);
	if (err) {
		reply_err(r, err);
		return 0;
	}
	char buf[XENSTORE_PAYLOAD_MAX];
	uint32_t off = 0;
	for (uint32_t i = 0; i < n->nkids; i++) {
		size_t k = strlen(n->kids[i]) + 1;
		if (off + k > sizeof(buf)) {
			/* libxenstore then falls back to DIRECTORY_PART. */
			reply_err(r, -E2BIG);
			return 0;
		}
		memcpy(buf + off, n->kids[i], k);
		off += (uint32_t)k;
	}
	reply(r, buf, off);
	return 0;
}

/* Xen's format: "<generation>\0" then as many children (each with its nul)
 * as fit from byte offset `off` of the list, then one extra nul if the list
 * ends there. */
static int op_directory_part(struct req *r)
{
	const char *a[2];
	struct xsd_view v;
	if (split(r, a, 2) != 2)
		return -1;
	char *p = path_arg(r, a[0], &v);
	if (!p)
		return 0;
	char *end;
	unsigned long off = strtoul(a[1], &end, 10);
	const struct xsd_node *n;
	int err = *a[1] < '0' || *a[1] > '9' || *end ? -EINVAL
		: xsd_store_lookup(&v, r->c->domid, p, XSD_ACC_R, &n);
	free(p);
	if (err) {
		reply_err(r, err);
		return 0;
	}
	char buf[XENSTORE_PAYLOAD_MAX];
	int gl = snprintf(buf, sizeof(buf), "%llu",
			  (unsigned long long)n->gen) + 1;
	uint32_t len = (uint32_t)gl;
	/* Skip to the first child at or after byte offset `off`; an offset
	 * past the end gives the empty remainder. */
	unsigned long pos = 0;
	uint32_t i = 0;
	for (; i < n->nkids && pos < off; i++)
		pos += strlen(n->kids[i]) + 1;
	for (; i < n->nkids; i++) {
		size_t k = strlen(n->kids[i]) + 1;
		if (len + k + 1 > sizeof(buf))
			break;
		memcpy(buf + len, n->kids[i], k);
		len += (uint32_t)k;
	}
	if (i == n->nkids)
		buf[len++] = '\0';
	reply(r, buf, len);
	return 0;
}

static int op_get_perms(struct req *r)
{
	const char *a;
	struct xsd_view v;
	if (one_arg(r, &a) < 0)
		return -1;
	char *p = path_arg(r, a, &v);
	if (!p)
		return 0;
	const struct xsd_node *n;
	int err = xsd_store_lookup(&v, r->c->domid, p, XSD_ACC_R, &n);
	free(p);
	char buf[XENSTORE_PAYLOAD_MAX];
	if (!err)
		err = xsd_perms_format(&n->perms, buf, sizeof(buf));
	if (err < 0)
		reply_err(r, err);
	else
		reply(r, buf, (uint32_t)err);
	return 0;
}

static int op_set_perms(struct req *r)
{
	struct xsd_view v;
	/* "path\0perm\0perm\0...": count, then split. */
	int n = 0;
	if (r->len == 0 || r->pl[r->len - 1] != '\0')
		return -1;
	for (uint32_t i = 0; i < r->len; i++)
		n += r->pl[i] == '\0';
	if (n < 2) {
		reply_err(r, -EINVAL);
		return 0;
	}
	/* Xen's permissions quota: entries after the path, for unprivileged
	 * domains only. */
	if (!xsd_privileged(r->c->domid) &&
	    (uint32_t)(n - 1) > r->c->srv->st.q.perms) {
		reply_err(r, -ENOSPC);
		return 0;
	}
	const char **a = malloc((size_t)n * sizeof(*a));
	if (!a) {
		reply_err(r, -ENOMEM);
		return 0;
	}
	(void)split(r, a, n);
	char *p = path_arg(r, a[0], &v);
	if (!p) {
		free(a);
		return 0;
	}
	struct xsd_perms np;
	int err = xsd_perms_parse(&np, a + 1, (uint32_t)(n - 1));
	free(a);
	if (!err) {
		struct xsd_changes ch;
		err = xsd_store_set_perms(&v, r->c->domid, p, &np,
					  changes_for(r, &v, &ch));
		xsd_perms_free(&np);
	}
	free(p);
	if (err)
		reply_err(r, err);
	else
		reply_ok(r);
	return 0;
}

static int op_watch(struct req *r, bool add)
{
	const char *a[2];
	if (split(r, a, 2) != 2)
		return -1;
	struct xsd_watch *w = NULL;
	int err = add ? xsd_watch_add(r->c, a[0], a[1], &w)
		      : xsd_watch_del(r->c, a[0], a[1]);
	if (err) {
		reply_err(r, err);
		return 0;
	}
	reply_ok(r);
	/* Xen fires a new watch once, after the reply, and does not count
	 * that event against the request. */
	if (w)
		xsd_watch_send(r->c, w, w->path, NULL);
	return 0;
}

static int op_txn_start(struct req *r)
{
	struct xsd_conn *c = r->c;
	struct xsd_dacct *acct = &c->srv->acct[c->domid];
	/* Xen's check is `open > quota`, before this one opens: a domain
	 * may hold one transaction more than the quota's number. */
	if (!xsd_privileged(c->domid) && acct->txns > c->srv->st.q.txns) {
		reply_err(r, -ENOSPC);
		return 0;
	}
	uint32_t id;
	for (;;) {
		id = ++c->next_txid;
		if (id == 0)
			continue;
		struct xsd_txn *t = c->txns;
		while (t && t->id != id)
			t = t->next;
		if (!t)
			break;
	}
	struct xsd_txn *t = xsd_txn_new(id, c->domid);
	if (!t) {
		reply_err(r, -ENOMEM);
		return 0;
	}
	t->next = c->txns;
	c->txns = t;
	c->ntxns++;
	acct->txns++;
	char buf[16];
	int k = snprintf(buf, sizeof(buf), "%u", id);
	reply(r, buf, (uint32_t)k + 1);
	return 0;
}

static int op_txn_end(struct req *r)
{
	const char *a;
	if (one_arg(r, &a) < 0)
		return -1;
	struct xsd_conn *c = r->c;
	struct xsd_txn **pp = &c->txns;
	while (*pp && (*pp)->id != r->hdr->tx_id)
		pp = &(*pp)->next;
	if (r->hdr->tx_id == 0 || !*pp) {
		reply_err(r, -ENOENT);
		return 0;
	}
	bool commit;
	if (strcmp(a, "T") == 0)
		commit = true;
	else if (strcmp(a, "F") == 0)
		commit = false;
	else {
		reply_err(r, -EINVAL);
		return 0;
	}
	struct xsd_txn *t = *pp;
	*pp = t->next;
	c->ntxns--;
	c->srv->acct[c->domid].txns--;
	int err = 0;
	if (commit) {
		struct xsd_changes ch;
		xsd_watch_changes(c->srv, &ch);
		err = xsd_txn_commit(t, &c->srv->st, &ch);
	}
	xsd_txn_free(t);
	if (err)
		reply_err(r, err);
	else
		reply_ok(r);
	return 0;
}

static int domid_arg(const char *s, unsigned *d)
{
	return xsd_parse_domid(s, d);
}

static int op_introduce(struct req *r)
{
	const char *a[3];
	if (split(r, a, 3) != 3)
		return -1;
	if (r->c->domid != 0) {
		reply_err(r, -EACCES);
		return 0;
	}
	unsigned domid;
	char *e1, *e2;
	unsigned long long mfn = strtoull(a[1], &e1, 10);
	unsigned long port = strtoul(a[2], &e2, 10);
	(void)port; /* no event channel for the store here */
	int err = domid_arg(a[0], &domid);
	if (!err && (!*a[1] || *e1 || !*a[2] || *e2))
		err = -EINVAL;
	if (!err)
		err = xsd_domain_introduce(r->c->srv, domid, mfn);
	if (err)
		reply_err(r, err);
	else
		reply_ok(r);
	return 0;
}

static int op_domid_query(struct req *r)
{
	const char *a;
	if (one_arg(r, &a) < 0)
		return -1;
	unsigned domid;
	int err = domid_arg(a, &domid);
	if (err) {
		reply_err(r, err);
		return 0;
	}
	char buf[32];
	switch (r->hdr->type) {
	case XS_RELEASE:
		err = r->c->domid != 0 ? -EACCES
				       : xsd_domain_release(r->c->srv, domid);
		if (err)
			reply_err(r, err);
		else if (!r->c->closing)
			reply_ok(r);
		break;
	case XS_GET_DOMAIN_PATH:
		snprintf(buf, sizeof(buf), "/local/domain/%u", domid);
		reply(r, buf, (uint32_t)strlen(buf) + 1);
		break;
	default: /* XS_IS_DOMAIN_INTRODUCED */
		reply(r, domid == 0 || xsd_listener_find(r->c->srv, domid)
				 ? "T" : "F", 2);
		break;
	}
	return 0;
}

void xsd_conn_abort_txns(struct xsd_conn *c)
{
	struct xsd_txn *t = c->txns, *nx;
	for (; t; t = nx) {
		nx = t->next;
		xsd_txn_free(t);
	}
	c->srv->acct[c->domid].txns -= c->ntxns;
	c->txns = NULL;
	c->ntxns = 0;
}

static const char *const type_names[XS_TYPE_COUNT] = {
	[XS_CONTROL] = "CONTROL", [XS_DIRECTORY] = "DIRECTORY",
	[XS_READ] = "READ", [XS_GET_PERMS] = "GET_PERMS",
	[XS_WATCH] = "WATCH", [XS_UNWATCH] = "UNWATCH",
	[XS_TRANSACTION_START] = "TRANSACTION_START",
	[XS_TRANSACTION_END] = "TRANSACTION_END",
	[XS_INTRODUCE] = "INTRODUCE", [XS_RELEASE] = "RELEASE",
	[XS_GET_DOMAIN_PATH] = "GET_DOMAIN_PATH", [XS_WRITE] = "WRITE",
	[XS_MKDIR] = "MKDIR", [XS_RM] = "RM", [XS_SET_PERMS] = "SET_PERMS",
	[XS_IS_DOMAIN_INTRODUCED] = "IS_DOMAIN_INTRODUCED",
	[XS_RESUME] = "RESUME", [XS_SET_TARGET] = "SET_TARGET",
	[XS_RESET_WATCHES] = "RESET_WATCHES",
	[XS_DIRECTORY_PART] = "DIRECTORY_PART",
};

const char *xsd_type_name(uint32_t type)
{
	return type < XS_TYPE_COUNT && type_names[type] ? type_names[type]
							: "?";
}

int xsd_type_of(const char *name)
{
	for (unsigned t = 0; t < XS_TYPE_COUNT; t++)
		if (type_names[t] && !strcmp(type_names[t], name))
			return (int)t;
	return -1;
}

static int handle(struct xsd_conn *c, const struct xsd_sockmsg *hdr,
		  const char *payload);

int xsd_ops_handle(struct xsd_conn *c, const struct xsd_sockmsg *hdr,
		   const char *payload)
{
	struct xsd_server *s = c->srv;
	if (hdr->type < XS_TYPE_COUNT && type_names[hdr->type])
		xsd_log(s, "dom%u req %u %s tx %u len %u", c->domid,
			hdr->req_id, type_names[hdr->type], hdr->tx_id,
			hdr->len);
	/* An unprivileged domain's request is outstanding from now until
	 * its reply and its watch events are out (xsd_ref). */
	struct xsd_ref *ref = NULL;
	if (!xsd_privileged(c->domid) && (ref = malloc(sizeof(*ref)))) {
		ref->domid = c->domid;
		ref->n = 1; /* ours, dropped once handled */
		s->acct[c->domid].outstanding++;
	}
	s->cur = ref;
	int ret = 0, err = xsd_fail_check(s, c->domid, hdr->type);
	if (err) {
		struct req r = {.c = c, .hdr = hdr, .pl = payload,
				.len = hdr->len};
		reply_err(&r, err);
	} else {
		ret = handle(c, hdr, payload);
	}
	s->cur = NULL;
	if (ref)
		xsd_ref_put(s, ref);
	return ret;
}

static int handle(struct xsd_conn *c, const struct xsd_sockmsg *hdr,
		  const char *payload)
{
	struct req r = {.c = c, .hdr = hdr, .pl = payload, .len = hdr->len};
	switch (hdr->type) {
	case XS_READ: return op_read(&r);
	case XS_WRITE: return op_write(&r, false);
	case XS_MKDIR: return op_write(&r, true);
	case XS_RM: return op_rm(&r);
	case XS_DIRECTORY: return op_directory(&r);
	case XS_DIRECTORY_PART: return op_directory_part(&r);
	case XS_GET_PERMS: return op_get_perms(&r);
	case XS_SET_PERMS: return op_set_perms(&r);
	case XS_WATCH: return op_watch(&r, true);
	case XS_UNWATCH: return op_watch(&r, false);
	case XS_TRANSACTION_START: return op_txn_start(&r);
	case XS_TRANSACTION_END: return op_txn_end(&r);
	case XS_INTRODUCE: return op_introduce(&r);
	case XS_RELEASE:
	case XS_GET_DOMAIN_PATH:
	case XS_IS_DOMAIN_INTRODUCED: return op_domid_query(&r);
	case XS_RESET_WATCHES:
		xsd_watch_clear(c);
		xsd_conn_abort_txns(c);
		reply_ok(&r);
		return 0;
	case XS_CONTROL:
	case XS_RESUME:
	case XS_SET_TARGET:
		/* Not simulated: known to Xen, so an error rather than a
		 * dropped connection. */
		reply_err(&r, c->domid == 0 ? -ENOSYS : -EACCES);
		return 0;
	default:
		/* XS_WATCH_EVENT and XS_ERROR are daemon-to-client only; the
		 * rest are not Xen message types. */
		xsd_log(c->srv, "dom%u: unknown message type %u, dropping",
			c->domid, hdr->type);
		return -1;
	}
}
