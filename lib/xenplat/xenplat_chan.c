/* The Xen backend's conveniences: a Xen platform plus the channel over it
 * (the channel takes ownership of the platform, also on failure), and the
 * conventional channel path. The same in every OS. */
#include <vmsg/xen.h>

#include "vmsg_errno.h"

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

/* Appending to a bounded buffer: *n counts what the whole would take, so
 * the caller learns the length even when it does not fit. */
static void put_str(char *buf, size_t cap, size_t *n, const char *s)
{
	for (; *s; s++, (*n)++)
		if (*n + 1 < cap)
			buf[*n] = *s;
}

static void put_u32(char *buf, size_t cap, size_t *n, uint32_t v)
{
	char t[11];
	int k = 10;
	t[k] = 0;
	do {
		t[--k] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put_str(buf, cap, n, &t[k]);
}

int vmsg_xen_path(char *buf, size_t cap, uint16_t server_domid,
		  uint16_t client_domid, const char *port)
{
	if (!buf || !port || !port[0])
		return -EINVAL;
	for (const char *s = port; *s; s++)
		if (*s == '/')
			return -EINVAL;
	size_t n = 0;
	put_str(buf, cap, &n, "/local/domain/");
	put_u32(buf, cap, &n, server_domid);
	put_str(buf, cap, &n, "/data/vchan/");
	put_u32(buf, cap, &n, client_domid);
	put_str(buf, cap, &n, "/");
	put_str(buf, cap, &n, port);
	if (cap)
		buf[n < cap ? n : cap - 1] = 0;
	if (n >= cap)
		return -ENAMETOOLONG;
	return (int)n;
}
