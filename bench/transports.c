/* The transport table: every transport vmsg-bench knows, in the order of
 * its output. References come first within each family so that ratios read
 * naturally. Adding a transport is one entry here and its tp_*.c file. */
#include "bench.h"

#include <string.h>

extern const struct bench_transport bench_tp_vmsg_host, bench_tp_vmsg_host_zc,
	bench_tp_unix_stream, bench_tp_unix_seqpacket, bench_tp_pipe,
	bench_tp_tcp, bench_tp_eventfd, bench_tp_shm_cacheline,
	bench_tp_shm_ring;
#ifdef BENCH_HAVE_XEN
extern const struct bench_transport bench_tp_vmsg_xen_sim,
	bench_tp_vmsg_xen_sim_raw, bench_tp_vmsgd_sim, bench_tp_vmsgd_sim_spare,
	bench_tp_vmsgd_sim_nospare, bench_tp_vmsgd_sim_xs;
#endif
#ifdef BENCH_HAVE_XENVCHAN
extern const struct bench_transport bench_tp_libxenvchan_sim;
extern const struct bench_transport bench_tp_libxenvchan_dropin_sim;
#endif

const struct bench_transport *const bench_transports[] = {
	&bench_tp_vmsg_host,
	&bench_tp_vmsg_host_zc,
	/* On the simulated Xen (sides under `xensim run --domid N --`). */
#ifdef BENCH_HAVE_XEN
	&bench_tp_vmsg_xen_sim,
	&bench_tp_vmsg_xen_sim_raw,
	&bench_tp_vmsgd_sim,
	&bench_tp_vmsgd_sim_spare,
	&bench_tp_vmsgd_sim_nospare,
	&bench_tp_vmsgd_sim_xs,
#endif
#ifdef BENCH_HAVE_XENVCHAN
	&bench_tp_libxenvchan_sim,
	&bench_tp_libxenvchan_dropin_sim,
#endif
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
