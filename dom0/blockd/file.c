/* vmsg-blockd's file backend: an image file or block device, each request
 * one io_uring operation (or several, for short transfers), completions
 * noticed through an eventfd; a READ found in the page cache is copied at
 * once instead (read_now). FLUSH is an fdatasync, FUA an RWF_DSYNC
 * write, TRIM a punched hole (regular files), WRITE_ZEROES a zeroed
 * range. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <liburing.h>

#include "blockd.h"

/* The file backend's part of struct blockd (be_state). */
struct file_disk {
	int fd;                 /* the disk */
	bool is_file;           /* TRIM by punching holes: regular files */
	bool no_nowait;         /* preadv2 refused RWF_NOWAIT: reads queue */
	struct io_uring ring;
	unsigned ring_entries;
	int efd;                /* io_uring completions */
	unsigned sq_pending;    /* prepared, not yet submitted */
	struct bio *backlog, *backlog_tail; /* no SQE free when they came */
};

#define RING_ENTRIES 256u

/* Prepare the (next part of the) operation of b; false when the SQ is
 * full (b then waits in the backlog). */
static bool prep(struct blockd *d, struct bio *b)
{
	struct file_disk *f = d->be_state;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&f->ring);
	if (!sqe) {
		io_uring_submit(&f->ring);
		f->sq_pending = 0;
		sqe = io_uring_get_sqe(&f->ring);
	}
	if (!sqe)
		return false;
	const struct vmsg_blk_req_hdr *h = &b->rq.h;
	uint8_t *data = b->buf + VMSG_BLK_REPLY_HDR + b->done;
	off_t off = (off_t)(h->offset + b->done);
	unsigned len = h->length - b->done;
	switch (h->op) {
	case VMSG_BLK_OP_READ:
		io_uring_prep_read(sqe, f->fd, data, len, (uint64_t)off);
		break;
	case VMSG_BLK_OP_WRITE:
		io_uring_prep_write(sqe, f->fd, data, len, (uint64_t)off);
		/* FUA: this write alone is durable when it completes. */
		if (h->flags & VMSG_BLK_REQ_FUA)
			sqe->rw_flags = RWF_DSYNC;
		break;
	case VMSG_BLK_OP_FLUSH:
		/* Covers every write completed (so acknowledged, or about to
		 * be) before this was submitted: docs/block.md, Rules. */
		io_uring_prep_fsync(sqe, f->fd, IORING_FSYNC_DATASYNC);
		break;
	case VMSG_BLK_OP_TRIM:
		io_uring_prep_fallocate(sqe, f->fd,
					FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					off, len);
		break;
	case VMSG_BLK_OP_WRITE_ZEROES:
		io_uring_prep_fallocate(sqe, f->fd,
					FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
					off, len);
		break;
	}
	io_uring_sqe_set_data(sqe, b);
	f->sq_pending++;
	return true;
}

/* Read len bytes at off from the page cache into dst, now: one
 * preadv2(RWF_NOWAIT), which never sleeps on the disk and whose copy
 * costs less than io_uring's round (submit, completion event, reap).
 * Returns the bytes read, fewer if a page is not cached (or the file
 * ends), or -1 (then nothing was; a kernel or file without RWF_NOWAIT is
 * not asked again). */
static ssize_t read_cached(struct file_disk *f, void *dst, size_t len,
			   off_t off)
{
	if (f->no_nowait)
		return -1;
	struct iovec iov = {.iov_base = dst, .iov_len = len};
	ssize_t n = preadv2(f->fd, &iov, 1, off, RWF_NOWAIT);
	if (n < 0 && (errno == EOPNOTSUPP || errno == EINVAL))
		f->no_nowait = true;
	return n;
}

/* A READ whose data is all in the page cache is done here and now;
 * anything else goes to io_uring, where b continues from what this
 * copied. */
static bool read_now(struct blockd *d, struct bio *b)
{
	const struct vmsg_blk_req_hdr *h = &b->rq.h;
	if (h->op != VMSG_BLK_OP_READ)
		return false;
	ssize_t n = read_cached(d->be_state,
				b->buf + VMSG_BLK_REPLY_HDR + b->done,
				h->length - b->done,
				(off_t)(h->offset + b->done));
	if (n < 0)
		return false;
	b->done += (uint32_t)n;
	if (b->done < h->length)
		return false;
	bio_done(b, 0);
	return true;
}

/* backend_ops.read_into: the whole READ from the page cache, or false. */
static bool file_read_into(struct blockd *d, const struct vmsg_blk_req_hdr *h,
			   void *dst)
{
	return read_cached(d->be_state, dst, h->length, (off_t)h->offset) ==
	       (ssize_t)h->length;
}

static void file_start(struct blockd *d, struct bio *b)
{
	struct file_disk *f = d->be_state;
	if (read_now(d, b))
		return;
	if (f->backlog || !prep(d, b)) {
		b->next = NULL;
		if (f->backlog_tail)
			f->backlog_tail->next = b;
		else
			f->backlog = b;
		f->backlog_tail = b;
	}
}

/* Completions: short transfers go on, errors and successes are replied. */
static void file_step(struct blockd *d)
{
	struct file_disk *f = d->be_state;
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	uint64_t v;

	(void)!read(f->efd, &v, sizeof(v));
	io_uring_for_each_cqe(&f->ring, head, cqe) {
		struct bio *b = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		n++;
		uint16_t op = b->rq.h.op;
		if (res >= 0 && (op == VMSG_BLK_OP_READ || op == VMSG_BLK_OP_WRITE)) {
			if (res == 0) {
				res = -EIO; /* the disk shrank under us */
			} else {
				b->done += (uint32_t)res;
				if (b->done < b->rq.h.length) {
					file_start(d, b);
					continue;
				}
				res = 0;
			}
		} else if (res > 0) {
			res = 0;
		}
		bio_done(b, res);
	}
	io_uring_cq_advance(&f->ring, n);
	/* What waited for an SQE. */
	while (f->backlog) {
		struct bio *b = f->backlog;
		if (!prep(d, b))
			break;
		f->backlog = b->next;
		if (!f->backlog)
			f->backlog_tail = NULL;
	}
}

static void file_submit(struct blockd *d)
{
	struct file_disk *f = d->be_state;
	if (f->sq_pending) {
		io_uring_submit(&f->ring);
		f->sq_pending = 0;
	}
}

static int file_poll_fd(struct blockd *d, short *events)
{
	struct file_disk *f = d->be_state;
	*events = POLLIN;
	return f->efd;
}

static void file_fini(struct blockd *d)
{
	struct file_disk *f = d->be_state;
	io_uring_queue_exit(&f->ring);
	close(f->efd);
	close(f->fd);
	free(f);
	d->be_state = NULL;
}

static const struct backend_ops file_ops = {
	.start = file_start,
	.read_into = file_read_into,
	.step = file_step,
	.submit = file_submit,
	.poll_fd = file_poll_fd,
	.fini = file_fini,
};

/* io_uring with RING_ENTRIES entries and its eventfd. */
static int io_init(struct blockd *d)
{
	struct file_disk *f = d->be_state;
	int r = io_uring_queue_init(RING_ENTRIES, &f->ring, 0);
	if (r < 0)
		return r;
	f->ring_entries = RING_ENTRIES;
	f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->efd < 0) {
		r = -errno;
		io_uring_queue_exit(&f->ring);
		return r;
	}
	if ((r = io_uring_register_eventfd(&f->ring, f->efd)) < 0) {
		close(f->efd);
		io_uring_queue_exit(&f->ring);
	}
	return r;
}

int file_backend_open(struct blockd *d, const char *image, bool ro,
		      uint32_t bs)
{
	struct stat st;
	struct file_disk *f = calloc(1, sizeof(*f));
	if (!f) {
		fprintf(stderr, "vmsg-blockd: %s\n", strerror(errno));
		return -1;
	}
	d->be_state = f;
	/* O_NOATIME: every read would otherwise go through the access-time
	 * check (touch_atime, current_time): 7 % of our time at depth 32
	 * in a profile of 4 KiB reads from the page cache, for a time nobody
	 * reads on a disk image. Only the file's owner (or
	 * CAP_FOWNER) may ask for it: anyone else opens it as before. */
	const int flags = (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	f->fd = open(image, flags | O_NOATIME);
	if (f->fd < 0 && errno == EPERM)
		f->fd = open(image, flags);
	if (f->fd < 0) {
		fprintf(stderr, "vmsg-blockd: %s: %s\n", image, strerror(errno));
		return -1;
	}
	if (fstat(f->fd, &st) < 0) {
		fprintf(stderr, "vmsg-blockd: %s: %s\n", image, strerror(errno));
		return -1;
	}
	uint64_t size;
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
		f->is_file = true;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(f->fd, BLKGETSIZE64, &size) < 0) {
			fprintf(stderr, "vmsg-blockd: %s: BLKGETSIZE64: %s\n",
				image, strerror(errno));
			return -1;
		}
	} else {
		fprintf(stderr, "vmsg-blockd: %s: neither a regular file nor "
			"a block device\n", image);
		return -1;
	}
	if (size < bs || size % bs) {
		fprintf(stderr, "vmsg-blockd: %s: size %llu is not a positive "
			"multiple of the block size %u\n", image,
			(unsigned long long)size, bs);
		return -1;
	}
	d->info.size = size;
	d->info.logical_block = bs;
	d->info.physical_block = bs > 4096 ? bs : 4096;
	d->info.flags = VMSG_BLK_F_FLUSH | VMSG_BLK_F_FUA |
			VMSG_BLK_F_WRITE_ZEROES;
	/* Punching holes is what TRIM means for an image file. */
	if (f->is_file)
		d->info.flags |= VMSG_BLK_F_TRIM;
	if (ro)
		d->info.flags = VMSG_BLK_F_READ_ONLY | VMSG_BLK_F_FLUSH;
	int r = io_init(d);
	if (r < 0) {
		fprintf(stderr, "vmsg-blockd: io_uring: %s\n", strerror(-r));
		return -1;
	}
	d->be = &file_ops;
	return 0;
}
