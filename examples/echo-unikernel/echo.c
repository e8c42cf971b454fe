/* echo-unikernel: a vmsg echo service as a PVH unikernel.
 *
 * Serves one channel at /local/domain/<us>/data/vchan/<peer>/<port> (the
 * path vmsg_xen_path() and `vmsg-cat --xen --port` use) and sends every
 * message back with its type, or in mode=raw every byte (a plain
 * libxenvchan client can talk to it). When a client leaves, it serves the
 * next one at the same address.
 *
 * cmdline (xl config `cmdline`): port=NAME (echo), peer=DOMID (0),
 * mode=msg|raw (msg), clients=N (0: forever; power off after N clients).
 * A message of type ECHO_TYPE_QUIT is echoed and then ends the service.
 *
 * role=client turns it around (the unikernel as a client, mapping the
 * server's grants): connect to domain peer's channel at
 * /local/domain/<peer>/data/vchan/<us>/<port>, send count=N messages of
 * 1..40000 bytes (some fragmented) to an echo server there, check every
 * echo, print "PING ok ..." and power off.
 *
 * multi=N (up to 16) serves N channels at once instead, at <path>0 ..
 * <path>N-1, one client each, all from one wait set (vmsg/waitset.h),
 * and powers off when all N clients have come and gone ("MULTI done").
 *
 * vmsgd=1 offers service svc=NAME (echo) through vmsgd instead and echoes
 * on every channel vmsgd brokers to it (direct mode), one at a time.
 * open=NAME opens service NAME through vmsgd (the client of the former):
 * count=N (100) messages of 1..size=B (40000) bytes, typed, each echo
 * checked and both directions checksummed; prints "OPEN ok ..." or "OPEN
 * closed ..." when the provider went away mid-stream. again=MS: then wait
 * MS milliseconds and open and exchange once more on the same control
 * channel (across a vmsgd restart, say).
 *
 * The messages of role=client and open=NAME: message i (from 0) has type
 * 0x100 + i % 16, length 1 + (i * 7919) % size (32-bit unsigned
 * arithmetic) and byte k of it is (i * 31 + k) mod 256. The checksums are
 * POSIX cksum's CRC (the `cksum` command's) of the message records, each
 * record the type (2 bytes, little-endian), the length (4 bytes,
 * little-endian) and the bytes, so that a test can compare them with
 * `cksum` of the same records written by another program
 * (tests/guest/echo_pattern.c). cksum=1 makes the echo side checksum the
 * records it received likewise, per client or channel, and print them
 * ("received cksum CRC LENGTH"): data that crossed the channel, checked
 * by a test against that independent source.
 *
 * The same source builds as a Linux program over the SDK's Linux target
 * (guest/linux/; the arguments are the cmdline), echo-appliance, e.g.
 * under `xensim run`. Every word is checked first (echo_args.c): an
 * unknown key, a key given twice or a bad value ends it with status 2 and
 * a message; --help prints the usage.
 *
 * Prints its uptime when the first message arrives ("boot-to-first-
 * message"), and per client the bytes and messages it echoed.
 */
#include <vmsg/chan.h>
#include <vmsg/guest.h>
#include <vmsg/service.h>
#include <vmsg/waitset.h>
#include <vmsg/xen.h>

#include "echo_args.h"

#define ECHO_TYPE_QUIT 0x7e00u
#define ECHO_MAX_MSG (1u << 20)
#define ECHO_RAW_BUF (64u * 1024u)

static unsigned parse_uint(const char *s, unsigned dflt)
{
	unsigned v = 0;
	if (!*s)
		return dflt;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return dflt;
		v = v * 10 + (unsigned)(*s - '0');
	}
	return v;
}

static void put_str(char **p, const char *s)
{
	while (*s)
		*(*p)++ = *s++;
}

static void put_uint(char **p, unsigned v)
{
	char t[12];
	int n = 0;
	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*(*p)++ = t[--n];
}

/* POSIX cksum: CRC-32 with polynomial 0x04c11db7, most significant bit
 * first, starting from 0, over the data and then its length (least
 * significant byte first, as few bytes as it takes), complemented. */
struct echo_sum {
	uint32_t crc;
	unsigned long long len;
};

static uint32_t crc_table[256];

static void sum_init(struct echo_sum *s)
{
	if (!crc_table[1])
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i << 24;
			for (int b = 0; b < 8; b++)
				c = c & 0x80000000u ? (c << 1) ^ 0x04c11db7u : c << 1;
			crc_table[i] = c;
		}
	s->crc = 0;
	s->len = 0;
}

static uint32_t crc_bytes(uint32_t crc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		crc = (crc << 8) ^ crc_table[(crc >> 24) ^ p[i]];
	return crc;
}

/* One message record: type and length (little-endian), then the bytes. */
static void sum_record(struct echo_sum *s, uint16_t type, const void *p,
		       uint32_t len)
{
	uint8_t h[6] = { (uint8_t)type, (uint8_t)(type >> 8), (uint8_t)len,
			 (uint8_t)(len >> 8), (uint8_t)(len >> 16),
			 (uint8_t)(len >> 24) };
	s->crc = crc_bytes(s->crc, h, sizeof h);
	s->crc = crc_bytes(s->crc, p, len);
	s->len += sizeof h + len;
}

static unsigned sum_final(const struct echo_sum *s)
{
	uint32_t crc = s->crc;
	for (unsigned long long n = s->len; n; n >>= 8) {
		uint8_t b = (uint8_t)n;
		crc = crc_bytes(crc, &b, 1);
	}
	return ~crc;
}

/* cksum=1: the echo side checksums what it receives. */
static bool g_cksum;

struct echo_stats {
	unsigned long long bytes, msgs;
	bool first_seen;
	struct echo_sum got; /* with g_cksum: this client's records */
};

static void first_message(struct echo_stats *st)
{
	if (st->first_seen)
		return;
	st->first_seen = true;
	guest_printf("ECHO first message at uptime %lu us\n",
		     (unsigned long)(guest_uptime_ns() / 1000));
}

/* Typed messages: returns 1 if asked to quit, 0 when the client left. */
static int echo_msgs(vmsg_chan *c, struct echo_stats *st)
{
	for (;;) {
		struct vmsg_msg m;
		int r = vmsg_chan_peek(c, &m, -1);
		if (r < 0) {
			/* The client's close is the normal end. */
			if (vmsg_chan_state(c) != VMSG_CHAN_CLOSED)
				guest_printf("ECHO recv: %s\n", vmsg_strerror(r));
			return 0;
		}
		first_message(st);
		if (g_cksum)
			sum_record(&st->got, m.type, m.data, (uint32_t)m.len);
		/* m.data may point into the shared ring: send copies it out
		 * before we release it, and the peer's later scribbles only
		 * change what it gets back. */
		r = vmsg_chan_send(c, m.type, m.data, m.len, 0, -1);
		uint16_t type = m.type;
		vmsg_chan_release(c);
		if (r < 0) {
			guest_printf("ECHO send: %s\n", vmsg_strerror(r));
			return 0;
		}
		st->bytes += m.len;
		st->msgs++;
		if (type == ECHO_TYPE_QUIT)
			return 1;
	}
}

/* A raw byte stream: echo everything until the client leaves. */
static int echo_raw(vmsg_chan *c, struct echo_stats *st, char *buf)
{
	for (;;) {
		int n = vmsg_chan_read(c, buf, ECHO_RAW_BUF, -1);
		if (n < 0)
			return 0;
		first_message(st);
		for (int off = 0; off < n;) {
			int w = vmsg_chan_write(c, buf + off, (size_t)(n - off), -1);
			if (w < 0)
				return 0;
			off += w;
		}
		st->bytes += (unsigned)n;
	}
}

/* Send count typed messages of 1..maxlen bytes (type 0x100 + i % 16) on c
 * and check every echo: length, type and bytes; checksum (cksum) the
 * records sent and received. Prints "<label> ok ..." with both checksums
 * or why it stopped; a channel the peer closed (or whose domain died) is
 * reported as "<label> closed". */
static int exchange(vmsg_chan *c, const char *label, unsigned count,
		    size_t maxlen)
{
	uint8_t *out = guest_alloc(maxlen), *in = guest_alloc(maxlen);
	if (!out || !in)
		return 1;
	unsigned long long bytes = 0;
	struct echo_sum sum_out, sum_in;
	sum_init(&sum_out);
	sum_init(&sum_in);
	uint64_t t0 = guest_now_ns();
	int rc = 0;
	unsigned i = 0;
	for (; i < count; i++) {
		size_t len = 1 + (size_t)(i * 7919u) % maxlen;
		uint16_t type = (uint16_t)(0x100 + i % 16);
		for (size_t k = 0; k < len; k++)
			out[k] = (uint8_t)(i * 31u + k);
		sum_record(&sum_out, type, out, (uint32_t)len);
		int r = vmsg_chan_send(c, type, out, len, 0, 60000);
		uint16_t got = 0;
		if (r >= 0)
			r = vmsg_chan_recv(c, &got, in, maxlen, 60000);
		if (r < 0) {
			bool closed = vmsg_chan_state(c) == VMSG_CHAN_CLOSED;
			guest_printf("%s %s at message %u after %llu bytes: %s "
				     "(uptime %lu us)\n", label,
				     closed ? "closed" : "failed", i, bytes,
				     vmsg_strerror(r),
				     (unsigned long)(guest_uptime_ns() / 1000));
			rc = closed ? 3 : 1;
			break;
		}
		if (i == 0)
			guest_printf("%s first echo at uptime %lu us\n", label,
				     (unsigned long)(guest_uptime_ns() / 1000));
		sum_record(&sum_in, got, in, (uint32_t)r);
		if ((size_t)r != len || got != type ||
		    __builtin_memcmp(in, out, len) != 0) {
			guest_printf("%s message %u: echo differs\n", label, i);
			rc = 1;
			break;
		}
		bytes += len;
	}
	if (rc == 0)
		guest_printf("%s ok %u messages, %llu bytes, sent cksum %u %llu, "
			     "received cksum %u %llu, %lu us per round trip\n",
			     label, count, bytes, sum_final(&sum_out),
			     sum_out.len, sum_final(&sum_in), sum_in.len,
			     (unsigned long)((guest_now_ns() - t0) / 1000 /
					     (count ? count : 1)));
	guest_free(out, maxlen);
	guest_free(in, maxlen);
	return rc;
}

static int ping(unsigned server, const char *port, unsigned count)
{
	char path[160], *p = path;
	put_str(&p, "/local/domain/");
	put_uint(&p, server);
	put_str(&p, "/data/vchan/");
	put_uint(&p, guest_domid());
	put_str(&p, "/");
	put_str(&p, port);
	*p = 0;

	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.max_msg = ECHO_MAX_MSG;
	vmsg_chan *c;
	int r = guest_connect(&c, (uint16_t)server, path, &o, 120000);
	if (r < 0) {
		guest_printf("PING cannot connect to %s: %s\n", path,
			     vmsg_strerror(r));
		return 1;
	}
	guest_printf("PING connected to %s (uptime %lu us)\n", path,
		     (unsigned long)(guest_uptime_ns() / 1000));
	r = exchange(c, "PING", count, 40000);
	vmsg_chan_close(c);
	return r;
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
	r = exchange(c, "OPEN", count, maxlen);
	vmsg_service_close(ctl, c);
	return r;
}

/* open=NAME: open service NAME through vmsgd and run the exchange; with
 * again_ms, once more after that pause. */
static int open_service(const char *name, unsigned count, size_t maxlen,
			unsigned again_ms)
{
	vmsg_ctl *ctl;
	int r = vmsg_ctl_open(&ctl, 120000);
	if (r < 0) {
		guest_printf("OPEN cannot reach vmsgd: %s\n", vmsg_strerror(r));
		return 1;
	}
	r = open_once(ctl, name, count, maxlen);
	if (r == 0 && again_ms) {
		guest_printf("OPEN again in %u ms\n", again_ms);
		guest_sleep_ms(again_ms);
		r = open_once(ctl, name, count, maxlen);
	}
	vmsg_ctl_close(ctl);
	return r;
}

/* vmsgd=1: offer service NAME through vmsgd and echo on every channel
 * vmsgd brokers, one consumer at a time (one vCPU, one wait: a consumer
 * that opens while another is served waits until that one leaves, within
 * its open timeout). clients=N: stop after N. */
static int offer_service(const char *name, unsigned clients)
{
	vmsg_ctl *ctl;
	int r = vmsg_ctl_open(&ctl, 120000);
	if (r < 0) {
		guest_printf("ECHO cannot reach vmsgd: %s\n", vmsg_strerror(r));
		return 1;
	}
	r = vmsg_service_offer(ctl, name, 30000);
	if (r < 0) {
		guest_printf("ECHO offer '%s' refused: %s: %s\n", name,
			     vmsg_strerror(r), vmsg_ctl_error(ctl));
		vmsg_ctl_close(ctl);
		return 1;
	}
	guest_printf("ECHO offering '%s' through vmsgd (uptime %lu us)\n",
		     name, (unsigned long)(guest_uptime_ns() / 1000));
	struct echo_stats st = {0, 0, false, {0, 0}};
	for (unsigned n = 1; !clients || n <= clients; n++) {
		vmsg_chan *c;
		struct vmsg_service_peer who;
		r = vmsg_service_accept(ctl, &c, &who, -1);
		if (r < 0) {
			guest_printf("ECHO accept: %s\n", vmsg_strerror(r));
			break;
		}
		r = vmsg_chan_accept(c, 60000);
		if (r < 0) {
			guest_printf("ECHO channel %u from domain %u never "
				     "connected: %s\n", (unsigned)who.channel_id,
				     (unsigned)who.domid, vmsg_strerror(r));
			vmsg_service_close(ctl, c);
			continue;
		}
		guest_printf("ECHO channel %u: domain %u opened '%s'\n",
			     (unsigned)who.channel_id, (unsigned)who.domid,
			     who.service);
		unsigned long long b0 = st.bytes, m0 = st.msgs;
		sum_init(&st.got);
		int quit = echo_msgs(c, &st);
		guest_printf("ECHO channel %u done: %llu bytes, %llu messages",
			     (unsigned)who.channel_id, st.bytes - b0,
			     st.msgs - m0);
		if (g_cksum)
			guest_printf(", received cksum %u %llu", sum_final(&st.got),
				     st.got.len);
		guest_printf("\n");
		vmsg_service_close(ctl, c);
		if (quit)
			break;
	}
	vmsg_ctl_close(ctl);
	guest_printf("ECHO done: %llu bytes, %llu messages\n", st.bytes,
		     st.msgs);
	return 0;
}

/* multi=N: N channels at once, at <path><i> for i in 0..N-1, each for one
 * client, all echoed from one wait set (vmsg/waitset.h): one blocking wait
 * for all of them, then every ready channel read until it would wait.
 * Ends when every client has come and gone. */
#define ECHO_MULTI_MAX 16

static int multi_serve(const char *base, unsigned peer, unsigned n)
{
	vmsg_chan *c[ECHO_MULTI_MAX];
	unsigned idx[ECHO_MULTI_MAX];
	unsigned long long msgs[ECHO_MULTI_MAX] = {0}, total = 0;
	struct vmsg_waitset *ws = guest_alloc(sizeof(*ws));
	struct vmsg_chan_opts o;
	unsigned left = n, waits = 0;
	int rc = 0;

	if (!ws || n == 0 || n > ECHO_MULTI_MAX)
		return 1;
	vmsg_chan_opts_init(&o);
	o.max_msg = ECHO_MAX_MSG;
	vmsg_waitset_init(ws);
	for (unsigned i = 0; i < n; i++) {
		char path[200], *p = path;
		put_str(&p, base);
		put_uint(&p, i);
		*p = 0;
		int r = vmsg_xen_serve(&c[i], (uint16_t)peer, path, &o);
		if (r < 0) {
			guest_printf("MULTI cannot serve at %s: %s\n", path,
				     vmsg_strerror(r));
			return 1;
		}
		idx[i] = i;
		if ((r = vmsg_waitset_add(ws, c[i], &idx[i])) < 0) {
			guest_printf("MULTI waitset: %s\n", vmsg_strerror(r));
			return 1;
		}
	}
	guest_printf("MULTI serving %u channels at %s0..%u for domain %u\n", n,
		     base, n - 1, peer);
	while (left) {
		struct vmsg_waitset_event ev[4];
		int k = vmsg_waitset_wait(ws, ev, 4, 120000);
		if (k <= 0) {
			guest_printf("MULTI wait: %s\n",
				     k ? vmsg_strerror(k) : "nothing in 120 s");
			rc = 1;
			break;
		}
		waits++;
		for (int e = 0; e < k; e++) {
			unsigned i = *(unsigned *)ev[e].data;
			vmsg_chan *ch = ev[e].chan;
			if (vmsg_chan_state(ch) == VMSG_CHAN_WAITING &&
			    vmsg_chan_accept(ch, 0) < 0)
				continue; /* not yet */
			for (;;) {
				struct vmsg_msg m;
				int r = vmsg_chan_peek(ch, &m, 0);
				/* Nothing more for now (-EAGAIN: the client
				 * asked for the kick of its next message). */
				if (r < 0 && vmsg_chan_state(ch) == VMSG_CHAN_OPEN)
					break;
				if (r >= 0) {
					r = vmsg_chan_send(ch, m.type, m.data,
							   m.len, 0, -1);
					vmsg_chan_release(ch);
				}
				if (r >= 0) {
					msgs[i]++;
					total++;
					continue;
				}
				/* The client's close (or a failure): this
				 * channel is done. */
				if (vmsg_chan_state(ch) != VMSG_CHAN_CLOSED) {
					guest_printf("MULTI channel %u: %s\n", i,
						     vmsg_strerror(r));
					rc = 1;
				}
				guest_printf("MULTI channel %u done: %llu "
					     "messages\n", i, msgs[i]);
				(void)vmsg_waitset_remove(ws, ch);
				vmsg_chan_close(ch);
				left--;
				break;
			}
		}
	}
	guest_printf("MULTI done: %u clients, %llu messages, %u waits\n",
		     n - left, total, waits);
	guest_free(ws, sizeof(*ws));
	return rc;
}

int app_main(const char *cmdline)
{
	char port[64] = "echo", val[32], path[160];
	bool raw = false;
	unsigned peer = 0, clients = 0;

	/* Every word checked first: a typo is an error, not a default. */
	int a = echo_args_check(cmdline);
	if (a != 0)
		return a > 0 ? 0 : 2;
	if (guest_cmdline_get("port", val, sizeof(val)) > 0) {
		unsigned i = 0;
		for (; val[i]; i++)
			port[i] = val[i];
		port[i] = 0;
	}
	if (guest_cmdline_get("peer", val, sizeof(val)) > 0)
		peer = parse_uint(val, 0);
	if (guest_cmdline_get("clients", val, sizeof(val)) > 0)
		clients = parse_uint(val, 0);
	if (guest_cmdline_get("mode", val, sizeof(val)) > 0)
		raw = val[0] == 'r';
	if (guest_cmdline_get("cksum", val, sizeof(val)) > 0)
		g_cksum = val[0] == '1';
	if (guest_cmdline_get("role", val, sizeof(val)) > 0 &&
	    val[0] == 'c') { /* "client" (echo_args.c checked it) */
		unsigned count = 100;
		if (guest_cmdline_get("count", val, sizeof(val)) > 0)
			count = parse_uint(val, 100);
		return ping(peer, port, count);
	}
	if (guest_cmdline_get("open", val, sizeof(val)) > 0) {
		unsigned count = 100, size = 40000, again = 0;
		char cnt[16];
		if (guest_cmdline_get("count", cnt, sizeof(cnt)) > 0)
			count = parse_uint(cnt, 100);
		if (guest_cmdline_get("again", cnt, sizeof(cnt)) > 0)
			again = parse_uint(cnt, 0);
		if (guest_cmdline_get("size", cnt, sizeof(cnt)) > 0)
			size = parse_uint(cnt, 40000);
		if (size == 0 || size > ECHO_MAX_MSG)
			size = 40000;
		return open_service(val, count, size, again);
	}
	if (guest_cmdline_get("vmsgd", val, sizeof(val)) > 0 &&
	    val[0] == '1') {
		char svc[VMSG_SERVICE_NAME_MAX + 1];
		if (guest_cmdline_get("svc", svc, sizeof(svc)) <= 0) {
			char *q = svc;
			put_str(&q, "echo");
			*q = 0;
		}
		return offer_service(svc, clients);
	}

	char *p = path;
	put_str(&p, "/local/domain/");
	put_uint(&p, guest_domid());
	put_str(&p, "/data/vchan/");
	put_uint(&p, peer);
	put_str(&p, "/");
	put_str(&p, port);
	*p = 0;
	if (guest_cmdline_get("multi", val, sizeof(val)) > 0)
		return multi_serve(path, peer, parse_uint(val, 0));

	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.max_msg = ECHO_MAX_MSG;
	vmsg_chan *c;
	int r = guest_serve(&c, (uint16_t)peer, path, &o);
	if (r < 0) {
		guest_printf("ECHO cannot serve at %s: %s\n", path,
			     vmsg_strerror(r));
		return 1;
	}
	guest_printf("ECHO serving %s at %s for domain %u (uptime %lu us)\n",
		     raw ? "bytes" : "messages", path, peer,
		     (unsigned long)(guest_uptime_ns() / 1000));
	char *buf = raw ? guest_alloc(ECHO_RAW_BUF) : 0;
	if (raw && !buf)
		return 1;

	struct echo_stats st = {0, 0, false, {0, 0}};
	int quit = 0;
	for (unsigned n = 1; !quit; n++) {
		r = vmsg_chan_accept(c, -1);
		/* The previous client's unmap notification (its driver
		 * clearing its live byte) can land after reopen laid the page
		 * out afresh, and reads as a client that came and went: lay it
		 * out again, a few times at most. */
		for (int k = 0; r < 0 && n > 1 && k < 3 &&
				vmsg_chan_state(c) == VMSG_CHAN_CLOSED; k++) {
			if (vmsg_chan_reopen(c) < 0)
				break;
			r = vmsg_chan_accept(c, -1);
		}
		if (r == 0) {
			guest_printf("ECHO client %u connected\n", n);
			unsigned long long b0 = st.bytes, m0 = st.msgs;
			struct guest_stats g0, g1;
			guest_get_stats(&g0);
			uint64_t t0 = guest_now_ns();
			sum_init(&st.got);
			quit = raw ? echo_raw(c, &st, buf) : echo_msgs(c, &st);
			guest_get_stats(&g1);
			guest_printf("ECHO client %u done: %llu bytes, %llu messages "
				     "in %lu ms; %lu polls blocked %lu ms, %lu kicks",
				     n, st.bytes - b0, st.msgs - m0,
				     (unsigned long)((guest_now_ns() - t0) / 1000000),
				     (unsigned long)(g1.polls - g0.polls),
				     (unsigned long)((g1.blocked_ns - g0.blocked_ns) / 1000000),
				     (unsigned long)(g1.kicks - g0.kicks));
			if (g_cksum && !raw)
				guest_printf("; received cksum %u %llu",
					     sum_final(&st.got), st.got.len);
			guest_printf("\n");
		}
		if (clients && n >= clients)
			break;
		if (!quit && (r = vmsg_chan_reopen(c)) < 0) {
			guest_printf("ECHO reopen: %s\n", vmsg_strerror(r));
			break;
		}
	}
	vmsg_chan_close(c);
	guest_printf("ECHO done: %llu bytes, %llu messages\n", st.bytes,
		     st.msgs);
	return 0;
}
