/* uv_echo_check PATH N: a client of an echo service (examples/uv-echo)
 * that keeps up to 64 messages in flight: N typed messages of 1..20000
 * bytes, every echo checked for type, length and bytes, in order. The
 * plain blocking API, one thread: it sends while the ring takes them and
 * reads echoes while it waits. Exit 0 and one line when all came back. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmsg/host.h>

#include "vmsg_test.h"

static size_t len_of(unsigned i)
{
	return 1 + (i * 7919u) % 20000u;
}

static void fill(unsigned char *b, unsigned i)
{
	for (size_t k = 0; k < len_of(i); k++)
		b[k] = (unsigned char)(i * 31u + k);
}

int main(int argc, char **argv)
{
	static unsigned char out[20000], want[20000], in[20000];
	if (argc != 3)
		VMSG_TEST_FAIL("usage: uv_echo_check PATH N");
	unsigned n = (unsigned)strtoul(argv[2], NULL, 10), sent = 0, got = 0;
	vmsg_chan *c;
	int r = vmsg_host_connect(&c, argv[1], NULL, 20000);
	if (r < 0)
		VMSG_TEST_FAIL("connect %s: %s", argv[1], vmsg_strerror(r));
	while (got < n) {
		if (sent < n && sent - got < 64) {
			fill(out, sent);
			r = vmsg_chan_send(c, (uint16_t)(0x100 + sent % 16), out,
					   len_of(sent), 0, 0);
			if (r >= 0) {
				sent++;
				continue;
			}
			ASSERT_EQ(r, -EAGAIN);
		}
		uint16_t type;
		/* Something must come back within 20 s (generous under load). */
		r = vmsg_chan_recv(c, &type, in, sizeof in, 20000);
		if (r < 0)
			VMSG_TEST_FAIL("echo %u of %u: %s", got, n, vmsg_strerror(r));
		ASSERT_EQ(type, 0x100 + got % 16);
		ASSERT_EQ(r, (int)len_of(got));
		fill(want, got);
		ASSERT_MEM_EQ(in, want, (size_t)r);
		got++;
	}
	vmsg_chan_close(c);
	printf("uv_echo_check: %u echoes checked on %s\n", n, argv[1]);
	return 0;
}
