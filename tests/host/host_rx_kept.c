/* host_rx_kept: vmsg_chan_rx_kept() counts and frees the reassembly
 * buffer a receiving end keeps for the peer's fragmented messages.
 *
 * The server takes messages of up to MAX_MSG bytes. The client (a child)
 * sends a 300000-byte message (over the limit), a 200000-byte one
 * (fragmented through the default 64 KiB rings), a small one, a
 * 150000-byte one, and closes. The server peeks each:
 *  - the first is dropped (-EMSGSIZE): its bytes, counted while it is
 *    skipped, never reach the buffer: 0 kept (it said a fragment's worth
 *    before, and more than MAX_MSG by the end of the message);
 *  - no buffer before the first: 0 kept;
 *  - the first presented: 200000 kept; a trim while it is presented frees
 *    nothing and its bytes stay intact;
 *  - released: still 200000 kept (its pages stay written), 0 held;
 *    trimmed: 0;
 *  - the small one stays in the ring: 0 kept;
 *  - the third is collected in a new buffer: 150000 kept, not the first
 *    one's 200000; trimmed after its release: 0.
 * Then -EPIPE. */
#include "host_test_util.h"

#include <string.h>

#include <vmsg/chan.h>

#define T 20000 /* generous ms for every blocking call */
#define BIG1 200000u
#define SMALL 100u
#define BIG2 150000u
#define OVER 300000u
#define MAX_MSG 250000u

static unsigned char buf[OVER];

static void fill(unsigned char *b, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (unsigned char)(seed * 31u + i * 7u + (i >> 9));
}

static int client(const char *path)
{
	vmsg_chan *c;
	ASSERT_EQ(vmsg_host_connect(&c, path, NULL, T), 0);
	fill(buf, OVER, 9);
	ASSERT_EQ(vmsg_chan_send(c, 9, buf, OVER, 0, T), (int)OVER);
	const size_t len[3] = {BIG1, SMALL, BIG2};
	for (unsigned i = 0; i < 3; i++) {
		fill(buf, len[i], i);
		ASSERT_EQ(vmsg_chan_send(c, (uint16_t)(10 + i), buf, len[i], 0,
					 T),
			  (int)len[i]);
	}
	vmsg_chan_close(c);
	return 0;
}

static size_t kept(vmsg_chan *c, bool trim)
{
	size_t n = 12345;
	ASSERT_EQ(vmsg_chan_rx_kept(c, trim, &n), 0);
	return n;
}

/* Peek the next message: type 10 + i, len bytes, filled with seed i. */
static void peek(vmsg_chan *c, unsigned i, size_t len)
{
	struct vmsg_msg m;
	ASSERT_EQ(vmsg_chan_peek(c, &m, T), 0);
	ASSERT_EQ(m.type, 10 + i);
	ASSERT_EQ(m.len, len);
	fill(buf, len, i);
	ASSERT_MEM_EQ(m.data, buf, len);
}

int main(void)
{
	char dir[256], path[300];
	ht_mkdtemp(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/sock", dir);
	pid_t pid = ht_fork_run(client, path);
	vmsg_chan *c;
	struct vmsg_msg m;
	size_t held;
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.max_msg = MAX_MSG;
	ASSERT_EQ(vmsg_host_serve(&c, path, &o), 0);
	ASSERT_EQ(vmsg_chan_accept(c, T), 0);
	ASSERT_EQ(vmsg_chan_rx_kept(NULL, false, NULL), -EINVAL);
	ASSERT_EQ(kept(c, false), 0);
	ASSERT_EQ(kept(c, true), 0);

	ASSERT_EQ(vmsg_chan_peek(c, &m, T), -EMSGSIZE);
	ASSERT_EQ(vmsg_chan_rx_partial(c, &held), 1); /* being skipped */
	ASSERT_EQ(held, 0);
	ASSERT_EQ(kept(c, false), 0);

	peek(c, 0, BIG1);
	ASSERT_EQ(kept(c, false), BIG1);
	ASSERT_EQ(kept(c, true), BIG1); /* presented: not freed */
	ASSERT_EQ(vmsg_chan_peek(c, &m, 0), 0); /* the same, intact */
	fill(buf, BIG1, 0);
	ASSERT_EQ(m.len, BIG1);
	ASSERT_MEM_EQ(m.data, buf, BIG1);
	ASSERT_EQ(vmsg_chan_release(c), 0);
	ASSERT_EQ(vmsg_chan_rx_partial(c, &held), 0);
	ASSERT_EQ(held, 0);
	ASSERT_EQ(kept(c, false), BIG1);
	ASSERT_EQ(kept(c, true), 0);
	ASSERT_EQ(kept(c, false), 0);

	peek(c, 1, SMALL);
	ASSERT_EQ(kept(c, false), 0);
	ASSERT_EQ(vmsg_chan_release(c), 0);

	peek(c, 2, BIG2);
	ASSERT_EQ(kept(c, false), BIG2);
	ASSERT_EQ(vmsg_chan_release(c), 0);
	ASSERT_EQ(kept(c, false), BIG2);
	ASSERT_EQ(kept(c, true), 0);

	ASSERT_EQ(vmsg_chan_peek(c, &m, T), -EPIPE);
	vmsg_chan_close(c);
	ht_reap_ok(pid);
	ht_rmdir(dir);
	return 0;
}
