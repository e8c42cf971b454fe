/* The host backend's conveniences: a host platform plus the channel over
 * it. The channel takes ownership of the platform, also on failure. */
#include <errno.h>

#include <vmsg/host.h>

int vmsg_host_serve(vmsg_chan **out, const char *path,
		    const struct vmsg_chan_opts *o)
{
	if (!out)
		return -EINVAL;
	struct vmsg_platform *p;
	int r = vmsg_host_platform_new(&p, path, true);
	if (r < 0)
		return r;
	return vmsg_chan_serve(out, p, o);
}

int vmsg_host_connect(vmsg_chan **out, const char *path,
		      const struct vmsg_chan_opts *o, int timeout_ms)
{
	if (!out)
		return -EINVAL;
	struct vmsg_platform *p;
	int r = vmsg_host_platform_new(&p, path, false);
	if (r < 0)
		return r;
	return vmsg_chan_connect(out, p, o, timeout_ms);
}
