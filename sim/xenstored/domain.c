/* Domains: XS_INTRODUCE opens DIR/domN.sock (a process connecting there
 * is domain N) and gives N its home /local/domain/N; XS_RELEASE closes the
 * socket and the domain's connections, then, as Xen 4.17 does, removes the
 * nodes the domain owned and drops it from other nodes' permission lists,
 * so a later domain with the same id inherits nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsd.h"

int xsd_domain_introduce(struct xsd_server *s, unsigned domid, uint64_t mfn)
{
	if (domid == 0 || domid >= XSD_DOMID_FIRST_RESERVED)
		return -EINVAL;
	struct xsd_listener *l = xsd_listener_find(s, domid);
	if (l)
		/* Xen accepts a repeated introduce with the same page. */
		return l->mfn == mfn ? 0 : -EINVAL;
	int err = xsd_listener_open(s, domid, mfn, &l);
	if (err)
		return err == -ENOMEM ? err : -EIO;

	char home[32];
	snprintf(home, sizeof(home), "/local/domain/%u", domid);
	struct xsd_view v = {.st = &s->st, .tx = NULL};
	struct xsd_changes ch;
	xsd_watch_changes(s, &ch);
	if (!xsd_live_get(&s->st, home)) {
		struct xsd_perm own = {.id = (uint16_t)domid, .acc = 0};
		struct xsd_perms p = {.p = &own, .n = 1};
		err = xsd_store_write(&v, 0, home, "", 0, true, &ch);
		if (!err)
			err = xsd_store_set_perms(&v, 0, home, &p, &ch);
		if (err) {
			xsd_listener_close(l);
			return err;
		}
	}
	xsd_log(s, "introduced domain %u", domid);
	xsd_watch_fire_special(s, "@introduceDomain");
	return 0;
}

struct owned_scan {
	unsigned domid;
	char **paths;
	size_t n, cap;
	bool oom;
};

static void scan_owned(struct xsd_hent *e, void *arg)
{
	struct owned_scan *sc = arg;
	struct xsd_node *n = (struct xsd_node *)e;
	if (n->perms.p[0].id != sc->domid || sc->oom)
		return;
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 16;
		char **p = realloc(sc->paths, cap * sizeof(*p));
		if (!p) {
			sc->oom = true;
			return;
		}
		sc->paths = p;
		sc->cap = cap;
	}
	if (!(sc->paths[sc->n] = strdup(n->h.key)))
		sc->oom = true;
	else
		sc->n++;
}

struct strip {
	struct xsd_store *st;
	unsigned domid;
};

static void strip_acl(struct xsd_hent *e, void *arg)
{
	struct strip *sp = arg;
	struct xsd_node *n = (struct xsd_node *)e;
	uint32_t w = 1;
	for (uint32_t i = 1; i < n->perms.n; i++)
		if (n->perms.p[i].id != sp->domid)
			n->perms.p[w++] = n->perms.p[i];
	if (w != n->perms.n) {
		n->perms.n = w;
		/* A new generation, so that a transaction holding the old
		 * list cannot commit it back. */
		n->gen = ++sp->st->gen;
	}
}

static int by_length(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
	return la < lb ? -1 : la > lb;
}

int xsd_domain_release(struct xsd_server *s, unsigned domid)
{
	if (domid == 0 || domid >= XSD_DOMID_FIRST_RESERVED)
		return -EINVAL;
	struct xsd_listener *l = xsd_listener_find(s, domid);
	if (!l)
		return -ENOENT;
	xsd_listener_close(l);
	for (struct xsd_conn *c = s->conns; c; c = c->next)
		if (c->domid == domid)
			xsd_conn_close(c);

	/* Remove what the domain owned, shortest paths first so a subtree
	 * goes in one piece. */
	struct owned_scan sc = {.domid = domid};
	xsd_map_each(&s->st.nodes, scan_owned, &sc);
	if (sc.n)
		qsort(sc.paths, sc.n, sizeof(*sc.paths), by_length);
	struct xsd_view v = {.st = &s->st, .tx = NULL};
	struct xsd_changes ch;
	xsd_watch_changes(s, &ch);
	for (size_t i = 0; i < sc.n; i++) {
		if (xsd_live_get(&s->st, sc.paths[i]))
			(void)xsd_store_rm(&v, 0, sc.paths[i], &ch);
		free(sc.paths[i]);
	}
	free(sc.paths);
	struct strip sp = {.st = &s->st, .domid = domid};
	xsd_map_each(&s->st.nodes, strip_acl, &sp);

	xsd_log(s, "released domain %u", domid);
	xsd_watch_fire_special(s, "@releaseDomain");
	return 0;
}
