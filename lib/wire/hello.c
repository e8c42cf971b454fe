/* The Hello exchange (vmsg/control.h) over the bounded wire codec:
 * freestanding, so the unikernel and Linux run the same code. */
#include <vmsg/control.h>

#include "vmsg_chan_internal.h"
#include "vmsg_errno.h"
#include "vmsg_fmt.h"
#include "vmsg_pbwire.h"
#include "vmsg_string.h"
#include "vmsg_text.h"

_Static_assert(VMSG_PBW_HELLO_NAME_CAP == VMSG_HELLO_NAME_MAX + 1,
	       "the codec keeps a Hello's name as vmsg_hello_info does");
_Static_assert(VMSG_HELLO_WIRE_MAX <= VMSG_PBW_WIRE_MAX,
	       "a greeting fits the codec's buffer");

/* The channel's own clock (its platform's), in ms. */
static uint64_t now_ms(vmsg_chan *c)
{
	struct vmsg_platform *p = vmsg__chan_platform(c);
	return p->ops->now_ns(p) / 1000000u;
}

/* What is left of a timeout started at `start`: -1 and 0 stay as they are;
 * a positive timeout never drops below 1 ms, so that the call waits (and
 * reports -ETIMEDOUT) instead of polling once and reporting -EAGAIN. */
static int remaining_ms(vmsg_chan *c, int timeout_ms, uint64_t start)
{
	if (timeout_ms <= 0)
		return timeout_ms;
	uint64_t spent = now_ms(c) - start;
	if (spent >= (uint64_t)timeout_ms)
		return 1;
	return timeout_ms - (int)spent;
}

void vmsg_hello_info_init(struct vmsg_hello_info *ours, const char *name,
			  uint64_t max_msg)
{
	if (!ours)
		return;
	vmsg__memset(ours, 0, sizeof *ours);
	ours->version = VMSG_PROTO_VERSION;
	ours->features = VMSG_FEATURES_SUPPORTED;
	ours->max_msg = max_msg;
	for (size_t i = 0; name && i < VMSG_HELLO_NAME_MAX && name[i]; i++)
		ours->name[i] = name[i];
}

/* Our answer to an incompatible Hello: tell the peer, then the caller. */
static int refuse_version(vmsg_chan *c, uint32_t theirs, uint32_t ours,
			  struct vmsg_hello_info *peer, int timeout_ms)
{
	struct vmsg_pbw_error e;
	vmsg__memset(&e, 0, sizeof e);
	e.code = -EPROTONOSUPPORT;
	e.ref_type = VMSG_TYPE_HELLO;
	vmsg__snprintf(peer->error, sizeof peer->error,
		       "vmsg protocol version %u.%u is not supported: this "
		       "end speaks %u.x",
		       VMSG_PROTO_VERSION_MAJOR_OF(theirs),
		       VMSG_PROTO_VERSION_MINOR_OF(theirs),
		       VMSG_PROTO_VERSION_MAJOR_OF(ours));
	peer->error_code = -EPROTONOSUPPORT;
	vmsg__text_copy(e.text, sizeof e.text, peer->error);
	/* Best effort: the answer to the caller is the same whether or not
	 * the peer is still there to read it. */
	(void)vmsg__pbw_send(c, VMSG_TYPE_ERROR, &vmsg__pbw_error_desc, &e,
			     timeout_ms);
	return -EPROTONOSUPPORT;
}

int vmsg_hello_exchange_ex(vmsg_chan *c, const struct vmsg_hello_info *ours,
			   struct vmsg_hello_info *peer, int timeout_ms)
{
	if (!c || !ours || !peer)
		return -EINVAL;
	const uint64_t start = timeout_ms > 0 ? now_ms(c) : 0;
	vmsg__memset(peer, 0, sizeof *peer);

	struct vmsg_pbw_hello h;
	vmsg__memset(&h, 0, sizeof h);
	h.version = ours->version;
	h.features = ours->features;
	h.max_msg = ours->max_msg;
	vmsg__text_clean(h.name, sizeof h.name, ours->name, sizeof ours->name);
	int r = vmsg__pbw_send(c, VMSG_TYPE_HELLO, &vmsg__pbw_hello_desc, &h,
			       remaining_ms(c, timeout_ms, start));
	if (r < 0)
		return r;

	/* The greeting is copied out of the ring before it is parsed; an
	 * oversize one is refused unread. */
	uint8_t buf[VMSG_HELLO_WIRE_MAX];
	uint16_t type;
	r = vmsg__pbw_take(c, &type, buf, sizeof buf,
			   remaining_ms(c, timeout_ms, start));
	if (r == -ENOBUFS)
		return -EBADMSG;
	if (r < 0)
		return r;
	const size_t len = (size_t)r;

	if (type == VMSG_TYPE_ERROR) {
		struct vmsg_pbw_error e;
		if (vmsg__pbw_decode(&vmsg__pbw_error_desc, &e, buf, len) < 0)
			return -EBADMSG;
		peer->error_code = e.code;
		vmsg__text_copy(peer->error, sizeof peer->error, e.text);
		return e.code == -EPROTONOSUPPORT ? -EPROTONOSUPPORT
						  : -ECONNREFUSED;
	}
	if (type != VMSG_TYPE_HELLO ||
	    vmsg__pbw_decode(&vmsg__pbw_hello_desc, &h, buf, len) < 0)
		return -EBADMSG;
	peer->version = h.version;
	peer->features = h.features;
	peer->max_msg = h.max_msg;
	vmsg__text_copy(peer->name, sizeof peer->name, h.name);
	if (VMSG_PROTO_VERSION_MAJOR_OF(h.version) !=
	    VMSG_PROTO_VERSION_MAJOR_OF(ours->version))
		return refuse_version(c, h.version, ours->version, peer,
				      remaining_ms(c, timeout_ms, start));
	return 0;
}

int vmsg_hello_exchange(vmsg_chan *c, const char *name,
			struct vmsg_hello_info *peer, int timeout_ms)
{
	struct vmsg_hello_info ours;
	int max_msg = vmsg_chan_max_msg(c);
	if (max_msg < 0)
		return max_msg;
	vmsg_hello_info_init(&ours, name, (uint64_t)max_msg);
	return vmsg_hello_exchange_ex(c, &ours, peer, timeout_ms);
}
