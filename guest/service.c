/* Named services through vmsgd for the unikernel (vmsg/guest.h): the
 * guest end of docs/protocol.md's "Service control protocol", as
 * lib/service/ does it on Linux, over the platform's guest_serve/connect and
 * the freestanding wire codec of pbwire.c (protobuf-c needs libc).
 *
 * As there, a control channel that breaks (vmsgd restarted) is connected
 * again to the next vmsgd and what we offered is offered again, within
 * the calling call's timeout; a request in flight is sent again.
 * Unlike there, no pollable fd. Serve requests are answered whenever the
 * control channel is read, also while waiting for the answer to our own
 * request, so a domain may open a service it offers itself. */
#include <vmsg/guest.h>
#include <vmsg/service.h>

#include "pbwire.h"
#include "vmsg_errno.h"
#include "vmsg_string.h"

#define CTL_MSG_MAX 4096u
#define CTL_QUEUE 8
#define CTL_LIVE 32
#define CTL_OFFERS 8
#define CTL_RETRY_MS 200 /* between attempts to reach a restarted vmsgd */

struct ctl_ready {
	vmsg_chan *c;
	struct guest_service_peer peer;
};

struct guest_ctl {
	vmsg_chan *chan;
	uint16_t domid;
	uint32_t next_req;
	char err[PBW_TEXT_CAP];
	struct ctl_ready q[CTL_QUEUE];
	unsigned qhead, qlen;
	struct {
		vmsg_chan *c;
		uint32_t id;
	} live[CTL_LIVE];
	unsigned nlive;
	char offers[CTL_OFFERS][VMSG_SERVICE_NAME_MAX + 1]; /* to offer again */
	unsigned noffers;
	bool reattaching; /* offering again: a second break is not followed */
	uint8_t msg[CTL_MSG_MAX]; /* private copy of the message being read */
	union {                   /* the decoded message */
		struct pbw_hello hello;
		struct pbw_error error;
		struct pbw_result result;
		struct pbw_opened opened;
		struct pbw_serve serve;
	} in;
};

/* ---- small string helpers (no libc) */

static size_t slen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static bool sequal(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* Copy s into dst[cap]; -ENAMETOOLONG if it does not fit. */
static int scopy(char *dst, size_t cap, const char *s)
{
	size_t n = slen(s);
	if (n >= cap)
		return -ENAMETOOLONG;
	vmsg__memcpy(dst, s, n + 1);
	return 0;
}

static char *put_u(char *p, unsigned v)
{
	char t[12];
	int n = 0;
	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = t[--n];
	*p = 0;
	return p;
}

static int name_ok(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (n >= VMSG_SERVICE_NAME_MAX ||
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return n > 0;
}

/* ---- time */

static uint64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? 0 : guest_now_ns() + (uint64_t)timeout_ms * 1000000u;
}

/* What is left of a deadline, as a vmsg timeout: -1 for none, 0 once
 * passed (the call then tries once more without waiting). */
static int left_ms(uint64_t deadline)
{
	if (!deadline)
		return -1;
	uint64_t now = guest_now_ns();
	if (now >= deadline)
		return 0;
	uint64_t ms = (deadline - now + 999999u) / 1000000u;
	return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

/* ---- sending */

static int send_msg(guest_ctl *ctl, uint16_t type, const struct pbw_desc *d,
		    const void *m, int timeout_ms)
{
	uint8_t buf[512];
	int n = pbw_encode(d, m, buf, sizeof buf);
	if (n < 0)
		return n;
	return vmsg_chan_send(ctl->chan, type, buf, (size_t)n, 0, timeout_ms);
}

static void set_err(guest_ctl *ctl, const char *text)
{
	/* text came through pbwire: printable ASCII and NUL-terminated. */
	(void)scopy(ctl->err, sizeof ctl->err, text);
}

/* ---- Serve: vmsgd asks us to serve one channel for a consumer */

static void serve_reply(guest_ctl *ctl, uint32_t id, int code,
			const char *text)
{
	struct pbw_serve_result sr;
	vmsg__memset(&sr, 0, sizeof sr);
	sr.serve_id = id;
	sr.code = code;
	(void)scopy(sr.text, sizeof sr.text, text ? text : "");
	/* Small, and vmsgd reads promptly; a full ring means vmsgd is
	 * stuck, and the next call sees the error. */
	(void)send_msg(ctl, VMSG_TYPE_SVC_SERVE_RESULT, &pbw_serve_result_desc,
		       &sr, 5000);
}

static int has_dotdot(const char *s)
{
	for (; s[0]; s++)
		if (s[0] == '.' && s[1] == '.')
			return 1;
	return 0;
}

static void handle_serve(guest_ctl *ctl, const struct pbw_serve *s)
{
	/* The values come from dom0, but are still checked: the path must
	 * lie under our own tree. */
	char prefix[64] = "/local/domain/";
	char *p = put_u(prefix + slen(prefix), ctl->domid);
	(void)scopy(p, sizeof prefix - (size_t)(p - prefix), "/data/vmsg/");
	size_t pl = slen(prefix);
	if (__builtin_memcmp(s->path, prefix, pl) != 0 || slen(s->path) <= pl ||
	    has_dotdot(s->path) || s->consumer_domid >= 0x7ff0 ||
	    !name_ok(s->service) || s->max_msg == 0 ||
	    s->max_msg > (1u << 30)) {
		serve_reply(ctl, s->serve_id, -EINVAL, "bad serve request");
		return;
	}
	if (ctl->qlen == CTL_QUEUE) {
		serve_reply(ctl, s->serve_id, -EBUSY,
			    "provider's accept queue is full");
		return;
	}
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	if (s->rx_ring_size)
		o.rx_ring_size = s->rx_ring_size;
	if (s->tx_ring_size)
		o.tx_ring_size = s->tx_ring_size;
	o.max_msg = (size_t)s->max_msg;
	vmsg_chan *c;
	int r = guest_serve(&c, (uint16_t)s->consumer_domid, s->path, &o);
	if (r < 0) {
		serve_reply(ctl, s->serve_id, r, vmsg_strerror(r));
		return;
	}
	struct ctl_ready *e = &ctl->q[(ctl->qhead + ctl->qlen) % CTL_QUEUE];
	e->c = c;
	e->peer.domid = (uint16_t)s->consumer_domid;
	e->peer.channel_id = s->serve_id;
	(void)scopy(e->peer.service, sizeof e->peer.service, s->service);
	ctl->qlen++;
	serve_reply(ctl, s->serve_id, 0, 0);
}

/* ---- receiving */

/* Read one message from vmsgd. Serve requests are handled here (returns
 * 0 after each, for accept). Result, Opened and Error are decoded into
 * ctl->in and their type returned. Anything else (unknown types, payloads
 * that do not parse or are too long) is dropped. */
static int reattach(guest_ctl *ctl, int timeout_ms);

static int pump(guest_ctl *ctl, int timeout_ms)
{
	for (;;) {
		struct vmsg_msg m;
		int r = ctl->chan ? vmsg_chan_peek(ctl->chan, &m, timeout_ms)
				  : -EPIPE;
		if ((r == -EPIPE || r == -EPROTO) && !ctl->reattaching) {
			/* vmsgd is gone: on to the next one. */
			r = reattach(ctl, timeout_ms);
			return r < 0 ? r : -ECONNRESET;
		}
		if (r < 0)
			return r;
		uint16_t type = m.type;
		size_t len = m.len;
		const struct pbw_desc *d = 0;
		switch (type) {
		case PBW_TYPE_ERROR: d = &pbw_error_desc; break;
		case VMSG_TYPE_SVC_RESULT: d = &pbw_result_desc; break;
		case VMSG_TYPE_SVC_OPENED: d = &pbw_opened_desc; break;
		case VMSG_TYPE_SVC_SERVE: d = &pbw_serve_desc; break;
		default: break;
		}
		/* Decode from a private copy: m.data may be the shared ring,
		 * which the peer can rewrite while we read it. */
		if (d && len <= CTL_MSG_MAX)
			vmsg__memcpy(ctl->msg, m.data, len);
		r = vmsg_chan_release(ctl->chan);
		if (r < 0)
			return r;
		if (!d || len > CTL_MSG_MAX ||
		    pbw_decode(d, &ctl->in, ctl->msg, len) < 0)
			continue;
		if (type == VMSG_TYPE_SVC_SERVE) {
			struct pbw_serve s = ctl->in.serve;
			handle_serve(ctl, &s);
			return 0;
		}
		return type;
	}
}

/* Wait for the answer to req: Result (its code), Opened (1, in
 * ctl->in.opened) or Error (its code). */
static int await(guest_ctl *ctl, uint32_t req, uint64_t deadline)
{
	for (;;) {
		int t = pump(ctl, left_ms(deadline));
		if (t < 0)
			return t;
		if (t == VMSG_TYPE_SVC_RESULT && ctl->in.result.req_id == req) {
			set_err(ctl, ctl->in.result.text);
			int code = ctl->in.result.code;
			/* vmsgd's codes are 0 or negative errno values. */
			return (code > 0 || code < -4095) ? -EPROTO : code;
		}
		if (t == VMSG_TYPE_SVC_OPENED && ctl->in.opened.req_id == req)
			return 1;
		if (t == PBW_TYPE_ERROR) {
			set_err(ctl, ctl->in.error.text);
			int code = ctl->in.error.code;
			return (code < 0 && code >= -4095) ? code : -EPROTO;
		}
		/* 0 (a Serve handled) or a stale answer: go on. */
	}
}

/* ---- the API */

/* Connect to vmsgd's control channel for our domain and exchange Hellos. */
static int attach(guest_ctl *ctl, uint64_t deadline)
{
	char path[64];
	char *p = path;
	(void)scopy(path, sizeof path, VMSG_CTL_PATH_PREFIX "/");
	p += slen(path);
	put_u(p, ctl->domid);

	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.max_msg = CTL_MSG_MAX;
	int r = guest_connect(&ctl->chan, 0, path, &o, left_ms(deadline));
	if (r < 0) {
		ctl->chan = 0;
		return r;
	}
	/* Hello: ours first, then vmsgd's (docs/protocol.md section 4). */
	struct pbw_hello h;
	vmsg__memset(&h, 0, sizeof h);
	h.version = PBW_PROTO_VERSION;
	h.features = PBW_FEATURES;
	h.max_msg = CTL_MSG_MAX;
	(void)scopy(h.name, sizeof h.name, "vmsg-guest");
	r = send_msg(ctl, PBW_TYPE_HELLO, &pbw_hello_desc, &h,
		     left_ms(deadline));
	if (r < 0)
		goto fail;
	uint16_t type;
	r = vmsg_chan_recv(ctl->chan, &type, ctl->msg, sizeof ctl->msg,
			   left_ms(deadline));
	if (r < 0)
		goto fail;
	if (type == PBW_TYPE_ERROR &&
	    pbw_decode(&pbw_error_desc, &ctl->in.error, ctl->msg,
		       (size_t)r) == 0) {
		set_err(ctl, ctl->in.error.text);
		r = ctl->in.error.code == -EPROTONOSUPPORT ? -EPROTONOSUPPORT
							  : -ECONNREFUSED;
		goto fail;
	}
	if (type != PBW_TYPE_HELLO ||
	    pbw_decode(&pbw_hello_desc, &ctl->in.hello, ctl->msg,
		       (size_t)r) < 0) {
		r = -EBADMSG;
		goto fail;
	}
	if ((ctl->in.hello.version >> 16) != (PBW_PROTO_VERSION >> 16)) {
		r = -EPROTONOSUPPORT;
		goto fail;
	}
	return 0;
fail:
	vmsg_chan_close(ctl->chan);
	ctl->chan = 0;
	return r;
}

int guest_ctl_open(guest_ctl **out, int timeout_ms)
{
	if (!out)
		return -EINVAL;
	guest_ctl *ctl = guest_alloc(sizeof *ctl); /* zeroed */
	if (!ctl)
		return -ENOMEM;
	ctl->domid = guest_domid();
	ctl->next_req = 1;
	int r = attach(ctl, deadline_of(timeout_ms));
	if (r < 0) {
		guest_free(ctl, sizeof *ctl);
		return r;
	}
	*out = ctl;
	return 0;
}

void guest_ctl_close(guest_ctl *ctl)
{
	if (!ctl)
		return;
	for (unsigned i = 0; i < ctl->qlen; i++)
		vmsg_chan_close(ctl->q[(ctl->qhead + i) % CTL_QUEUE].c);
	vmsg_chan_close(ctl->chan);
	guest_free(ctl, sizeof *ctl);
}

const char *guest_ctl_error(guest_ctl *ctl)
{
	return ctl ? ctl->err : "";
}

/* Send a request and wait for its answer; after a reconnect (the request
 * lost with the old vmsgd) send it again, with a new id. */
static int request(guest_ctl *ctl, uint16_t type, const struct pbw_desc *d,
		   void *m, uint32_t *req_id, uint64_t deadline)
{
	int r;
	do {
		*req_id = ctl->next_req++;
		r = ctl->chan ? send_msg(ctl, type, d, m, left_ms(deadline))
			      : -EPIPE;
		if (r == -EPIPE && !ctl->reattaching) {
			r = reattach(ctl, left_ms(deadline));
			if (r == 0)
				r = -ECONNRESET;
			continue;
		}
		if (r >= 0)
			r = await(ctl, *req_id, deadline);
	} while (r == -ECONNRESET);
	return r;
}

static int offer_once(guest_ctl *ctl, const char *name, uint64_t deadline)
{
	ctl->err[0] = 0;
	struct pbw_offer o;
	vmsg__memset(&o, 0, sizeof o);
	(void)scopy(o.service, sizeof o.service, name);
	int r = request(ctl, VMSG_TYPE_SVC_OFFER, &pbw_offer_desc, &o,
			&o.req_id, deadline);
	return r > 0 ? -EPROTO : r;
}

int guest_service_offer(guest_ctl *ctl, const char *name, int timeout_ms)
{
	if (!ctl || !name || !name_ok(name))
		return -EINVAL;
	int r = offer_once(ctl, name, deadline_of(timeout_ms));
	if (r < 0)
		return r;
	for (unsigned i = 0; i < ctl->noffers; i++)
		if (sequal(ctl->offers[i], name))
			return 0;
	/* Past CTL_OFFERS only a restarted vmsgd misses the rest. */
	if (ctl->noffers < CTL_OFFERS)
		(void)scopy(ctl->offers[ctl->noffers++],
			    sizeof ctl->offers[0], name);
	return 0;
}

/* Served channels whose consumer never came: the vmsgd that brokered them
 * is gone, and its successor will not send one. */
static void drop_unclaimed(guest_ctl *ctl)
{
	unsigned keep = 0;
	for (unsigned i = 0; i < ctl->qlen; i++) {
		struct ctl_ready e = ctl->q[(ctl->qhead + i) % CTL_QUEUE];
		if (vmsg_chan_state(e.c) == VMSG_CHAN_WAITING) {
			vmsg_chan_close(e.c);
			continue;
		}
		ctl->q[(ctl->qhead + keep++) % CTL_QUEUE] = e;
	}
	ctl->qlen = keep;
}

/* vmsgd went away (restarted, upgraded): reach the next one within the
 * caller's timeout (retrying while the old keys are still up or the new
 * ones not yet), then offer again what we offered; a name it now refuses
 * is no longer ours. Channels already handed out stay the appliance's
 * (direct: vmsgd is not in them), but their ids were the old vmsgd's, so
 * no Closed goes out for them. */
static int reattach(guest_ctl *ctl, int timeout_ms)
{
	uint64_t deadline = deadline_of(timeout_ms);

	for (;;) {
		vmsg_chan_close(ctl->chan);
		ctl->chan = 0;
		ctl->nlive = 0;
		drop_unclaimed(ctl);
		int r;
		while ((r = attach(ctl, deadline)) < 0) {
			if (r == -EPROTONOSUPPORT || r == -ECONNREFUSED ||
			    r == -ENOMEM)
				return r;
			if (timeout_ms == 0 ||
			    (deadline && guest_now_ns() >= deadline))
				return -ENOTCONN;
			guest_sleep_ms(CTL_RETRY_MS);
		}
		ctl->reattaching = true;
		for (unsigned i = 0; i < ctl->noffers && ctl->chan;) {
			r = offer_once(ctl, ctl->offers[i], deadline);
			if (r == -EPIPE || r == -EPROTO)
				break; /* this vmsgd went away too */
			if (r < 0 && r != -ETIMEDOUT && r != -EAGAIN) {
				for (unsigned k = i; k + 1 < ctl->noffers; k++)
					vmsg__memcpy(ctl->offers[k],
						     ctl->offers[k + 1],
						     sizeof ctl->offers[0]);
				ctl->noffers--;
				continue;
			}
			i++;
		}
		ctl->reattaching = false;
		if (ctl->chan && vmsg_chan_state(ctl->chan) == VMSG_CHAN_OPEN)
			return 0;
		if (deadline && guest_now_ns() >= deadline)
			return -ENOTCONN;
	}
}

static void track(guest_ctl *ctl, vmsg_chan *c, uint32_t id)
{
	if (ctl->nlive < CTL_LIVE) { /* else only vmsgd's count suffers */
		ctl->live[ctl->nlive].c = c;
		ctl->live[ctl->nlive].id = id;
		ctl->nlive++;
	}
}

static void send_closed(guest_ctl *ctl, uint32_t id)
{
	struct pbw_closed cl = {id};
	(void)send_msg(ctl, VMSG_TYPE_SVC_CLOSED, &pbw_closed_desc, &cl, 1000);
}

int guest_service_open(guest_ctl *ctl, const char *name, vmsg_chan **out,
		       int timeout_ms)
{
	if (!ctl || !out || !name || !name_ok(name))
		return -EINVAL;
	uint64_t deadline = deadline_of(timeout_ms);
	ctl->err[0] = 0;
	struct pbw_open req;
	vmsg__memset(&req, 0, sizeof req);
	(void)scopy(req.service, sizeof req.service, name);
	req.timeout_ms = timeout_ms > 0 ? (uint32_t)timeout_ms : 0;
	int r = request(ctl, VMSG_TYPE_SVC_OPEN, &pbw_open_desc, &req,
			&req.req_id, deadline);
	if (r <= 0)
		return r == 0 ? -EPROTO : r; /* a bare Result 0 is no channel */
	struct pbw_opened op = ctl->in.opened;
	if (!op.path[0] || op.provider_domid >= 0x7ff0 || op.max_msg == 0 ||
	    op.max_msg > (1u << 30))
		return -EPROTO;
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.max_msg = (size_t)op.max_msg;
	vmsg_chan *c;
	r = guest_connect(&c, (uint16_t)op.provider_domid, op.path, &o,
			  left_ms(deadline));
	if (r < 0) {
		send_closed(ctl, op.channel_id);
		return r;
	}
	track(ctl, c, op.channel_id);
	*out = c;
	return 0;
}

int guest_service_accept(guest_ctl *ctl, vmsg_chan **out,
			 struct guest_service_peer *peer, int timeout_ms)
{
	if (!ctl || !out)
		return -EINVAL;
	uint64_t deadline = deadline_of(timeout_ms);
	while (ctl->qlen == 0) {
		int r = pump(ctl, left_ms(deadline));
		if (r == -ECONNRESET)
			continue; /* a new vmsgd, our offers renewed */
		if (r < 0)
			return r;
		if (ctl->qlen == 0 && deadline && guest_now_ns() >= deadline)
			return -ETIMEDOUT;
	}
	struct ctl_ready *e = &ctl->q[ctl->qhead];
	ctl->qhead = (ctl->qhead + 1) % CTL_QUEUE;
	ctl->qlen--;
	*out = e->c;
	if (peer)
		*peer = e->peer;
	track(ctl, e->c, e->peer.channel_id);
	return 0;
}

void guest_service_close(guest_ctl *ctl, vmsg_chan *c)
{
	if (!c)
		return;
	for (unsigned i = 0; ctl && i < ctl->nlive; i++) {
		if (ctl->live[i].c != c)
			continue;
		send_closed(ctl, ctl->live[i].id);
		ctl->live[i] = ctl->live[--ctl->nlive];
		break;
	}
	vmsg_chan_close(c);
}
