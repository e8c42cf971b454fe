/* The tree: a map from absolute path to node; each node also lists its
 * children's names. Operations go through a view, which is either the live
 * tree or a transaction's overlay (txn.c), so one implementation of Xen's
 * rules serves both. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xsd.h"

/* ---- nodes ----------------------------------------------------------------- */

struct xsd_node *xsd_node_new(const char *path)
{
	struct xsd_node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->h.key = strdup(path);
	n->value = malloc(1);
	if (!n->h.key || !n->value) {
		xsd_node_free(n);
		return NULL;
	}
	return n;
}

void xsd_node_free(struct xsd_node *n)
{
	if (!n)
		return;
	for (uint32_t i = 0; i < n->nkids; i++)
		free(n->kids[i]);
	free(n->kids);
	xsd_perms_free(&n->perms);
	free(n->value);
	free(n->h.key);
	free(n);
}

struct xsd_node *xsd_node_dup(const struct xsd_node *src)
{
	struct xsd_node *n = xsd_node_new(src->h.key);
	if (!n)
		return NULL;
	if (xsd_node_set_value(n, src->value, src->vlen) < 0 ||
	    xsd_perms_copy(&n->perms, &src->perms) < 0)
		goto fail;
	for (uint32_t i = 0; i < src->nkids; i++)
		if (xsd_node_add_kid(n, src->kids[i]) < 0)
			goto fail;
	n->gen = src->gen;
	return n;
fail:
	xsd_node_free(n);
	return NULL;
}

int xsd_node_set_value(struct xsd_node *n, const char *v, uint32_t len)
{
	char *nv = malloc(len ? len : 1);
	if (!nv)
		return -ENOMEM;
	if (len)
		memcpy(nv, v, len);
	free(n->value);
	n->value = nv;
	n->vlen = len;
	return 0;
}

int xsd_node_add_kid(struct xsd_node *n, const char *name)
{
	if (n->nkids == n->kcap) {
		uint32_t cap = n->kcap ? n->kcap * 2 : 4;
		char **k = realloc(n->kids, cap * sizeof(*k));
		if (!k)
			return -ENOMEM;
		n->kids = k;
		n->kcap = cap;
	}
	char *s = strdup(name);
	if (!s)
		return -ENOMEM;
	n->kids[n->nkids++] = s;
	n->childlen += (uint32_t)strlen(name) + 1;
	return 0;
}

void xsd_node_del_kid(struct xsd_node *n, const char *name)
{
	for (uint32_t i = 0; i < n->nkids; i++) {
		if (strcmp(n->kids[i], name) == 0) {
			n->childlen -= (uint32_t)strlen(name) + 1;
			free(n->kids[i]);
			memmove(&n->kids[i], &n->kids[i + 1],
				(n->nkids - i - 1) * sizeof(*n->kids));
			n->nkids--;
			return;
		}
	}
}

/* ---- the live tree ----------------------------------------------------------- */

static int add_root(struct xsd_store *st, const char *path)
{
	struct xsd_node *n = xsd_node_new(path);
	if (!n)
		return -ENOMEM;
	/* "n0": owned by domain 0, no access for anyone else. */
	n->perms.p = calloc(1, sizeof(*n->perms.p));
	if (!n->perms.p) {
		xsd_node_free(n);
		return -ENOMEM;
	}
	n->perms.n = 1;
	if (strcmp(path, "/") != 0) {
		char parent[64];
		size_t pl = xsd_path_parent_len(path);
		memcpy(parent, path, pl);
		parent[pl] = '\0';
		struct xsd_node *p = xsd_live_get(st, parent);
		if (!p || xsd_node_add_kid(p, xsd_path_base(path)) < 0) {
			xsd_node_free(n);
			return -ENOMEM;
		}
	}
	return xsd_live_insert(st, n);
}

int xsd_store_init(struct xsd_store *st)
{
	memset(st, 0, sizeof(*st));
	st->q = (struct xsd_quota)XSD_QUOTA_DEFAULTS;
	st->owned = calloc(XSD_MAX_DOMID + 1, sizeof(*st->owned));
	if (!st->owned || xsd_map_init(&st->nodes) < 0)
		return -ENOMEM;
	static const char *const initial[] = {"/", "/local", "/local/domain",
					      "/local/domain/0", "/tool"};
	for (size_t i = 0; i < sizeof(initial) / sizeof(initial[0]); i++)
		if (add_root(st, initial[i]) < 0)
			return -ENOMEM;
	return 0;
}

void xsd_store_fini(struct xsd_store *st)
{
	if (st->nodes.b) {
		/* Each entry's hnext is read before the entry is freed. */
		for (size_t i = 0; i < st->nodes.nb; i++) {
			struct xsd_hent *e = st->nodes.b[i], *nx;
			for (; e; e = nx) {
				nx = e->hnext;
				xsd_node_free((struct xsd_node *)e);
			}
		}
		xsd_map_fini(&st->nodes);
	}
	free(st->owned);
	st->owned = NULL;
}

struct xsd_node *xsd_live_get(struct xsd_store *st, const char *path)
{
	return (struct xsd_node *)xsd_map_get(&st->nodes, path);
}

int xsd_live_insert(struct xsd_store *st, struct xsd_node *n)
{
	n->gen = ++st->gen;
	xsd_map_put(&st->nodes, &n->h);
	st->owned[n->perms.p[0].id]++;
	return 0;
}

void xsd_live_remove(struct xsd_store *st, const char *path)
{
	struct xsd_node *n = (struct xsd_node *)xsd_map_del(&st->nodes, path);
	if (!n)
		return;
	st->owned[n->perms.p[0].id]--;
	xsd_node_free(n);
}

int xsd_live_replace(struct xsd_store *st, struct xsd_node *n)
{
	xsd_live_remove(st, n->h.key);
	return xsd_live_insert(st, n);
}

/* ---- views -------------------------------------------------------------------- */

const struct xsd_node *xsd_view_get(struct xsd_view *v, const char *path,
				    int *err)
{
	*err = 0;
	if (!v->tx)
		return xsd_live_get(v->st, path);
	struct xsd_tent *t = xsd_txn_touch(v->tx, v->st, path, err);
	if (!t)
		return NULL;
	switch (t->state) {
	case XSD_T_READ:
		/* The live node, even if it changed since: commit will see
		 * the changed generation and fail with EAGAIN. */
		return xsd_live_get(v->st, path);
	case XSD_T_COPY:
		return t->copy;
	case XSD_T_GONE:
		break;
	}
	return NULL;
}

struct xsd_node *xsd_view_edit(struct xsd_view *v, const char *path, int *err)
{
	*err = 0;
	if (!v->tx) {
		struct xsd_node *n = xsd_live_get(v->st, path);
		if (n)
			n->gen = ++v->st->gen;
		else
			*err = -ENOENT;
		return n;
	}
	struct xsd_tent *t = xsd_txn_touch(v->tx, v->st, path, err);
	if (!t)
		return NULL;
	if (t->state == XSD_T_READ) {
		struct xsd_node *live = xsd_live_get(v->st, path);
		if (!live) {
			*err = -ENOENT;
			return NULL;
		}
		t->copy = xsd_node_dup(live);
		if (!t->copy) {
			*err = -ENOMEM;
			return NULL;
		}
		t->state = XSD_T_COPY;
	}
	if (t->state == XSD_T_GONE) {
		*err = -ENOENT;
		return NULL;
	}
	return t->copy;
}

int xsd_view_insert(struct xsd_view *v, struct xsd_node *n)
{
	if (!v->tx)
		return xsd_live_insert(v->st, n);
	int err;
	struct xsd_tent *t = xsd_txn_touch(v->tx, v->st, n->h.key, &err);
	if (!t)
		return err;
	xsd_node_free(t->copy);
	t->copy = n;
	t->state = XSD_T_COPY;
	v->tx->created++;
	xsd_txn_account(v->tx, n->perms.p[0].id, 1);
	return 0;
}

int xsd_view_remove(struct xsd_view *v, const char *path)
{
	if (!v->tx) {
		xsd_live_remove(v->st, path);
		return 0;
	}
	int err;
	struct xsd_tent *t = xsd_txn_touch(v->tx, v->st, path, &err);
	if (!t)
		return err;
	const struct xsd_node *old = t->state == XSD_T_COPY ? t->copy
				   : t->state == XSD_T_READ
					 ? xsd_live_get(v->st, path)
					 : NULL;
	if (old)
		xsd_txn_account(v->tx, old->perms.p[0].id, -1);
	xsd_node_free(t->copy);
	t->copy = NULL;
	t->state = XSD_T_GONE;
	return 0;
}

/* ---- operations with Xen's rules ------------------------------------------------ */

static char *parent_of(const char *path)
{
	size_t pl = xsd_path_parent_len(path);
	char *p = malloc(pl + 1);
	if (p) {
		memcpy(p, path, pl);
		p[pl] = '\0';
	}
	return p;
}

int xsd_store_lookup(struct xsd_view *v, unsigned domid, const char *path,
		     unsigned acc, const struct xsd_node **out)
{
	int err;
	const struct xsd_node *n = xsd_view_get(v, path, &err);
	if (err)
		return err;
	if (n) {
		if ((xsd_perms_access(&n->perms, domid) & acc) != acc)
			return -EACCES;
		*out = n;
		return 0;
	}
	/* Missing: say EACCES rather than ENOENT when the nearest existing
	 * ancestor would not grant this access, so that a domain cannot
	 * probe for nodes it may not see (Xen's errno_from_parents). */
	char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	int ret = -ENOENT;
	while (strcmp(p, "/") != 0) {
		p[xsd_path_parent_len(p)] = '\0';
		const struct xsd_node *a = xsd_view_get(v, p, &err);
		if (err) {
			ret = err;
			break;
		}
		if (a) {
			if ((xsd_perms_access(&a->perms, domid) & acc) != acc)
				ret = -EACCES;
			break;
		}
	}
	free(p);
	return ret;
}

static void report(const struct xsd_changes *ch, const char *path,
		   const struct xsd_perms *perms, enum xsd_change kind)
{
	if (ch && ch->changed)
		ch->changed(ch->arg, path, perms, kind);
}

static uint32_t depth(const char *p)
{
	uint32_t d = 0;
	for (; *p; p++)
		d += *p == '/';
	return d;
}

/* The quotas an unprivileged domain meets when it creates `path` and
 * the missing ancestors below `a` (at path `anc`), as Xen's create_node
 * checks them; every refusal is ENOSPC, and nothing is created then.
 *
 * Nodes: Xen refuses each new node while the creator's live count is at
 * the quota, undoing the ones already made, so outside a transaction
 * the request succeeds only if the domain ends owning at most the
 * quota. Inside one, nodes the transaction created do not count yet (Xen
 * keeps them apart until commit, which checks again: txn.c).
 *
 * Entry size: Xen writes every new node and the existing ancestor, whose
 * list of children grows, and refuses a record of `entry_size` bytes or
 * more (xsd_record_size). */
static int create_quota(const struct xsd_view *v, unsigned domid,
			const struct xsd_node *a, const char *anc,
			const char *path, uint32_t len)
{
	const struct xsd_quota *q = &v->st->q;
	if (xsd_privileged(domid))
		return 0;
	uint32_t missing = depth(path) - (strcmp(anc, "/") == 0 ? 0 : depth(anc));
	uint64_t live = v->st->owned[domid];
	if (v->tx ? live >= q->nodes : live + missing > q->nodes)
		return -ENOSPC;
	/* Each missing component is the child of the node above it. */
	const char *name = path + (strcmp(anc, "/") == 0 ? 1 : strlen(anc) + 1);
	uint32_t np = a->perms.n;
	uint64_t sz = xsd_record_size(np, a->vlen,
				      a->childlen + (uint32_t)strcspn(name, "/") + 1);
	while (sz < q->entry_size) {
		const char *slash = strchr(name, '/');
		if (!slash) {
			sz = xsd_record_size(np, len, 0); /* the new leaf */
			break;
		}
		name = slash + 1;
		sz = xsd_record_size(np, 0, (uint32_t)strcspn(name, "/") + 1);
	}
	return sz >= q->entry_size ? -ENOSPC : 0;
}

/* Creates `path` and any missing ancestors below the nearest existing one
 * (`anc`), each inheriting its parent's permissions; an unprivileged
 * creator becomes the owner of what it creates (Xen's rule). */
static int create_chain(struct xsd_view *v, unsigned domid, const char *anc,
			const char *path, const char *val, uint32_t len)
{
	size_t plen = strlen(path);
	char *cur = malloc(plen + 1);
	if (!cur)
		return -ENOMEM;
	size_t pos = strcmp(anc, "/") == 0 ? 0 : strlen(anc);
	int err = 0;
	while (pos < plen) {
		size_t next = pos + 1;
		while (next < plen && path[next] != '/')
			next++;
		memcpy(cur, path, next);
		cur[next] = '\0';
		char save = cur[pos];
		cur[pos] = '\0';
		const char *parent_path = pos == 0 ? "/" : cur;
		struct xsd_node *parent = xsd_view_edit(v, parent_path, &err);
		cur[pos] = save;
		if (!parent)
			break;
		struct xsd_node *n = xsd_node_new(cur);
		if (!n || xsd_perms_copy(&n->perms, &parent->perms) < 0 ||
		    xsd_node_add_kid(parent, xsd_path_base(cur)) < 0) {
			xsd_node_free(n);
			err = -ENOMEM;
			break;
		}
		if (domid != 0)
			n->perms.p[0].id = (uint16_t)domid;
		if (next == plen && xsd_node_set_value(n, val, len) < 0) {
			xsd_node_del_kid(parent, xsd_path_base(cur));
			xsd_node_free(n);
			err = -ENOMEM;
			break;
		}
		err = xsd_view_insert(v, n);
		if (err < 0) {
			xsd_node_del_kid(parent, xsd_path_base(cur));
			xsd_node_free(n);
			break;
		}
		pos = next;
	}
	free(cur);
	return err;
}

int xsd_store_write(struct xsd_view *v, unsigned domid, const char *path,
		    const char *val, uint32_t len, bool mkdir_only,
		    const struct xsd_changes *ch)
{
	int err;
	const struct xsd_node *n = xsd_view_get(v, path, &err);
	if (err)
		return err;
	if (n) {
		if (!(xsd_perms_access(&n->perms, domid) & XSD_ACC_W))
			return -EACCES;
		if (mkdir_only)
			return 0;
		/* Xen's entry-size quota on the record as written. */
		if (!xsd_privileged(domid) &&
		    xsd_record_size(n->perms.n, len, n->childlen) >=
			    v->st->q.entry_size)
			return -ENOSPC;
		struct xsd_node *e = xsd_view_edit(v, path, &err);
		if (!e)
			return err;
		err = xsd_node_set_value(e, val, len);
		if (err)
			return err;
		report(ch, path, &e->perms, XSD_CH_WRITE);
		return 0;
	}
	/* Writing a new node needs write access to its nearest existing
	 * ancestor. */
	char *anc = strdup(path);
	if (!anc)
		return -ENOMEM;
	const struct xsd_node *a = NULL;
	while (!a) {
		anc[xsd_path_parent_len(anc)] = '\0';
		a = xsd_view_get(v, anc, &err);
		if (err) {
			free(anc);
			return err;
		}
		if (!a && strcmp(anc, "/") == 0)
			break; /* unreachable: the root always exists */
	}
	if (!a || !(xsd_perms_access(&a->perms, domid) & XSD_ACC_W)) {
		free(anc);
		return -EACCES;
	}
	err = create_quota(v, domid, a, anc, path, mkdir_only ? 0 : len);
	if (!err)
		err = create_chain(v, domid, anc, path, val,
				   mkdir_only ? 0 : len);
	free(anc);
	if (err)
		return err;
	n = xsd_view_get(v, path, &err);
	if (n)
		report(ch, path, &n->perms, XSD_CH_WRITE);
	return 0;
}

struct rm_item {
	char *path;
	struct xsd_perms perms;
};

int xsd_store_rm(struct xsd_view *v, unsigned domid, const char *path,
		 const struct xsd_changes *ch)
{
	if (strcmp(path, "/") == 0)
		return -EINVAL;
	const struct xsd_node *n;
	int err = xsd_store_lookup(v, domid, path, XSD_ACC_W, &n);
	if (err == -ENOENT) {
		/* Removing what is not there is fine if its parent is. */
		char *par = parent_of(path);
		if (!par)
			return -ENOMEM;
		const struct xsd_node *p = xsd_view_get(v, par, &err);
		free(par);
		return err ? err : p ? 0 : -ENOENT;
	}
	if (err)
		return err;

	/* Collect the subtree breadth-first, then report and remove it. */
	size_t cnt = 0, cap = 16;
	struct rm_item *it = malloc(cap * sizeof(*it));
	if (!it)
		return -ENOMEM;
	it[cnt].path = strdup(path);
	it[cnt].perms.p = NULL;
	if (!it[cnt].path) {
		free(it);
		return -ENOMEM;
	}
	cnt++;
	err = 0;
	for (size_t i = 0; i < cnt && !err; i++) {
		const struct xsd_node *x = xsd_view_get(v, it[i].path, &err);
		if (err)
			break;
		if (!x)
			continue;
		if (xsd_perms_copy(&it[i].perms, &x->perms) < 0) {
			err = -ENOMEM;
			break;
		}
		for (uint32_t k = 0; k < x->nkids; k++) {
			if (cnt == cap) {
				struct rm_item *ni =
					realloc(it, cap * 2 * sizeof(*it));
				if (!ni) {
					err = -ENOMEM;
					break;
				}
				it = ni;
				cap *= 2;
			}
			it[cnt].perms.p = NULL;
			it[cnt].perms.n = 0;
			it[cnt].path = xsd_path_join(it[i].path, x->kids[k]);
			if (!it[cnt].path) {
				err = -ENOMEM;
				break;
			}
			cnt++;
		}
	}
	if (!err) {
		char *par = parent_of(path);
		struct xsd_node *p = par ? xsd_view_edit(v, par, &err) : NULL;
		if (!par)
			err = -ENOMEM;
		if (p)
			xsd_node_del_kid(p, xsd_path_base(path));
		free(par);
	}
	for (size_t i = 0; i < cnt && !err; i++) {
		if (!it[i].perms.p)
			continue;
		report(ch, it[i].path, &it[i].perms,
		       i == 0 ? XSD_CH_RM_TOP : XSD_CH_RM);
		err = xsd_view_remove(v, it[i].path);
	}
	for (size_t i = 0; i < cnt; i++) {
		free(it[i].path);
		xsd_perms_free(&it[i].perms);
	}
	free(it);
	return err;
}

int xsd_store_set_perms(struct xsd_view *v, unsigned domid, const char *path,
			const struct xsd_perms *np,
			const struct xsd_changes *ch)
{
	const struct xsd_node *n;
	int err = xsd_store_lookup(v, domid, path, XSD_ACC_W, &n);
	if (err)
		return err;
	if (!xsd_privileged(domid)) {
		/* Only the owner may change permissions, and it may not give
		 * the node (and its quota) away. */
		if (n->perms.p[0].id != domid)
			return -EACCES;
		if (np->p[0].id != domid)
			return -EPERM;
		if (xsd_record_size(np->n, n->vlen, n->childlen) >=
		    v->st->q.entry_size)
			return -ENOSPC;
	}
	struct xsd_perms copy;
	err = xsd_perms_copy(&copy, np);
	if (err)
		return err;
	struct xsd_node *e = xsd_view_edit(v, path, &err);
	if (!e) {
		xsd_perms_free(&copy);
		return err;
	}
	if (!v->tx) {
		v->st->owned[e->perms.p[0].id]--;
		v->st->owned[copy.p[0].id]++;
	} else if (e->perms.p[0].id != copy.p[0].id) {
		xsd_txn_account(v->tx, e->perms.p[0].id, -1);
		xsd_txn_account(v->tx, copy.p[0].id, 1);
	}
	xsd_perms_free(&e->perms);
	e->perms = copy;
	report(ch, path, &e->perms, XSD_CH_WRITE);
	return 0;
}
