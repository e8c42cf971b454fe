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
 * on every channel vmsgd brokers to it, up to 16 at once from one wait
 * set; clients=N: power off after N channels have come and gone.
 * forward=OTHER (with vmsgd=1) makes it a layer: each consumer's messages
 * go on to a channel of service OTHER that it opens through vmsgd, and the
 * replies come back (a provider and a consumer at once; echo_service.c).
 * gate=N (with vmsgd=1, up to 16) echoes nothing until N channels are
 * open at the same time ("ECHO gate open: N channels open at once").
 * open=NAME opens service NAME through vmsgd (the client of the former):
 * count=N (100) messages of 1..size=B (40000) bytes, typed, each echo
 * checked and both directions checksummed; prints "OPEN ok ..." or "OPEN
 * closed ..." when the provider went away mid-stream. again=MS: then wait
 * MS milliseconds and open and exchange once more on the same control
 * channel (across a vmsgd restart, say). wait=S (vmsgd=1 and open=): how
 * long to wait for vmsgd at the start, 120 s by default (a guest may boot
 * before dom0's vmsgd runs); it says so first, and why it gave up.
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

#include "echo.h"
#include "echo_args.h"

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

struct echo_stats {
	unsigned long long bytes, msgs;
	bool first_seen;
	struct echo_sum got; /* with echo_cksum: this client's records */
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
		if (echo_cksum)
			echo_sum_record(&st->got, m.type, m.data, (uint32_t)m.len);
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
	r = echo_exchange(c, "PING", count, 40000);
	vmsg_chan_close(c);
	return r;
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

	if (n == 0 || n > ECHO_MULTI_MAX) {
		guest_printf("MULTI needs 1..%u channels\n",
			     (unsigned)ECHO_MULTI_MAX);
		if (ws)
			guest_free(ws, sizeof(*ws));
		return 1;
	}
	if (!ws) {
		guest_printf("MULTI out of memory\n");
		return 1;
	}
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
		echo_cksum = val[0] == '1';
	if (guest_cmdline_get("role", val, sizeof(val)) > 0 &&
	    val[0] == 'c') { /* "client" (echo_args.c checked it) */
		unsigned count = 100;
		if (guest_cmdline_get("count", val, sizeof(val)) > 0)
			count = parse_uint(val, 100);
		return ping(peer, port, count);
	}
	unsigned wait_s = 120;
	if (guest_cmdline_get("wait", val, sizeof(val)) > 0)
		wait_s = parse_uint(val, 120);
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
		return echo_open(val, count, size, again, wait_s);
	}
	if (guest_cmdline_get("vmsgd", val, sizeof(val)) > 0 &&
	    val[0] == '1') {
		char svc[VMSG_SERVICE_NAME_MAX + 1];
		if (guest_cmdline_get("svc", svc, sizeof(svc)) <= 0) {
			char *q = svc;
			put_str(&q, "echo");
			*q = 0;
		}
		char fwd[VMSG_SERVICE_NAME_MAX + 1];
		bool forward = guest_cmdline_get("forward", fwd, sizeof(fwd)) > 0;
		unsigned gate = 0;
		if (guest_cmdline_get("gate", val, sizeof(val)) > 0)
			gate = parse_uint(val, 0);
		return echo_offer(svc, forward ? fwd : 0, clients, gate, wait_s);
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
	if (raw && !buf) {
		guest_printf("ECHO out of memory\n");
		vmsg_chan_close(c);
		return 1;
	}

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
			echo_sum_init(&st.got);
			quit = raw ? echo_raw(c, &st, buf) : echo_msgs(c, &st);
			guest_get_stats(&g1);
			guest_printf("ECHO client %u done: %llu bytes, %llu messages "
				     "in %lu ms; %lu polls blocked %lu ms, %lu kicks",
				     n, st.bytes - b0, st.msgs - m0,
				     (unsigned long)((guest_now_ns() - t0) / 1000000),
				     (unsigned long)(g1.polls - g0.polls),
				     (unsigned long)((g1.blocked_ns - g0.blocked_ns) / 1000000),
				     (unsigned long)(g1.kicks - g0.kicks));
			if (echo_cksum && !raw)
				guest_printf("; received cksum %u %llu",
					     echo_sum_final(&st.got), st.got.len);
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
