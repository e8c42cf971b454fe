/* A provider that speaks vmsgd's control protocol by hand and holds
 * every Serve unanswered until the driver says (the vmsgd tests of
 * lingering opens). Role "hold" (vt_spawn(&r, 1, "hold", NAME)): offers
 * NAME (NULL: `echo`), says "offered", then takes one command a line:
 *   drain      take what vmsgd sent; says "serves N unclosed U" (N held,
 *              unanswered; U of them not told Closed by vmsgd yet)
 *   next       wait for one more Serve; says "serve ID"
 *   ids        says "ids N ID..." (the held Serves' ids)
 *   closed ID  wait for Closed{ID}; says "closed"
 *   told ID    the same, but Closed{ID} stays noted (for drop); says
 *              "told"
 *   closedall  wait for a Closed for every held Serve; says "closed N"
 *   msg        answer the last held Serve as served by message (with a
 *              grant reference and port that only look real: vmsgd passes
 *              them on, nobody maps them) and forget it; says "served"
 *   answer E   answer every held Serve: the first E with an error (no
 *              Closed may come for those), the rest served for domain 0,
 *              each of which must then get Closed; says "answered"
 *   drop E     answer, as the library does, every held Serve vmsgd has
 *              told Closed: the first E with an error (nothing more may
 *              come for those), the rest served for their consumer, then
 *              closed and Closed{id} sent to vmsgd; says "dropped N"
 *   quit       close the control channel and exit 0
 * A test whose provider must set up by message (spares) sets
 * hold_features = VMSG_FEATURE_SVC_SETUP_MSG in its role before
 * role_hold(). */
#ifndef VT_HOLD_H
#define VT_HOLD_H

#include <stdlib.h>

#include "vt_raw.h"

#define HELD 64u

static vmsg_chan *prov_ctl;
static struct {
	uint32_t id;
	uint16_t consumer;
	char path[128];
} held[HELD];
static unsigned nheld, nclosed;
static uint32_t closed_ids[HELD];
static uint32_t failed_ids[HELD]; /* answered with an error */
static unsigned nfailed;
static uint64_t hold_features; /* our Hello's, besides the usual */

/* Take one control message (timeout_ms: 0 polls): a Serve is held, a
 * Closed noted. 1: taken; 0: none came. */
static int prov_take(int timeout_ms)
{
	uint64_t abuf[512];
	struct vmsg_arena a;
	vmsg_arena_init(&a, abuf, sizeof abuf);
	/* Its type first: Serve has no built-in decoder. */
	struct vmsg_msg pk;
	int r = vmsg_chan_peek(prov_ctl, &pk, timeout_ms);
	if (r == -EAGAIN || r == -ETIMEDOUT)
		return 0;
	if (r < 0)
		VMSG_TEST_FAIL("dom1: peek: %s", vmsg_strerror(r));
	const ProtobufCMessageDescriptor *desc =
		pk.type == VMSG_TYPE_SVC_SERVE ? &vmsg__service__serve__descriptor
					       : &vmsg__service__closed__descriptor;
	uint16_t type;
	ProtobufCMessage *m;
	r = vmsg_proto_recv(prov_ctl, desc, &a, &type, &m, 0);
	if (r < 0)
		VMSG_TEST_FAIL("dom1: recv: %s", vmsg_strerror(r));
	if (type == VMSG_TYPE_SVC_SERVE) {
		const Vmsg__Service__Serve *sv = (const void *)m;
		ASSERT_LT(nheld, HELD);
		held[nheld].id = sv->serve_id;
		held[nheld].consumer = (uint16_t)sv->consumer_domid;
		snprintf(held[nheld].path, sizeof held[nheld].path, "%s",
			 sv->path);
		nheld++;
	} else if (type == VMSG_TYPE_SVC_CLOSED) {
		const Vmsg__Service__Closed *cl = (const void *)m;
		for (unsigned i = 0; i < nfailed; i++)
			if (failed_ids[i] == cl->channel_id)
				VMSG_TEST_FAIL("dom1: Closed for channel %u, "
					       "which it could not serve",
					       cl->channel_id);
		ASSERT_LT(nclosed, HELD);
		closed_ids[nclosed++] = cl->channel_id;
	} else {
		VMSG_TEST_FAIL("dom1: unexpected message type %#x",
			       (unsigned)type);
	}
	return 1;
}

/* Has vmsgd told Closed{id} (not consumed)? */
static bool told_closed(uint32_t id)
{
	for (unsigned i = 0; i < nclosed; i++)
		if (closed_ids[i] == id)
			return true;
	return false;
}

static unsigned unclosed(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < nheld; i++)
		n += !told_closed(held[i].id);
	return n;
}

static bool was_closed(uint32_t id)
{
	for (unsigned i = 0; i < nclosed; i++)
		if (closed_ids[i] == id) {
			closed_ids[i] = closed_ids[--nclosed]; /* once */
			return true;
		}
	return false;
}

/* Answer Serve `id`: code, and (set up by message) ref and port. */
static void send_serve_result_msg(uint32_t id, int code, uint32_t ref,
				  uint32_t port)
{
	Vmsg__Service__ServeResult sr = VMSG__SERVICE__SERVE_RESULT__INIT;
	sr.serve_id = id;
	sr.code = code;
	sr.text = (char *)(code ? "no room" : "");
	sr.ring_ref = ref;
	sr.event_port = port;
	ASSERT_TRUE(vmsg_proto_send(prov_ctl, VMSG_TYPE_SVC_SERVE_RESULT,
				    &sr.base, 0, SIM_WAIT_MS) > 0);
}

static void send_serve_result(uint32_t id, int code)
{
	send_serve_result_msg(id, code, 0, 0);
}

/* Answer every held Serve: the first `errors` with an error, the rest
 * served (for domain 0); then wait for each served one's Closed. */
static void prov_answer(unsigned errors)
{
	vmsg_chan *served[HELD];
	uint32_t ids[HELD];
	unsigned n = 0;
	for (unsigned i = 0; i < nheld; i++) {
		if (i < errors) {
			failed_ids[nfailed++] = held[i].id;
			send_serve_result(held[i].id, -ENOMEM);
			continue;
		}
		struct vmsg_chan_opts o;
		vmsg_chan_opts_init(&o);
		int r = vmsg_xen_serve(&served[n], 0, held[i].path, &o);
		if (r < 0)
			VMSG_TEST_FAIL("dom1: serve %s: %s", held[i].path,
				       vmsg_strerror(r));
		ids[n++] = held[i].id;
		send_serve_result(held[i].id, 0);
	}
	nheld = 0;
	for (unsigned i = 0; i < n; i++) {
		while (!was_closed(ids[i]))
			if (!prov_take(SIM_WAIT_MS))
				VMSG_TEST_FAIL("dom1: no Closed for served "
					       "channel %u",
					       ids[i]);
		vmsg_chan_close(served[i]);
	}
}

/* The library's answer to Closed{id} for a Serve it reads first: it
 * serves the channel (or fails to: `fail`), answers, then closes what it
 * served and says Closed{id}. */
static void prov_drop_one(unsigned i, bool fail)
{
	if (fail) {
		failed_ids[nfailed++] = held[i].id;
		send_serve_result(held[i].id, -ENOMEM);
		return;
	}
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	vmsg_chan *c;
	int r = vmsg_xen_serve(&c, held[i].consumer, held[i].path, &o);
	if (r < 0)
		VMSG_TEST_FAIL("dom1: serve %s: %s", held[i].path,
			       vmsg_strerror(r));
	send_serve_result(held[i].id, 0);
	vmsg_chan_close(c);
	Vmsg__Service__Closed cl = VMSG__SERVICE__CLOSED__INIT;
	cl.channel_id = held[i].id;
	ASSERT_TRUE(vmsg_proto_send(prov_ctl, VMSG_TYPE_SVC_CLOSED, &cl.base,
				    0, SIM_WAIT_MS) > 0);
}

/* Drop every held Serve vmsgd told Closed (the first `errors` failed);
 * the number dropped. */
static unsigned prov_drop(unsigned errors)
{
	unsigned n = 0;
	for (unsigned i = 0; i < nheld;) {
		if (!was_closed(held[i].id)) {
			i++;
			continue;
		}
		prov_drop_one(i, n < errors);
		n++;
		held[i] = held[--nheld];
	}
	return n;
}

/* The role: offer vt_arg (or `echo`), then obey the driver. */
static int role_hold(void)
{
	char line[64], text[200];
	uint32_t req;
	int code;
	prov_ctl = vt_raw_connect_ex(1, hold_features);
	ASSERT_TRUE(send_offer(prov_ctl, 1, vt_arg ? vt_arg : "echo") > 0);
	ASSERT_EQ(read_result(prov_ctl, SIM_WAIT_MS, &req, &code, text,
			      sizeof text),
		  0);
	ASSERT_EQ(code, 0);
	sim_say(vt_out, "offered");
	for (;;) {
		sim_expect(vt_in, "", line, sizeof line);
		if (!strncmp(line, "quit", 4)) {
			break;
		} else if (!strncmp(line, "drain", 5)) {
			/* Everything vmsgd sent is in the ring by now. */
			while (prov_take(0))
				;
			sim_say(vt_out, "serves %u unclosed %u", nheld,
				unclosed());
		} else if (!strncmp(line, "next", 4)) {
			unsigned had = nheld;
			while (nheld == had)
				if (!prov_take(SIM_WAIT_MS))
					VMSG_TEST_FAIL("dom1: no Serve");
			sim_say(vt_out, "serve %u", held[nheld - 1].id);
		} else if (!strncmp(line, "closed ", 7)) {
			uint32_t id = (uint32_t)strtoul(line + 7, NULL, 10);
			while (!was_closed(id))
				if (!prov_take(SIM_WAIT_MS))
					VMSG_TEST_FAIL("dom1: no Closed for "
						       "channel %u",
						       id);
			sim_say(vt_out, "closed");
		} else if (!strncmp(line, "told ", 5)) {
			uint32_t id = (uint32_t)strtoul(line + 5, NULL, 10);
			while (!told_closed(id))
				if (!prov_take(SIM_WAIT_MS))
					VMSG_TEST_FAIL("dom1: no Closed for "
						       "channel %u",
						       id);
			sim_say(vt_out, "told");
		} else if (!strncmp(line, "closedall", 9)) {
			/* Every held Serve, still unanswered, gets Closed. */
			for (unsigned i = 0; i < nheld; i++)
				while (!was_closed(held[i].id))
					if (!prov_take(SIM_WAIT_MS))
						VMSG_TEST_FAIL("dom1: no Closed "
							       "for channel %u",
							       held[i].id);
			sim_say(vt_out, "closed %u", nheld);
		} else if (!strncmp(line, "ids", 3)) {
			char ids[HELD * 11 + 16];
			size_t w = (size_t)snprintf(ids, sizeof ids, "ids %u",
						    nheld);
			for (unsigned i = 0; i < nheld; i++)
				w += (size_t)snprintf(ids + w, sizeof ids - w,
						      " %u", held[i].id);
			sim_say(vt_out, "%s", ids);
		} else if (!strncmp(line, "drop ", 5)) {
			unsigned n = prov_drop((unsigned)atoi(line + 5));
			sim_say(vt_out, "dropped %u", n);
		} else if (!strncmp(line, "msg", 3)) {
			ASSERT_GT(nheld, 0u);
			nheld--;
			send_serve_result_msg(held[nheld].id, 0, 8, 9);
			sim_say(vt_out, "served");
		} else if (!strncmp(line, "answer ", 7)) {
			prov_answer((unsigned)atoi(line + 7));
			sim_say(vt_out, "answered");
		} else {
			VMSG_TEST_FAIL("dom1: '%s'?", line);
		}
	}
	vmsg_chan_close(prov_ctl);
	return 0;
}

/* Driver side: dom2's channels vmsgctl lists as lingering. */
static inline unsigned lingering(void)
{
	char buf[16384];
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json list channels"), 0);
	unsigned n = 0;
	for (const char *p = buf;
	     (p = strstr(p, "\"consumer\":2,\"state\":\"lingering\"")); p++)
		n++;
	return n;
}

#endif
