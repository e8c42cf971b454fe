/* Fuzz target: the l2switch appliance (examples/l2switch/switch.c,
 * docs/network.md): MAC learning, forwarding, flooding and filtering, the
 * table's ageing and eviction, and ports whose links go down and come up
 * (the switch forgets what it learnt there). switch.c is compiled in as
 * tests/net/switch_unit.c does, with netapp_send() replaced by a
 * recorder; frames go in through its receive entry point (ops->frame),
 * link changes through ops->link after the port's net.up changed, as
 * netapp.c's netapp_poll() does. The number of ports is fixed by the
 * configuration (netapp has no call that adds one); ports come and go as
 * their links do.
 *
 * Input: [config: 1] [links up: 2, a bit per port] then operations
 *   [op: 1] bits 0-1: 0 a frame, 1 the previous frame turned round (its
 *           MACs swapped), 2 a port's link changes, 3 time passes only;
 *           bits 2-4: the time that passes first (0, 1 ms, 999 ms, 1 s,
 *           the age, the age + 1 ms, [u16] ms, [u16] s).
 *   frame:  [port: 1][dst: 1][src: 1][len: 2][bytes after the MACs]
 *           a MAC byte below 0x80 picks one of 32 addresses (eight that
 *           share a set of the table, other stations, broadcast,
 *           multicast, all-zero), one above is followed by 6 bytes of
 *           MAC; len gives 14 .. 14 + MTU bytes (as lib/net delivers
 *           them), zeros where the input ends.
 *   turned round: [port: 1]
 *   link:   [port: 1] up if it was down, down if it was up (the first
 *           64 of an input; later ones change nothing)
 * config: ports 2 + (bits 0-3) % 15, age (bits 4-5) 1, 10, 300 or 3600 s,
 * bit 6 mtu=9000 (else 1500).
 *
 * The harness keeps its own table of where each station was last seen
 * and when (unbounded; a link going down forgets its port's stations).
 * Checked, for every frame: exactly one of forwarded, flooded and
 * filtered moves; nothing goes out of the port it came in on, nor out of
 * one port twice, and what goes out is the frame byte for byte; a group
 * destination floods; a flood goes out of exactly the other ports whose
 * link is up; a forward goes out of the one port the harness last saw
 * the destination on within the age, and a filter is a destination last
 * seen on the frame's own port; a station the harness knows is flooded to
 * only if the switch evicted something since it was last seen; a unicast
 * source is in the table afterwards, on its port, seen now. The table
 * (the sets a frame touched, after it; all of it every 64 operations and
 * at the end): no address twice, no group address, every live
 * entry where and when the harness saw it; never more than its capacity
 * (1024) of addresses. Its counters: a frame learns (learnt) a unicast
 * source it does not hold, evicting (evicted) only from a set with no
 * stale or free entry; aged moves once for each stale entry the frame's
 * learning takes for another address or renews, and for no other; and
 * they add up: the addresses held are those learnt and renewed less
 * those aged, evicted and forgotten. */
#include <stdint.h>
#include <string.h>

#include "fuzz_peer.h"

#define netapp_send fuzz_send
#include "../examples/l2switch/switch.c"
#undef netapp_send

#define CAPACITY 1024u
#define MAX_OPS 1024u
#define MAX_LINKS 64u

static struct netapp app;

/* The frame being switched, as it came in, and where it went. */
static uint8_t in_copy[VMSG_NET_MAX_MSG];
static size_t in_len;
static unsigned in_port, sent_mask, nsent;

int fuzz_send(struct netapp *a, unsigned i, const uint8_t *f, size_t len)
{
	CHECK(a == &app);
	CHECK(i < app.nports && i != in_port);
	CHECK(!(sent_mask & 1u << i));
	CHECK(len == in_len && memcmp(f, in_copy, len) == 0);
	sent_mask |= 1u << i;
	nsent++;
	return 0;
}

/* ---- the harness's table: every station it saw, unbounded */

struct mst {
	uint8_t mac[6];
	bool used, known; /* known: not forgotten with its port's link */
	unsigned port;
	uint64_t seen;
	uint64_t evicted; /* the switch's evicted count when last seen */
};

#define MSLOTS 2048u /* > MAX_OPS: never full */
static struct mst model[MSLOTS];
/* The slots in use, for a walk over the stations. */
static unsigned mlist[MSLOTS], nm;
static uint64_t age_ms;

static struct mst *mfind(const uint8_t *mac, bool add)
{
	uint32_t h = 0;
	for (int i = 0; i < 6; i++)
		h = h * 257u + mac[i];
	h *= 2654435761u;
	for (unsigned i = 0; i < MSLOTS; i++) {
		struct mst *m = &model[(h + i) % MSLOTS];
		if (m->used && !memcmp(m->mac, mac, 6))
			return m;
		if (!m->used) {
			if (!add)
				return NULL;
			m->used = true;
			memcpy(m->mac, mac, 6);
			mlist[nm++] = (unsigned)(m - model);
			return m;
		}
	}
	CHECK(!"model full");
	return NULL;
}

static bool mlive(const struct mst *m, uint64_t now)
{
	return m && m->known && now - m->seen <= age_ms;
}

/* ---- addresses the input picks by number */

static uint8_t pool[32][6];
/* Entries found stale and renewed by their own address (the switch
 * counts them aged). */
static uint64_t renewed;

static void make_pool(void)
{
	unsigned n = 0;

	/* Eight stations in one set of the table (it has four ways), so
	 * that eviction and ageing within a set are reachable. */
	for (uint32_t i = 0; n < 8; i++) {
		uint8_t m[6] = {0x02, 0, 0, 0x10, (uint8_t)(i >> 8), (uint8_t)i};
		if (sw_hash(m) == 0)
			memcpy(pool[n++], m, 6);
	}
	for (; n < 28; n++) {
		uint8_t m[6] = {0x02, 0, 0, 0x20, 0, (uint8_t)n};
		memcpy(pool[n], m, 6);
	}
	memset(pool[28], 0xff, 6);                          /* broadcast */
	memcpy(pool[29], "\x01\x00\x5e\x00\x00\x01", 6);   /* IPv4 multicast */
	memcpy(pool[30], "\x33\x33\x00\x00\x00\x01", 6);   /* IPv6 multicast */
	memset(pool[31], 0, 6);                             /* all zero */
}

static void pick_mac(struct fuzz_in *in, uint8_t *mac)
{
	uint8_t s = fuzz_u8(in);
	if (s < 0x80) {
		memcpy(mac, pool[s % 32], 6);
	} else {
		for (int i = 0; i < 6; i++)
			mac[i] = fuzz_u8(in);
	}
}

/* ---- checks */

static bool sw_live(const struct sw_entry *e, uint64_t now)
{
	return e->used && now - e->seen_ms <= age_ms;
}

/* One set of the table against the harness's view; returns the number
 * of entries in use and sets *found to the one holding mac (live or
 * not), if any. */
static unsigned check_set(unsigned b, uint64_t now, const uint8_t *mac,
			  const struct sw_entry **found)
{
	unsigned used = 0;

	for (unsigned w = 0; w < SW_WAYS; w++) {
		const struct sw_entry *e = &the_switch.table[b][w];
		if (!e->used)
			continue;
		used++;
		CHECK(!(e->mac[0] & 1));
		CHECK(e->port < app.nports);
		CHECK(e->seen_ms <= now);
		CHECK(sw_hash(e->mac) == b);
		for (unsigned v = w + 1; v < SW_WAYS; v++)
			CHECK(!the_switch.table[b][v].used ||
			      memcmp(the_switch.table[b][v].mac, e->mac, 6));
		if (mac && found && !memcmp(e->mac, mac, 6))
			*found = e;
		if (!sw_live(e, now))
			continue;
		const struct mst *m = mfind(e->mac, false);
		CHECK(mlive(m, now));
		CHECK(m->port == e->port && m->seen == e->seen_ms);
	}
	return used;
}

/* Entries in use, as the harness has followed them. */
static uint64_t held;

/* The counters against what the table holds. An entry comes in learnt,
 * and leaves aged out (its slot taken by another address once stale),
 * evicted or forgotten; one renewed after ageing counts aged and stays. */
static void check_counters(void)
{
	const struct sw_counters *c = &the_switch.c;

	CHECK(held <= CAPACITY);
	CHECK(c->aged + c->evicted + c->forgotten <= c->learnt + renewed);
	CHECK(held == c->learnt + renewed - c->aged - c->evicted - c->forgotten);
}

/* The whole table: every set, and the count in use taken again. */
static void check_table(uint64_t now)
{
	held = 0;
	for (unsigned b = 0; b < SW_BUCKETS; b++)
		held += check_set(b, now, NULL, NULL);
	check_counters();
}

/* The source's set of the table before the frame: what learning it may
 * change. */
static struct sw_entry set_before[SW_WAYS];

static void check_frame(const struct sw_counters *b, uint64_t now)
{
	const struct sw_counters *c = &the_switch.c;
	const struct sw_entry *set = the_switch.table[sw_hash(in_copy + 6)];
	uint64_t aged = 0, renew = 0;
	bool had = false, room = false;
	const uint8_t *dst = in_copy, *src = in_copy + 6;
	uint64_t moved = (c->forwarded - b->forwarded) +
			 (c->flooded - b->flooded) +
			 (c->filtered - b->filtered);
	/* Where the harness saw the destination (before this frame's
	 * source is taken: a frame to itself is filtered). */
	struct mst *d = mfind(dst, false);

	CHECK(moved == 1);
	if (!(src[0] & 1)) {
		struct mst *s = mfind(src, true);
		s->known = true;
		s->port = in_port;
		s->seen = now;
		if (!memcmp(src, dst, 6))
			d = s;
	}
	if (dst[0] & 1)
		CHECK(c->flooded == b->flooded + 1);
	if (c->filtered != b->filtered) {
		CHECK(nsent == 0);
		CHECK(mlive(d, now) && d->port == in_port);
	}
	if (c->forwarded != b->forwarded) {
		CHECK(nsent == 1);
		CHECK(mlive(d, now) && sent_mask == 1u << d->port);
	}
	if (c->flooded != b->flooded) {
		unsigned up = 0;
		for (unsigned i = 0; i < app.nports; i++)
			if (i != in_port && app.port[i].net.up)
				up |= 1u << i;
		CHECK(sent_mask == up);
		/* A station it should know: only if it made room since,
		 * this frame's own source included (learnt before the
		 * destination is looked up). */
		if (!(dst[0] & 1) && mlive(d, now))
			CHECK(c->evicted > d->evicted);
	}
	/* Learning: a new address is learnt, evicting only from a set
	 * with no room; every stale entry it takes, or renews, is counted
	 * aged once, and no other. */
	for (unsigned w = 0; !(src[0] & 1) && w < SW_WAYS; w++) {
		const struct sw_entry *o = &set_before[w];
		bool same = !memcmp(o->mac, set[w].mac, 6);
		had |= o->used && !memcmp(o->mac, src, 6);
		room |= !sw_live(o, now);
		if (!o->used || sw_live(o, now))
			continue;
		if (!same)
			aged++;
		else if (set[w].seen_ms == now && set[w].used) {
			aged++;
			renew++;
		}
	}
	CHECK(c->aged - b->aged == aged);
	CHECK(c->learnt - b->learnt == (!(src[0] & 1) && !had ? 1u : 0u));
	CHECK(c->evicted - b->evicted ==
	      (!(src[0] & 1) && !had && !room ? 1u : 0u));
	CHECK(c->forgotten == b->forgotten);
	renewed += renew;
	/* Only the source's set changed (check_table sees the rest). */
	const struct sw_entry *e = NULL;
	unsigned was = 0;
	for (unsigned w = 0; w < SW_WAYS; w++)
		was += set_before[w].used;
	held += check_set(sw_hash(src), now, src, &e);
	held -= was;
	check_set(sw_hash(dst), now, NULL, NULL);
	check_counters();
	if (!(src[0] & 1)) {
		CHECK(e && e->port == in_port && e->seen_ms == now);
		mfind(src, false)->evicted = c->evicted;
	}
}

/* Port i's link goes down if it was up, up if it was down: net.up
 * changes, then the appliance is told, as netapp_poll() does it. */
static void link_change(unsigned i)
{
	bool now_up = !app.port[i].net.up;
	uint64_t forgotten = the_switch.c.forgotten;

	app.port[i].net.up = now_up;
	app.ops->link(&app, i, now_up);
	if (now_up) {
		CHECK(the_switch.c.forgotten == forgotten);
		return;
	}
	for (unsigned k = 0; k < nm; k++)
		if (model[mlist[k]].port == i)
			model[mlist[k]].known = false;
	/* What it says it forgot; check_table counts what is left. */
	held -= the_switch.c.forgotten - forgotten;
}

/* One frame in on port in_port. */
static void switch_frame(const uint8_t *frame, size_t len)
{
	struct sw_counters before = the_switch.c;

	memcpy(in_copy, frame, len);
	in_len = len;
	sent_mask = nsent = 0;
	memcpy(set_before, the_switch.table[sw_hash(frame + 6)],
	       sizeof(set_before));
	/* netapp.c hands the appliance a private copy in a->buf; here it
	 * is a buffer of exactly len bytes, so that a read past the frame
	 * is a report. */
	uint8_t *copy = malloc(len);
	CHECK(copy);
	memcpy(copy, frame, len);
	app.ops->frame(&app, in_port, copy, len);
	free(copy);
	check_frame(&before, app.now_ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t ages[4] = {1, 10, 300, 3600};
	static uint8_t frame[VMSG_NET_MAX_MSG];
	struct fuzz_in in = {data, size};
	uint8_t cfg = fuzz_u8(&in);
	uint16_t up = fuzz_u16(&in);
	unsigned nports = 2 + (cfg & 15) % 15;
	uint32_t mtu = cfg & 0x40 ? 9000 : 1500;
	char a0[16], a1[16], a2[16], err[128];
	char *argv[3] = {a0, a1, a2};
	size_t len = 0;
	unsigned links = 0;

	if (!pool[0][0])
		make_pool();
	snprintf(a0, sizeof a0, "ports=%u", nports);
	snprintf(a1, sizeof a1, "age=%u", ages[(cfg >> 4) & 3]);
	snprintf(a2, sizeof a2, "mtu=%u", mtu);
	CHECK(netapp_app.configure(&app, 3, argv, err, sizeof err) == 0);
	CHECK(app.nports == nports && app.cfg.mtu == mtu);
	age_ms = (uint64_t)ages[(cfg >> 4) & 3] * 1000u;
	CHECK(the_switch.age_ms == age_ms);
	memset(model, 0, sizeof(model));
	nm = 0;
	renewed = held = 0;
	app.now_ms = 0;
	for (unsigned i = 0; i < nports; i++)
		app.port[i].net.up = up >> i & 1;

	for (unsigned n = 0; fuzz_in_left(&in) && n < MAX_OPS; n++) {
		uint8_t op = fuzz_u8(&in);
		unsigned t = (op >> 2) & 7, kind = op & 3;
		uint64_t adv[6] = {0, 1, 999, 1000, age_ms, age_ms + 1};

		if (t == 6)
			app.now_ms += fuzz_u16(&in);
		else if (t == 7)
			app.now_ms += (uint64_t)fuzz_u16(&in) * 1000u;
		else
			app.now_ms += adv[t];
		if (kind == 2) {
			/* A link change walks the whole table (the switch's
			 * and the harness's): a few per input are enough. */
			unsigned i = fuzz_u8(&in) % nports;
			if (links++ < MAX_LINKS)
				link_change(i);
		} else if (kind != 3) {
			in_port = fuzz_u8(&in) % nports;
			if (kind == 0 || len == 0) {
				size_t k;
				const uint8_t *p;
				pick_mac(&in, frame);
				pick_mac(&in, frame + 6);
				len = 14 + fuzz_u16(&in) % (mtu + 1);
				p = fuzz_bytes(&in, len - 12, &k);
				memcpy(frame + 12, p, k);
				memset(frame + 12 + k, 0, len - 12 - k);
			} else {
				uint8_t t6[6];
				memcpy(t6, frame, 6);
				memcpy(frame, frame + 6, 6);
				memcpy(frame + 6, t6, 6);
			}
			switch_frame(frame, len);
		}
		/* The whole table now and then (each frame's check looks
		 * at the sets it touched). */
		if (n % 64 == 63)
			check_table(app.now_ms);
	}
	check_table(app.now_ms);
	return 0;
}
