/* Control messages of the bounded codec on a channel (vmsg_pbwire.h). */
#include "vmsg_errno.h"
#include "vmsg_pbwire.h"
#include "vmsg_string.h"

int vmsg__pbw_send(vmsg_chan *c, uint16_t type, const struct vmsg_pbw_desc *d,
		   const void *msg, int timeout_ms)
{
	uint8_t buf[VMSG_PBW_WIRE_MAX];
	int n = vmsg__pbw_encode(d, msg, buf, sizeof buf);
	if (n < 0)
		return n;
	int r = vmsg_chan_send(c, type, buf, (size_t)n, 0, timeout_ms);
	return r < 0 ? r : n;
}

int vmsg__pbw_take(vmsg_chan *c, uint16_t *type, uint8_t *buf, size_t cap,
		   int timeout_ms)
{
	struct vmsg_msg m;
	int r = vmsg_chan_peek(c, &m, timeout_ms);
	if (r < 0)
		return r;
	*type = m.type;
	const size_t len = m.len;
	/* Copy first: m.data may be the shared ring. */
	if (len <= cap)
		vmsg__memcpy(buf, m.data, len);
	r = vmsg_chan_release(c);
	if (r < 0)
		return r;
	return len <= cap ? (int)len : -ENOBUFS;
}
