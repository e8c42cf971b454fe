/* vmsg-blockd: a disk (image file or block device) offered as a vmsg block
 * service (docs/block.md, docs/storage.md). One thread: a poll loop over
 * the channels, the io_uring's eventfd and the way consumers arrive (a
 * host-backend path, or vmsgd). */
#ifndef BLOCKD_H
#define BLOCKD_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include <vmsg/block.h>
#include <vmsg/chan.h>

struct blockd;

/* One request on its way through the disk and back. buf holds
 * VMSG_BLK_REPLY_HDR bytes of room for the reply's header, then the data:
 * a READ's reply is sent from it as one message, without a copy. */
struct bio {
	struct conn *conn;
	struct vmsg_blk_request rq; /* rq.data is not kept (released) */
	int32_t status;
	uint32_t done;      /* bytes read/written so far (short transfers) */
	struct bio *next;   /* a conn's reply queue, or the backlog */
	uint8_t *buf;
};

/* One consumer's channel. */
struct conn {
	struct blockd *d;
	vmsg_chan *c;
	vmsg_blk_server *srv;
	void *srv_mem;
	uint32_t id;        /* for the log */
	uint16_t domid;     /* service and --xen modes; 0 in host mode */
	void *owner;        /* the --xen listener it came from (main.c), or NULL */
	bool hello;
	bool closing;       /* the channel ended: free once inflight is 0 */
	int end;            /* why it ended (-EPIPE, -EPROTO, ...) */
	unsigned inflight;  /* bios the kernel still holds */
	struct bio *rq_head, *rq_tail; /* replies waiting to be sent */
	uint64_t requests, bytes;
	struct conn *next;
};

struct blockd {
	int fd;                 /* the disk */
	struct vmsg_blk_info info;
	bool is_file;           /* TRIM by punching holes: regular files */
	struct io_uring ring;
	unsigned ring_entries;
	int efd;                /* io_uring completions */
	unsigned sq_pending;    /* prepared, not yet submitted */
	struct bio *backlog, *backlog_tail; /* no SQE free when they came */
	struct conn *conns;
	unsigned nconns, max_conns;
	uint32_t next_id;
	bool quiet;
};

/* Take over an open channel as a new consumer (the channel becomes the
 * conn's; closed by conn_free). Returns 0 or -ENOMEM / -EUSERS. */
int conn_add(struct blockd *d, vmsg_chan *c, uint16_t domid);

/* Do all the work there is on every conn without waiting: read requests,
 * start their I/O, reap completions, send replies; free ended conns whose
 * I/O has drained (calling close_cb for each). */
void blockd_step(struct blockd *d, void (*close_cb)(struct blockd *d,
						    struct conn *k));

/* Set up io_uring (entries) and its eventfd. */
int blockd_io_init(struct blockd *d, unsigned entries);
void blockd_io_fini(struct blockd *d);

#define LOG(d, ...)                                                  \
	do {                                                         \
		if (!(d)->quiet) {                                   \
			fprintf(stderr, "vmsg-blockd: " __VA_ARGS__);  \
			fputc('\n', stderr);                         \
		}                                                    \
	} while (0)

#endif
