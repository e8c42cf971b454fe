/* Prints the worked example of docs/protocol.md from the real frame code:
 * the test protocol_example checks that the document shows exactly this. */
#include <stdio.h>
#include <string.h>

#include "../frame/frame_pair.h"

static void dump(const uint8_t *ring, uint32_t from, uint32_t n)
{
	for (uint32_t row = from; row < from + n; row += 16) {
		printf("%04x ", row);
		for (uint32_t i = row; i < row + 16; i++)
			printf("%s%02x", i % 8 == 0 ? "  " : " ", ring[i]);
		printf("   ");
		for (uint32_t i = row; i < row + 16; i++)
			putchar(ring[i] >= 0x20 && ring[i] < 0x7f ? ring[i] : '.');
		putchar('\n');
	}
}

/* Client sends; the bytes land in the left ring. */
static void send(struct frame_pair *p, uint16_t type, const void *msg,
		 size_t len)
{
	struct vmsg_frame_tx tx = {0};
	struct vmsg_frag_tx s;

	vmsg_frag_tx_init(&s, type, msg, len);
	ASSERT_EQ(vmsg_frag_tx_step(&p->cli, &tx, &s), 1);
	vmsg_frame_commit(&p->cli, &tx);
}

int main(void)
{
	struct frame_pair p;
	uint8_t big[600];

	frame_pair_open(&p, 10, 11);
	memset(p.left, 0, 1024);

	printf("1. A 5-byte message \"hello\" of type 0x0100, ring offset 0:\n\n");
	send(&p, 0x0100, "hello", 5);
	dump(p.left, 0, 16);

	printf("\n2. The writer is at offset 992 (32 bytes before the end of a "
	       "1 KiB ring)\n   and sends 40 bytes of type 0x0101: a 48-byte "
	       "frame does not fit,\n   so a PAD frame (len 24) fills the tail "
	       "and the frame goes to offset 0:\n\n");
	memset(p.left, 0, 1024);
	frame_pair_attach(&p, 992, 0);
	send(&p, 0x0101, "0123456789abcdefghijklmnopqrstuvwxyzABCD", 40);
	dump(p.left, 992, 32);
	dump(p.left, 0, 48);

	printf("\n3. A 600-byte message of type 0x0102 on a 1 KiB ring (at most "
	       "504 payload\n   bytes a frame): a first fragment (MORE, the u64 "
	       "total 600, then 496 bytes)\n   and a last one (CONT, 104 "
	       "bytes). The first 16 bytes of each:\n\n");
	memset(p.left, 0, 1024);
	frame_pair_attach(&p, 0, 0);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)('a' + i % 26);
	send(&p, 0x0102, big, sizeof(big));
	dump(p.left, 0, 16);
	dump(p.left, vmsg_frame_size(504), 16);
	frame_pair_close(&p);
	return 0;
}
