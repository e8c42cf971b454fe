/* Private state of the drop-in libxenvchan behind the struct programs see.
 *
 * Programs are compiled against Debian's <libxenvchan.h> and read or write
 * some fields of struct libxenvchan themselves: `blocking` above all
 * (vchan-socket-proxy sets `ctrl->blocking = 1`; there is no setter), and
 * sometimes `is_server`, `server_persist`, the ring orders. So the handle we
 * return begins with that very struct, laid out by the same header, and our
 * own state follows it: a program never allocates the struct (only init
 * does) and never looks past its end, so it cannot tell. */
#ifndef VCHAN_PRIVATE_H
#define VCHAN_PRIVATE_H

#include <libxenvchan.h>

#include <vmsg/chan.h>
#include <vmsg/ring.h>

struct vchan_dropin {
	struct libxenvchan pub; /* first: the pointer programs hold */
	vmsg_chan *c;           /* the raw byte stream underneath */
	struct vmsg_ring_end *e; /* its ring end (vmsg__chan_ring), looked at
				  * directly by the calls' first looks */
	unsigned rd_size;       /* private copies of the ring sizes */
	unsigned wr_size;
};

static inline struct vchan_dropin *vchan_of(struct libxenvchan *ctrl)
{
	return (struct vchan_dropin *)ctrl;
}

/* Fill the public fields from the channel (ring pointers and orders). */
void vchan__fill_public(struct vchan_dropin *d, int is_server);

#endif
