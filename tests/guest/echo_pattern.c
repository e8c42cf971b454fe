/* guest-echo-pattern COUNT SIZE: write to stdout the message records that
 * the echo appliance's role=client and open=NAME send (examples/echo-
 * unikernel/echo.c, its header comment): for each message i from 0, its
 * type 0x100 + i % 16 (2 bytes, little-endian), its length 1 + (i * 7919)
 * % SIZE in 32-bit unsigned arithmetic (4 bytes, little-endian), then its
 * bytes, byte k being (i * 31 + k) mod 256.
 *
 * The appliance tests pipe this into `cksum` and compare the result with
 * the CRC the appliance prints of the records that crossed the channel:
 * the expected value comes from this program and coreutils (or busybox),
 * not from the code under test. Written from that description alone, on
 * purpose: it shares no code with echo.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: guest-echo-pattern COUNT SIZE\n");
		return 2;
	}
	uint32_t count = (uint32_t)strtoul(argv[1], NULL, 10);
	uint32_t size = (uint32_t)strtoul(argv[2], NULL, 10);
	if (size == 0)
		return 2;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t type = 0x100 + i % 16;
		uint32_t len = 1 + (uint32_t)(i * 7919u) % size;
		unsigned char h[6];
		h[0] = type & 0xff;
		h[1] = type >> 8;
		for (int b = 0; b < 4; b++)
			h[2 + b] = (len >> (8 * b)) & 0xff;
		if (fwrite(h, 1, sizeof h, stdout) != sizeof h)
			return 1;
		for (uint32_t k = 0; k < len; k++)
			if (putchar((int)((i * 31u + k) & 0xff)) == EOF)
				return 1;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
