/* vmsg channels as bench transports. The channel code is the same whatever
 * the backend: an entry names a platform constructor (the host backend, or
 * the xen backend on the simulated Xen, whose sides run under `xensim run
 * --domid N` through wrap_side).
 *
 * Copying entries use vmsg_chan_send (VMSG_SEND_MORE when batching) and
 * vmsg_chan_recv; zero-copy entries reserve/fill/commit and peek/copy out/
 * release (messages larger than one frame fall back to send); raw entries
 * use the libxenvchan-compatible byte stream (vmsg_chan_write/read), a
 * message being len bytes of it, coalesced when batching (bytes.c). */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vmsg/chan.h>
#include <vmsg/frame.h>
#include <vmsg/host.h>

#define BENCH_VMSG_TYPE (VMSG_TYPE_APP_MIN + 0xbe)
#define BENCH_CONNECT_MS 30000 /* generous: a loaded machine, the sim */

typedef int (*platform_fn)(struct vmsg_platform **out,
			   const struct bench_link *l, bool server);

enum vm_mode { VM_COPY, VM_ZC, VM_RAW };

struct vm_end {
	vmsg_chan *c;
	bool zc;
	size_t max_frame;
	struct bench_bytes raw; /* VM_RAW */
};

static void chan_opts(const struct bench_params *p, struct vmsg_chan_opts *o)
{
	vmsg_chan_opts_init(o);
	o->rx_ring_size = p->ring;
	o->tx_ring_size = p->ring;
	if (p->size > o->max_msg)
		o->max_msg = p->size;
	/* The receiver keeps the library's default, batched release, in
	 * every mode: batching here is the sender's (VMSG_SEND_MORE). */
	o->spin_ns = p->wait == BENCH_WAIT_SPIN	      ? BENCH_SPIN_FOREVER_NS
		     : p->wait == BENCH_WAIT_ADAPTIVE ? BENCH_ADAPTIVE_SPIN_NS
						      : 0;
}

static int raw_write_some(void *ctx, const void *buf, size_t len)
{
	int n = vmsg_chan_write(ctx, buf, len, -1);

	return n == 0 ? -EIO : n; /* never 0 when waiting forever */
}

static int raw_read_some(void *ctx, void *buf, size_t len)
{
	int n = vmsg_chan_read(ctx, buf, len, -1);

	return n == -EPIPE ? 0 : n; /* orderly close, all delivered */
}

static int end_wrap(void **end, vmsg_chan *c, enum vm_mode mode, bool batch)
{
	struct vm_end *e = calloc(1, sizeof(*e));
	int mf;

	if (!e || (mode == VM_RAW && bench_bytes_init(&e->raw, batch) < 0)) {
		free(e);
		vmsg_chan_close(c);
		return -ENOMEM;
	}
	e->raw.write_some = raw_write_some;
	e->raw.read_some = raw_read_some;
	e->raw.ctx = c;
	e->c = c;
	e->zc = mode == VM_ZC;
	mf = vmsg_chan_max_frame(c);
	e->max_frame = mf > 0 ? (size_t)mf : 0;
	*end = e;
	return 0;
}

static int vm_listen(struct bench_link *l, const struct bench_params *p,
		     void **end, platform_fn mk)
{
	struct vmsg_platform *pf;
	struct vmsg_chan_opts o;
	vmsg_chan *c;
	int r;

	chan_opts(p, &o);
	if ((r = mk(&pf, l, true)) < 0)
		return r;
	if ((r = vmsg_chan_serve(&c, pf, &o)) < 0)
		return r;
	*end = c; /* a bare channel until open() accepts it */
	return 0;
}

static int vm_open(struct bench_link *l, int side, const struct bench_params *p,
		   void **end, platform_fn mk, enum vm_mode mode)
{
	struct vmsg_platform *pf;
	struct vmsg_chan_opts o;
	vmsg_chan *c = NULL;
	int r;

	chan_opts(p, &o);
	if (side == 1) {
		if (!*end && (r = vm_listen(l, p, end, mk)) < 0)
			return r;
		c = *end;
		*end = NULL;
		/* -EPIPE: a short-lived client came, sent and closed before
		 * we looked; what it sent is still to be read. */
		if ((r = vmsg_chan_accept(c, -1)) < 0 && r != -EPIPE) {
			vmsg_chan_close(c);
			return r;
		}
	} else {
		if ((r = mk(&pf, l, false)) < 0)
			return r;
		if ((r = vmsg_chan_connect(&c, pf, &o, BENCH_CONNECT_MS)) < 0)
			return r;
	}
	return end_wrap(end, c, mode, p->batch);
}

static int vm_send(void *end, const void *buf, size_t len, bool more)
{
	struct vm_end *e = end;
	unsigned flags = more ? VMSG_SEND_MORE : 0;
	void *pl;
	int r;

	if (!e->zc || len > e->max_frame)
		return vmsg_chan_send(e->c, BENCH_VMSG_TYPE, buf, len, flags, -1);
	if ((r = vmsg_chan_reserve(e->c, BENCH_VMSG_TYPE, len, &pl, -1)) < 0)
		return r;
	memcpy(pl, buf, len);
	return (r = vmsg_chan_commit(e->c, flags)) < 0 ? r : (int)len;
}

static int vm_flush(void *end)
{
	return vmsg_chan_flush(((struct vm_end *)end)->c);
}

static int vm_recv(void *end, void *buf, size_t len)
{
	struct vm_end *e = end;
	struct vmsg_msg m;
	int r;

	if (!e->zc) {
		r = vmsg_chan_recv(e->c, NULL, buf, len, -1);
	} else if ((r = vmsg_chan_peek(e->c, &m, -1)) >= 0) {
		/* The payload is the peer's to change: copy it out, as a
		 * real consumer would before looking at it. */
		memcpy(buf, m.data, m.len < len ? m.len : len);
		r = m.len == len ? (int)len : -EBADMSG;
		vmsg_chan_release(e->c);
	}
	if (r == -EPIPE)
		return 0; /* orderly close, everything delivered */
	return r >= 0 && (size_t)r != len ? -EBADMSG : r;
}

static int raw_send(void *end, const void *buf, size_t len, bool more)
{
	return bench_bytes_send(&((struct vm_end *)end)->raw, buf, len, more);
}

static int raw_flush(void *end)
{
	return bench_bytes_flush(&((struct vm_end *)end)->raw);
}

static int raw_recv(void *end, void *buf, size_t len)
{
	return bench_bytes_recv(&((struct vm_end *)end)->raw, buf, len);
}

static void vm_close(void *end)
{
	struct vm_end *e = end;

	if (!e)
		return;
	vmsg_chan_close(e->c);
	bench_bytes_free(&e->raw);
	free(e);
}

/* ---- the host backend --------------------------------------------------- */

static int host_platform(struct vmsg_platform **out, const struct bench_link *l,
			 bool server)
{
	return vmsg_host_platform_new(out, l->path, server);
}

static int host_prepare(struct bench_link *l, const struct bench_params *p)
{
	return bench_temp_dir(l, "vmsg");
}

static void host_cleanup(struct bench_link *l)
{
	bench_temp_drop(l);
}

static int host_listen(struct bench_link *l, const struct bench_params *p,
		       void **end)
{
	return vm_listen(l, p, end, host_platform);
}

static int host_open(struct bench_link *l, int side,
		     const struct bench_params *p, void **end)
{
	return vm_open(l, side, p, end, host_platform, VM_COPY);
}

static int host_zc_open(struct bench_link *l, int side,
			const struct bench_params *p, void **end)
{
	return vm_open(l, side, p, end, host_platform, VM_ZC);
}

const struct bench_transport bench_tp_vmsg_host = {
	.name = "vmsg-host",
	.what = "vmsg typed messages, host backend (memfd + eventfd), "
		"send/recv copying",
	.cmds = BENCH_CMD_BIT(BENCH_PINGPONG) | BENCH_CMD_BIT(BENCH_STREAM) |
		BENCH_CMD_BIT(BENCH_SETUP),
	.prepare = host_prepare,
	.listen = host_listen,
	.open = host_open,
	.send = vm_send,
	.flush = vm_flush,
	.recv = vm_recv,
	.close = vm_close,
	.cleanup = host_cleanup,
};

const struct bench_transport bench_tp_vmsg_host_zc = {
	.name = "vmsg-host-zc",
	.what = "vmsg typed messages, host backend, zero-copy "
		"reserve/commit and peek/release",
	.cmds = BENCH_CMD_BIT(BENCH_PINGPONG) | BENCH_CMD_BIT(BENCH_STREAM),
	.prepare = host_prepare,
	.open = host_zc_open,
	.send = vm_send,
	.flush = vm_flush,
	.recv = vm_recv,
	.close = vm_close,
	.cleanup = host_cleanup,
};

/* ---- the xen backend on the simulated Xen --------------------------------- */

#ifdef BENCH_HAVE_XEN
#include <vmsg/xen.h>

static int xen_platform(struct vmsg_platform **out, const struct bench_link *l,
			bool server)
{
	return vmsg_xen_platform_new(out,
				     server ? BENCH_SIM_CLIENT_DOM
					    : BENCH_SIM_SERVER_DOM,
				     l->path, server);
}

static int xen_prepare(struct bench_link *l, const struct bench_params *p)
{
	(void)p;
	return bench_sim_prepare(l, "vmsg");
}

static void xen_cleanup(struct bench_link *l)
{
	(void)l;
}

static int xen_listen(struct bench_link *l, const struct bench_params *p,
		      void **end)
{
	return vm_listen(l, p, end, xen_platform);
}

static int xen_open(struct bench_link *l, int side,
		    const struct bench_params *p, void **end)
{
	return vm_open(l, side, p, end, xen_platform, VM_COPY);
}

static int xen_raw_open(struct bench_link *l, int side,
			const struct bench_params *p, void **end)
{
	return vm_open(l, side, p, end, xen_platform, VM_RAW);
}

const struct bench_transport bench_tp_vmsg_xen_sim = {
	.name = "vmsg-xen-sim",
	.what = "vmsg typed messages, xen backend on the simulated Xen "
		"(dom0 server, dom1 client)",
	.cmds = BENCH_CMD_BIT(BENCH_PINGPONG) | BENCH_CMD_BIT(BENCH_STREAM) |
		BENCH_CMD_BIT(BENCH_SETUP),
	.unavailable = bench_sim_unavailable,
	.prepare = xen_prepare,
	.listen = xen_listen,
	.open = xen_open,
	.send = vm_send,
	.flush = vm_flush,
	.recv = vm_recv,
	.close = vm_close,
	.cleanup = xen_cleanup,
	.wrap_side = bench_sim_wrap,
};

const struct bench_transport bench_tp_vmsg_xen_sim_raw = {
	.name = "vmsg-xen-sim-raw",
	.what = "vmsg raw byte stream (vmsg_chan_write/read), xen backend "
		"on the simulated Xen",
	.cmds = BENCH_CMD_BIT(BENCH_PINGPONG) | BENCH_CMD_BIT(BENCH_STREAM),
	.unavailable = bench_sim_unavailable,
	.prepare = xen_prepare,
	.open = xen_raw_open,
	.send = raw_send,
	.flush = raw_flush,
	.recv = raw_recv,
	.close = vm_close,
	.cleanup = xen_cleanup,
	.wrap_side = bench_sim_wrap,
};
#endif
