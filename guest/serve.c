/* guest_serve/guest_connect (vmsg/guest.h): an appliance's channels on the
 * platform it runs on. In a unikernel that is Xen, and these are
 * vmsg_xen_serve/connect themselves; the Linux build of the SDK may put
 * them on the host backend instead (guest/hosted.c, host=DIR). */
#include <vmsg/guest.h>
#include <vmsg/xen.h>

int guest_serve(vmsg_chan **out, uint16_t client_domid, const char *path,
		const struct vmsg_chan_opts *o)
{
	return vmsg_xen_serve(out, client_domid, path, o);
}

int guest_connect(vmsg_chan **out, uint16_t server_domid, const char *path,
		  const struct vmsg_chan_opts *o, int timeout_ms)
{
	return vmsg_xen_connect(out, server_domid, path, o, timeout_ms);
}
