/* The drop-in libxenvchan: setting a channel up and tearing it down.
 *
 * server_init and client_init are vmsg_xen_serve() and vmsg_xen_connect()
 * in raw byte-stream mode: the xenstore keys, their permissions, the grant
 * and port handshake are libxenvchan's byte for byte (docs/protocol.md), so
 * either end may be Debian's library. Errors: NULL with errno set, as
 * libxenvchan does. */
#define _GNU_SOURCE
#include "vchan_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vmsg/ring.h>
#include <vmsg/xen.h>

#include "vmsg_chan_internal.h"

#define SMALL_ORDER 10 /* the in-page ring at offset 1024 */
#define LARGE_ORDER 11 /* the in-page ring at offset 2048 */
#define PAGE_ORDER 12
#define MAX_ORDER 20

/* The smallest out-of-page order that holds `bytes`; -1 above 1 MiB. */
static int page_order(size_t bytes)
{
	for (int o = PAGE_ORDER; o <= MAX_ORDER; o++)
		if (bytes <= (size_t)1 << o)
			return o;
	return -1;
}

/* libxenvchan's choice of ring orders for read_min/write_min, so that a
 * program gets the rings (and grants) it got before: both rings inside
 * the control page when they fit there (the read ring the smaller one when
 * it can be), else the one that fits in the page, else whole pages. */
static int pick_orders(size_t read_min, size_t write_min, int *rd, int *wr)
{
	const size_t small = (size_t)1 << SMALL_ORDER, large = (size_t)1 << LARGE_ORDER;

	if (read_min <= small && write_min <= large) {
		*rd = SMALL_ORDER;
		*wr = LARGE_ORDER;
	} else if (read_min <= large && write_min <= small) {
		*rd = LARGE_ORDER;
		*wr = SMALL_ORDER;
	} else if (read_min <= large) {
		*rd = LARGE_ORDER;
		*wr = page_order(write_min);
	} else if (write_min <= large) {
		*rd = page_order(read_min);
		*wr = LARGE_ORDER;
	} else {
		*rd = page_order(read_min);
		*wr = page_order(write_min);
	}
	return *rd < 0 || *wr < 0 ? -EINVAL : 0;
}

void vchan__fill_public(struct vchan_dropin *d, int is_server)
{
	struct vmsg_ring_end *e = vmsg__chan_ring(d->c);

	d->e = e; /* stable: the channel's own, as long as the handle lives */
	d->pub.is_server = is_server ? 1 : 0;
	d->pub.server_persist = 0;
	/* Non-blocking until the program says otherwise (it sets the field:
	 * there is no setter), as Debian's library starts. */
	d->pub.blocking = 0;
	d->pub.event_port = 0;
	d->pub.event = NULL; /* ours is behind fd_for_select() */
	d->pub.gntshr = NULL;
	/* The shared page and rings, for programs that look at them (read
	 * only: the indices are the library's). */
	d->pub.ring = (struct vchan_interface *)e->page;
	d->pub.read.shr = (struct ring_shared *)e->rx.sh;
	d->pub.read.buffer = e->rx.data;
	d->pub.read.order = __builtin_ctz(e->rx.size);
	d->pub.write.shr = (struct ring_shared *)e->tx.sh;
	d->pub.write.buffer = e->tx.data;
	d->pub.write.order = __builtin_ctz(e->tx.size);
	d->rd_size = e->rx.size;
	d->wr_size = e->tx.size;
}

static struct vchan_dropin *dropin_new(int domain, const char *xs_path)
{
	if (domain < 0 || (unsigned)domain >= VMSG_DOMID_LIMIT || !xs_path) {
		errno = EINVAL;
		return NULL;
	}
	struct vchan_dropin *d = calloc(1, sizeof(*d));
	if (!d) {
		errno = ENOMEM;
		return NULL;
	}
	return d;
}

struct libxenvchan *libxenvchan_server_init(struct xentoollog_logger *logger,
					    int domain, const char *xs_path,
					    size_t read_min, size_t write_min)
{
	(void)logger; /* errors are reported through errno, not logged */
	struct vmsg_chan_opts o;
	int rd, wr, r;

	if (pick_orders(read_min, write_min, &rd, &wr) < 0) {
		errno = EINVAL;
		return NULL;
	}
	struct vchan_dropin *d = dropin_new(domain, xs_path);
	if (!d)
		return NULL;
	d->pub.xs_path = strdup(xs_path);
	if (!d->pub.xs_path) {
		free(d);
		errno = ENOMEM;
		return NULL;
	}
	vmsg_chan_opts_init(&o);
	o.rx_ring_size = 1u << rd; /* the left ring: the client writes it */
	o.tx_ring_size = 1u << wr;
	if ((r = vmsg_xen_serve(&d->c, (uint16_t)domain, xs_path, &o)) < 0) {
		free(d->pub.xs_path);
		free(d);
		errno = -r;
		return NULL;
	}
	vchan__fill_public(d, 1);
	return &d->pub;
}

struct libxenvchan *libxenvchan_client_init(struct xentoollog_logger *logger,
					    int domain, const char *xs_path)
{
	(void)logger;
	struct vmsg_chan_opts o;
	int r;

	struct vchan_dropin *d = dropin_new(domain, xs_path);
	if (!d)
		return NULL;
	vmsg_chan_opts_init(&o);
	/* No waiting: like libxenvchan, a client finds its server now or
	 * fails (programs watch xenstore and retry, vchan-socket-proxy does). */
	if ((r = vmsg_xen_connect(&d->c, (uint16_t)domain, xs_path, &o, 0)) < 0) {
		free(d);
		errno = r == -ETIMEDOUT ? ENOENT : -r;
		return NULL;
	}
	vchan__fill_public(d, 0);
	return &d->pub;
}

/* Orderly close: what we wrote stays readable by the peer, which sees the
 * close only after it (vmsg_chan_close); the server's keys are withdrawn. */
void libxenvchan_close(struct libxenvchan *ctrl)
{
	if (!ctrl)
		return;
	struct vchan_dropin *d = vchan_of(ctrl);
	vmsg_chan_close(d->c);
	free(d->pub.xs_path);
	free(d);
}
