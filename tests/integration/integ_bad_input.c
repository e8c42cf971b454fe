/* integ_bad_input: every public function of chan.h and host.h refuses
 * NULL, zero and oversized arguments with a clear -errno and no side
 * effect (no leaked fd; LeakSanitizer checks memory in the ASan flavour);
 * vmsg_chan_close(NULL) is a no-op; vmsg_strerror() names every code.
 * With a live channel: type 0 and bad flags are -EINVAL, a message larger
 * than max_msg is -EMSGSIZE on send, and on receive a too-small buffer
 * leaves the message queued while an over-limit incoming message is
 * dropped and the channel goes on. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmsg/frame.h>

#include "integ.h"

#define MAX_MSG 4096u

struct child {
	const char *path;
	int go_rd;
};

/* The peer: after the go byte, connect and send a 100-byte message, one
 * over the receiver's max_msg, and a 10-byte one; then wait for the close. */
static int peer(void *arg)
{
	const struct child *ch = arg;
	static uint8_t big[2 * MAX_MSG];
	uint8_t go;
	vmsg_chan *c;
	int r;

	integ_read_full(ch->go_rd, &go, 1);
	if ((r = integ_connect(&c, ch->path, NULL, 20000)) < 0)
		VMSG_TEST_FAIL("connect: %s", vmsg_strerror(r));
	for (unsigned i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	ASSERT_EQ(vmsg_chan_send(c, INTEG_TYPE, big, 100, 0, 10000), 100);
	ASSERT_EQ(vmsg_chan_send(c, INTEG_TYPE, big, sizeof(big), 0, 10000),
		  sizeof(big));
	ASSERT_EQ(vmsg_chan_send(c, INTEG_TYPE + 1, big, 10, 0, 10000), 10);
	while ((r = vmsg_chan_recv(c, NULL, big, sizeof(big), 20000)) >= 0)
		;
	ASSERT_EQ(r, -EPIPE);
	vmsg_chan_close(c);
	return 0;
}

/* Every call with a NULL channel or NULL out-pointer. */
static void null_channel(const char *path)
{
	struct vmsg_chan_opts o;
	struct vmsg_platform *p;
	struct vmsg_chan_stats st;
	struct vmsg_msg m;
	uint8_t b[16];
	void *pl;
	vmsg_chan *c = NULL;

	vmsg_chan_opts_init(NULL); /* ignored */
	vmsg_chan_close(NULL);     /* a no-op */
	ASSERT_EQ(vmsg_chan_serve(&c, NULL, NULL), -EINVAL);
	ASSERT_EQ(vmsg_chan_connect(&c, NULL, NULL, 0), -EINVAL);
	/* The platform passes to the channel also on failure: no leak. */
	ASSERT_EQ(vmsg_host_platform_new(&p, path, true), 0);
	ASSERT_EQ(vmsg_chan_serve(NULL, p, NULL), -EINVAL);
	ASSERT_EQ(vmsg_host_platform_new(&p, path, false), 0);
	ASSERT_EQ(vmsg_chan_connect(NULL, p, NULL, 0), -EINVAL);
	ASSERT_TRUE(c == NULL);

	ASSERT_EQ(vmsg_chan_accept(NULL, 0), -EINVAL);
	ASSERT_EQ(vmsg_chan_state(NULL), -EINVAL);
	ASSERT_EQ(vmsg_chan_fd(NULL), -EINVAL);
	ASSERT_EQ(vmsg_chan_ack(NULL), -EINVAL);
	ASSERT_EQ(vmsg_chan_send(NULL, INTEG_TYPE, b, 1, 0, 0), -EINVAL);
	ASSERT_EQ(vmsg_chan_flush(NULL), -EINVAL);
	ASSERT_EQ(vmsg_chan_reserve(NULL, INTEG_TYPE, 1, &pl, 0), -EINVAL);
	ASSERT_EQ(vmsg_chan_commit(NULL, 0), -EINVAL);
	ASSERT_EQ(vmsg_chan_max_frame(NULL), -EINVAL);
	ASSERT_EQ(vmsg_chan_peek(NULL, &m, 0), -EINVAL);
	ASSERT_EQ(vmsg_chan_release(NULL), -EINVAL);
	ASSERT_EQ(vmsg_chan_recv(NULL, NULL, b, sizeof(b), 0), -EINVAL);
	ASSERT_EQ(vmsg_chan_write(NULL, b, sizeof(b), 0), -EINVAL);
	ASSERT_EQ(vmsg_chan_read(NULL, b, sizeof(b), 0), -EINVAL);
	ASSERT_EQ(vmsg_chan_stats(NULL, &st), -EINVAL);

	/* Options out of range. */
	vmsg_chan_opts_init(&o);
	o.rx_ring_size = 2u << 20; /* above 1 MiB */
	ASSERT_EQ(vmsg_host_serve(&c, path, &o), -EINVAL);
	vmsg_chan_opts_init(&o);
	o.tx_ring_size = UINT32_MAX;
	ASSERT_EQ(vmsg_host_serve(&c, path, &o), -EINVAL);
	vmsg_chan_opts_init(&o);
	o.max_msg = 0;
	ASSERT_EQ(vmsg_host_serve(&c, path, &o), -EINVAL);
	o.max_msg = SIZE_MAX;
	ASSERT_EQ(vmsg_host_serve(&c, path, &o), -EINVAL);
	ASSERT_TRUE(c == NULL);
	ASSERT_TRUE(access(path, F_OK) < 0); /* nothing was published */
}

static void host_args(const char *path)
{
	char longp[300];
	struct vmsg_platform *p = NULL;
	vmsg_chan *c = NULL;

	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = 0;
	ASSERT_EQ(vmsg_host_platform_new(NULL, path, true), -EINVAL);
	ASSERT_EQ(vmsg_host_platform_new(&p, NULL, true), -EINVAL);
	ASSERT_EQ(vmsg_host_platform_new(&p, longp, false), -ENAMETOOLONG);
	longp[108] = 0; /* one byte over the 107 allowed */
	ASSERT_EQ(vmsg_host_platform_new(&p, longp, true), -ENAMETOOLONG);
	ASSERT_EQ(vmsg_host_platform_new(&p, "", true), -EINVAL);
	ASSERT_TRUE(p == NULL);

	ASSERT_EQ(vmsg_host_serve(NULL, path, NULL), -EINVAL);
	ASSERT_EQ(vmsg_host_serve(&c, NULL, NULL), -EINVAL);
	ASSERT_EQ(vmsg_host_serve(&c, longp, NULL), -ENAMETOOLONG);
	ASSERT_EQ(vmsg_host_connect(NULL, path, NULL, 0), -EINVAL);
	ASSERT_EQ(vmsg_host_connect(&c, NULL, NULL, 0), -EINVAL);
	ASSERT_EQ(vmsg_host_connect(&c, longp, NULL, 0), -ENAMETOOLONG);
	ASSERT_EQ(vmsg_host_connect(&c, path, NULL, 0), -ENOENT);
	ASSERT_LT(vmsg_host_serve(&c, "/nonexistent-dir/x/sock", NULL), 0);
	ASSERT_TRUE(c == NULL);
}

/* Bad arguments on a live channel, and the receive-side size rules. */
static void live_channel(vmsg_chan *c, const char *path)
{
	static uint8_t b[2 * MAX_MSG];
	struct vmsg_msg m;
	vmsg_chan *c2 = NULL;
	uint16_t type;
	void *pl;
	int mf = vmsg_chan_max_frame(c);

	ASSERT_GT(mf, 0);
	ASSERT_LE(mf, MAX_MSG);
	ASSERT_EQ(vmsg_chan_send(c, VMSG_TYPE_PAD, b, 1, 0, 0), -EINVAL);
	ASSERT_EQ(vmsg_chan_send(c, INTEG_TYPE, NULL, 10, 0, 0), -EINVAL);
	ASSERT_EQ(vmsg_chan_send(c, INTEG_TYPE, b, 1, 0x80, 0), -EINVAL);
	ASSERT_EQ(vmsg_chan_send(c, INTEG_TYPE, b, MAX_MSG + 1, 0, 0),
		  -EMSGSIZE);
	ASSERT_EQ(vmsg_chan_send(c, INTEG_TYPE, b, SIZE_MAX, 0, 0), -EMSGSIZE);
	ASSERT_EQ(vmsg_chan_reserve(c, INTEG_TYPE, 8, NULL, 0), -EINVAL);
	ASSERT_EQ(vmsg_chan_reserve(c, VMSG_TYPE_PAD, 8, &pl, 0), -EINVAL);
	ASSERT_EQ(vmsg_chan_reserve(c, INTEG_TYPE, (size_t)mf + 1, &pl, 0),
		  -EMSGSIZE);
	ASSERT_EQ(vmsg_chan_reserve(c, INTEG_TYPE, SIZE_MAX, &pl, 0),
		  -EMSGSIZE);
	ASSERT_EQ(vmsg_chan_commit(c, 0), -EINVAL); /* nothing reserved */
	ASSERT_EQ(vmsg_chan_release(c), -EINVAL);   /* nothing peeked */
	ASSERT_EQ(vmsg_chan_peek(c, NULL, 0), -EINVAL);
	ASSERT_EQ(vmsg_chan_recv(c, NULL, NULL, 10, 0), -EINVAL);
	ASSERT_EQ(vmsg_chan_write(c, NULL, 10, 0), -EINVAL);
	ASSERT_EQ(vmsg_chan_read(c, NULL, 10, 0), -EINVAL);
	ASSERT_EQ(vmsg_chan_read(c, b, 0, 0), 0);
	ASSERT_EQ(vmsg_chan_stats(c, NULL), -EINVAL);

	/* One client per server: the socket is gone or the place is taken. */
	int r = vmsg_host_connect(&c2, path, NULL, 0);
	ASSERT_TRUE(r == -EBUSY || r == -ENOENT);
	ASSERT_TRUE(c2 == NULL);

	/* Too small a buffer (zero, then 10): the message stays queued. */
	ASSERT_EQ(vmsg_chan_recv(c, NULL, NULL, 0, 10000), -EMSGSIZE);
	ASSERT_EQ(vmsg_chan_recv(c, NULL, b, 10, 10000), -EMSGSIZE);
	ASSERT_EQ(vmsg_chan_peek(c, &m, 0), 0);
	ASSERT_EQ(m.len, 100);
	ASSERT_EQ(vmsg_chan_recv(c, &type, b, sizeof(b), 0), 100);
	ASSERT_EQ(type, INTEG_TYPE);
	ASSERT_EQ(b[99], 99);
	/* Over our max_msg: dropped, said so, and the channel goes on. */
	ASSERT_EQ(vmsg_chan_recv(c, NULL, b, sizeof(b), 10000), -EMSGSIZE);
	ASSERT_EQ(vmsg_chan_recv(c, &type, b, sizeof(b), 10000), 10);
	ASSERT_EQ(type, INTEG_TYPE + 1);
	ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_OPEN);
}

static void strerror_all(void)
{
	static const int extremes[] = { 0, 1, -1, 4095, -4096, INT_MAX,
					INT_MIN + 1, INT_MIN };

	for (int e = -4096; e <= 4096; e++) {
		const char *s = vmsg_strerror(e);
		ASSERT_TRUE(s != NULL && s[0] != 0);
	}
	for (unsigned i = 0; i < sizeof(extremes) / sizeof(extremes[0]); i++)
		ASSERT_TRUE(vmsg_strerror(extremes[i]) != NULL);
	/* The codes the API documents have their own text. */
	static const int named[] = { EINVAL, EPROTO, EPIPE, EAGAIN, ETIMEDOUT,
				     EMSGSIZE, ENOMEM, EBUSY, ENOENT,
				     EADDRINUSE, ENAMETOOLONG, ENOTSUP };
	for (unsigned i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		ASSERT_TRUE(strcmp(vmsg_strerror(-named[i]),
				   vmsg_strerror(-4000)) != 0);
}

int main(int argc, char **argv)
{
	struct vmsg_chan_opts o;
	struct integ_tmp tmp;
	struct child ch;
	int go[2], fds, r;
	vmsg_chan *c, *c2 = NULL;
	pid_t pid;

	integ_init(&argc, &argv);

	strerror_all();
	integ_tmp_make(&tmp);
	fds = vmsg_test_count_fds();
	null_channel(tmp.path);
	host_args(tmp.path);
	ASSERT_EQ(vmsg_test_count_fds(), fds);

	ASSERT_EQ(pipe(go), 0);
	ch = (struct child){ .path = tmp.path, .go_rd = go[0] };
	pid = integ_fork(peer, &ch);
	close(go[0]);
	fds = vmsg_test_count_fds();
	vmsg_chan_opts_init(&o);
	o.max_msg = MAX_MSG;
	if ((r = vmsg_host_serve(&c, tmp.path, &o)) < 0)
		VMSG_TEST_FAIL("serve: %s", vmsg_strerror(r));
	/* A second live server on the same path. */
	ASSERT_EQ(vmsg_host_serve(&c2, tmp.path, NULL), -EADDRINUSE);
	ASSERT_TRUE(c2 == NULL);
	integ_write_full(go[1], "g", 1);
	if ((r = vmsg_chan_accept(c, 20000)) < 0)
		VMSG_TEST_FAIL("accept: %s", vmsg_strerror(r));
	live_channel(c, tmp.path);
	vmsg_chan_close(c);
	ASSERT_EQ(vmsg_test_count_fds(), fds);
	ASSERT_EQ(integ_reap(pid), 0);
	close(go[1]);
	integ_tmp_drop(&tmp);
	printf("bad input: all refused with the documented errors\n");
	return 0;
}
