/* firewall: an IPv4 filter between an outside and an inside port.
 *
 * Rules from the configuration: ICMP echo (requests and replies) allowed
 * or not; TCP and UDP allowed to the destination ports listed; everything
 * else dropped. A TCP SYN or a UDP datagram a rule lets through opens a
 * flow, and the flow's packets in both directions pass after it (the
 * return traffic), until it has been idle for its timeout. ARP passes
 * (the two sides are one Ethernet segment). By default the rules apply to
 * new traffic from either side; out=open lets the inside open any flow to
 * the outside, as a home router does.
 *
 * Every header is parsed defensively from a private copy (netapp copies
 * the frame out of the ring first): too short for its header (runt), IPv4
 * version or header length or total length wrong, header or TCP/UDP/ICMP
 * checksum wrong, fragments (the first one hides nothing, the others carry
 * no ports to judge): dropped and counted, each under its own counter.
 *
 * configuration: tcp=PORT[,PORT...] udp=PORT[,PORT...] icmp=0|1 (1)
 * out=open|rules (rules) mtu=N (1500). Port 0 is the outside, 1 the inside.
 * Platform-neutral (netapp.h); Linux: `firewall dir=DIR tcp=5201`.
 */
#include "../netapp/netapp_app.h"

#define FW_MAX_RULES 32u
#define FW_SETS 1024u /* flow table: 1024 sets of 4 = 4096 flows */
#define FW_WAYS 4u
#define FW_TCP_IDLE_MS (300u * 1000u)
#define FW_UDP_IDLE_MS (60u * 1000u)

enum { FW_OUTSIDE = 0, FW_INSIDE = 1 };

struct fw_flow {
	uint32_t ip[2];   /* the lower (ip, port) end first */
	uint16_t port[2];
	uint8_t proto;
	bool used;
	uint64_t seen_ms;
};

struct fw_counters {
	uint64_t pass_arp, pass_icmp, pass_new, pass_flow;
	uint64_t drop_runt, drop_bad_header, drop_bad_checksum, drop_fragment;
	uint64_t drop_policy, drop_ethertype, drop_bad_arp;
	uint64_t flows, flows_evicted;
};

struct fw {
	uint16_t tcp[FW_MAX_RULES], udp[FW_MAX_RULES];
	unsigned ntcp, nudp;
	bool icmp, out_open;
	struct fw_flow flows[FW_SETS][FW_WAYS];
	struct fw_counters c;
};

static struct fw the_fw;

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* The Internet checksum's running sum (RFC 1071) over n bytes. */
static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
	for (; n > 1; p += 2, n -= 2)
		s += (uint32_t)(p[0] << 8 | p[1]);
	if (n)
		s += (uint32_t)p[0] << 8;
	return s;
}

static bool sum_ok(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s == 0xffff;
}

/* TCP/UDP checksum with the IPv4 pseudo-header. */
static bool l4_sum_ok(const uint8_t *ip, const uint8_t *l4, size_t len,
		      uint8_t proto)
{
	uint32_t s = sum16(0, ip + 12, 8); /* source and destination */
	s += proto;
	s += (uint32_t)len;
	return sum_ok(sum16(s, l4, len));
}

static bool allowed(const uint16_t *list, unsigned n, uint16_t port)
{
	for (unsigned i = 0; i < n; i++)
		if (list[i] == port)
			return true;
	return false;
}

/* The flow's key, the same for both directions. */
static void flow_key(struct fw_flow *k, uint8_t proto, uint32_t sip,
		     uint16_t sp, uint32_t dip, uint16_t dp)
{
	bool swap = sip > dip || (sip == dip && sp > dp);
	k->proto = proto;
	k->ip[0] = swap ? dip : sip;
	k->ip[1] = swap ? sip : dip;
	k->port[0] = swap ? dp : sp;
	k->port[1] = swap ? sp : dp;
}

static unsigned flow_set(const struct fw_flow *k)
{
	uint32_t h = k->ip[0] * 2654435761u ^ k->ip[1] * 2246822519u ^
		     ((uint32_t)k->port[0] << 16 | k->port[1]) * 3266489917u ^
		     k->proto;
	return (h ^ (h >> 15)) % FW_SETS;
}

static bool flow_eq(const struct fw_flow *a, const struct fw_flow *b)
{
	return a->proto == b->proto && a->ip[0] == b->ip[0] &&
	       a->ip[1] == b->ip[1] && a->port[0] == b->port[0] &&
	       a->port[1] == b->port[1];
}

static uint64_t idle_ms(uint8_t proto)
{
	return proto == 6 ? FW_TCP_IDLE_MS : FW_UDP_IDLE_MS;
}

/* Find the flow (refreshing it), or open it when `open`. */
static bool flow(struct fw *f, const struct fw_flow *k, bool open,
		 uint64_t now)
{
	struct fw_flow *set = f->flows[flow_set(k)], *slot = NULL,
		       *oldest = &set[0];
	for (unsigned w = 0; w < FW_WAYS; w++) {
		struct fw_flow *e = &set[w];
		bool live = e->used && now - e->seen_ms <= idle_ms(e->proto);
		if (live && flow_eq(e, k)) {
			e->seen_ms = now;
			return true;
		}
		if (!live && !slot)
			slot = e;
		if (e->seen_ms < oldest->seen_ms)
			oldest = e;
	}
	if (!open)
		return false;
	if (!slot) {
		slot = oldest;
		f->c.flows_evicted++;
	}
	*slot = *k;
	slot->used = true;
	slot->seen_ms = now;
	f->c.flows++;
	return true;
}

/* The verdict on an IPv4 packet (ip: len bytes after the Ethernet
 * header) coming in from port `in`. */
static bool judge_ipv4(struct fw *f, unsigned in, const uint8_t *ip,
		       size_t len, uint64_t now)
{
	if (len < 20) {
		f->c.drop_runt++;
		return false;
	}
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4, total = be16(ip + 2);
	if ((ip[0] >> 4) != 4 || ihl < 20 || ihl > len || total < ihl ||
	    total > len) {
		f->c.drop_bad_header++;
		return false;
	}
	if (!sum_ok(sum16(0, ip, ihl))) {
		f->c.drop_bad_checksum++;
		return false;
	}
	/* More-fragments set or an offset: a fragment. */
	if (be16(ip + 6) & 0x3fff) {
		f->c.drop_fragment++;
		return false;
	}
	const uint8_t *l4 = ip + ihl;
	size_t l4len = total - ihl; /* Ethernet padding past total ignored */
	uint8_t proto = ip[9];
	bool rules = in == FW_OUTSIDE || !f->out_open;

	if (proto == 1) {
		if (l4len < 8) {
			f->c.drop_runt++;
			return false;
		}
		if (!sum_ok(sum16(0, l4, l4len))) {
			f->c.drop_bad_checksum++;
			return false;
		}
		if ((l4[0] == 8 || l4[0] == 0) && (f->icmp || !rules)) {
			f->c.pass_icmp++;
			return true;
		}
		f->c.drop_policy++;
		return false;
	}
	if (proto != 6 && proto != 17) {
		f->c.drop_policy++;
		return false;
	}
	size_t hl = 8;
	if (proto == 6) {
		if (l4len < 20) {
			f->c.drop_runt++;
			return false;
		}
		hl = (size_t)(l4[12] >> 4) * 4;
		if (hl < 20 || hl > l4len) {
			f->c.drop_bad_header++;
			return false;
		}
	} else {
		if (l4len < 8) {
			f->c.drop_runt++;
			return false;
		}
		size_t ulen = be16(l4 + 4);
		if (ulen < 8 || ulen > l4len) {
			f->c.drop_bad_header++;
			return false;
		}
		l4len = ulen;
	}
	/* UDP's checksum 0 means "none" (IPv4 only). */
	if ((proto == 6 || be16(l4 + 6) != 0) &&
	    !l4_sum_ok(ip, l4, l4len, proto)) {
		f->c.drop_bad_checksum++;
		return false;
	}
	uint16_t sp = be16(l4), dp = be16(l4 + 2);
	struct fw_flow k;
	flow_key(&k, proto, be32(ip + 12), sp, be32(ip + 16), dp);
	if (flow(f, &k, false, now)) {
		f->c.pass_flow++;
		return true;
	}
	bool ok = !rules || (proto == 6 ? allowed(f->tcp, f->ntcp, dp)
					: allowed(f->udp, f->nudp, dp));
	if (!ok) {
		f->c.drop_policy++;
		return false;
	}
	/* TCP: only a SYN (without ACK) opens a flow; other segments to an
	 * allowed port pass without one. */
	if (proto == 17 || (l4[13] & 0x12) == 0x02)
		flow(f, &k, true, now);
	f->c.pass_new++;
	return true;
}

static bool judge_arp(struct fw *f, const uint8_t *a, size_t len)
{
	/* Ethernet/IPv4 ARP, request or reply. */
	if (len < 28) {
		f->c.drop_runt++;
		return false;
	}
	if (be16(a) != 1 || be16(a + 2) != 0x0800 || a[4] != 6 || a[5] != 4 ||
	    (be16(a + 6) != 1 && be16(a + 6) != 2)) {
		f->c.drop_bad_arp++;
		return false;
	}
	f->c.pass_arp++;
	return true;
}

static void fw_frame(struct netapp *a, unsigned in, uint8_t *fr, size_t len)
{
	struct fw *f = a->priv;
	uint16_t type = be16(fr + 12);
	bool pass;

	if (type == 0x0806)
		pass = judge_arp(f, fr + 14, len - 14);
	else if (type == 0x0800)
		pass = judge_ipv4(f, in, fr + 14, len - 14, a->now_ms);
	else {
		f->c.drop_ethertype++;
		pass = false;
	}
	if (pass)
		netapp_send(a, in ^ 1u, fr, len);
}

static char *put(char *p, const char *name, uint64_t v)
{
	p = netapp_put_str(p, " ");
	p = netapp_put_str(p, name);
	p = netapp_put_str(p, "=");
	return netapp_put_u64(p, v);
}

static void fw_stats(struct netapp *a)
{
	const struct fw_counters *c = &((const struct fw *)a->priv)->c;
	char line[512], *p = netapp_put_str(line, "firewall");
	p = put(p, "pass_arp", c->pass_arp);
	p = put(p, "pass_icmp", c->pass_icmp);
	p = put(p, "pass_new", c->pass_new);
	p = put(p, "pass_flow", c->pass_flow);
	p = put(p, "drop_runt", c->drop_runt);
	p = put(p, "drop_bad_header", c->drop_bad_header);
	p = put(p, "drop_bad_checksum", c->drop_bad_checksum);
	p = put(p, "drop_fragment", c->drop_fragment);
	p = put(p, "drop_policy", c->drop_policy);
	p = put(p, "drop_ethertype", c->drop_ethertype);
	p = put(p, "drop_bad_arp", c->drop_bad_arp);
	p = put(p, "flows", c->flows);
	put(p, "flows_evicted", c->flows_evicted);
	a->print(line);
}

static const struct netapp_ops fw_ops = {.frame = fw_frame,
					 .stats = fw_stats};

static bool streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* "80,443,5201" into list; false on anything else. */
static bool port_list(const char *s, uint16_t *list, unsigned *n)
{
	while (*s) {
		char num[8];
		unsigned k = 0;
		uint32_t v;
		while (*s && *s != ',' && k < sizeof num - 1)
			num[k++] = *s++;
		num[k] = 0;
		if ((*s && *s != ',') || *n >= FW_MAX_RULES ||
		    !netapp_parse_u32(num, 1, 65535, &v))
			return false;
		list[(*n)++] = (uint16_t)v;
		if (*s == ',' && !*++s)
			return false;
	}
	return *n > 0;
}

static int fw_configure(struct netapp *a, int argc, char **argv, char *err,
			size_t cap)
{
	struct fw *f = &the_fw;
	uint32_t mtu = VMSG_NET_MTU_DEFAULT, icmp = 1;
	const char *v;

	__builtin_memset(f, 0, sizeof(*f));
	for (int i = 0; i < argc; i++) {
		bool ok;
		if (netapp_key(argv[i], "tcp", &v))
			ok = port_list(v, f->tcp, &f->ntcp);
		else if (netapp_key(argv[i], "udp", &v))
			ok = port_list(v, f->udp, &f->nudp);
		else if (netapp_key(argv[i], "icmp", &v))
			ok = netapp_parse_u32(v, 0, 1, &icmp);
		else if (netapp_key(argv[i], "mtu", &v))
			ok = netapp_parse_u32(v, VMSG_NET_MTU_MIN,
					      VMSG_NET_MTU_MAX, &mtu);
		else if (netapp_key(argv[i], "out", &v)) {
			f->out_open = streq(v, "open");
			ok = f->out_open || streq(v, "rules");
		} else {
			netapp_err(err, cap, "unknown option: ", argv[i]);
			return -1;
		}
		if (!ok) {
			netapp_err(err, cap, "bad value: ", argv[i]);
			return -1;
		}
	}
	f->icmp = icmp;
	return netapp_init(a, "firewall", &fw_ops, f, 2, mtu) < 0 ? -1 : 0;
}

const struct netapp_app netapp_app = {
	.name = "firewall",
	.usage = "  port0 is the outside, port1 the inside.\n"
		 "  tcp=P[,P...]  allow TCP to these destination ports\n"
		 "  udp=P[,P...]  allow UDP to these destination ports\n"
		 "  icmp=0|1      allow ICMP echo requests and replies (1)\n"
		 "  out=open      the inside may open any flow outwards "
		 "(default: rules both ways)\n"
		 "  mtu=N         largest frame payload, 68..9000 (1500)\n",
	.configure = fw_configure,
};
