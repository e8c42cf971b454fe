/* host_close_race: a message the peer commits between a receiver's last
 * look at the ring and its look at the peer's live byte is still
 * delivered before -EPIPE.
 *
 * "Close delivers" has one narrow window that integ_close_delivers can
 * only hit by chance: the receiver finds the ring empty, and before it
 * reads the peer's live byte the peer sends its last message and closes.
 * The receiver then sees the close with a message in the ring; it must
 * look at the ring once more before it reports the close. Here both ends
 * live in this process, and the window is entered on purpose: the
 * receiving end's platform clock (which vmsg__wait reads after the ring
 * was found empty and before the live byte) sends the message and closes
 * the sending end the first time it is read. Both directions of the
 * channel; the receivers do not spin (spin_ns 0: a spinning receiver
 * reads its clock there too, but looks at the live byte only every so
 * many rounds, so the hook would not land in the window).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <vmsg/chan.h>
#include <vmsg/frame.h>

#include "host_test_util.h"
#include "vmsg_chan_internal.h"

#define T 10000
#define LAST "the last message, sent in the window"

static struct vmsg_platform_ops hooked;      /* the receiver's ops, hooked */
static const struct vmsg_platform_ops *orig; /* what it had */
static vmsg_chan *sender;                    /* sends and closes in the hook */
static int fired;

/* The receiver's clock: the first read sends LAST and closes the sender. */
static uint64_t hook_now_ns(struct vmsg_platform *p)
{
	if (sender) {
		vmsg_chan *s = sender;
		sender = NULL;
		fired++;
		ASSERT_EQ(vmsg_chan_send(s, VMSG_TYPE_APP_MIN, LAST,
					 sizeof(LAST), 0, T),
			  (int)sizeof(LAST));
		vmsg_chan_close(s);
	}
	return orig->now_ns(p);
}

struct client_arg {
	const char *path;
	const struct vmsg_chan_opts *o;
	vmsg_chan *c;
	int r;
};

static void *client(void *arg)
{
	struct client_arg *a = arg;
	a->r = vmsg_host_connect(&a->c, a->path, a->o, T);
	return NULL;
}

/* A connected pair in this process. */
static void pair(const char *path, const struct vmsg_chan_opts *o,
		 vmsg_chan **srv, vmsg_chan **cli)
{
	struct client_arg a = {path, o, NULL, 0};
	pthread_t th;

	ASSERT_EQ(vmsg_host_serve(srv, path, o), 0);
	ASSERT_EQ(pthread_create(&th, NULL, client, &a), 0);
	ASSERT_EQ(vmsg_chan_accept(*srv, T), 0);
	ASSERT_EQ(pthread_join(th, NULL), 0);
	ASSERT_EQ(a.r, 0);
	*cli = a.c;
}

static void one_round(const char *dir, int n, bool server_reads)
{
	struct vmsg_chan_opts o;
	vmsg_chan *srv, *cli, *rx;
	char path[600], buf[128];
	uint16_t type = 0;
	struct vmsg_platform *p;

	vmsg_chan_opts_init(&o);
	o.spin_ns = 0;
	snprintf(path, sizeof path, "%s/race-%d.sock", dir, n);
	pair(path, &o, &srv, &cli);
	rx = server_reads ? srv : cli;

	/* One message the ordinary way first: the channel works. */
	ASSERT_EQ(vmsg_chan_send(server_reads ? cli : srv, VMSG_TYPE_APP_MIN,
				 "first", 5, 0, T),
		  5);
	ASSERT_EQ(vmsg_chan_recv(rx, &type, buf, sizeof buf, T), 5);
	ASSERT_MEM_EQ(buf, "first", 5);

	/* Hook the receiver's clock. Only this thread runs either end. */
	p = vmsg__chan_platform(rx);
	ASSERT_TRUE(p != NULL);
	orig = p->ops;
	hooked = *orig;
	hooked.now_ns = hook_now_ns;
	p->ops = &hooked;
	sender = server_reads ? cli : srv;
	fired = 0;

	/* The ring is empty: the receiver waits, reads its clock, and the
	 * sender's message and close land before it looks at the live byte. */
	memset(buf, 0, sizeof buf);
	int r = vmsg_chan_recv(rx, &type, buf, sizeof buf, T);
	ASSERT_EQ(fired, 1);
	if (r != (int)sizeof(LAST))
		VMSG_TEST_FAIL("round %d (%s reads): recv gave %d (%s), "
			       "not the message committed before the close",
			       n, server_reads ? "server" : "client", r,
			       r < 0 ? vmsg_strerror(r) : "short");
	ASSERT_EQ(type, VMSG_TYPE_APP_MIN);
	ASSERT_MEM_EQ(buf, LAST, sizeof(LAST));
	/* Then, and only then, the close. */
	ASSERT_EQ(vmsg_chan_recv(rx, &type, buf, sizeof buf, T), -EPIPE);

	p->ops = orig;
	vmsg_chan_close(rx);
}

int main(void)
{
	char dir[] = "/tmp/host-close-race.XXXXXX";
	const char *tmp = getenv("TMPDIR");
	char tdir[512];

	if (tmp && *tmp) {
		snprintf(tdir, sizeof tdir, "%s/host-close-race.XXXXXX", tmp);
		ASSERT_TRUE(mkdtemp(tdir) != NULL);
	} else {
		ASSERT_TRUE(mkdtemp(dir) != NULL);
		snprintf(tdir, sizeof tdir, "%s", dir);
	}
	int n = 0;
	for (int server_reads = 0; server_reads < 2; server_reads++)
		one_round(tdir, n++, server_reads);
	ASSERT_EQ(rmdir(tdir), 0);
	printf("host_close_race: ok (%d rounds)\n", n);
	return 0;
}
