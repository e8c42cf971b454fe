/* Fuzz target: the firewall appliance's frame handling
 * (examples/firewall/firewall.c, docs/network.md): its parsing of ARP,
 * IPv4, ICMP, TCP and UDP from frames a hostile guest sends into either
 * port, its flow table and the flows' idle timeouts. firewall.c is
 * compiled in as tests/net/firewall_unit.c does, with netapp_send()
 * replaced by a recorder; frames go in through its receive entry point
 * (ops->frame, what netapp.c calls with its private copy of each frame).
 *
 * Input: [config: 1] then frames, each
 *   [op: 1] bit 0: the port it comes in on (0 outside, 1 inside);
 *           bits 1-3: the time that passes first (0, 1 ms, 1 s, [u16] ms,
 *           [u16] s, then 60 s, 60.001 s, 300.001 s: the idle timeouts);
 *           bits 4-5: 0 the frame's bytes as given, 1 the same with its
 *           IPv4, ICMP, TCP and UDP checksums made right by the harness,
 *           2 the previous frame turned round (MACs, addresses and ports
 *           swapped, a SYN answered with a SYN-ACK, an echo request with
 *           a reply; checksums right), 3 the previous frame again.
 *   for 0 and 1: [len: 2] (14 .. 14 + MTU bytes, as lib/net delivers
 *           them) [bytes] (zeros where the input ends).
 * config: bits 0-1 the rule set (tcp=5201 udp=53; tcp=22,80,443,5201
 * udp=53,123; udp=53 only; tcp=1,65535 udp=1,53,65535), bit 2 icmp=1,
 * bit 3 out=open, bits 4-5 the MTU (1500, 9000, 68, 576).
 *
 * Checked, for every frame: exactly one of the pass and drop counters
 * moves (the firewall's contract: each frame passes or is dropped under
 * one counter); a pass sends the frame once, out of the other port,
 * byte for byte as it came in, and a drop sends nothing; the verdict fits
 * the frame (ARP passes only as ARP, an ICMP pass is an echo the rules
 * or out=open allow, a new TCP/UDP pass is to a port the rules allow or
 * from the inside under out=open, a policy drop of TCP/UDP has no live
 * flow); a flow pass has a live flow the harness saw opened (its own
 * table, unbounded); a SYN or UDP datagram that passes new opens exactly
 * one flow. The flow table: no key twice among its live flows, every live
 * flow one the harness saw opened and last refreshed at the same time,
 * never more live flows than its capacity (4096) or than opened less
 * evicted. */
#include <stdint.h>
#include <string.h>

#include "fuzz_peer.h"

#define netapp_send fuzz_send
#include "../examples/firewall/firewall.c"
#undef netapp_send

/* The documented timeouts and capacity, written down again here rather
 * than taken from firewall.c's macros: a change there must show. */
#define TCP_IDLE 300000u
#define UDP_IDLE 60000u
#define CAPACITY 4096u
#define MAX_FRAMES 4096u

static struct netapp app;

/* The frame being judged, as it came in (the firewall gets a copy it
 * may change), and what was sent of it. */
static uint8_t in_copy[VMSG_NET_MAX_MSG];
static size_t in_len;
static unsigned in_port, nsent;

int fuzz_send(struct netapp *a, unsigned i, const uint8_t *f, size_t len)
{
	CHECK(a == &app);
	CHECK(i < 2 && i != in_port);
	CHECK(len == in_len && memcmp(f, in_copy, len) == 0);
	nsent++;
	return 0;
}

/* ---- the harness's own view of a packet */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void set16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t add16(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)get16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t csum(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

struct pkt {
	uint8_t *ip, *l4;
	size_t ihl, l4len; /* l4len: up to the IPv4 total length */
	uint8_t proto;
};

/* The IPv4 header of an Ethernet frame as far as it can be read: header
 * length within the frame, total length within the frame and not below
 * the header. False if not IPv4 or not that far. */
static bool ipv4(uint8_t *f, size_t len, struct pkt *p)
{
	if (len < 34 || get16(f + 12) != 0x0800)
		return false;
	p->ip = f + 14;
	p->ihl = (size_t)(p->ip[0] & 15) * 4;
	size_t total = get16(p->ip + 2);
	if ((p->ip[0] >> 4) != 4 || p->ihl < 20 || total < p->ihl ||
	    total > len - 14)
		return false;
	p->l4 = p->ip + p->ihl;
	p->l4len = total - p->ihl;
	p->proto = p->ip[9];
	return true;
}

/* Make every checksum of the frame right, where its lengths allow. */
static void fix_sums(uint8_t *f, size_t len)
{
	struct pkt p;

	if (len >= 34 && get16(f + 12) == 0x0800) {
		uint8_t *ip = f + 14;
		size_t ihl = (size_t)(ip[0] & 15) * 4;
		if (ihl >= 20 && ihl <= len - 14) {
			set16(ip + 10, 0);
			set16(ip + 10, csum(add16(0, ip, ihl)));
		}
	}
	if (!ipv4(f, len, &p))
		return;
	uint32_t pseudo = add16(0, p.ip + 12, 8) + p.proto;
	if (p.proto == 1 && p.l4len >= 4) {
		set16(p.l4 + 2, 0);
		set16(p.l4 + 2, csum(add16(0, p.l4, p.l4len)));
	} else if (p.proto == 6 && p.l4len >= 18) {
		set16(p.l4 + 16, 0);
		set16(p.l4 + 16, csum(add16(pseudo + (uint32_t)p.l4len, p.l4,
					    p.l4len)));
	} else if (p.proto == 17 && p.l4len >= 8) {
		size_t ulen = get16(p.l4 + 4);
		if (ulen < 8 || ulen > p.l4len)
			return;
		set16(p.l4 + 6, 0);
		uint16_t s = csum(add16(pseudo + (uint32_t)ulen, p.l4, ulen));
		set16(p.l4 + 6, s ? s : 0xffff); /* 0 would say "none" */
	}
}

static void swap_bytes(uint8_t *a, uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t t = a[i];
		a[i] = b[i];
		b[i] = t;
	}
}

/* The answer to frame f: what return traffic looks like. */
static void turn_round(uint8_t *f, size_t len)
{
	struct pkt p;

	swap_bytes(f, f + 6, 6);
	if (!ipv4(f, len, &p))
		return;
	swap_bytes(p.ip + 12, p.ip + 16, 4);
	if ((p.proto == 6 || p.proto == 17) && p.l4len >= 4)
		swap_bytes(p.l4, p.l4 + 2, 2);
	if (p.proto == 6 && p.l4len >= 14 && (p.l4[13] & 0x12) == 0x02)
		p.l4[13] |= 0x10; /* SYN -> SYN-ACK */
	if (p.proto == 1 && p.l4len >= 1 && p.l4[0] == 8)
		p.l4[0] = 0;
	fix_sums(f, len);
}

/* ---- the harness's table of the flows it saw opened: the key with the
 * lower (address, port) end first, and when it was last refreshed. */

struct mkey {
	uint32_t ip[2];
	uint16_t port[2];
	uint8_t proto;
};

struct mflow {
	struct mkey k;
	bool used;
	uint64_t seen;
	uint64_t evicted; /* flows_evicted when it was last refreshed */
	unsigned mark;    /* check_table's pass that last found it */
};

#define MSLOTS 8192u /* > MAX_FRAMES: never full */
static struct mflow model[MSLOTS];

static void mkey(struct mkey *k, uint8_t proto, uint32_t a, uint16_t ap,
		 uint32_t b, uint16_t bp)
{
	memset(k, 0, sizeof(*k));
	k->proto = proto;
	if (a < b || (a == b && ap <= bp)) {
		k->ip[0] = a, k->port[0] = ap, k->ip[1] = b, k->port[1] = bp;
	} else {
		k->ip[0] = b, k->port[0] = bp, k->ip[1] = a, k->port[1] = ap;
	}
}

static bool mkey_eq(const struct mkey *a, const struct mkey *b)
{
	return a->proto == b->proto && a->ip[0] == b->ip[0] &&
	       a->ip[1] == b->ip[1] && a->port[0] == b->port[0] &&
	       a->port[1] == b->port[1];
}

static struct mflow *mfind(const struct mkey *k, bool add)
{
	uint32_t h = (k->ip[0] ^ k->ip[1] * 31u ^ k->port[0] * 131u ^
		      k->port[1] * 7919u ^ k->proto) * 2654435761u;
	for (unsigned i = 0; i < MSLOTS; i++) {
		struct mflow *m = &model[(h + i) % MSLOTS];
		if (m->used && mkey_eq(&m->k, k))
			return m;
		if (!m->used) {
			if (!add)
				return NULL;
			m->used = true;
			m->k = *k;
			return m;
		}
	}
	CHECK(!"model full");
	return NULL;
}

static uint64_t idle(uint8_t proto)
{
	return proto == 6 ? TCP_IDLE : UDP_IDLE;
}

static bool mlive(const struct mflow *m, uint64_t now)
{
	return m && now - m->seen <= idle(m->k.proto);
}

/* A TCP/UDP packet's key, from the frame as it came in. */
static bool l4key(uint8_t *f, size_t len, struct mkey *k, struct pkt *p)
{
	if (!ipv4(f, len, p) || (p->proto != 6 && p->proto != 17) ||
	    p->l4len < 4)
		return false;
	mkey(k, p->proto, (uint32_t)get16(p->ip + 12) << 16 | get16(p->ip + 14),
	     get16(p->l4), (uint32_t)get16(p->ip + 16) << 16 | get16(p->ip + 18),
	     get16(p->l4 + 2));
	return true;
}

/* ---- the rule sets (the harness's copy) */

struct rules {
	char *args[2];
	unsigned nargs;
	uint16_t tcp[4], udp[4];
	unsigned ntcp, nudp;
};

static const struct rules rule_sets[4] = {
	{{"tcp=5201", "udp=53"}, 2, {5201}, {53}, 1, 1},
	{{"tcp=22,80,443,5201", "udp=53,123"}, 2, {22, 80, 443, 5201}, {53, 123}, 4, 2},
	{{"udp=53"}, 1, {0}, {53}, 0, 1},
	{{"tcp=1,65535", "udp=1,53,65535"}, 2, {1, 65535}, {1, 53, 65535}, 2, 3},
};

static bool in_list(const uint16_t *l, unsigned n, uint16_t port)
{
	for (unsigned i = 0; i < n; i++)
		if (l[i] == port)
			return true;
	return false;
}

static uint64_t verdicts(const struct fw_counters *c)
{
	return c->pass_arp + c->pass_icmp + c->pass_new + c->pass_flow +
	       c->drop_runt + c->drop_bad_header + c->drop_bad_checksum +
	       c->drop_fragment + c->drop_policy + c->drop_ethertype +
	       c->drop_bad_arp;
}

static uint64_t passes(const struct fw_counters *c)
{
	return c->pass_arp + c->pass_icmp + c->pass_new + c->pass_flow;
}

static bool fw_live(const struct fw_flow *e, uint64_t now)
{
	return e->used && now - e->seen_ms <= idle(e->proto);
}

static void fw_key(const struct fw_flow *e, struct mkey *k)
{
	mkey(k, e->proto, e->ip[0], e->port[0], e->ip[1], e->port[1]);
}

/* The whole flow table against the harness's. */
static void check_table(uint64_t now)
{
	static unsigned pass;
	unsigned live = 0;

	pass++;

	for (unsigned s = 0; s < FW_SETS; s++)
		for (unsigned w = 0; w < FW_WAYS; w++) {
			const struct fw_flow *e = &the_fw.flows[s][w];
			struct mkey k;
			if (!e->used)
				continue;
			CHECK(e->proto == 6 || e->proto == 17);
			CHECK(e->seen_ms <= now);
			if (!fw_live(e, now))
				continue;
			live++;
			fw_key(e, &k);
			struct mflow *m = mfind(&k, false);
			CHECK(m && m->seen == e->seen_ms);
			CHECK(m->mark != pass); /* the same key twice */
			m->mark = pass;
		}
	CHECK(live <= CAPACITY);
	CHECK(live <= the_fw.c.flows - the_fw.c.flows_evicted);
}

/* Live flows of the firewall's with key k, in the set the firewall's
 * hash gives (check_table finds any elsewhere). */
static unsigned fw_count(const struct mkey *k, uint64_t now)
{
	struct fw_flow fk = {.ip = {k->ip[0], k->ip[1]},
			     .port = {k->port[0], k->port[1]},
			     .proto = k->proto};
	const struct fw_flow *set = the_fw.flows[flow_set(&fk)];
	unsigned n = 0;

	for (unsigned w = 0; w < FW_WAYS; w++) {
		struct mkey ek;
		if (!fw_live(&set[w], now))
			continue;
		fw_key(&set[w], &ek);
		n += mkey_eq(&ek, k);
	}
	return n;
}

/* The verdict on the frame that was just judged fits it. */
static void check_verdict(const struct rules *r, bool icmp, bool out_open,
			  const struct fw_counters *b, uint64_t now)
{
	const struct fw_counters *c = &the_fw.c;
	uint16_t type = get16(in_copy + 12);
	bool rules = in_port == FW_OUTSIDE || !out_open;
	struct pkt p;
	struct mkey k;

	CHECK(verdicts(c) == verdicts(b) + 1);
	CHECK(nsent == passes(c) - passes(b));
	CHECK(c->flows_evicted - b->flows_evicted <= c->flows - b->flows);
	if (type != 0x0800 && type != 0x0806)
		CHECK(c->drop_ethertype == b->drop_ethertype + 1);
	if (c->pass_arp != b->pass_arp || c->drop_bad_arp != b->drop_bad_arp)
		CHECK(type == 0x0806);
	if (c->pass_icmp != b->pass_icmp) {
		CHECK(ipv4(in_copy, in_len, &p) && p.proto == 1);
		CHECK(p.l4[0] == 0 || p.l4[0] == 8);
		CHECK(icmp || !rules);
	}
	bool l4 = l4key(in_copy, in_len, &k, &p);
	bool opener = l4 && (p.proto == 17 ||
			     (p.l4len >= 14 && (p.l4[13] & 0x12) == 0x02));
	uint16_t dp = l4 ? get16(p.l4 + 2) : 0;
	struct mflow *m = l4 ? mfind(&k, false) : NULL;

	if (c->pass_new != b->pass_new) {
		CHECK(l4);
		CHECK(!rules || (p.proto == 6 ? in_list(r->tcp, r->ntcp, dp)
					      : in_list(r->udp, r->nudp, dp)));
		/* A live flow would have made it a flow pass, unless the
		 * firewall evicted it since (a full set). */
		CHECK(!mlive(m, now) || b->flows_evicted > m->evicted);
		CHECK(c->flows - b->flows == (opener ? 1u : 0u));
		if (opener) {
			m = mfind(&k, true);
			m->seen = now;
			m->evicted = c->flows_evicted;
			CHECK(fw_count(&k, now) == 1);
		}
	} else {
		CHECK(c->flows == b->flows);
	}
	if (c->pass_flow != b->pass_flow) {
		CHECK(l4);
		/* The firewall's flow is one we saw opened and still live. */
		CHECK(mlive(m, now));
		m->seen = now;
		m->evicted = c->flows_evicted;
		CHECK(fw_count(&k, now) == 1);
	}
	if (c->drop_policy != b->drop_policy && l4) {
		CHECK(fw_count(&k, now) == 0);
		CHECK(!mlive(m, now) || b->flows_evicted > m->evicted);
		CHECK(rules && !(p.proto == 6 ? in_list(r->tcp, r->ntcp, dp)
					      : in_list(r->udp, r->nudp, dp)));
	}
	/* An ICMP echo the rules allow is never a policy drop. */
	if (c->drop_policy != b->drop_policy && ipv4(in_copy, in_len, &p) &&
	    p.proto == 1 && p.l4len >= 1)
		CHECK(!((p.l4[0] == 0 || p.l4[0] == 8) && (icmp || !rules)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *mtus[4] = {"mtu=1500", "mtu=9000", "mtu=68", "mtu=576"};
	static const uint32_t mtu_of[4] = {1500, 9000, 68, 576};
	static uint8_t frame[VMSG_NET_MAX_MSG];
	struct fuzz_in in = {data, size};
	uint8_t cfg = fuzz_u8(&in);
	const struct rules *r = &rule_sets[cfg & 3];
	bool icmp = cfg & 4, out_open = cfg & 8;
	uint32_t mtu = mtu_of[(cfg >> 4) & 3];
	char *argv[5], err[128];
	int argc = 0;
	size_t len = 0;

	for (unsigned i = 0; i < r->nargs; i++)
		argv[argc++] = r->args[i];
	argv[argc++] = icmp ? "icmp=1" : "icmp=0";
	argv[argc++] = out_open ? "out=open" : "out=rules";
	argv[argc++] = mtus[(cfg >> 4) & 3];
	CHECK(netapp_app.configure(&app, argc, argv, err, sizeof err) == 0);
	CHECK(app.nports == 2 && app.cfg.mtu == mtu);
	memset(model, 0, sizeof(model));
	app.now_ms = 0;

	for (unsigned n = 0; fuzz_in_left(&in) && n < MAX_FRAMES; n++) {
		uint8_t op = fuzz_u8(&in);
		static const uint64_t adv[8] = {0, 1, 1000, 0, 0,
						UDP_IDLE, UDP_IDLE + 1,
						TCP_IDLE + 1};
		struct fw_counters before = the_fw.c;
		unsigned how = (op >> 4) & 3, t = (op >> 1) & 7;

		if (t == 3)
			app.now_ms += fuzz_u16(&in);
		else if (t == 4)
			app.now_ms += (uint64_t)fuzz_u16(&in) * 1000u;
		else
			app.now_ms += adv[t];
		in_port = op & 1;
		if (how < 2 || len == 0) {
			size_t k;
			const uint8_t *p;
			len = 14 + fuzz_u16(&in) % (mtu + 1);
			p = fuzz_bytes(&in, len, &k);
			memcpy(frame, p, k);
			memset(frame + k, 0, len - k);
			if (how == 1)
				fix_sums(frame, len);
		} else if (how == 2) {
			turn_round(frame, len);
		}
		memcpy(in_copy, frame, len);
		in_len = len;
		nsent = 0;
		/* netapp.c hands the appliance a private copy in a->buf;
		 * here it is a buffer of exactly len bytes, so that a read
		 * past the frame is a report, not a stale byte of the last. */
		uint8_t *copy = malloc(len);
		CHECK(copy);
		memcpy(copy, frame, len);
		app.ops->frame(&app, in_port, copy, len);
		free(copy);
		check_verdict(r, icmp, out_open, &before, app.now_ms);
		if (n % 256 == 255)
			check_table(app.now_ms);
	}
	check_table(app.now_ms);
	return 0;
}
