/* Domains come and go: list /local/domain at start and again on every
 * @introduceDomain / @releaseDomain event (libxenstore's watch fd in a
 * uv_poll), serving a control channel for each new guest and dropping
 * everything of each one that is gone. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include <vmsg/xen.h>

#include "vmsgd.h"

#define MAX_DOMS 4096

static int parse_domid(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v >= VMSG_DOMID_LIMIT)
		return -1;
	return (int)v;
}

void xs_rescan(struct vmsgd *d)
{
	unsigned num = 0;
	char **dir = xs_directory(d->xs, XBT_NULL, "/local/domain", &num);
	if (!dir) {
		vmsgd_log(LOG_WARN, "cannot list /local/domain: %s",
			  strerror(errno));
		return;
	}
	uint8_t *live = calloc(VMSG_DOMID_LIMIT, 1);
	if (!live) {
		/* The tick scans again: the domains just announced must not
		 * wait for the next xenstore event. */
		vmsgd_log(LOG_WARN, "cannot scan the domains: %s; trying again",
			  strerror(errno));
		d->rescan_retry = true;
		free(dir);
		return;
	}
	for (unsigned i = 0; i < num && i < MAX_DOMS; i++) {
		int id = parse_domid(dir[i]);
		if (id > 0)
			live[id] = 1;
	}
	free(dir);
	/* Gone first, so that a re-created domain id starts afresh. All of
	 * a domain's sessions go at once; the list changes: start over. */
	for (struct session *s = d->sessions; s;) {
		if (!live[s->domid] && !s->dying) {
			session_gone(d, s->domid);
			s = d->sessions;
		} else {
			s = s->next;
		}
	}
	/* A domain whose control channel cannot be served yet (a domain
	 * still being built: the simulator announces one before its event
	 * channels take binds, say) is tried again from the tick: no later
	 * xenstore event need come for it. */
	d->rescan_retry = false;
	for (int id = 1; id < (int)VMSG_DOMID_LIMIT; id++) {
		if (!live[id] || session_domain_served(d, (uint16_t)id))
			continue;
		int r = session_new(d, (uint16_t)id, 0, 0);
		if (r < 0) {
			/* Want of memory is worth a word; a domain being
			 * built is the usual, expected, cause of the rest. */
			vmsgd_log(r == -ENOMEM ? LOG_WARN : LOG_DEBUG,
				  "domain %d: cannot serve its control channel "
				  "yet (%s); trying again",
				  id, vmsg_strerror(r));
			d->rescan_retry = true;
		}
	}
	free(live);
}

/* Was domain `domid` released and created again under the same id, both
 * between two of our scans (the simulator reuses an id at once)? The scan
 * then sees it alive and would keep the old domain's session, whose
 * control channel the new domain cannot use: on release, xenstored (Xen
 * 4.17, and the simulator's) takes the dead domain out of every node's
 * permissions, so the new one could not even read our keys. That is the
 * sign looked for: our marker for the domain no longer names it. */
static bool reincarnated(struct vmsgd *d, uint16_t domid)
{
	char path[64];
	snprintf(path, sizeof path, VMSG_CTL_PATH_PREFIX "/%u",
		 (unsigned)domid);
	unsigned num = 0;
	struct xs_permissions *p = xs_get_permissions(d->xs, XBT_NULL, path,
						      &num);
	if (!p)
		return false; /* not marked (yet): nothing to tell */
	bool named = false;
	for (unsigned i = 0; i < num; i++)
		named = named || p[i].id == domid;
	free(p);
	return !named;
}

/* After a @releaseDomain: drop the session of every domain that was
 * re-created under its id, so that the scan serves the new one afresh
 * (once the old session is closed: on_uv_closed scans again). */
static void drop_reincarnated(struct vmsgd *d)
{
	for (struct session *s = d->sessions; s;) {
		if (!s->dying && reincarnated(d, s->domid)) {
			vmsgd_log(LOG_INFO, "domain %u: released and created "
					    "again under its id",
				  (unsigned)s->domid);
			session_gone(d, s->domid); /* all its sessions */
			s = d->sessions;
		} else {
			s = s->next;
		}
	}
}

static void on_xs(uv_poll_t *h, int status, int events)
{
	(void)events;
	struct vmsgd *d = h->data;
	if (status < 0) {
		vmsgd_log(LOG_ERROR, "xenstore watch: %s", uv_strerror(status));
		return;
	}
	bool any = false, released = false;
	char **vec;
	while ((vec = xs_check_watch(d->xs)) != NULL) {
		vmsgd_log(LOG_DEBUG, "xenstore event %s", vec[XS_WATCH_PATH]);
		released = released ||
			   !strcmp(vec[XS_WATCH_PATH], "@releaseDomain");
		free(vec);
		any = true;
	}
	if (released)
		drop_reincarnated(d);
	if (any)
		xs_rescan(d);
}

int xs_watch_start(struct vmsgd *d)
{
	d->xs = xs_open(0);
	if (!d->xs) {
		/* The usual cause is not a broken Xen but no Xen at all. */
		vmsgd_log(LOG_ERROR, "cannot open xenstore (%s): vmsgd must run "
				     "in dom0 of a Xen host, or under the "
				     "simulator as `xensim run --domid 0 -- "
				     "vmsgd ...` (docs/sim.md)",
			  strerror(errno));
		return -1;
	}
	if (owner_claim(d) < 0) {
		xs_close(d->xs);
		d->xs = NULL;
		return -1;
	}
	if (!xs_watch(d->xs, "@introduceDomain", "introduce") ||
	    !xs_watch(d->xs, "@releaseDomain", "release")) {
		vmsgd_log(LOG_ERROR, "cannot watch domains: %s",
			  strerror(errno));
		owner_release(d);
		xs_close(d->xs);
		d->xs = NULL;
		return -1;
	}
	/* A vmsgd that was killed left its control channels' keys behind:
	 * their ports and grants died with it. Remove them before serving
	 * fresh ones, so that guests waiting to reconnect find only ours
	 * (until then they fail fast on the stale keys and retry). */
	unsigned num = 0;
	char **old = xs_directory(d->xs, XBT_NULL, VMSG_CTL_PATH_PREFIX, &num);
	if (old) {
		free(old);
		if (num)
			vmsgd_log(LOG_INFO, "removing %u stale control channel%s "
					    "of an earlier vmsgd",
				  num, num == 1 ? "" : "s");
		if (!xs_rm(d->xs, XBT_NULL, VMSG_CTL_PATH_PREFIX) &&
		    errno != ENOENT)
			vmsgd_log(LOG_WARN, "cannot remove %s: %s",
				  VMSG_CTL_PATH_PREFIX, strerror(errno));
	}
	int fd = xs_fileno(d->xs);
	if (fd < 0 || uv_poll_init(d->loop, &d->xs_poll, fd) < 0) {
		vmsgd_log(LOG_ERROR, "cannot poll xenstore");
		owner_release(d);
		xs_close(d->xs);
		d->xs = NULL;
		return -1;
	}
	d->xs_poll.data = d;
	uv_poll_start(&d->xs_poll, UV_READABLE, on_xs);
	d->xs_polling = true;
	xs_rescan(d);
	return 0;
}

static void on_xs_closed(uv_handle_t *h)
{
	struct vmsgd *d = h->data;
	xs_close(d->xs);
	d->xs = NULL;
}

void xs_watch_stop(struct vmsgd *d)
{
	if (!d->xs_polling)
		return;
	d->xs_polling = false;
	owner_release(d);
	uv_poll_stop(&d->xs_poll);
	uv_close((uv_handle_t *)&d->xs_poll, on_xs_closed);
}

void xs_mark_domain(uint16_t domid, bool on)
{
	char path[64];
	snprintf(path, sizeof path, VMSG_CTL_PATH_PREFIX "/%u",
		 (unsigned)domid);
	/* A handle of its own: the watch's is closed first at stop, when
	 * every domain is unmarked. */
	struct xs_handle *xs = xs_open(0);
	if (!xs) {
		vmsgd_log(LOG_WARN, "cannot open xenstore to %s %s: %s",
			  on ? "create" : "remove", path, strerror(errno));
		return;
	}
	/* Owned by dom0 (nobody else may do anything), readable by the
	 * domain; written in one transaction so it is never seen without
	 * its permissions. */
	struct xs_permissions perms[2] = {
		{.id = 0, .perms = XS_PERM_NONE},
		{.id = domid, .perms = XS_PERM_READ},
	};
	bool done = false;
	for (int i = 0; i < 64 && !done; i++) {
		xs_transaction_t t = xs_transaction_start(xs);
		if (t == XBT_NULL)
			break;
		bool ok = on ? xs_write(xs, t, path, "", 0) &&
				       xs_set_permissions(xs, t, path, perms, 2)
			     : xs_rm(xs, t, path) || errno == ENOENT;
		if (!ok) {
			(void)xs_transaction_end(xs, t, true);
			break;
		}
		done = xs_transaction_end(xs, t, false);
		if (!done && errno != EAGAIN)
			break;
	}
	if (!done)
		vmsgd_log(LOG_WARN, "cannot %s %s: %s", on ? "create" : "remove",
			  path, strerror(errno));
	xs_close(xs);
}

/* ---- the Xen world of a session (struct session_ops) */

static int xen_serve(struct session *s, vmsg_chan **out, char *path,
		     size_t cap)
{
	/* Every control channel of the domain at the same path, one at a
	 * time (session.c: a spare is served only once the last one's
	 * process is in, its keys withdrawn). */
	snprintf(path, cap, VMSG_CTL_PATH_PREFIX "/%u", (unsigned)s->domid);
	/* Mark the domain again with each channel served: a channel served
	 * again (after a process of the domain left) once the domain was
	 * released and re-created under its id is the new domain's, with
	 * keys it may read; the marker must say so, or the @releaseDomain
	 * check (reincarnated) drops the session the new domain is already
	 * connecting on. Served before the release, both lose the domain's
	 * name together and the check drops it, as it should. */
	xs_mark_domain(s->domid, true);
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.max_msg = VMSG_CTL_MSG_MAX;
	int r = vmsg_xen_serve(out, s->domid, path, &o);
	if (r < 0)
		vmsgd_log(LOG_WARN, "domain %u: cannot serve its control "
				    "channel at %s: %s",
			  (unsigned)s->domid, path, vmsg_strerror(r));
	return r;
}

static int xen_mark(struct session *s, bool on)
{
	xs_mark_domain(s->domid, on);
	return 0;
}

static void xen_chan_path(struct vmsgd *d, uint16_t provider, uint32_t id,
			  char *buf, size_t cap)
{
	(void)d;
	snprintf(buf, cap, "/local/domain/%u/data/vmsg/svc/%u",
		 (unsigned)provider, id);
}

const struct session_ops xen_session_ops = {
	.serve = xen_serve,
	.mark = xen_mark,
	.chan_path = xen_chan_path,
	/* The simulator reuses a domid at once; Xen does so only after the
	 * id space wraps. */
	.freed = xs_rescan,
	.respawn = true,
};
