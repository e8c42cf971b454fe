/* The echo appliance's vmsgd modes.
 *
 * vmsgd=1 svc=NAME offers NAME and serves up to ECHO_SVC_MAX consumers at
 * once from one wait set (vmsg/waitset.h). With forward=OTHER it is at
 * once a provider and a consumer: each channel vmsgd brokers to it gets a
 * channel of its own to service OTHER (opened through vmsgd), and every
 * message goes on upstream and every reply back (a layer stacked on
 * another service, as a storage layer sits on a disk).
 *
 * The control channel cannot join the wait set: it is replaced when vmsgd
 * restarts. So the wait is sliced: every ECHO_ACCEPT_MS at the latest the
 * provider takes the channels vmsgd has brokered since
 * (vmsg_service_accept with timeout 0, which also drives the reconnect
 * and the re-offer after a vmsgd restart). A consumer waits at most that
 * long for its first message to be read.
 */
#include <vmsg/chan.h>
#include <vmsg/guest.h>
#include <vmsg/service.h>
#include <vmsg/waitset.h>

#include "echo.h"
#include "vmsg_errno.h"

#define ECHO_SVC_MAX 16
#define ECHO_ACCEPT_MS 20
/* How long a forwarded message may wait for room on either side before
 * its pair is given up (one stuck peer must not hold up the others). */
#define ECHO_FWD_SEND_MS 5000

struct echo_conn {
	vmsg_chan *down;	/* the consumer's channel */
	vmsg_chan *up;		/* forward: our channel to the other service */
	uint32_t id;
	uint16_t domid;
	unsigned long long bytes, msgs;
	struct echo_sum got;	/* cksum=1: the consumer's records */
	bool used;
};

struct echo_svc {
	vmsg_ctl *ctl;
	const char *forward;
	struct vmsg_waitset ws;
	struct echo_conn conn[ECHO_SVC_MAX];
	unsigned open, done;
	unsigned gate;		/* gate=N: echo nothing until N are open */
	unsigned long long bytes, msgs;
	bool first_seen;
};

static void conn_end(struct echo_svc *s, struct echo_conn *k, int err)
{
	if (err && vmsg_chan_state(k->down) != VMSG_CHAN_CLOSED)
		guest_printf("ECHO channel %u: %s\n", (unsigned)k->id,
			     vmsg_strerror(err));
	guest_printf("ECHO channel %u done: %llu bytes, %llu messages",
		     (unsigned)k->id, k->bytes, k->msgs);
	if (echo_cksum)
		guest_printf(", received cksum %u %llu", echo_sum_final(&k->got),
			     k->got.len);
	guest_printf("\n");
	(void)vmsg_waitset_remove(&s->ws, k->down);
	vmsg_service_close(s->ctl, k->down);
	if (k->up) {
		(void)vmsg_waitset_remove(&s->ws, k->up);
		vmsg_service_close(s->ctl, k->up);
	}
	k->used = false;
	s->open--;
	s->done++;
}

/* Move every message waiting on `from` to `to` (to == from: echo).
 * 0: nothing more for now; < 0: this pair is over (a close or a
 * failure). */
static int pump(struct echo_svc *s, struct echo_conn *k, vmsg_chan *from,
		vmsg_chan *to)
{
	for (;;) {
		struct vmsg_msg m;
		int r = vmsg_chan_peek(from, &m, 0);
		/* -EAGAIN on an open channel: nothing more (and the peer
		 * was asked for the kick of its next message). */
		if (r < 0)
			return vmsg_chan_state(from) == VMSG_CHAN_OPEN ? 0 : r;
		if (from == k->down) {
			if (!s->first_seen) {
				s->first_seen = true;
				guest_printf("ECHO first message at uptime %lu us\n",
					     (unsigned long)(guest_uptime_ns() / 1000));
			}
			if (echo_cksum)
				echo_sum_record(&k->got, m.type, m.data,
						(uint32_t)m.len);
			k->bytes += m.len;
			k->msgs++;
			s->bytes += m.len;
			s->msgs++;
		}
		/* m.data may point into the shared ring: send copies it out
		 * before we release it. */
		r = vmsg_chan_send(to, m.type, m.data, m.len, 0,
				   to == from ? -1 : ECHO_FWD_SEND_MS);
		vmsg_chan_release(from);
		if (r < 0)
			return r;
	}
}

/* Take the channels vmsgd brokered since the last look. */
static int take_new(struct echo_svc *s)
{
	for (;;) {
		vmsg_chan *c;
		struct vmsg_service_peer who;
		int r = vmsg_service_accept(s->ctl, &c, &who, 0);
		if (r == -EAGAIN || r == -ETIMEDOUT)
			return 0;
		if (r < 0)
			return r;
		struct echo_conn *k = 0;
		for (unsigned i = 0; i < ECHO_SVC_MAX && !k; i++)
			if (!s->conn[i].used)
				k = &s->conn[i];
		if (!k) {
			guest_printf("ECHO channel %u from domain %u: %u "
				     "channels open already\n",
				     (unsigned)who.channel_id,
				     (unsigned)who.domid, ECHO_SVC_MAX);
			vmsg_service_close(s->ctl, c);
			continue;
		}
		*k = (struct echo_conn){.down = c, .id = who.channel_id,
					.domid = who.domid, .used = true};
		echo_sum_init(&k->got);
		s->open++;
		guest_printf("ECHO channel %u: domain %u opened '%s'\n",
			     (unsigned)who.channel_id, (unsigned)who.domid,
			     who.service);
		if (s->forward) {
			r = vmsg_service_open(s->ctl, s->forward, &k->up, 30000);
			if (r < 0) {
				guest_printf("ECHO channel %u: cannot open '%s': "
					     "%s: %s\n", (unsigned)k->id,
					     s->forward, vmsg_strerror(r),
					     vmsg_ctl_error(s->ctl));
				k->up = 0;
				conn_end(s, k, 0);
				continue;
			}
		}
		if ((r = vmsg_waitset_add(&s->ws, c, k)) < 0 ||
		    (k->up && (r = vmsg_waitset_add(&s->ws, k->up, k)) < 0)) {
			conn_end(s, k, r);
			continue;
		}
		if (s->gate)
			continue; /* read when the gate opens */
		/* It may hold messages already, and no event will say so. */
		r = pump(s, k, c, k->up ? k->up : c);
		if (r < 0)
			conn_end(s, k, r);
	}
}

/* gate=N: once N channels are open together, let the echoes go. */
static void gate_check(struct echo_svc *s)
{
	if (!s->gate || s->open < s->gate)
		return;
	guest_printf("ECHO gate open: %u channels open at once\n", s->open);
	s->gate = 0;
	for (unsigned i = 0; i < ECHO_SVC_MAX; i++) {
		struct echo_conn *k = &s->conn[i];
		if (!k->used)
			continue;
		int r = pump(s, k, k->down, k->up ? k->up : k->down);
		if (r < 0)
			conn_end(s, k, r);
	}
}

/* Open service NAME on ctl and run the exchange. */
static int open_once(vmsg_ctl *ctl, const char *name, unsigned count,
		     size_t maxlen)
{
	vmsg_chan *c;
	int r = vmsg_service_open(ctl, name, &c, 60000);
	if (r < 0) {
		guest_printf("OPEN '%s' refused: %s: %s\n", name,
			     vmsg_strerror(r), vmsg_ctl_error(ctl));
		return 1;
	}
	guest_printf("OPEN '%s' connected (uptime %lu us)\n", name,
		     (unsigned long)(guest_uptime_ns() / 1000));
	r = echo_exchange(c, "OPEN", count, maxlen);
	vmsg_service_close(ctl, c);
	return r;
}

/* Reach vmsgd, saying first how long we wait: a guest started before
 * vmsgd (or with none) would otherwise sit silent for the whole wait. The
 * error is vmsg_ctl_strerror()'s, which names the cause (no vmsgd serves
 * this domain, another process holds the channel, no answer). */
static int ctl_reach(vmsg_ctl **ctl, const char *label, unsigned wait_s)
{
	guest_printf("%s waiting up to %u s for vmsgd\n", label, wait_s);
	int r = vmsg_ctl_open(ctl, (int)(wait_s * 1000u));
	if (r < 0)
		guest_printf("%s cannot reach vmsgd: %s\n", label,
			     vmsg_ctl_strerror(r));
	return r;
}

int echo_open(const char *name, unsigned count, size_t maxlen,
	      unsigned again_ms, unsigned wait_s)
{
	vmsg_ctl *ctl;
	int r = ctl_reach(&ctl, "OPEN", wait_s);
	if (r < 0)
		return 1;
	r = open_once(ctl, name, count, maxlen);
	if (r == 0 && again_ms) {
		guest_printf("OPEN again in %u ms\n", again_ms);
		guest_sleep_ms(again_ms);
		r = open_once(ctl, name, count, maxlen);
	}
	vmsg_ctl_close(ctl);
	return r;
}

int echo_offer(const char *name, const char *forward, unsigned clients,
	       unsigned gate, unsigned wait_s)
{
	struct echo_svc *s = guest_alloc(sizeof(*s));
	if (!s) {
		guest_printf("ECHO out of memory\n");
		return 1;
	}
	s->forward = forward;
	s->gate = gate;
	vmsg_waitset_init(&s->ws);
	int r = ctl_reach(&s->ctl, "ECHO", wait_s);
	if (r < 0) {
		guest_free(s, sizeof(*s));
		return 1;
	}
	r = vmsg_service_offer(s->ctl, name, 30000);
	if (r < 0) {
		guest_printf("ECHO offer '%s' refused: %s: %s\n", name,
			     vmsg_strerror(r), vmsg_ctl_error(s->ctl));
		vmsg_ctl_close(s->ctl);
		guest_free(s, sizeof(*s));
		return 1;
	}
	guest_printf("ECHO offering '%s' through vmsgd%s%s (uptime %lu us)\n",
		     name, forward ? ", forwarding to " : "",
		     forward ? forward : "",
		     (unsigned long)(guest_uptime_ns() / 1000));
	int rc = 0;
	while (!clients || s->done < clients) {
		if ((r = take_new(s)) < 0) {
			guest_printf("ECHO accept: %s\n", vmsg_strerror(r));
			rc = 1;
			break;
		}
		gate_check(s);
		struct vmsg_waitset_event ev[8];
		int n = vmsg_waitset_count(&s->ws) && !s->gate
				? vmsg_waitset_wait(&s->ws, ev, 8, ECHO_ACCEPT_MS)
				: 0;
		if (!vmsg_waitset_count(&s->ws) || s->gate)
			guest_sleep_ms(ECHO_ACCEPT_MS);
		if (n < 0) {
			guest_printf("ECHO wait: %s\n", vmsg_strerror(n));
			rc = 1;
			break;
		}
		for (int e = 0; e < n; e++) {
			struct echo_conn *k = ev[e].data;
			if (!k->used)
				continue; /* ended by an earlier event */
			vmsg_chan *from = ev[e].chan;
			vmsg_chan *to = k->up ? (from == k->up ? k->down : k->up)
					      : from;
			r = pump(s, k, from, to);
			/* A close on either side of a forwarded pair ends it
			 * (the consumer's close is the normal end). */
			if (r < 0)
				conn_end(s, k, from == k->down ? r : 0);
		}
	}
	for (unsigned i = 0; i < ECHO_SVC_MAX; i++)
		if (s->conn[i].used)
			conn_end(s, &s->conn[i], 0);
	vmsg_ctl_close(s->ctl);
	guest_printf("ECHO done: %llu bytes, %llu messages\n", s->bytes,
		     s->msgs);
	guest_free(s, sizeof(*s));
	return rc;
}
