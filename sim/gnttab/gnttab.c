/* Drop-in libxengnttab.so.1 for the simulator: grant sharing (gntshr) and
 * mapping (gnttab) through xensimd.  A share is a memfd the sharer maps;
 * the daemon allocates the grant refs and hands the memfd to a mapper the
 * grant names.  Each handle is one daemon connection, so closing it or
 * dying runs its unmap notifications (see sim/simproto/xsim_proto.h). */
#define _GNU_SOURCE
#include "xsim_proto.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xengnttab.h>

struct region {
	struct region *next;
	void *addr;
	uint32_t count, id;
};

struct xengntdev_handle {
	int fd;
	int kind;
	pthread_mutex_t lock;
	struct region *regions;
	uint32_t max_grants;
};

static struct xengntdev_handle *handle_open(int kind)
{
	int domid = xsim_self_domid();
	struct xengntdev_handle *h;

	if (domid < 0) {
		errno = EINVAL;
		return NULL;
	}
	if (!(h = calloc(1, sizeof(*h))))
		return NULL;
	h->fd = xsim_connect(kind, (uint32_t)domid, NULL, 0, NULL);
	if (h->fd < 0) {
		errno = -h->fd;
		free(h);
		return NULL;
	}
	h->kind = kind;
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

static int handle_close(struct xengntdev_handle *h)
{
	if (!h)
		return 0;
	/* Mappings stay valid, as with gntdev; the daemon sees the hang-up
	 * and runs the notifications and revocations. */
	while (h->regions) {
		struct region *r = h->regions;
		h->regions = r->next;
		free(r);
	}
	close(h->fd);
	pthread_mutex_destroy(&h->lock);
	free(h);
	return 0;
}

static void region_add(struct xengntdev_handle *h, struct region *r)
{
	r->next = h->regions;
	h->regions = r;
}

/* Unlink and return the region starting at addr with count pages. */
static struct region *region_take(struct xengntdev_handle *h, void *addr,
				  uint32_t count)
{
	for (struct region **pp = &h->regions; *pp; pp = &(*pp)->next) {
		if ((*pp)->addr == addr && (*pp)->count == count) {
			struct region *r = *pp;
			*pp = r->next;
			return r;
		}
	}
	return NULL;
}

static int simple_call(struct xengntdev_handle *h, uint32_t op, uint32_t id)
{
	struct xsim_msg m = { .op = op, .arg = { id } };
	return xsim_call(h->fd, &m, NULL, NULL, 0, NULL, 0, NULL, 0, NULL);
}

/* ---- gnttab: mapping ---- */

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger,
				 unsigned open_flags)
{
	return handle_open(XSIM_KIND_GNTTAB);
}

int xengnttab_close(xengnttab_handle *xgt)
{
	return handle_close(xgt);
}

int xengnttab_fd(xengnttab_handle *xgt)
{
	return xgt->fd;
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
	xgt->max_grants = nr_grants; /* no per-handle limit in the sim */
	return 0;
}

static void *map_refs(struct xengntdev_handle *h, uint32_t count,
		      const uint32_t *domids, uint32_t domid, const uint32_t *refs,
		      int prot, uint32_t notify_offset, uint32_t notify_port)
{
	static __thread uint32_t vals[XSIM_MAX_VALS];
	int fds[XSIM_MAX_FDS];
	unsigned nfds = 0;
	struct region *rg;
	void *base = MAP_FAILED;
	int r, err = 0;

	if (count == 0 || count > XSIM_MAX_VALS / 2) {
		errno = EINVAL;
		return NULL;
	}
	if (!(rg = calloc(1, sizeof(*rg))))
		return NULL;
	for (uint32_t i = 0; i < count; i++) {
		vals[2 * i] = domids ? domids[i] : domid;
		vals[2 * i + 1] = refs[i];
	}
	struct xsim_msg m = {
		.op = XSIM_OP_MAP,
		.arg = { count, (prot & PROT_WRITE) != 0, notify_offset, notify_port },
		.n = 2 * count,
	};
	pthread_mutex_lock(&h->lock);
	r = xsim_call(h->fd, &m, vals, NULL, 0, vals, XSIM_MAX_VALS, fds,
		      XSIM_MAX_FDS, &nfds);
	if (r < 0) {
		err = -r;
		goto out;
	}
	if (m.n != 2 * count) {
		err = EPROTO;
		goto undo;
	}
	/* Reserve the whole range, then place each run of consecutive pages
	 * of one memfd over it, so the result is contiguous like gntdev's. */
	base = mmap(NULL, (size_t)count * XSIM_PAGE_SIZE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		err = errno;
		goto undo;
	}
	for (uint32_t i = 0; i < count;) {
		uint32_t fi = vals[2 * i], pg = vals[2 * i + 1], run = 1;
		if (fi >= nfds) {
			err = EPROTO;
			goto undo;
		}
		while (i + run < count && vals[2 * (i + run)] == fi &&
		       vals[2 * (i + run) + 1] == pg + run)
			run++;
		void *p = mmap((char *)base + (size_t)i * XSIM_PAGE_SIZE,
			       (size_t)run * XSIM_PAGE_SIZE, prot,
			       MAP_SHARED | MAP_FIXED, fds[fi],
			       (off_t)pg * XSIM_PAGE_SIZE);
		if (p == MAP_FAILED) {
			err = errno;
			goto undo;
		}
		i += run;
	}
	rg->addr = base;
	rg->count = count;
	rg->id = m.arg[0];
	region_add(h, rg);
	rg = NULL;
	goto out;
undo:
	if (base != MAP_FAILED)
		munmap(base, (size_t)count * XSIM_PAGE_SIZE);
	base = MAP_FAILED;
	(void)simple_call(h, XSIM_OP_UNMAP, m.arg[0]);
out:
	pthread_mutex_unlock(&h->lock);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	free(rg);
	if (base == MAP_FAILED) {
		errno = err;
		return NULL;
	}
	return base;
}

void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid,
			      uint32_t ref, int prot)
{
	return map_refs(xgt, 1, NULL, domid, &ref, prot, XSIM_NO_NOTIFY,
			XSIM_NO_NOTIFY);
}

void *xengnttab_map_grant_refs(xengnttab_handle *xgt, uint32_t count,
			       uint32_t *domids, uint32_t *refs, int prot)
{
	return map_refs(xgt, count, domids, 0, refs, prot, XSIM_NO_NOTIFY,
			XSIM_NO_NOTIFY);
}

void *xengnttab_map_domain_grant_refs(xengnttab_handle *xgt, uint32_t count,
				      uint32_t domid, uint32_t *refs, int prot)
{
	return map_refs(xgt, count, NULL, domid, refs, prot, XSIM_NO_NOTIFY,
			XSIM_NO_NOTIFY);
}

void *xengnttab_map_grant_ref_notify(xengnttab_handle *xgt, uint32_t domid,
				     uint32_t ref, int prot,
				     uint32_t notify_offset,
				     evtchn_port_t notify_port)
{
	return map_refs(xgt, 1, NULL, domid, &ref, prot, notify_offset,
			notify_port);
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
	pthread_mutex_lock(&xgt->lock);
	struct region *r = region_take(xgt, start_address, count);
	if (!r) {
		pthread_mutex_unlock(&xgt->lock);
		errno = EINVAL;
		return -1;
	}
	munmap(r->addr, (size_t)count * XSIM_PAGE_SIZE);
	/* The daemon clears the notify byte and sends the event after our
	 * munmap, as gntdev does on unmap. */
	int rc = simple_call(xgt, XSIM_OP_UNMAP, r->id);
	pthread_mutex_unlock(&xgt->lock);
	free(r);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

int xengnttab_grant_copy(xengnttab_handle *xgt, uint32_t count,
			 xengnttab_grant_copy_segment_t *segs)
{
	errno = ENOSYS;
	return -1;
}

int xengnttab_dmabuf_exp_from_refs(xengnttab_handle *xgt, uint32_t domid,
				   uint32_t flags, uint32_t count,
				   const uint32_t *refs, uint32_t *fd)
{
	errno = EOPNOTSUPP;
	return -1;
}

int xengnttab_dmabuf_exp_wait_released(xengnttab_handle *xgt, uint32_t fd,
				       uint32_t wait_to_ms)
{
	errno = EOPNOTSUPP;
	return -1;
}

int xengnttab_dmabuf_imp_to_refs(xengnttab_handle *xgt, uint32_t domid,
				 uint32_t fd, uint32_t count, uint32_t *refs)
{
	errno = EOPNOTSUPP;
	return -1;
}

int xengnttab_dmabuf_imp_release(xengnttab_handle *xgt, uint32_t fd)
{
	errno = EOPNOTSUPP;
	return -1;
}

/* ---- gntshr: sharing ---- */

xengntshr_handle *xengntshr_open(struct xentoollog_logger *logger,
				 unsigned open_flags)
{
	return handle_open(XSIM_KIND_GNTSHR);
}

int xengntshr_close(xengntshr_handle *xgs)
{
	return handle_close(xgs);
}

int xengntshr_fd(xengntshr_handle *xgs)
{
	return xgs->fd;
}

static void *share(struct xengntdev_handle *h, uint32_t domid, int count,
		   uint32_t *refs, int writable, uint32_t notify_offset,
		   uint32_t notify_port)
{
	static __thread uint32_t vals[XSIM_MAX_VALS];
	struct region *rg;
	size_t len;
	int mfd, r;

	if (count <= 0 || (uint32_t)count > XSIM_MAX_VALS) {
		errno = EINVAL;
		return NULL;
	}
	len = (size_t)count * XSIM_PAGE_SIZE;
	if (!(rg = calloc(1, sizeof(*rg))))
		return NULL;
	mfd = memfd_create("xengntshr", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, (off_t)len) < 0)
		goto fail;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (p == MAP_FAILED)
		goto fail;
	struct xsim_msg m = {
		.op = XSIM_OP_SHARE,
		.arg = { domid, (uint32_t)count, writable != 0, notify_offset,
			 notify_port },
	};
	pthread_mutex_lock(&h->lock);
	r = xsim_call(h->fd, &m, NULL, &mfd, 1, vals, XSIM_MAX_VALS, NULL, 0, NULL);
	if (r >= 0 && m.n != (uint32_t)count) {
		(void)simple_call(h, XSIM_OP_UNSHARE, m.arg[0]);
		r = -EPROTO;
	}
	if (r < 0) {
		pthread_mutex_unlock(&h->lock);
		munmap(p, len);
		errno = -r;
		goto fail;
	}
	memcpy(refs, vals, (size_t)count * sizeof(*refs));
	rg->addr = p;
	rg->count = (uint32_t)count;
	rg->id = m.arg[0];
	region_add(h, rg);
	pthread_mutex_unlock(&h->lock);
	close(mfd);
	return p;
fail:
	r = errno;
	if (mfd >= 0)
		close(mfd);
	free(rg);
	errno = r;
	return NULL;
}

void *xengntshr_share_pages(xengntshr_handle *xgs, uint32_t domid, int count,
			    uint32_t *refs, int writable)
{
	return share(xgs, domid, count, refs, writable, XSIM_NO_NOTIFY,
		     XSIM_NO_NOTIFY);
}

void *xengntshr_share_page_notify(xengntshr_handle *xgs, uint32_t domid,
				  uint32_t *ref, int writable,
				  uint32_t notify_offset,
				  evtchn_port_t notify_port)
{
	return share(xgs, domid, 1, ref, writable, notify_offset, notify_port);
}

int xengntshr_unshare(xengntshr_handle *xgs, void *start_address,
		      uint32_t count)
{
	pthread_mutex_lock(&xgs->lock);
	struct region *r = region_take(xgs, start_address, count);
	if (!r) {
		pthread_mutex_unlock(&xgs->lock);
		errno = EINVAL;
		return -1;
	}
	munmap(r->addr, (size_t)count * XSIM_PAGE_SIZE);
	int rc = simple_call(xgs, XSIM_OP_UNSHARE, r->id);
	pthread_mutex_unlock(&xgs->lock);
	free(r);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}
