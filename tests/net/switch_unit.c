/* switch_unit: the l2switch's forwarding decisions, without channels.
 * switch.c is compiled in with netapp_send() recording where each frame
 * would go: learning, forwarding to the learnt port, flooding unknown,
 * broadcast and multicast destinations to every other up port, filtering
 * a frame whose destination is on its own port, a station moving ports,
 * ageing (an address unseen for age= seconds is flooded to again, and
 * counted aged once), and a port's addresses forgotten when its link goes
 * down. */
#include <stdio.h>
#include <string.h>

#include "vmsg_test.h"

#define netapp_send test_send
#include "../../examples/l2switch/switch.c"
#undef netapp_send

static unsigned sent_mask; /* ports the last frame went to */

int test_send(struct netapp *a, unsigned i, const uint8_t *f, size_t len)
{
	(void)a, (void)f, (void)len;
	sent_mask |= 1u << i;
	return 0;
}

static struct netapp app;

/* A frame from MAC ..:src to MAC ..:dst (0xff: broadcast) on port in;
 * returns the mask of ports it went out of. */
static unsigned frame(unsigned in, uint8_t src, uint8_t dst)
{
	uint8_t f[60] = {0};
	memset(f, dst == 0xff ? 0xff : 0, 6);
	if (dst != 0xff) {
		f[0] = 0x02;
		f[5] = dst;
	}
	f[6] = 0x02;
	f[11] = src;
	f[12] = 0x08;
	sent_mask = 0;
	app.ops->frame(&app, in, f, sizeof f);
	return sent_mask;
}

int main(void)
{
	char *args[] = {"ports=4", "age=10"};
	char err[128];

	ASSERT_EQ(netapp_app.configure(&app, 2, args, err, sizeof err), 0);
	char *bad[] = {"ports=1"};
	struct netapp tmp;
	ASSERT_EQ(netapp_app.configure(&tmp, 1, bad, err, sizeof err), -1);
	ASSERT_EQ(netapp_app.configure(&app, 2, args, err, sizeof err), 0);
	for (unsigned i = 0; i < 4; i++)
		app.port[i].net.up = true;
	app.now_ms = 1000;

	/* Unknown destination: flooded to the other three. */
	ASSERT_EQ(frame(0, 1, 2), 0xeu);
	/* 2 answers 1, learnt on port 0: forwarded there only. */
	ASSERT_EQ(frame(1, 2, 1), 0x1u);
	ASSERT_EQ(frame(0, 1, 2), 0x2u);
	/* Broadcast and multicast: flooded. */
	ASSERT_EQ(frame(2, 3, 0xff), 0xbu);
	/* A down port gets no flood. */
	app.port[3].net.up = false;
	ASSERT_EQ(frame(2, 3, 0x77), 0x3u);
	app.port[3].net.up = true;
	/* Destination on the port it came from: filtered. */
	ASSERT_EQ(frame(0, 9, 1), 0u);
	ASSERT_EQ(the_switch.c.filtered, 1);
	/* 1 moves to port 3. */
	ASSERT_EQ(frame(3, 1, 2), 0x2u);
	ASSERT_EQ(frame(1, 2, 1), 0x8u);
	ASSERT_EQ(the_switch.c.moved, 1);
	/* Ageing: 10 s later 1 is still known (exactly at the limit), 1 ms
	 * more and it is flooded to again. */
	app.now_ms += 10000;
	ASSERT_EQ(frame(1, 2, 1), 0x8u);
	app.now_ms += 10001;
	ASSERT_EQ(frame(1, 2, 1), 0xdu);
	/* Port 1's link goes down: 2 (learnt there) is forgotten. */
	ASSERT_EQ(frame(3, 1, 2), 0x2u);
	app.ops->link(&app, 1, false);
	ASSERT_GE(the_switch.c.forgotten, 1);
	ASSERT_EQ(frame(3, 1, 2), 0x7u);
	/* A group source address is never learnt. */
	uint64_t learnt = the_switch.c.learnt;
	uint8_t f[60] = {0x02, 0, 0, 0, 0, 1, 0x03, 0, 0, 0, 0, 5, 0x08};
	app.ops->frame(&app, 2, f, sizeof f);
	ASSERT_EQ(the_switch.c.learnt, learnt);
	/* A full set: the oldest entry is evicted, never a crash. */
	for (unsigned i = 0; i < 5000; i++) {
		uint8_t g[60] = {0x02, 0, 0, 0, 0, 1, 0x02, 0x10,
				 (uint8_t)(i >> 16), (uint8_t)(i >> 8),
				 (uint8_t)i, 0, 0x08};
		app.ops->frame(&app, i % 4, g, sizeof g);
	}
	ASSERT_GT(the_switch.c.evicted, 0);

	/* Ageing is counted once per address: X and Y share a set of the
	 * table, both go stale, Y comes back and sends again and again.
	 * Only Y's renewal counts, then X's slot taken by Z; X passed over
	 * while Y is looked for is not counted at every frame (it was). */
	ASSERT_EQ(netapp_app.configure(&app, 2, args, err, sizeof err), 0);
	app.now_ms = 1000;
	uint8_t x[6] = {0x02, 0x30, 0, 0, 0, 0}, y[6], z[6];
	unsigned found = 0;
	for (unsigned i = 1; found < 2; i++) {
		uint8_t m[6] = {0x02, 0x30, 0, 0, (uint8_t)(i >> 8), (uint8_t)i};
		if (sw_hash(m) == sw_hash(x))
			memcpy(found++ ? z : y, m, 6);
	}
	uint8_t g[60] = {0x02, 0, 0, 0, 0, 1};
	g[12] = 0x08;
	memcpy(g + 6, x, 6);
	app.ops->frame(&app, 0, g, sizeof g);
	memcpy(g + 6, y, 6);
	app.ops->frame(&app, 1, g, sizeof g);
	app.now_ms += 10001;
	for (unsigned i = 0; i < 3; i++, app.now_ms++)
		app.ops->frame(&app, 1, g, sizeof g);
	ASSERT_EQ(the_switch.c.aged, 1);
	memcpy(g + 6, z, 6);
	app.ops->frame(&app, 2, g, sizeof g);
	ASSERT_EQ(the_switch.c.aged, 2);
	ASSERT_EQ(the_switch.c.learnt, 3);
	printf("switch_unit: ok\n");
	return 0;
}
