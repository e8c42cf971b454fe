/* The raw byte stream on a channel, as a plain libxenvchan peer speaks it:
 * partial reads and writes that wait for at least one byte. */
#include "chan_private.h"

#include "vmsg_errno.h"

#define IO_MAX 0x7fffffffu /* counts are returned as int */

int vmsg_chan_write(vmsg_chan *c, const void *buf, size_t len, int timeout_ms)
{
	struct vmsg__wait w;
	int r;

	if (!c || (!buf && len))
		return -EINVAL;
	if (c->error)
		return c->error;
	if (c->peer_gone)
		return -EPIPE;
	if (len > IO_MAX)
		len = IO_MAX;
	if (len == 0)
		return 0;
	vmsg__wait_init(c, &w, timeout_ms);
	while ((r = vmsg_ring_write(&c->end, buf, len)) == 0) {
		c->st.tx_full_waits++;
		if ((r = vmsg__wait(c, &w, VMSG_NOTIFY_READ)) < 0)
			return r;
	}
	if (r < 0) {
		c->error = r;
		return r;
	}
	c->st.tx_bytes += (unsigned)r;
	vmsg__kick(c, vmsg_ring_kick_needed(&c->end, VMSG_NOTIFY_WRITE));
	return r;
}

int vmsg_chan_read(vmsg_chan *c, void *buf, size_t len, int timeout_ms)
{
	struct vmsg__wait w;
	int r;

	if (!c || (!buf && len))
		return -EINVAL;
	if (c->error)
		return c->error;
	if (len > IO_MAX)
		len = IO_MAX;
	if (len == 0)
		return 0;
	vmsg__wait_init(c, &w, timeout_ms);
	while ((r = vmsg_ring_read(&c->end, buf, len)) == 0) {
		if ((r = vmsg__wait(c, &w, VMSG_NOTIFY_WRITE)) < 0)
			return r;
	}
	if (r < 0) {
		c->error = r;
		return r;
	}
	c->st.rx_bytes += (unsigned)r;
	vmsg__kick(c, vmsg_ring_kick_needed(&c->end, VMSG_NOTIFY_READ));
	return r;
}
