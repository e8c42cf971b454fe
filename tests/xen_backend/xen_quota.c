/* xen_quota: what xenstored's default quotas (enforced by the simulator as
 * Xen 4.17 does, docs/sim.md) mean for vmsg channels on the Xen backend.
 * A server holds 3 nodes per published channel (<dir>, ring-ref,
 * event-channel) until its client is in. Domain 1 publishes channels
 * under /local/domain/1/data/vmsg/svc/<id>, nobody connecting:
 *
 *   4-digit ids: 332 are published, the 333rd fails with -ENOSPC (node
 *     quota: 1 + 2 parents + 3 x 332 = 999, the most a transaction's
 *     commit lets a domain own);
 *   closing one gives its room back (one more is published);
 *   6-digit ids: 287 (the parent's record: 287 names of 7 bytes fill the
 *     2015 bytes a one-entry node has for its children's names).
 *
 * The figures docs/protocol.md gives ("What a channel costs in
 * xenstore"). */
#include "xen_test.h"

#define MAXCH 400

static vmsg_chan *ch[MAXCH];

/* Publishes from id `base` on until one fails; returns how many went up
 * and the error of the one that did not. */
static unsigned publish_all(unsigned base, int *err)
{
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.rx_ring_size = o.tx_ring_size = 1024; /* in the shared page */
	unsigned n = 0;
	for (; n < MAXCH; n++) {
		char path[96];
		snprintf(path, sizeof path, "/local/domain/1/data/vmsg/svc/%u",
			 base + n);
		int r = vmsg_xen_serve(&ch[n], 2, path, &o);
		if (r < 0) {
			*err = r;
			return n;
		}
	}
	*err = 0;
	return n;
}

static void close_all(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		vmsg_chan_close(ch[i]);
}

static int role_server(void)
{
	int err;
	unsigned n = publish_all(1000, &err);
	ASSERT_EQ(n, 332);
	ASSERT_EQ(err, -ENOSPC);
	/* One withdrawn (closed before any client came): room for one. */
	vmsg_chan_close(ch[0]);
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.rx_ring_size = o.tx_ring_size = 1024;
	ASSERT_EQ(vmsg_xen_serve(&ch[0], 2, "/local/domain/1/data/vmsg/svc/999",
				 &o), 0);
	ASSERT_EQ(vmsg_xen_serve(&ch[n], 2, "/local/domain/1/data/vmsg/svc/998",
				 &o), -ENOSPC);
	close_all(n);

	n = publish_all(100000, &err);
	ASSERT_EQ(n, 287);
	ASSERT_EQ(err, -ENOSPC);
	close_all(n);
	return 0;
}

int main(int argc, char **argv)
{
	char self[4096];
	if (argc >= 5) {
		xt_in = atoi(argv[3]);
		xt_out = atoi(argv[4]);
		if (!strcmp(argv[1], "server"))
			return role_server();
		return 2;
	}
	xt_driver_init(self, sizeof self, 120);
	struct xt_role s;
	xt_spawn(&s, 1, self, "server", "-", NULL, NULL);
	xt_role_done(&s, 0);
	puts("xen_quota: ok");
	return 0;
}
