/* l2switch: an Ethernet learning switch, a port per channel.
 *
 * Learns each source MAC's port from the frames it sees; forwards a frame
 * to the one port its destination was learnt on, floods it to every other
 * port whose link is up when the destination is broadcast, multicast or
 * unknown, and drops it when the destination is on the port it came from.
 * A learnt address ages out after age=SECONDS without a frame from it, and
 * is forgotten at once when its port's link goes down (a guest that left,
 * an appliance restarted on the other side of a bridge). A port whose
 * ring is full drops the frame and counts it, as a switch drops at a
 * congested egress; the other ports carry on.
 *
 * Platform-neutral (netapp.h): only <vmsg/net.h> and freestanding C; the
 * Linux build is `l2switch dir=DIR ports=N`, and a unikernel build is
 * the same source with the guest platform's netapp driver.
 *
 * configuration: ports=N (2..16, default 4), mtu=N (68..9000, 1500),
 * age=SECONDS (1..3600, 300).
 */
#include "../netapp/netapp_app.h"

#define SW_BUCKETS 256u /* MAC table: 256 sets of 4 = 1024 addresses */
#define SW_WAYS 4u

struct sw_entry {
	uint8_t mac[6];
	uint8_t port;
	bool used;
	uint64_t seen_ms;
};

struct sw_counters {
	uint64_t forwarded, flooded, filtered; /* filtered: same port */
	uint64_t learnt, moved, aged, evicted, forgotten;
};

struct sw {
	uint64_t age_ms;
	struct sw_entry table[SW_BUCKETS][SW_WAYS];
	struct sw_counters c;
};

static struct sw the_switch;

static unsigned sw_hash(const uint8_t *mac)
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 6; i++)
		h = (h ^ mac[i]) * 16777619u;
	return (h ^ (h >> 16)) % SW_BUCKETS;
}

static bool mac_eq(const uint8_t *a, const uint8_t *b)
{
	for (int i = 0; i < 6; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

static bool live(const struct sw *s, const struct sw_entry *e, uint64_t now)
{
	return e->used && now - e->seen_ms <= s->age_ms;
}

static void learn(struct sw *s, const uint8_t *mac, unsigned port,
		  uint64_t now)
{
	struct sw_entry *set = s->table[sw_hash(mac)], *free = NULL,
			*oldest = &set[0];

	for (unsigned w = 0; w < SW_WAYS; w++) {
		struct sw_entry *e = &set[w];
		if (e->used && mac_eq(e->mac, mac)) {
			if (!live(s, e, now))
				s->c.aged++;
			if (e->port != port)
				s->c.moved++;
			e->port = (uint8_t)port;
			e->seen_ms = now;
			return;
		}
		if (!free && !live(s, e, now))
			free = e;
		if (e->seen_ms < oldest->seen_ms)
			oldest = e;
	}
	if (!free) {
		free = oldest;
		s->c.evicted++;
	} else if (free->used) {
		/* A stale entry is counted aged when its slot is taken, not
		 * when the search passes it: the address may be found
		 * further on, and then the stale one stays, to be passed
		 * (and was counted) again at every frame from its set. */
		s->c.aged++;
	}
	__builtin_memcpy(free->mac, mac, 6);
	free->port = (uint8_t)port;
	free->used = true;
	free->seen_ms = now;
	s->c.learnt++;
}

/* The port mac was learnt on, or -1. */
static int lookup(const struct sw *s, const uint8_t *mac, uint64_t now)
{
	const struct sw_entry *set = s->table[sw_hash(mac)];
	for (unsigned w = 0; w < SW_WAYS; w++)
		if (live(s, &set[w], now) && mac_eq(set[w].mac, mac))
			return set[w].port;
	return -1;
}

static void sw_frame(struct netapp *a, unsigned in, uint8_t *f, size_t len)
{
	struct sw *s = a->priv;
	const uint8_t *dst = f, *src = f + 6;
	int out;

	/* A group source address is not a station: never learn it. */
	if (!(src[0] & 1))
		learn(s, src, in, a->now_ms);
	out = (dst[0] & 1) ? -1 : lookup(s, dst, a->now_ms);
	if (out == (int)in) {
		s->c.filtered++;
		return;
	}
	if (out >= 0) {
		s->c.forwarded++;
		netapp_send(a, (unsigned)out, f, len);
		return;
	}
	s->c.flooded++;
	for (unsigned i = 0; i < a->nports; i++)
		if (i != in && a->port[i].net.up)
			netapp_send(a, i, f, len);
}

/* A port's link went down: whatever was learnt there is gone with it. */
static void sw_link(struct netapp *a, unsigned port, bool up)
{
	struct sw *s = a->priv;
	if (up)
		return;
	for (unsigned b = 0; b < SW_BUCKETS; b++)
		for (unsigned w = 0; w < SW_WAYS; w++) {
			struct sw_entry *e = &s->table[b][w];
			if (e->used && e->port == port) {
				e->used = false;
				s->c.forgotten++;
			}
		}
}

static void sw_stats(struct netapp *a)
{
	const struct sw *s = a->priv;
	char line[320], *p = line;
	unsigned n = 0;

	for (unsigned b = 0; b < SW_BUCKETS; b++)
		for (unsigned w = 0; w < SW_WAYS; w++)
			n += live(s, &s->table[b][w], a->now_ms);
	p = netapp_put_str(p, "l2switch forwarded=");
	p = netapp_put_u64(p, s->c.forwarded);
	p = netapp_put_str(p, " flooded=");
	p = netapp_put_u64(p, s->c.flooded);
	p = netapp_put_str(p, " filtered=");
	p = netapp_put_u64(p, s->c.filtered);
	p = netapp_put_str(p, " macs=");
	p = netapp_put_u64(p, n);
	p = netapp_put_str(p, " learnt=");
	p = netapp_put_u64(p, s->c.learnt);
	p = netapp_put_str(p, " moved=");
	p = netapp_put_u64(p, s->c.moved);
	p = netapp_put_str(p, " aged=");
	p = netapp_put_u64(p, s->c.aged);
	p = netapp_put_str(p, " evicted=");
	p = netapp_put_u64(p, s->c.evicted);
	p = netapp_put_str(p, " forgotten=");
	netapp_put_u64(p, s->c.forgotten);
	a->print(line);
}

static const struct netapp_ops sw_ops = {
	.frame = sw_frame, .link = sw_link, .stats = sw_stats};

static int sw_configure(struct netapp *a, int argc, char **argv, char *err,
			size_t cap)
{
	uint32_t ports = 4, mtu = VMSG_NET_MTU_DEFAULT, age = 300;
	const char *v;

	for (int i = 0; i < argc; i++) {
		if (netapp_key(argv[i], "ports", &v)) {
			if (!netapp_parse_u32(v, 2, NETAPP_MAX_PORTS, &ports))
				goto bad;
		} else if (netapp_key(argv[i], "mtu", &v)) {
			if (!netapp_parse_u32(v, VMSG_NET_MTU_MIN,
					      VMSG_NET_MTU_MAX, &mtu))
				goto bad;
		} else if (netapp_key(argv[i], "age", &v)) {
			if (!netapp_parse_u32(v, 1, 3600, &age))
				goto bad;
		} else {
			netapp_err(err, cap, "unknown option: ", argv[i]);
			return -1;
		}
		continue;
bad:
		netapp_err(err, cap, "bad value: ", argv[i]);
		return -1;
	}
	__builtin_memset(&the_switch, 0, sizeof(the_switch));
	the_switch.age_ms = (uint64_t)age * 1000u;
	return netapp_init(a, "l2switch", &sw_ops, &the_switch, ports, mtu) < 0
		       ? -1
		       : 0;
}

const struct netapp_app netapp_app = {
	.name = "l2switch",
	.usage = "  ports=N      ports, 2..16 (4)\n"
		 "  mtu=N        largest frame payload, 68..9000 (1500)\n"
		 "  age=SECONDS  a learnt address is forgotten after this long "
		 "unseen (300)\n",
	.configure = sw_configure,
};
