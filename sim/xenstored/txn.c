/* Transactions, optimistic as in Xen's xenstored: a transaction keeps an
 * overlay of the nodes it touched and the live generation of each when it
 * first looked. Untouched nodes are read live. At commit, if any touched
 * node's live generation moved (written, re-created, removed, or a child
 * added or removed by someone else), the commit fails with EAGAIN;
 * otherwise the overlay is applied at once. Validating every read at
 * commit makes the transaction equivalent to running alone at that
 * instant. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xsd.h"

struct xsd_txn *xsd_txn_new(uint32_t id, unsigned domid)
{
	struct xsd_txn *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	if (xsd_map_init(&t->ents) < 0) {
		free(t);
		return NULL;
	}
	t->id = id;
	t->domid = domid;
	t->tailp = &t->first;
	return t;
}

void xsd_txn_free(struct xsd_txn *t)
{
	if (!t)
		return;
	struct xsd_tent *e = t->first, *nx;
	for (; e; e = nx) {
		nx = e->next;
		xsd_node_free(e->copy);
		free(e->h.key);
		free(e);
	}
	xsd_map_fini(&t->ents);
	free(t->deltas);
	free(t);
}

struct xsd_tent *xsd_txn_touch(struct xsd_txn *t, struct xsd_store *st,
			       const char *path, int *err)
{
	struct xsd_tent *e = (struct xsd_tent *)xsd_map_get(&t->ents, path);
	if (e)
		return e;
	/* Xen: a new node past `transaction-nodes` accessed ones. */
	if (!xsd_privileged(t->domid) && t->nents >= st->q.txn_nodes) {
		*err = -ENOSPC;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->h.key = strdup(path))) {
		free(e);
		*err = -ENOMEM;
		return NULL;
	}
	struct xsd_node *live = xsd_live_get(st, path);
	e->seen_gen = live ? live->gen : 0;
	e->state = XSD_T_READ;
	xsd_map_put(&t->ents, &e->h);
	*t->tailp = e;
	t->tailp = &e->next;
	t->nents++;
	return e;
}

void xsd_txn_account(struct xsd_txn *t, unsigned owner, int n)
{
	for (uint32_t i = 0; i < t->ndeltas; i++) {
		if (t->deltas[i].domid == owner) {
			t->deltas[i].n += n;
			return;
		}
	}
	if (t->ndeltas == t->cdeltas) {
		uint32_t cap = t->cdeltas ? t->cdeltas * 2 : 4;
		struct xsd_tdelta *d = realloc(t->deltas, cap * sizeof(*d));
		if (!d) {
			t->failed = true; /* as Xen: the commit fails */
			return;
		}
		t->deltas = d;
		t->cdeltas = cap;
	}
	t->deltas[t->ndeltas].domid = (uint16_t)owner;
	t->deltas[t->ndeltas].n = n;
	t->ndeltas++;
}

/* Xen's check at commit (transaction_fix_domains): only if the
 * transaction created a node and is an unprivileged domain's, every
 * domain whose count it changed must end below the quota. Every one:
 * Xen 4.17 does not exempt dom0 there, so a domU transaction that
 * creates a node and removes one of dom0's fails while dom0 owns the
 * quota or more (it always may outside). Note the comparison: `>=`,
 * where outside a transaction a domain may reach the quota itself, so
 * through transactions a domain can own one node fewer. */
static int check_node_quota(const struct xsd_txn *t,
			    const struct xsd_store *st)
{
	if (!t->created || xsd_privileged(t->domid))
		return 0;
	for (uint32_t i = 0; i < t->ndeltas; i++) {
		unsigned d = t->deltas[i].domid;
		int64_t cnt = (int64_t)st->owned[d] + t->deltas[i].n;
		if (cnt >= (int64_t)st->q.nodes)
			return -ENOSPC;
	}
	return 0;
}

static bool same_perms(const struct xsd_perms *a, const struct xsd_perms *b)
{
	if (a->n != b->n)
		return false;
	for (uint32_t i = 0; i < a->n; i++)
		if (a->p[i].id != b->p[i].id || a->p[i].acc != b->p[i].acc)
			return false;
	return true;
}

int xsd_txn_commit(struct xsd_txn *t, struct xsd_store *st,
		   const struct xsd_changes *ch)
{
	/* Xen's order: a failed transaction, then the quota, then the
	 * conflict check. */
	if (t->failed)
		return -ENOMEM;
	int err = check_node_quota(t, st);
	if (err)
		return err;
	for (struct xsd_tent *e = t->first; e; e = e->next) {
		struct xsd_node *live = xsd_live_get(st, e->h.key);
		if ((live ? live->gen : 0) != e->seen_gen)
			return -EAGAIN;
	}
	for (struct xsd_tent *e = t->first; e; e = e->next) {
		struct xsd_node *live = xsd_live_get(st, e->h.key);
		if (e->state == XSD_T_COPY) {
			/* A node whose only change is its list of children
			 * (a child created or removed) fires no watch of its
			 * own, as in Xen. */
			bool quiet = live && live->vlen == e->copy->vlen &&
				     memcmp(live->value, e->copy->value,
					    live->vlen) == 0 &&
				     same_perms(&live->perms, &e->copy->perms);
			struct xsd_node *n = e->copy;
			e->copy = NULL;
			e->state = XSD_T_READ;
			xsd_live_replace(st, n);
			if (!quiet && ch && ch->changed)
				ch->changed(ch->arg, n->h.key, &n->perms,
					    XSD_CH_WRITE);
		} else if (e->state == XSD_T_GONE && live) {
			if (ch && ch->changed)
				ch->changed(ch->arg, e->h.key, &live->perms,
					    XSD_CH_RM);
			xsd_live_remove(st, e->h.key);
		}
	}
	return 0;
}
