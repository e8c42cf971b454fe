/* A guest that speaks vmsgd's control protocol by hand (the hostile
 * roles of the vmsgd tests): connect to our domain's control channel
 * without the library, send requests, read Results. */
#ifndef VT_RAW_H
#define VT_RAW_H

#include "vmsgd_test.h"

#include <vmsg/proto.h>
#include <vmsg/vmsg_service.pb-c.h>

#include "vmsg_xen_msg.h"

/* Connect to our control channel by hand and exchange Hellos, our Hello
 * setting `features` besides the library's usual ones (e.g.
 * VMSG_FEATURE_SVC_SETUP_MSG: an end that is set up by message). A
 * connect refused with -EBUSY is tried again `busy_tries` times, 10 ms
 * apart, as the library does: the keys a process finds just after its
 * previous channel closed may still be that channel's (it has its
 * client) until vmsgd has withdrawn them. -EPROTO likewise: keys read
 * just before vmsgd withdrew them and ended their grant (a channel it
 * retired as we reconnected) name a grant that no longer maps (the
 * library's control channel retries both: lib/service/ctl.c). */
static inline vmsg_chan *vt_raw_connect_tries(unsigned domid,
					      uint64_t features,
					      int busy_tries)
{
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.max_msg = 1u << 20; /* we may send more than vmsgd takes */
	vmsg_chan *c;
	char path[128];
	snprintf(path, sizeof path, VMSG_CTL_PATH_PREFIX "/%u", domid);
	int r;
	for (int tries = 0;; tries++) {
		r = vmsg_xen_connect(&c, 0, path, &o, SIM_WAIT_MS);
		if ((r != -EBUSY && r != -EPROTO) || tries >= busy_tries)
			break;
		usleep(10000);
	}
	if (r < 0)
		VMSG_TEST_FAIL("connect: %s", vmsg_strerror(r));
	struct vmsg_hello_info ours, peer;
	vmsg_hello_info_init(&ours, "hostile", vmsg_chan_max_msg(c));
	ours.features |= features;
	ASSERT_EQ(vmsg_hello_exchange_ex(c, &ours, &peer, SIM_WAIT_MS), 0);
	return c;
}

static inline vmsg_chan *vt_raw_connect_ex(unsigned domid, uint64_t features)
{
	return vt_raw_connect_tries(domid, features, 0);
}

/* Connect again at once after closing our previous control channel. */
static inline vmsg_chan *vt_raw_reconnect(unsigned domid)
{
	return vt_raw_connect_tries(domid, 0, 300);
}

/* The same, as an end that knows nothing of setup by message. */
static inline vmsg_chan *vt_raw_connect(unsigned domid)
{
	return vt_raw_connect_ex(domid, 0);
}

/* Read one Result: 0 with its code, or the channel's error (-EAGAIN:
 * none yet, -EPIPE: vmsgd closed our channel). */
static inline int read_result(vmsg_chan *c, int timeout_ms, uint32_t *req,
		       int *code, char *text, size_t cap)
{
	uint64_t abuf[512];
	struct vmsg_arena a;
	vmsg_arena_init(&a, abuf, sizeof abuf);
	uint16_t type;
	ProtobufCMessage *m;
	int r = vmsg_proto_recv(c, &vmsg__service__result__descriptor, &a,
				&type, &m, timeout_ms);
	if (r < 0)
		return r;
	ASSERT_EQ(type, VMSG_TYPE_SVC_RESULT);
	const Vmsg__Service__Result *res = (const void *)m;
	*req = res->req_id;
	*code = res->code;
	snprintf(text, cap, "%s", res->text ? res->text : "");
	return 0;
}

static inline int send_offer(vmsg_chan *c, uint32_t req, const char *name)
{
	Vmsg__Service__Offer o = VMSG__SERVICE__OFFER__INIT;
	o.req_id = req;
	o.service = (char *)name;
	return vmsg_proto_send(c, VMSG_TYPE_SVC_OFFER, &o.base, 0,
			       SIM_WAIT_MS);
}

/* An Open of `name` that waits `timeout_ms` for the provider (0: vmsgd's
 * default). */
static inline int send_open(vmsg_chan *c, uint32_t req, const char *name,
			    uint32_t timeout_ms)
{
	Vmsg__Service__Open o = VMSG__SERVICE__OPEN__INIT;
	o.req_id = req;
	o.service = (char *)name;
	o.timeout_ms = timeout_ms;
	return vmsg_proto_send(c, VMSG_TYPE_SVC_OPEN, &o.base, 0,
			       SIM_WAIT_MS);
}

/* The Opened of request `req` on our control channel, its grant and port
 * checked. Waited for (SIM_WAIT_MS), or with poll_ms > 0 polled for every
 * ms up to poll_ms (a blocking wait looks at the hypervisor now and then,
 * which a test may have stopped): NULL if none came by then. */
static inline Vmsg__Service__Opened *vt_raw_opened(vmsg_chan *ctl,
						   uint32_t req,
						   struct vmsg_arena *a,
						   int poll_ms)
{
	uint16_t type;
	ProtobufCMessage *m;
	int r;
	const uint64_t t0 = vt_now_ms();
	while ((r = vmsg_proto_recv(ctl, &vmsg__service__opened__descriptor,
				    a, &type, &m,
				    poll_ms > 0 ? 0 : SIM_WAIT_MS)) == -EAGAIN &&
	       poll_ms > 0 && vt_now_ms() - t0 < (uint64_t)poll_ms)
		usleep(1000);
	if (r == -EAGAIN && poll_ms > 0)
		return NULL;
	ASSERT_GE(r, 0);
	ASSERT_EQ(type, VMSG_TYPE_SVC_OPENED);
	Vmsg__Service__Opened *o = (void *)m;
	ASSERT_EQ(o->req_id, req);
	ASSERT_TRUE(o->ring_ref != 0 && o->event_port != 0);
	return o;
}

/* Connect to the channel Opened `o` names (set up by message) and read
 * the provider's first message, which must be "hello ID" (ID: the
 * channel's); the channel, open. */
static inline vmsg_chan *vt_raw_take_hello(const Vmsg__Service__Opened *o)
{
	char b[64], want[64];
	struct vmsg_chan_opts co;
	vmsg_chan_opts_init(&co);
	co.max_msg = o->max_msg;
	vmsg_chan *c;
	int r = vmsg__xen_connect_msg(&c, (uint16_t)o->provider_domid, o->path,
				      o->ring_ref, o->event_port, &co);
	if (r < 0)
		VMSG_TEST_FAIL("connect to channel %u: %s", o->channel_id,
			       vmsg_strerror(r));
	ASSERT_GT((int)vmsg_chan_recv(c, NULL, b, sizeof b, SIM_WAIT_MS), 0);
	snprintf(want, sizeof want, "hello %u", o->channel_id);
	if (strcmp(b, want) != 0)
		VMSG_TEST_FAIL("read '%s', not '%s'", b, want);
	return c;
}

#endif
