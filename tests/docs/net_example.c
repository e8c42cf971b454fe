/* Prints the worked example of docs/net.md from the real code: the HELLO
 * payload vmsg_net_hello_write() makes and an ARP request as one frame, as
 * they sit in the ring. docs_net_example checks that the page shows this. */
#include <stdio.h>
#include <string.h>

#include <vmsg/net.h>

#include "../frame/frame_pair.h"

static void dump(const uint8_t *ring, uint32_t from, uint32_t n)
{
	for (uint32_t row = from; row < from + n; row += 16) {
		printf("%04x ", row);
		for (uint32_t i = row; i < row + 16; i++)
			printf("%s%02x", i % 8 == 0 ? "  " : " ", ring[i]);
		putchar('\n');
	}
}

static void put(struct frame_pair *p, uint16_t type, const void *msg,
		uint32_t len)
{
	struct vmsg_frame_tx tx = {0};
	void *dst;

	ASSERT_EQ(vmsg_frame_reserve(&p->cli, &tx, type, 0, len, &dst), 0);
	memcpy(dst, msg, len);
	vmsg_frame_commit(&p->cli, &tx);
}

int main(void)
{
	struct frame_pair p;
	struct vmsg_net_config cfg = {
		.mtu = 1500, .mac = {0x02, 0x00, 0x5e, 0x00, 0x00, 0x01}};
	uint8_t hello[VMSG_NET_HELLO_SIZE];
	/* ARP: who has 198.18.0.2? tell 198.18.0.1 */
	static const uint8_t arp[42] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* destination: broadcast */
		0x02, 0x00, 0x5e, 0x00, 0x00, 0x01, /* source */
		0x08, 0x06,                         /* EtherType: ARP */
		0x00, 0x01, 0x08, 0x00, 6,    4,    0x00, 0x01, /* request */
		0x02, 0x00, 0x5e, 0x00, 0x00, 0x01, 198,  18,   0, 1,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 198,  18,   0, 2};
	uint32_t mtu;
	uint8_t mac[6];

	frame_pair_open(&p, 10, 11);
	memset(p.left, 0, 1024);

	vmsg_net_hello_write(hello, &cfg);
	ASSERT_EQ(vmsg_net_hello_parse(hello, sizeof(hello), &mtu, mac), 0);
	ASSERT_EQ(mtu, 1500);
	ASSERT_MEM_EQ(mac, cfg.mac, 6);
	put(&p, VMSG_NET_TYPE_HELLO, hello, sizeof(hello));
	put(&p, VMSG_NET_TYPE_FRAME, arp, sizeof(arp));

	printf("1. HELLO (type 0x%04x, 16 bytes): version 1, flags 0, MTU "
	       "1500,\n   MAC 02:00:5e:00:00:01, reserved 0. Ring offset "
	       "0:\n\n",
	       VMSG_NET_TYPE_HELLO);
	dump(p.left, 0, 24);
	printf("\n2. FRAME (type 0x%04x, 42 bytes): an ARP request from that "
	       "MAC, \"who has\n   198.18.0.2? tell 198.18.0.1\", padded to "
	       "48. Ring offset 24:\n\n",
	       VMSG_NET_TYPE_FRAME);
	dump(p.left, 24, 56);
	frame_pair_close(&p);
	return 0;
}
