/* The host backend's conveniences: a host platform plus the channel over
 * it. The channel takes ownership of the platform, also on failure. */
#include <errno.h>

#include <vmsg/host.h>

int vmsg_host_serve_opts(vmsg_chan **out, const char *path,
			 const struct vmsg_chan_opts *o,
			 const struct vmsg_host_opts *ho)
{
	if (!out)
		return -EINVAL;
	struct vmsg_platform *p;
	int r = vmsg_host_platform_new_opts(&p, path, true, ho);
	if (r < 0)
		return r;
	return vmsg_chan_serve(out, p, o);
}

int vmsg_host_serve(vmsg_chan **out, const char *path,
		    const struct vmsg_chan_opts *o)
{
	return vmsg_host_serve_opts(out, path, o, NULL);
}

int vmsg_host_connect_opts(vmsg_chan **out, const char *path,
			   const struct vmsg_chan_opts *o, int timeout_ms,
			   const struct vmsg_host_opts *ho)
{
	if (!out)
		return -EINVAL;
	struct vmsg_platform *p;
	int r = vmsg_host_platform_new_opts(&p, path, false, ho);
	if (r < 0)
		return r;
	return vmsg_chan_connect(out, p, o, timeout_ms);
}

int vmsg_host_connect(vmsg_chan **out, const char *path,
		      const struct vmsg_chan_opts *o, int timeout_ms)
{
	return vmsg_host_connect_opts(out, path, o, timeout_ms, NULL);
}
