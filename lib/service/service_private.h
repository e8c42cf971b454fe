/* Private state of a control-channel handle (vmsg/service.h). */
#ifndef VMSG_SERVICE_PRIVATE_H
#define VMSG_SERVICE_PRIVATE_H

#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include <vmsg/proto.h>
#include <vmsg/service.h>
#include <vmsg/vmsg_service.pb-c.h>

/* Channels served for vmsgd but not yet returned by accept. A provider
 * that never accepts gets -EBUSY answers to further serve requests. */
#define CTL_QUEUE 32
/* Largest control message we take from vmsgd; larger ones are dropped. */
#define CTL_MSG_MAX 4096
#define CTL_ERR_MAX 160

struct ctl_ready {
	vmsg_chan *c;
	struct vmsg_service_peer peer;
};

struct ctl_live {
	vmsg_chan *c;
	uint32_t id;
};

struct vmsg_ctl {
	vmsg_chan *chan;
	uint16_t domid;
	uint32_t next_req;
	char err[CTL_ERR_MAX];
	struct ctl_ready q[CTL_QUEUE];
	unsigned qhead, qlen;
	struct ctl_live *live; /* channels handed out, for Closed */
	size_t nlive, caplive;
	struct vmsg_arena arena;
	uint64_t arena_buf[(4 * CTL_MSG_MAX) / sizeof(uint64_t)];
};

/* Milliseconds left of timeout_ms started at start (as the proto helpers:
 * -1 and 0 stay, positive never below 1). */
uint64_t vmsg__svc_now_ms(void);
int vmsg__svc_left(int timeout_ms, uint64_t start);

/* Receive one message from vmsgd, handling Serve requests on the way.
 * Returns 1 with the type and message set (decoded in ctl->arena until the
 * next call) for anything else; with type NULL, 0 after each Serve; or a negative error (-EAGAIN, -ETIMEDOUT, the
 * channel's). Unknown, oversized or malformed messages are skipped. */
int vmsg__svc_pump(vmsg_ctl *ctl, uint16_t *type, ProtobufCMessage **msg,
		   int timeout_ms);

/* Remember a channel handed to the caller (for vmsg_service_close). */
void vmsg__svc_track(vmsg_ctl *ctl, vmsg_chan *c, uint32_t id);

/* Keep vmsgd's error text, sanitised, for vmsg_ctl_error(). */
void vmsg__svc_set_err(vmsg_ctl *ctl, const char *text);

#endif
