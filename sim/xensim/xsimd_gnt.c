/* Grant tables in the daemon.  A share is one memfd of `count` pages that
 * its process mapped; each page gets a grant ref in the sharing domain's
 * table naming the one peer domain allowed to map it.  Mapping hands the
 * mapper the memfd (read-only reopen for read-only maps) and page offsets.
 * The daemon maps a memfd itself only to run an unmap notification. */
#include "xsimd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void shm_put(struct xsimd_shm *s)
{
	if (!s || --s->refs)
		return;
	if (s->map)
		munmap(s->map, (size_t)s->pages * XSIM_PAGE_SIZE);
	if (s->ro_fd >= 0)
		close(s->ro_fd);
	close(s->fd);
	free(s);
}

static int shm_ro_fd(struct xsimd_shm *s)
{
	char path[64];

	if (s->ro_fd < 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", s->fd);
		s->ro_fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	return s->ro_fd;
}

/* Validate and hold the notification the caller asked for.  `bytes` is the
 * size of the region the offset indexes. */
static int notify_setup(struct xsimd *d, struct xsimd_conn *c,
			struct xsimd_notify *n, uint32_t offset, uint32_t port,
			uint32_t bytes)
{
	n->shm = NULL;
	n->offset = 0;
	n->domid = c->domid;
	n->port = XSIM_NO_NOTIFY;
	if (port != XSIM_NO_NOTIFY) {
		if (xsimd_evt_hold(d, c->domid, port) < 0)
			return -EINVAL;
		n->port = port;
	}
	(void)offset;
	(void)bytes;
	return 0;
}

/* Clear the byte (the granted page is written through the daemon's own
 * mapping, so this works after the process is gone), then send the event. */
static void notify_run(struct xsimd *d, struct xsimd_notify *n)
{
	if (n->shm) {
		struct xsimd_shm *s = n->shm;
		if (!s->map) {
			void *p = mmap(NULL, (size_t)s->pages * XSIM_PAGE_SIZE,
				       PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
			s->map = p == MAP_FAILED ? NULL : p;
		}
		if (s->map) {
			/* Pairs with the peer's read of its live byte: the
			 * clear is visible before the event is queued. */
			atomic_store((_Atomic unsigned char *)(s->map + n->offset), 0);
		}
		shm_put(s);
		n->shm = NULL;
	}
	if (n->port != XSIM_NO_NOTIFY) {
		xsimd_evt_fire_release(d, n->domid, n->port);
		n->port = XSIM_NO_NOTIFY;
	}
}

static int grant_alloc(struct xsimd_domain *dom)
{
	for (uint32_t r = XSIM_GNT_FIRST_REF; r < dom->ngrants; r++)
		if (!dom->grants[r].share)
			return (int)r;
	uint32_t n = dom->ngrants ? dom->ngrants * 2 : 64;
	if (n > (1u << 20))
		return -ENOSPC;
	struct xsimd_grant *g = realloc(dom->grants, n * sizeof(*g));
	if (!g)
		return -ENOMEM;
	memset(g + dom->ngrants, 0, (n - dom->ngrants) * sizeof(*g));
	uint32_t first = dom->ngrants > XSIM_GNT_FIRST_REF ? dom->ngrants
							   : XSIM_GNT_FIRST_REF;
	dom->grants = g;
	dom->ngrants = n;
	return (int)first;
}

static void share_free(struct xsimd *d, struct xsimd_conn *c,
		       struct xsimd_share *s)
{
	struct xsimd_domain *dom = xsimd_dom_get(d, c->domid);

	notify_run(d, &s->notify);
	for (uint32_t i = 0; i < s->count; i++)
		if (dom && s->refs[i] < dom->ngrants &&
		    dom->grants[s->refs[i]].share == s)
			dom->grants[s->refs[i]].share = NULL;
	shm_put(s->shm);
	free(s->refs);
	free(s);
}

int xsimd_gnt_share(struct xsimd *d, struct xsimd_conn *c, struct xsim_msg *m,
		    uint32_t *vals, int *fds, unsigned nfds)
{
	uint32_t peer = m->arg[0], count = m->arg[1];
	struct xsimd_domain *dom = xsimd_dom_get(d, c->domid);
	struct stat st;
	int r;

	if (c->kind != XSIM_KIND_GNTSHR || nfds != 1)
		return -EINVAL;
	if (count == 0 || count > XSIM_MAX_VALS || peer >= XSIM_DOMID_LIMIT ||
	    !dom)
		return -EINVAL;
	if (fstat(fds[0], &st) < 0 ||
	    (uint64_t)st.st_size < (uint64_t)count * XSIM_PAGE_SIZE)
		return -EINVAL;
	struct xsimd_share *s = calloc(1, sizeof(*s));
	struct xsimd_shm *shm = calloc(1, sizeof(*shm));
	uint32_t *refs = calloc(count, sizeof(*refs));
	if (!s || !shm || !refs) {
		free(s);
		free(shm);
		free(refs);
		return -ENOMEM;
	}
	r = notify_setup(d, c, &s->notify, m->arg[3], m->arg[4],
			 count * XSIM_PAGE_SIZE);
	if (r < 0) {
		free(s);
		free(shm);
		free(refs);
		return r;
	}
	shm->fd = fds[0];
	fds[0] = -1; /* the daemon keeps it */
	shm->ro_fd = -1;
	shm->pages = count;
	shm->refs = 1;
	s->shm = shm;
	s->refs = refs;
	s->peer = peer;
	s->id = ++d->next_id;
	if (m->arg[3] < count * XSIM_PAGE_SIZE) {
		shm->refs++;
		s->notify.shm = shm;
		s->notify.offset = m->arg[3];
	}
	for (uint32_t i = 0; i < count; i++) {
		r = grant_alloc(dom);
		if (r < 0) {
			s->count = i;
			share_free(d, c, s);
			return r;
		}
		dom->grants[r] = (struct xsimd_grant){ .share = s, .peer = peer,
						       .writable = m->arg[2] != 0,
						       .page = i };
		refs[i] = (uint32_t)r;
		vals[i] = (uint32_t)r;
	}
	s->count = count;
	s->next = c->shares;
	c->shares = s;
	m->arg[0] = s->id;
	m->n = count;
	return 0;
}

int xsimd_gnt_unshare(struct xsimd *d, struct xsimd_conn *c, uint32_t id)
{
	for (struct xsimd_share **pp = &c->shares; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			struct xsimd_share *s = *pp;
			*pp = s->next;
			share_free(d, c, s);
			return 0;
		}
	}
	return -EINVAL;
}

int xsimd_gnt_map(struct xsimd *d, struct xsimd_conn *c, struct xsim_msg *m,
		  uint32_t *vals, int *rfds, unsigned *nrfds)
{
	uint32_t count = m->arg[0];
	bool writable = m->arg[1] != 0;
	struct xsimd_grant *gs[XSIM_MAX_VALS / 2];
	unsigned nf = 0;
	int r;

	*nrfds = 0;
	if (c->kind != XSIM_KIND_GNTTAB || count == 0 ||
	    count > XSIM_MAX_VALS / 2 || m->n != 2 * count)
		return -EINVAL;
	/* Every page is checked before anything is handed out.  Like Linux's
	 * gntdev (mmap fails with EINVAL when Xen refuses a map), every
	 * refusal is EINVAL: no such ref, a ref meant for another domain, a
	 * writable map of a read-only grant. */
	for (uint32_t i = 0; i < count; i++) {
		uint32_t domid = vals[2 * i], ref = vals[2 * i + 1];
		struct xsimd_domain *gd = xsimd_dom_get(d, domid);
		if (!gd || !xsimd_dom_alive(d, domid) || ref >= gd->ngrants ||
		    !gd->grants[ref].share || gd->grants[ref].peer != c->domid ||
		    (writable && !gd->grants[ref].writable))
			return -EINVAL;
		gs[i] = &gd->grants[ref];
	}
	for (uint32_t i = 0; i < count; i++) {
		struct xsimd_shm *s = gs[i]->share->shm;
		int fd = writable ? s->fd : shm_ro_fd(s);
		unsigned k;
		if (fd < 0)
			return -errno;
		for (k = 0; k < nf && rfds[k] != fd; k++)
			;
		if (k == nf) {
			if (nf == XSIM_MAX_FDS)
				return -E2BIG;
			rfds[nf++] = fd;
		}
		vals[2 * i] = k;
		vals[2 * i + 1] = gs[i]->page;
	}
	struct xsimd_map *mp = calloc(1, sizeof(*mp));
	if (!mp)
		return -ENOMEM;
	r = notify_setup(d, c, &mp->notify, m->arg[2], m->arg[3],
			 count * XSIM_PAGE_SIZE);
	if (r < 0) {
		free(mp);
		return r;
	}
	if (m->arg[2] < count * XSIM_PAGE_SIZE) {
		struct xsimd_grant *g = gs[m->arg[2] / XSIM_PAGE_SIZE];
		mp->notify.shm = g->share->shm;
		mp->notify.shm->refs++;
		mp->notify.offset = g->page * XSIM_PAGE_SIZE +
				    m->arg[2] % XSIM_PAGE_SIZE;
	}
	mp->id = ++d->next_id;
	mp->next = c->maps;
	c->maps = mp;
	m->arg[0] = mp->id;
	m->n = 2 * count;
	*nrfds = nf;
	return 0;
}

int xsimd_gnt_unmap(struct xsimd *d, struct xsimd_conn *c, uint32_t id)
{
	for (struct xsimd_map **pp = &c->maps; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			struct xsimd_map *mp = *pp;
			*pp = mp->next;
			notify_run(d, &mp->notify);
			free(mp);
			return 0;
		}
	}
	return -EINVAL;
}

void xsimd_gnt_conn_gone(struct xsimd *d, struct xsimd_conn *c)
{
	while (c->maps) {
		struct xsimd_map *mp = c->maps;
		c->maps = mp->next;
		notify_run(d, &mp->notify);
		free(mp);
	}
	while (c->shares) {
		struct xsimd_share *s = c->shares;
		c->shares = s->next;
		share_free(d, c, s);
	}
}
