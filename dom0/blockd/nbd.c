/* vmsg-blockd's nbd backend: an NBD server (qemu-nbd serving a qcow2
 * image, nbdkit and its plugins, another vmsg-blockd behind nbdkit vmsg)
 * as the disk, through libnbd's asynchronous API.
 *
 * One libnbd handle (one NBD connection) carries the requests of every
 * consumer, many in flight at once: libnbd matches the replies by handle,
 * in any order. One connection keeps the file backend's meaning of FLUSH
 * (it covers every write completed before it, whoever sent them) and asks
 * the server for one client slot only. The handle's socket sits in
 * vmsg-blockd's poll loop (nbd_aio_get_fd, nbd_aio_get_direction); the
 * completion callbacks queue the replies.
 *
 * The server going away (EOF, a reset, a protocol error) kills the
 * handle: libnbd completes every command in flight with an error, which
 * becomes -EIO, and every later request is answered -EIO at once. The
 * daemon stays up (its consumers see errors, not a hang, and close
 * cleanly); it does not reconnect: what comes back at the same URI may be
 * another disk, and a disk that silently lost writes in between is worse
 * than one that fails. Restart vmsg-blockd to serve the source again.
 *
 * A server that hangs without closing (a stuck qemu-nbd, a storage box
 * behind a dead route: TCP may take many minutes to say) would leave every
 * consumer waiting for ever. So when requests are in flight and none has
 * been answered for --nbd-timeout, the server counts as gone: the socket
 * is shut down, libnbd then completes everything in flight with an error,
 * and the rules above apply. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

#include "blockd.h"
#include "vmsg_clock.h"

/* The nbd backend's part of struct blockd (be_state). */
struct nbd_disk {
	struct nbd_handle *h;
	bool lost;              /* the server went: every request gets -EIO */
	uint64_t progress_ms;   /* the last issue into an idle handle, or
				 * the last reply */
};

/* The status for an NBD error: the errors an NBD server can send pass
 * through; connection-level ones (the server gone) are -EIO. */
static int32_t status_of(int err)
{
	switch (err) {
	case 0:
		return 0;
	case EPERM:
	case ENOMEM:
	case EINVAL:
	case ENOSPC:
	case EOVERFLOW:
	case EOPNOTSUPP:
	case EROFS:
		return -err;
	default:
		return -EIO;
	}
}

/* Notice, once, that the connection is dead. */
static void check_lost(struct blockd *d)
{
	struct nbd_disk *n = d->be_state;
	if (n->lost || !(nbd_aio_is_dead(n->h) || nbd_aio_is_closed(n->h)))
		return;
	n->lost = true;
	const char *why = nbd_get_error();
	/* Logged even with --quiet: the disk is gone. */
	fprintf(stderr, "vmsg-blockd: the NBD server went away (%s): every "
		"request is answered EIO from now on\n",
		why ? why : "connection closed");
}

/* Called by libnbd exactly once per issued command: when its reply came,
 * or when the connection died with it in flight. */
static int on_complete(void *user_data, int *error)
{
	struct bio *b = user_data;
	b->nbd_pending = false;
	struct nbd_disk *n = b->conn->d->be_state;
	n->progress_ms = vmsg__clock_ms();
	bio_done(b, status_of(*error));
	return 1; /* retire the command: nothing waits on its cookie */
}

static void nbd_start(struct blockd *d, struct bio *b)
{
	struct nbd_disk *n = d->be_state;
	if (n->lost) {
		bio_done(b, -EIO);
		return;
	}
	const struct vmsg_blk_req_hdr *h = &b->rq.h;
	nbd_completion_callback cb = { .callback = on_complete, .user_data = b };
	/* The server helper let FUA through only where INFO offers it, and
	 * INFO offers it only where the server does (nbd_can_fua). */
	uint32_t fl = (h->flags & VMSG_BLK_REQ_FUA) ? LIBNBD_CMD_FLAG_FUA : 0;
	void *data = b->buf + VMSG_BLK_REPLY_HDR;
	int64_t r = -1;

	/* The clock of the hang check starts when the handle gets work. */
	if (nbd_aio_in_flight(n->h) <= 0)
		n->progress_ms = vmsg__clock_ms();
	b->nbd_pending = true;
	switch (h->op) {
	case VMSG_BLK_OP_READ:
		r = nbd_aio_pread(n->h, data, h->length, h->offset, cb, 0);
		break;
	case VMSG_BLK_OP_WRITE:
		r = nbd_aio_pwrite(n->h, data, h->length, h->offset, cb, fl);
		break;
	case VMSG_BLK_OP_FLUSH:
		r = nbd_aio_flush(n->h, cb, 0);
		break;
	case VMSG_BLK_OP_TRIM:
		r = nbd_aio_trim(n->h, h->length, h->offset, cb, fl);
		break;
	case VMSG_BLK_OP_WRITE_ZEROES:
		r = nbd_aio_zero(n->h, h->length, h->offset, cb, fl);
		break;
	}
	/* Not issued: whether libnbd called back then is not promised by
	 * every version, so the flag decides; the bio ends once. */
	if (r < 0 && b->nbd_pending) {
		b->nbd_pending = false;
		bio_done(b, status_of(nbd_get_errno()));
	}
	check_lost(d);
}

/* ms until the hang check is due, or -1: nothing in flight (or no
 * check). */
static int nbd_due_ms(struct blockd *d)
{
	struct nbd_disk *n = d->be_state;
	if (n->lost || !d->nbd_timeout_ms || nbd_aio_in_flight(n->h) <= 0)
		return -1;
	uint64_t due = n->progress_ms + d->nbd_timeout_ms, now = vmsg__clock_ms();
	return due <= now ? 0 : (int)(due - now);
}

/* The server has answered nothing for the timeout with requests in
 * flight: shut the socket down, so that the read below sees its end and
 * libnbd completes what is in flight with an error. */
static void check_hung(struct blockd *d)
{
	struct nbd_disk *n = d->be_state;
	if (nbd_due_ms(d) != 0)
		return;
	n->lost = true;
	/* Logged even with --quiet: the disk is gone. */
	fprintf(stderr, "vmsg-blockd: the NBD server answered none of %lld "
		"requests in flight for %u ms (--nbd-timeout): taken as gone, "
		"every request is answered EIO from now on\n",
		(long long)nbd_aio_in_flight(n->h), d->nbd_timeout_ms);
	int fd = nbd_aio_get_fd(n->h);
	if (fd >= 0)
		(void)shutdown(fd, SHUT_RDWR);
	(void)nbd_aio_notify_read(n->h);
}

/* Move the connection on: what the socket is ready for, without waiting
 * (the poll loop woke us for it, or not: then nothing happens). */
static void nbd_step(struct blockd *d)
{
	struct nbd_disk *n = d->be_state;
	if (n->lost)
		return;
	check_hung(d);
	if (n->lost)
		return;
	int fd = nbd_aio_get_fd(n->h);
	unsigned dir = nbd_aio_get_direction(n->h);
	if (fd < 0) {
		check_lost(d);
		return;
	}
	struct pollfd p = {
		.fd = fd,
		.events = (short)(((dir & LIBNBD_AIO_DIRECTION_READ) ? POLLIN : 0) |
				  ((dir & LIBNBD_AIO_DIRECTION_WRITE) ? POLLOUT : 0)),
	};
	if (poll(&p, 1, 0) <= 0)
		return;
	/* A hang-up or error is read too: the read sees the end and kills
	 * the handle, which completes what is in flight. */
	if (p.revents & (POLLIN | POLLHUP | POLLERR))
		(void)nbd_aio_notify_read(n->h);
	if ((p.revents & POLLOUT) && !nbd_aio_is_dead(n->h) &&
	    (nbd_aio_get_direction(n->h) & LIBNBD_AIO_DIRECTION_WRITE))
		(void)nbd_aio_notify_write(n->h);
	check_lost(d);
}

static void nbd_submit(struct blockd *d)
{
	/* libnbd sends a command as it is issued (what the socket does not
	 * take now goes when it is writable: poll_fd asks for POLLOUT). */
	(void)d;
}

static int nbd_poll_fd(struct blockd *d, short *events)
{
	struct nbd_disk *n = d->be_state;
	if (n->lost)
		return -1;
	unsigned dir = nbd_aio_get_direction(n->h);
	*events = (short)(((dir & LIBNBD_AIO_DIRECTION_READ) ? POLLIN : 0) |
			  ((dir & LIBNBD_AIO_DIRECTION_WRITE) ? POLLOUT : 0));
	return nbd_aio_get_fd(n->h);
}

static void nbd_fini(struct blockd *d)
{
	struct nbd_disk *n = d->be_state;
	/* Every conn has drained: nothing is in flight. A polite NBD_CMD_DISC
	 * to a live server, then the socket closes. */
	if (!n->lost)
		(void)nbd_shutdown(n->h, 0);
	nbd_close(n->h);
	free(n);
	d->be_state = NULL;
}

static const struct backend_ops nbd_ops = {
	.start = nbd_start,
	.step = nbd_step,
	.submit = nbd_submit,
	.poll_fd = nbd_poll_fd,
	.due_ms = nbd_due_ms,
	.fini = nbd_fini,
};

static bool pow2(int64_t v)
{
	return v > 0 && (v & (v - 1)) == 0;
}

/* A handle connected to uri. A server that is starting (its socket not
 * there yet, or bound but not yet listening: ENOENT, ECONNREFUSED) is
 * tried again every 50 ms for up to wait_ms, so that `qemu-nbd ... &
 * vmsg-blockd --nbd ...` needs no wait between them. */
static struct nbd_handle *connect_uri(const char *uri, uint32_t wait_ms)
{
	for (uint32_t waited = 0;; waited += 50) {
		struct nbd_handle *h = nbd_create();
		if (!h) {
			fprintf(stderr, "vmsg-blockd: libnbd: %s\n",
				nbd_get_error());
			return NULL;
		}
		if (nbd_connect_uri(h, uri) == 0)
			return h;
		int e = nbd_get_errno();
		if ((e != ENOENT && e != ECONNREFUSED) || waited >= wait_ms) {
			fprintf(stderr, "vmsg-blockd: %s\n", nbd_get_error());
			nbd_close(h);
			return NULL;
		}
		nbd_close(h);
		usleep(50000);
	}
}

int nbd_backend_open(struct blockd *d, const char *uri, bool ro, uint32_t bs,
		     uint32_t wait_ms)
{
	struct nbd_handle *h = connect_uri(uri, wait_ms);
	if (!h)
		return -1;
	int64_t size = nbd_get_size(h);
	/* 0: the server did not say (then our --block-size and defaults). */
	int64_t bmin = nbd_get_block_size(h, LIBNBD_SIZE_MINIMUM);
	int64_t bpref = nbd_get_block_size(h, LIBNBD_SIZE_PREFERRED);
	int64_t bmax = nbd_get_block_size(h, LIBNBD_SIZE_MAXIMUM);
	if (size < 0 || bmin < 0 || bpref < 0 || bmax < 0) {
		fprintf(stderr, "vmsg-blockd: %s: %s\n", uri, nbd_get_error());
		goto fail;
	}
	uint32_t lb = bs;
	if (bmin > lb) {
		if (!pow2(bmin) || bmin > VMSG_BLK_MAX_BLOCK) {
			fprintf(stderr, "vmsg-blockd: %s: the server's minimum "
				"block size %lld is not a power of two up to %u\n",
				uri, (long long)bmin, VMSG_BLK_MAX_BLOCK);
			goto fail;
		}
		lb = (uint32_t)bmin;
	}
	if ((uint64_t)size < lb || (uint64_t)size % lb) {
		fprintf(stderr, "vmsg-blockd: %s: size %lld is not a positive "
			"multiple of the block size %u\n", uri, (long long)size, lb);
		goto fail;
	}
	uint32_t pb = lb > 4096 ? lb : 4096;
	if (pow2(bpref) && bpref <= VMSG_BLK_MAX_BLOCK)
		pb = (uint32_t)bpref > lb ? (uint32_t)bpref : lb;
	uint32_t max_req = d->info.max_req;
	if (bmax > 0 && (uint64_t)bmax < max_req)
		max_req = (uint32_t)bmax;
	max_req -= max_req % lb;
	if (max_req < lb)
		max_req = lb;

	int rdo = nbd_is_read_only(h), fl = nbd_can_flush(h),
	    fua = nbd_can_fua(h), trim = nbd_can_trim(h),
	    zero = nbd_can_zero(h);
	if (rdo < 0 || fl < 0 || fua < 0 || trim < 0 || zero < 0) {
		fprintf(stderr, "vmsg-blockd: %s: %s\n", uri, nbd_get_error());
		goto fail;
	}
	d->info.size = (uint64_t)size;
	d->info.logical_block = lb;
	d->info.physical_block = pb;
	d->info.max_req = max_req;
	d->info.flags = 0;
	if (rdo || ro) {
		d->info.flags = VMSG_BLK_F_READ_ONLY;
	} else {
		if (fua)
			d->info.flags |= VMSG_BLK_F_FUA;
		if (trim)
			d->info.flags |= VMSG_BLK_F_TRIM;
		if (zero)
			d->info.flags |= VMSG_BLK_F_WRITE_ZEROES;
	}
	if (fl)
		d->info.flags |= VMSG_BLK_F_FLUSH;
	struct nbd_disk *n = calloc(1, sizeof(*n));
	if (!n) {
		fprintf(stderr, "vmsg-blockd: %s\n", strerror(errno));
		goto fail;
	}
	n->h = h;
	d->be_state = n;
	d->be = &nbd_ops;
	return 0;
fail:
	nbd_close(h);
	return -1;
}
