/* ring_notify: the notify-request bits, byte by byte as libxenvchan uses
 * them. The server asks for kicks in cli_notify and honours requests found
 * in srv_notify; the client the other way round. kick_needed reports a
 * request once and clears only its own bit. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include <vmsg/ring.h>

#include "ring_pair.h"
#include "vmsg_test.h"

static void check_end(struct ring_pair *p, struct vmsg_ring_end *me,
		      struct vmsg_ring_end *peer, uint8_t *my_want_byte,
		      uint8_t *peer_want_byte)
{
	/* Wiring. */
	ASSERT_TRUE(me->want == my_want_byte);
	ASSERT_TRUE(me->peer_want == peer_want_byte);
	ASSERT_TRUE(peer->peer_want == my_want_byte);

	*my_want_byte = 0;
	*peer_want_byte = 0;

	/* Nothing requested: no kick, nothing changes. */
	ASSERT_TRUE(!vmsg_ring_kick_needed(peer, VMSG_NOTIFY_WRITE));
	ASSERT_TRUE(!vmsg_ring_kick_needed(peer, VMSG_NOTIFY_READ));
	ASSERT_EQ(*my_want_byte, 0);

	/* A request sets exactly its bit in the byte the peer reads, and
	 * nothing in the byte we read. */
	vmsg_ring_request_notify(me, VMSG_NOTIFY_WRITE);
	ASSERT_EQ(*my_want_byte, VMSG_NOTIFY_WRITE);
	ASSERT_EQ(*peer_want_byte, 0);
	/* We cannot consume our own request. */
	ASSERT_TRUE(!vmsg_ring_kick_needed(me, VMSG_NOTIFY_WRITE));
	ASSERT_EQ(*my_want_byte, VMSG_NOTIFY_WRITE);

	/* The other bit is not reported. */
	ASSERT_TRUE(!vmsg_ring_kick_needed(peer, VMSG_NOTIFY_READ));
	ASSERT_EQ(*my_want_byte, VMSG_NOTIFY_WRITE);

	/* Reported once, then cleared. */
	ASSERT_TRUE(vmsg_ring_kick_needed(peer, VMSG_NOTIFY_WRITE));
	ASSERT_EQ(*my_want_byte, 0);
	ASSERT_TRUE(!vmsg_ring_kick_needed(peer, VMSG_NOTIFY_WRITE));

	/* Both bits: each cleared on its own, the other left alone. */
	vmsg_ring_request_notify(me, VMSG_NOTIFY_READ);
	vmsg_ring_request_notify(me, VMSG_NOTIFY_WRITE);
	vmsg_ring_request_notify(me, VMSG_NOTIFY_READ); /* idempotent */
	ASSERT_EQ(*my_want_byte, VMSG_NOTIFY_READ | VMSG_NOTIFY_WRITE);
	ASSERT_TRUE(vmsg_ring_kick_needed(peer, VMSG_NOTIFY_READ));
	ASSERT_EQ(*my_want_byte, VMSG_NOTIFY_WRITE);
	ASSERT_TRUE(!vmsg_ring_kick_needed(peer, VMSG_NOTIFY_READ));
	ASSERT_TRUE(vmsg_ring_kick_needed(peer, VMSG_NOTIFY_WRITE));
	ASSERT_EQ(*my_want_byte, 0);

	/* Bits the peer set that we do not know are kept. */
	*my_want_byte = 0x80 | VMSG_NOTIFY_WRITE;
	ASSERT_TRUE(vmsg_ring_kick_needed(peer, VMSG_NOTIFY_WRITE));
	ASSERT_EQ(*my_want_byte, 0x80);
	*my_want_byte = 0;

	/* The typical sequence: the reader asks for a write kick and
	 * re-checks; the writer publishes and is told to kick. */
	uint8_t b = 42;
	vmsg_ring_request_notify(me, VMSG_NOTIFY_WRITE);
	ASSERT_EQ(vmsg_ring_data_ready(me), 0);
	ASSERT_EQ(vmsg_ring_write(peer, &b, 1), 1);
	ASSERT_TRUE(vmsg_ring_kick_needed(peer, VMSG_NOTIFY_WRITE));
	ASSERT_TRUE(!vmsg_ring_kick_needed(peer, VMSG_NOTIFY_WRITE));
	ASSERT_EQ(vmsg_ring_read(me, &b, 1), 1);
	ASSERT_EQ(b, 42);
	(void)p;
}

int main(void)
{
	struct ring_pair p;
	ring_pair_open(&p, 10, 11);

	/* page_init leaves both sides asking for write kicks. */
	ASSERT_EQ(p.page->cli_notify, VMSG_NOTIFY_WRITE);
	ASSERT_EQ(p.page->srv_notify, VMSG_NOTIFY_WRITE);

	/* Server: requests visible in cli_notify, honours srv_notify. */
	check_end(&p, &p.srv, &p.cli, &p.page->cli_notify,
		  &p.page->srv_notify);
	/* Client: requests visible in srv_notify, honours cli_notify. */
	check_end(&p, &p.cli, &p.srv, &p.page->srv_notify,
		  &p.page->cli_notify);

	/* Live bytes: each side's own and the peer's. */
	ASSERT_TRUE(p.srv.live == &p.page->srv_live);
	ASSERT_TRUE(p.srv.peer_live == &p.page->cli_live);
	ASSERT_TRUE(p.cli.live == &p.page->cli_live);
	ASSERT_TRUE(p.cli.peer_live == &p.page->srv_live);

	ring_pair_close(&p);
	return 0;
}
