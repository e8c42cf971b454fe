/* The transport table: every transport vmsg-bench knows, in the order of
 * its output. References come first within each family so that ratios read
 * naturally. Adding a transport is one entry here and its tp_*.c file. */
#include "bench.h"

#include <string.h>

extern const struct bench_transport bench_tp_vmsg_host, bench_tp_vmsg_host_zc,
	bench_tp_unix_stream, bench_tp_unix_seqpacket, bench_tp_pipe,
	bench_tp_tcp, bench_tp_eventfd, bench_tp_shm_cacheline,
	bench_tp_shm_ring;

const struct bench_transport *const bench_transports[] = {
	&bench_tp_vmsg_host,
	&bench_tp_vmsg_host_zc,
	/* later: vmsg over lib/xen on the sim, Debian's libxenvchan on the
	 * sim (both with wrap_side = "xensim run --domid N --") */
	&bench_tp_unix_stream,
	&bench_tp_unix_seqpacket,
	&bench_tp_pipe,
	&bench_tp_tcp,
	&bench_tp_eventfd,
	&bench_tp_shm_cacheline,
	&bench_tp_shm_ring,
	NULL,
};

const struct bench_transport *bench_transport_find(const char *name)
{
	for (size_t i = 0; bench_transports[i]; i++)
		if (!strcmp(bench_transports[i]->name, name))
			return bench_transports[i];
	return NULL;
}
