/* Watches. A watch on P hears of every change at or below P, and of the
 * removal of a subtree that contains P; the event carries the changed path
 * and the watch's token. A connection hears only of nodes its domain may
 * read (Xen's rule); "@introduceDomain" and "@releaseDomain" reach domain
 * 0's connections only, as in Xen 4.17 with default permissions. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsd.h"

/* Path plus token must fit one payload with the longest event path. */
#define XSD_TOKEN_MAX (XENSTORE_PAYLOAD_MAX - XENSTORE_ABS_PATH_MAX - 2)

int xsd_watch_add(struct xsd_conn *c, const char *path, const char *token,
		  struct xsd_watch **out)
{
	int err = 0;
	char *canon;
	bool relative = false;
	if (strlen(token) > XSD_TOKEN_MAX)
		return -EINVAL;
	if (path[0] == '@') {
		if (strlen(path) > XENSTORE_REL_PATH_MAX)
			return -EINVAL;
		canon = strdup(path);
		if (!canon)
			return -ENOMEM;
	} else {
		relative = path[0] != '/';
		canon = xsd_path_canon(path, c->domid, c->srv->st.q.path_max,
				       &err);
		if (!canon)
			return err;
	}
	for (struct xsd_watch *w = c->watches; w; w = w->next) {
		if (strcmp(w->path, canon) == 0 && strcmp(w->token, token) == 0) {
			free(canon);
			return -EEXIST;
		}
	}
	/* Xen counts a domain's watches and compares `> quota` before
	 * adding: a domain may hold one watch more than the quota's number. */
	struct xsd_dacct *acct = &c->srv->acct[c->domid];
	if (!xsd_privileged(c->domid) && acct->watches > c->srv->st.q.watches) {
		free(canon);
		return -E2BIG;
	}
	struct xsd_watch *w = calloc(1, sizeof(*w));
	if (!w || !(w->token = strdup(token))) {
		free(w);
		free(canon);
		return -ENOMEM;
	}
	w->path = canon;
	w->relative = relative;
	w->next = c->watches;
	c->watches = w;
	c->nwatches++;
	acct->watches++;
	*out = w;
	return 0;
}

int xsd_watch_del(struct xsd_conn *c, const char *path, const char *token)
{
	int err = 0;
	char *canon = path[0] == '@'
			      ? strdup(path)
			      : xsd_path_canon(path, c->domid,
					       c->srv->st.q.path_max, &err);
	/* Xen does not check the name here: one no watch can have (bad, or
	 * over path-max) just matches none. */
	if (!canon && err == -EINVAL)
		return -ENOENT;
	if (!canon)
		return err ? err : -ENOMEM;
	for (struct xsd_watch **pp = &c->watches; *pp; pp = &(*pp)->next) {
		struct xsd_watch *w = *pp;
		if (strcmp(w->path, canon) == 0 && strcmp(w->token, token) == 0) {
			*pp = w->next;
			free(w->path);
			free(w->token);
			free(w);
			c->nwatches--;
			c->srv->acct[c->domid].watches--;
			free(canon);
			return 0;
		}
	}
	free(canon);
	return -ENOENT;
}

void xsd_watch_clear(struct xsd_conn *c)
{
	struct xsd_watch *w = c->watches, *nx;
	for (; w; w = nx) {
		nx = w->next;
		free(w->path);
		free(w->token);
		free(w);
	}
	c->srv->acct[c->domid].watches -= c->nwatches;
	c->watches = NULL;
	c->nwatches = 0;
}

void xsd_watch_send(struct xsd_conn *c, const struct xsd_watch *w,
		    const char *path, struct xsd_ref *ref)
{
	char home[32];
	if (w->relative) {
		/* Relative watches hear relative paths, like Xen's. */
		int hl = snprintf(home, sizeof(home), "/local/domain/%u",
				  c->domid);
		if (xsd_path_under(path, home)) {
			path += hl;
			if (*path == '/')
				path++;
		}
	}
	size_t pl = strlen(path), tl = strlen(w->token);
	char buf[XENSTORE_PAYLOAD_MAX];
	if (pl + tl + 2 > sizeof(buf))
		return; /* cannot happen: both lengths are bounded */
	memcpy(buf, path, pl + 1);
	memcpy(buf + pl + 1, w->token, tl + 1);
	xsd_conn_send(c, XS_WATCH_EVENT, 0, 0, buf, (uint32_t)(pl + tl + 2),
		      ref);
}

void xsd_watch_fire(struct xsd_server *s, const char *path,
		    const struct xsd_perms *perms, enum xsd_change kind)
{
	for (struct xsd_conn *c = s->conns; c; c = c->next) {
		if (c->closing)
			continue;
		if (!(xsd_perms_access(perms, c->domid) & XSD_ACC_R))
			continue;
		for (struct xsd_watch *w = c->watches; w && !c->closing;
		     w = w->next) {
			if (w->path[0] == '@')
				continue;
			if (xsd_path_under(path, w->path))
				xsd_watch_send(c, w, path, s->cur);
			else if (kind == XSD_CH_RM_TOP &&
				 xsd_path_under(w->path, path) &&
				 !xsd_live_get(&s->st, w->path))
				/* A watched path that does not exist, inside
				 * the removed subtree; one that exists hears
				 * of its own removal. */
				xsd_watch_send(c, w, w->path, s->cur);
		}
	}
}

void xsd_watch_fire_special(struct xsd_server *s, const char *name)
{
	for (struct xsd_conn *c = s->conns; c; c = c->next) {
		if (c->closing || c->domid != 0)
			continue;
		for (struct xsd_watch *w = c->watches; w && !c->closing;
		     w = w->next)
			if (strcmp(w->path, name) == 0)
				xsd_watch_send(c, w, name, s->cur);
	}
}

static void on_change(void *arg, const char *path,
		      const struct xsd_perms *perms, enum xsd_change kind)
{
	xsd_watch_fire(arg, path, perms, kind);
}

void xsd_watch_changes(struct xsd_server *s, struct xsd_changes *ch)
{
	ch->changed = on_change;
	ch->arg = s;
}
