/* Drop-in libxenctrl.so.4.17 for the simulator: only what
 * vchan-socket-proxy needs (open, close, xc_domain_getinfo), answered from
 * xensimd's list of live domains. */
#include "xsim_proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xenctrl.h>

struct xc_interface_core {
	int fd;
};

xc_interface *xc_interface_open(xentoollog_logger *logger,
				xentoollog_logger *dombuild_logger,
				unsigned open_flags)
{
	int domid = xsim_self_domid();
	xc_interface *x;

	if (domid < 0) {
		errno = EINVAL;
		return NULL;
	}
	if (!(x = calloc(1, sizeof(*x))))
		return NULL;
	x->fd = xsim_connect(XSIM_KIND_CTRL, (uint32_t)domid, NULL, 0, NULL);
	if (x->fd < 0) {
		errno = -x->fd;
		free(x);
		return NULL;
	}
	return x;
}

int xc_interface_close(xc_interface *xch)
{
	if (xch) {
		close(xch->fd);
		free(xch);
	}
	return 0;
}

/* Xen's semantics: fill up to max_doms entries for the live domains with
 * domid >= first_domid, in order; -1/ESRCH if there is none. */
int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid,
		      unsigned int max_doms, xc_dominfo_t *info)
{
	static __thread uint32_t v[XSIM_MAX_VALS];
	struct xsim_msg m = { .op = XSIM_OP_LIST };
	unsigned n = 0;
	int r = xsim_call(xch->fd, &m, NULL, NULL, 0, v, XSIM_MAX_VALS, NULL, 0,
			  NULL);

	if (r < 0) {
		errno = -r;
		return -1;
	}
	for (uint32_t i = 0; i < m.n && n < max_doms; i++) {
		if (v[i] < first_domid)
			continue;
		memset(&info[n], 0, sizeof(info[n]));
		info[n].domid = v[i];
		info[n].running = 1;
		info[n].max_vcpu_id = 0;
		info[n].nr_online_vcpus = 1;
		info[n].xenstore = 1;
		n++;
	}
	if (n == 0 && max_doms > 0) {
		errno = ESRCH;
		return -1;
	}
	return (int)n;
}
