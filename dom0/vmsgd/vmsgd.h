/* vmsgd: the dom0 service broker. One libuv loop; one control channel per
 * guest domain; services offered and opened by name under a default-deny
 * policy; vmsgctl over a UNIX socket. docs/vmsgd.md describes it. */
#ifndef VMSGD_H
#define VMSGD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <vmsg/chan.h>
#include <vmsg/proto.h>
#include <vmsg/service.h>

/* ---- logging (log.c) ---------------------------------------------------- */

enum { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };
extern int vmsgd_log_level;
void vmsgd_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "error" ... "debug" -> level, or -1. */
int vmsgd_log_level_parse(const char *s);
const char *vmsgd_log_level_name(int level);

/* ---- policy (policy.c) -------------------------------------------------- */

#define POLICY_ANY 0xffffu /* in a domain list: every guest */

struct domlist {
	uint16_t *ids;
	size_t n;
	bool any;
};

struct policy_service {
	char name[VMSG_SERVICE_NAME_MAX + 1];
	int line; /* of its [service NAME] header */
	struct domlist offer, open;
	uint32_t max_channels; /* per consumer domain */
	uint32_t ring_size;
	uint64_t max_msg;
};

struct policy {
	int log_level;
	char control_socket[108];
	struct policy_service *svc;
	size_t nsvc;
};

/* Parse `file` strictly. On failure returns -1 and writes
 * "FILE:LINE: what" into err. */
int policy_load(const char *file, struct policy *out, char *err, size_t cap);
void policy_free(struct policy *p);
const struct policy_service *policy_find(const struct policy *p,
					 const char *name);
bool policy_allows(const struct domlist *l, uint16_t domid);
/* "1,2,3" / "*" / "-" into buf. */
void policy_domlist_str(const struct domlist *l, char *buf, size_t cap);

/* ---- state -------------------------------------------------------------- */

enum sess_state { SESS_WAITING, SESS_HELLO, SESS_READY };

struct session {
	struct vmsgd *d;
	struct session *next;
	uint16_t domid;
	int state;
	vmsg_chan *chan;
	uv_poll_t poll;
	bool polling;
	bool closing; /* uv_close pending */
	bool dying;   /* domain gone: free on close */
	bool respawn; /* reset: serve anew on close */
	char peer_name[VMSG_HELLO_NAME_MAX + 1];
	uint64_t connects;
	struct vmsg_arena arena;
	uint64_t arena_buf[2048];
};

struct service {
	struct service *next;
	char name[VMSG_SERVICE_NAME_MAX + 1];
	uint16_t provider;
};

enum chan_state { CH_PENDING, CH_OPEN };

struct channel {
	struct channel *next;
	uint32_t id;
	char service[VMSG_SERVICE_NAME_MAX + 1];
	uint16_t provider, consumer;
	int state;
	uint32_t req_id;      /* the consumer's Open */
	uint64_t deadline_ms; /* pending: give up then */
	uint64_t max_msg;
	char path[128];
};

struct vmsgd {
	uv_loop_t *loop;
	char config[4096];
	int cli_log_level; /* -1: from the config */
	struct policy pol;
	struct session *sessions;
	struct service *services;
	struct channel *channels;
	uint32_t next_id;
	/* xenstore */
	struct xs_handle *xs;
	uv_poll_t xs_poll;
	bool xs_polling;
	/* vmsgctl */
	uv_pipe_t ctl;
	bool ctl_open;
	char ctl_path[108];
	uv_signal_t sighup, sigterm, sigint;
	uv_timer_t timer;
	bool stopping;
};

uint64_t vmsgd_now_ms(void);

/* session.c */
struct session *session_find(struct vmsgd *d, uint16_t domid);
int session_new(struct vmsgd *d, uint16_t domid);
void session_gone(struct vmsgd *d, uint16_t domid);
void session_close_all(struct vmsgd *d);
void sessions_tick(struct vmsgd *d);

/* xs.c */
int xs_watch_start(struct vmsgd *d);
void xs_watch_stop(struct vmsgd *d);

/* ctlsock.c */
int ctlsock_start(struct vmsgd *d);
void ctlsock_stop(struct vmsgd *d);

/* main.c */
int vmsgd_reload(struct vmsgd *d, char *err, size_t cap);

#endif
