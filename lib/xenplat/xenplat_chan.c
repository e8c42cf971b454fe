/* The Xen backend's conveniences: a Xen platform plus the channel over it
 * (the channel takes ownership of the platform, also on failure), and the
 * conventional channel path. The same in every OS. */
#include <vmsg/xen.h>

#include "vmsg_errno.h"
#include "vmsg_fmt.h"

int vmsg_xen_serve(vmsg_chan **out, uint16_t client_domid, const char *path,
		   const struct vmsg_chan_opts *o)
{
	if (!out)
		return -EINVAL;
	struct vmsg_platform *p;
	int r = vmsg_xen_platform_new(&p, client_domid, path, true);
	if (r < 0)
		return r;
	return vmsg_chan_serve(out, p, o);
}

int vmsg_xen_connect(vmsg_chan **out, uint16_t server_domid, const char *path,
		     const struct vmsg_chan_opts *o, int timeout_ms)
{
	if (!out)
		return -EINVAL;
	struct vmsg_platform *p;
	int r = vmsg_xen_platform_new(&p, server_domid, path, false);
	if (r < 0)
		return r;
	return vmsg_chan_connect(out, p, o, timeout_ms);
}

int vmsg_xen_path(char *buf, size_t cap, uint16_t server_domid,
		  uint16_t client_domid, const char *port)
{
	if (!buf || !port || !port[0])
		return -EINVAL;
	for (const char *s = port; *s; s++)
		if (*s == '/')
			return -EINVAL;
	if (cap == 0)
		return -ENAMETOOLONG;
	size_t n = (size_t)vmsg__snprintf(buf, cap,
					  "/local/domain/%u/data/vchan/%u/%s",
					  (unsigned)server_domid,
					  (unsigned)client_domid, port);
	if (n >= cap)
		return -ENAMETOOLONG;
	return (int)n;
}
