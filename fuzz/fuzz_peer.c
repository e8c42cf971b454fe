/* An in-memory platform whose peer is the fuzz harness (fuzz_peer.h). */
#define _GNU_SOURCE
#include "fuzz_peer.h"

#include <errno.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#define FP(p) ((struct fuzz_peer *)(p))

static void *pages_new(uint32_t n)
{
	void *m = aligned_alloc(VMSG_PAGE_SIZE, (size_t)n * VMSG_PAGE_SIZE);
	if (m)
		memset(m, 0, (size_t)n * VMSG_PAGE_SIZE);
	return m;
}

/* Where a ring's bytes are: in the control page, or in the ring pages. */
static uint8_t *ring_bytes(struct fuzz_peer *fp, unsigned order,
			   uint32_t pages_before)
{
	if (order < 12)
		return (uint8_t *)fp->page + vmsg_ring_order_offset(order);
	return fp->rings + (size_t)pages_before * VMSG_PAGE_SIZE;
}

static int fp_share(struct vmsg_platform *p, uint32_t n, void **addr,
		    uint32_t *refs, int notify_off)
{
	struct fuzz_peer *fp = FP(p);
	void *m;

	(void)notify_off;
	if (!fp->lib_is_server || n == 0)
		return -EINVAL;
	/* The control page first, then the ring pages (lib/chan's order). */
	if (n == 1 && !fp->page) {
		if (!(m = pages_new(1)))
			return -ENOMEM;
		fp->page = m;
	} else {
		if (fp->rings || !(m = pages_new(n)))
			return -ENOMEM;
		fp->rings = m;
		fp->ring_pages = n;
	}
	for (uint32_t i = 0; i < n; i++)
		refs[i] = i;
	*addr = m;
	return 0;
}

static int fp_map(struct vmsg_platform *p, uint32_t n, const uint32_t *refs,
		  void **addr, int notify_off)
{
	struct fuzz_peer *fp = FP(p);

	(void)refs;
	(void)notify_off;
	if (fp->lib_is_server)
		return -EINVAL;
	if (n == 1 && addr && !fp->attached_lib_page) {
		fp->attached_lib_page = true;
		*addr = fp->page;
		return 0;
	}
	/* The ring pages: as many as the page's orders call for (the
	 * library computed n from its private copies of them). */
	if (n != fp->ring_pages)
		return -EINVAL;
	*addr = fp->rings;
	return 0;
}

static void fp_unmap(struct vmsg_platform *p, void *addr, uint32_t n)
{
	struct fuzz_peer *fp = FP(p);

	(void)n;
	if (!fp->lib_is_server)
		return; /* the harness's memory */
	if (addr == fp->page) {
		free(fp->page);
		fp->page = NULL;
		fp->attached = false;
	} else if (addr == fp->rings) {
		free(fp->rings);
		fp->rings = NULL;
		fp->ring_pages = 0;
		fp->attached = false;
	}
}

static int fp_port_alloc(struct vmsg_platform *p, uint32_t *port)
{
	(void)p;
	*port = 7;
	return 0;
}

static int fp_port_bind(struct vmsg_platform *p, uint32_t remote_port)
{
	(void)p;
	return remote_port == 7 ? 0 : -EINVAL;
}

static int fp_notify(struct vmsg_platform *p)
{
	FP(p)->notifies++;
	return 0;
}

static int fp_wait(struct vmsg_platform *p, int timeout_ms)
{
	struct fuzz_peer *fp = FP(p);
	int r = 0;

	fp->waits++;
	if (fp->on_wait)
		r = fp->on_wait(fp);
	if (r == 0) /* nothing happened: the whole timeout passed */
		fp->now_ns += (uint64_t)(timeout_ms < 0 ? 1000 : timeout_ms) *
			      1000000u;
	return r > 0 ? 1 : 0;
}

/* A wait set's wait (lib/block's client sleeps in one): the peers' turn,
 * as fp_wait gives it (the harness drives every channel of the set from
 * one input, so the first platform's hook stands for all); then every
 * channel is reported fired, and the library looks at each ring again. */
static int fp_wait_any(struct vmsg_platform *const *ps, unsigned n,
		       int timeout_ms, uint8_t *fired)
{
	if (n == 0)
		return 0;
	if (fp_wait(ps[0], timeout_ms) == 0) {
		for (unsigned i = 1; i < n; i++)
			FP(ps[i])->now_ns = FP(ps[0])->now_ns;
		return 0;
	}
	for (unsigned i = 0; i < n; i++)
		fired[i] = 1;
	return (int)n;
}

/* The event a kick left on the fd (an eventfd the harness writes), as
 * an event channel's is consumed. */
static int fp_ack(struct vmsg_platform *p)
{
	uint64_t n;
	int fd = FP(p)->fd;
	return fd >= 0 && read(fd, &n, sizeof n) == (ssize_t)sizeof n;
}

static int fp_fd(struct vmsg_platform *p)
{
	return FP(p)->fd >= 0 ? FP(p)->fd : -ENOTSUP;
}

static int fp_pend(struct vmsg_platform *p)
{
	FP(p)->pends++;
	return 0;
}

static int fp_publish(struct vmsg_platform *p, uint32_t ring_ref,
		      uint32_t port)
{
	(void)p;
	return ring_ref == 0 && port == 7 ? 0 : -EINVAL;
}

static void fp_unpublish(struct vmsg_platform *p)
{
	(void)p;
}

static int fp_lookup(struct vmsg_platform *p, uint32_t *ring_ref,
		     uint32_t *port, int timeout_ms)
{
	(void)p;
	(void)timeout_ms;
	*ring_ref = 0;
	*port = 7;
	return 0;
}

static void *fp_alloc(struct vmsg_platform *p, size_t size)
{
	(void)p;
	return calloc(1, size ? size : 1);
}

static void fp_free(struct vmsg_platform *p, void *ptr, size_t size)
{
	(void)p;
	(void)size;
	free(ptr);
}

static uint64_t fp_now_ns(struct vmsg_platform *p)
{
	return FP(p)->now_ns += 1000;
}

static void fp_destroy(struct vmsg_platform *p)
{
	FP(p)->destroyed = true;
}

static const struct vmsg_platform_ops fp_ops = {
	.name = "fuzz",
	.share = fp_share,
	.map = fp_map,
	.unmap = fp_unmap,
	.port_alloc = fp_port_alloc,
	.port_bind = fp_port_bind,
	.notify = fp_notify,
	.wait = fp_wait,
	.ack = fp_ack,
	.fd = fp_fd,
	.pend = fp_pend,
	.wait_any = fp_wait_any,
	.publish = fp_publish,
	.unpublish = fp_unpublish,
	.lookup = fp_lookup,
	.alloc = fp_alloc,
	.free = fp_free,
	.now_ns = fp_now_ns,
	.destroy = fp_destroy,
};

static void peer_init(struct fuzz_peer *fp, bool lib_is_server)
{
	memset(fp, 0, sizeof(*fp));
	fp->plat.ops = &fp_ops;
	fp->lib_is_server = lib_is_server;
	fp->fd = -1;
	fp->now_ns = 1000000000u;
}

int fuzz_peer_connect(struct fuzz_peer *fp, unsigned lo, unsigned ro,
		      const struct vmsg_chan_opts *o, vmsg_chan **out)
{
	uint32_t grants[2u << (14 - 12)];
	uint32_t n;
	int r;

	peer_init(fp, false);
	if (lo < 10 || lo > 14 || ro < 10 || ro > 14 ||
	    vmsg_ring_check_orders(lo, ro) < 0)
		return -EINVAL;
	n = vmsg_ring_order_pages(lo) + vmsg_ring_order_pages(ro);
	if (!(fp->page = pages_new(1)))
		return -ENOMEM;
	if (n && !(fp->rings = pages_new(n)))
		return -ENOMEM;
	fp->ring_pages = n;
	for (uint32_t i = 0; i < n; i++)
		grants[i] = i;
	if ((r = vmsg_ring_page_init(fp->page, lo, ro, grants, n)) < 0)
		return r;
	r = vmsg_ring_end_init(&fp->end, fp->page, true, ring_bytes(fp, lo, 0),
			       lo, ring_bytes(fp, ro, vmsg_ring_order_pages(lo)),
			       ro);
	if (r < 0)
		return r;
	fp->attached = true;
	return vmsg_chan_connect(out, &fp->plat, o, 0);
}

void fuzz_peer_orders(unsigned sel, unsigned *left, unsigned *right)
{
	/* In-page rings (10, 11) on both sides, on one, on neither. */
	static const uint8_t pairs[8][2] = {{10, 11}, {11, 10}, {12, 12},
					    {11, 12}, {12, 10}, {13, 12},
					    {12, 13}, {14, 14}};
	*left = pairs[sel % 8][0];
	*right = pairs[sel % 8][1];
}

void fuzz_peer_init_server(struct fuzz_peer *fp)
{
	peer_init(fp, true);
}

int fuzz_peer_attach(struct fuzz_peer *fp)
{
	struct vmsg_vchan_page *pg = fp->page;
	unsigned lo, ro;
	int r;

	if (!pg)
		return -ENOTCONN;
	/* The library laid it out: its orders are honest. */
	lo = pg->left_order;
	ro = pg->right_order;
	r = vmsg_ring_end_init(&fp->end, pg, false, ring_bytes(fp, lo, 0), lo,
			       ring_bytes(fp, ro, vmsg_ring_order_pages(lo)),
			       ro);
	if (r < 0)
		return r;
	memset(&fp->ftx, 0, sizeof(fp->ftx));
	free(fp->frag_buf);
	fp->frag_buf = NULL;
	fp->frag_busy = false;
	pg->cli_live = VMSG_LIVE_UP;
	fp->attached = true;
	return 0;
}

int fuzz_peer_pump(struct fuzz_peer *fp)
{
	int r, c;

	if (!fp->frag_busy)
		return 1;
	if (!fp->attached)
		return -ENOTCONN;
	r = vmsg_frag_tx_step(&fp->end, &fp->ftx, &fp->frag);
	c = vmsg_frame_commit(&fp->end, &fp->ftx);
	if (r == 1 || r < 0 || c < 0) {
		free(fp->frag_buf);
		fp->frag_buf = NULL;
		fp->frag_busy = false;
	}
	return r < 0 ? r : c < 0 ? c : r;
}

int fuzz_peer_send(struct fuzz_peer *fp, uint16_t type, const void *buf,
		   size_t len)
{
	int r = fuzz_peer_pump(fp);

	if (r <= 0)
		return r;
	fp->frag_buf = malloc(len ? len : 1);
	if (!fp->frag_buf)
		return -ENOMEM;
	if (len)
		memcpy(fp->frag_buf, buf, len);
	vmsg_frag_tx_init(&fp->frag, type, fp->frag_buf, len);
	fp->frag_busy = true;
	return fuzz_peer_pump(fp);
}

void fuzz_peer_drain(struct fuzz_peer *fp)
{
	struct vmsg_frame f;

	if (!fp->attached)
		return;
	for (int i = 0; i < 4096 && vmsg_frame_peek(&fp->end, &f) > 0; i++)
		(void)vmsg_frame_release(&fp->end, &f);
}

void fuzz_peer_fini(struct fuzz_peer *fp)
{
	free(fp->frag_buf);
	fp->frag_buf = NULL;
	if (!fp->lib_is_server) {
		free(fp->page);
		free(fp->rings);
	}
	/* A served page is the library's: freed by its unmap at close. */
	fp->page = NULL;
	fp->rings = NULL;
}
