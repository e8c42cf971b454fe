/* cat_host: vmsg-cat over the host backend.
 *  - --help exits 0 and names every option; bad command lines exit 2 with
 *    the usage on stderr
 *  - connect to a path nobody serves, listen in a missing directory: exit 1
 *    and "vmsg-cat: ..." naming the error; a second listener on a live
 *    server's path: exit 1, "address in use"
 *  - vmsg-cat --listen and vmsg-cat --connect: 3 MiB one way and 2 MiB the
 *    other at the same time, intact; at the connector's stdin EOF
 *    (--linger 0) both exit 0 and the listener's socket is gone
 *  - a connector started first waits (--timeout) for its listener
 *  - --framed against a library peer: each stdin chunk is one message of
 *    --type, received messages (empty and fragmented ones too) reach
 *    stdout; the peer's close ends vmsg-cat with 0
 *  - the peer closes while vmsg-cat still holds input (full 1 KiB ring):
 *    exit 1, "unsent" on stderr
 *  - SIGTERM while listening: exit 128+15, the socket withdrawn */
#include "cat_util.h"

#include <vmsg/host.h>

static char dir[128];

static void path_in_dir(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", dir, name);
}

/* Run vmsg-cat with these arguments and no input; returns the status and
 * (if err) what it said on stderr. */
static int run_cat(char *const argv[], char **err, char **out)
{
	struct cat_proc p;
	int st;

	cat_start(&p, NULL, -1, argv);
	cat_close(&p.in);
	char *o = cat_slurp(p.out, NULL);
	char *e = cat_slurp(p.err, NULL);
	st = cat_wait(&p);
	cat_close(&p.out);
	cat_close(&p.err);
	if (err)
		*err = e;
	else
		free(e);
	if (out)
		*out = o;
	else
		free(o);
	return st;
}

static void expect_in(const char *text, const char *what, const char *where)
{
	if (!strstr(text, what))
		VMSG_TEST_FAIL("'%s' not in %s:\n%s", what, where, text);
}

static void help_and_usage(void)
{
	static const char *opts[] = { "--listen", "--connect", "--unix",
		"--xen", "--domid", "--path", "--port", "--my-domid", "--raw",
		"--framed", "--type", "--ring", "--max-msg", "--timeout",
		"--linger", "--verbose", "--help" };
	char *out, *err, p[200];

	ASSERT_EQ(run_cat((char *[]){ VMSG_CAT, "--help", NULL }, &err, &out),
		  0);
	for (unsigned i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		expect_in(out, opts[i], "--help");
	expect_in(out, "e.g.", "--help");
	expect_in(out, "Exit status", "--help");
	free(out);
	free(err);

	path_in_dir(p, sizeof(p), "x");
	char *const bad[][12] = {
		{ VMSG_CAT, "--bogus", NULL },
		{ VMSG_CAT, NULL },
		{ VMSG_CAT, "--listen", NULL },
		{ VMSG_CAT, "-l", "-c", "-U", p, NULL },
		{ VMSG_CAT, "-l", "-U", p, "--type", "5", NULL },
		{ VMSG_CAT, "-l", "-U", p, "--framed", "--type", "0", NULL },
		{ VMSG_CAT, "-c", "-U", p, "--ring", "4K", NULL },
		{ VMSG_CAT, "-l", "-U", p, "--ring", "2M", NULL },
		{ VMSG_CAT, "-l", "--xen", "--port", "x", NULL },
		{ VMSG_CAT, "-l", "--xen", "-d", "1", NULL },
		{ VMSG_CAT, "-l", "--xen", "-d", "1", "-P", "a/b", NULL },
		{ VMSG_CAT, "-l", "-U", p, "--xen", "-d", "1", "-P", "a", NULL },
		{ VMSG_CAT, "-l", "-U", p, "--timeout", "abc", NULL },
		{ VMSG_CAT, "-l", "-U", p, "extra", NULL },
		{ VMSG_CAT, "-l", "-U", NULL },
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int st = run_cat(bad[i], &err, NULL);
		if (st != 2)
			VMSG_TEST_FAIL("bad command line %u: status %d, said:\n%s",
				       i, st, err);
		expect_in(err, "vmsg-cat: ", "stderr");
		expect_in(err, "usage:", "stderr");
		free(err);
	}
	printf("--help: 0; %zu bad command lines: 2\n",
	       sizeof(bad) / sizeof(bad[0]));
}

static void setup_errors(void)
{
	char p[200], q[200], *err, line[256];
	struct cat_proc l;

	path_in_dir(p, sizeof(p), "nobody");
	ASSERT_EQ(run_cat((char *[]){ VMSG_CAT, "--connect", "--unix", p,
				      NULL }, &err, NULL), 1);
	expect_in(err, "vmsg-cat: ", "stderr");
	expect_in(err, vmsg_strerror(-ENOENT), "stderr");
	printf("no such path: 1, %s", err);
	free(err);

	path_in_dir(q, sizeof(q), "missing-dir/sock");
	ASSERT_EQ(run_cat((char *[]){ VMSG_CAT, "-l", "-U", q, NULL }, &err,
			  NULL), 1);
	expect_in(err, "vmsg-cat: cannot listen on unix:", "stderr");
	printf("listen in a missing dir: 1, %s", err);
	free(err);

	/* A live listener, and a second one on its path. */
	path_in_dir(p, sizeof(p), "inuse");
	cat_start(&l, NULL, -1, (char *[]){ VMSG_CAT, "-v", "-l", "-U", p,
					    NULL });
	cat_line(l.err, line, sizeof(line));
	expect_in(line, "listening on", "stderr");
	ASSERT_EQ(run_cat((char *[]){ VMSG_CAT, "-l", "-U", p, NULL }, &err,
			  NULL), 1);
	expect_in(err, vmsg_strerror(-EADDRINUSE), "stderr");
	printf("address in use: 1, %s", err);
	free(err);

	/* SIGTERM while it waits: orderly, the socket withdrawn. */
	ASSERT_EQ(kill(l.pid, SIGTERM), 0);
	ASSERT_EQ(cat_wait(&l), 128 + SIGTERM);
	ASSERT_TRUE(access(p, F_OK) < 0 && errno == ENOENT);
	cat_close(&l.in);
	cat_close(&l.out);
	cat_close(&l.err);
	printf("SIGTERM while listening: %d, socket removed\n", 128 + SIGTERM);
}

static void both_ways(void)
{
	char p[200], line[256];
	struct cat_proc l, c;
	size_t n;
	unsigned char *a = cat_random(1, 3u << 20), *b = cat_random(2, 2u << 20);

	path_in_dir(p, sizeof(p), "pair");
	cat_start(&l, NULL, -1, (char *[]){ VMSG_CAT, "-v", "--listen",
					    "--unix", p, NULL });
	cat_line(l.err, line, sizeof(line));
	expect_in(line, "listening on", "stderr");
	cat_start(&c, NULL, -1, (char *[]){ VMSG_CAT, "--connect", "--unix", p,
					    "--linger", "0", NULL });
	struct cat_flow f[2] = {
		{ .wfd = l.in, .rfd = c.out, .data = a, .len = 3u << 20 },
		{ .wfd = c.in, .rfd = l.out, .data = b, .len = 2u << 20 },
	};
	cat_exchange(f, 2);
	/* The connector's stdin ends: it closes at once (--linger 0), and
	 * the listener ends when it sees that. */
	cat_close(&c.in);
	free(cat_slurp(c.out, &n));
	ASSERT_EQ(n, 0);
	char *ce = cat_slurp(c.err, NULL);
	ASSERT_EQ(cat_wait(&c), 0);
	free(cat_slurp(l.out, &n));
	ASSERT_EQ(n, 0);
	char *le = cat_slurp(l.err, NULL);
	ASSERT_EQ(cat_wait(&l), 0);
	expect_in(le, "the peer closed the channel", "listener's stderr");
	ASSERT_TRUE(access(p, F_OK) < 0 && errno == ENOENT);
	free(ce);
	free(le);
	cat_close(&l.in);
	cat_close(&l.out);
	cat_close(&l.err);
	cat_close(&c.out);
	cat_close(&c.err);
	printf("raw: 3 MiB and 2 MiB both ways intact; both exited 0\n");

	/* A connector that starts first waits for its listener. */
	path_in_dir(p, sizeof(p), "late");
	cat_start(&c, NULL, -1, (char *[]){ VMSG_CAT, "-c", "-U", p,
					    "--timeout", "30000", "--linger",
					    "0", NULL });
	ASSERT_EQ(write(c.in, "ping\n", 5), 5);
	cat_close(&c.in);
	cat_start(&l, NULL, -1, (char *[]){ VMSG_CAT, "-l", "-U", p, NULL });
	cat_close(&l.in); /* at EOF at once: waits for the peer's close */
	char *got = cat_slurp(l.out, &n);
	ASSERT_EQ(n, 5);
	ASSERT_MEM_EQ(got, "ping\n", 5);
	ASSERT_EQ(cat_wait(&l), 0);
	ASSERT_EQ(cat_wait(&c), 0);
	free(got);
	free(cat_slurp(l.err, NULL));
	free(cat_slurp(c.err, NULL));
	cat_close(&l.out);
	cat_close(&l.err);
	cat_close(&c.out);
	cat_close(&c.err);
	printf("--timeout: a connector started first got through\n");
	free(a);
	free(b);
}

static void framed(void)
{
	static unsigned char big[200 * 1024], buf[256 * 1024];
	char p[200];
	struct cat_proc c;
	vmsg_chan *ch;
	uint16_t type;
	size_t n;
	int r;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 13);
	path_in_dir(p, sizeof(p), "framed");
	ASSERT_EQ(vmsg_host_serve(&ch, p, NULL), 0);
	cat_start(&c, NULL, -1, (char *[]){ VMSG_CAT, "-c", "-U", p,
					    "--framed", "--type", "0x234",
					    "--timeout", "30000", NULL });
	ASSERT_EQ(vmsg_chan_accept(ch, CAT_WAIT_MS), 0);
	/* Room for all it will write, since we read it only at the end. */
	ASSERT_GE(fcntl(c.out, F_SETPIPE_SZ, 1 << 20), 256 * 1024);

	/* One stdin chunk, one message of --type. */
	ASSERT_EQ(write(c.in, "hello", 5), 5);
	r = vmsg_chan_recv(ch, &type, buf, sizeof(buf), CAT_WAIT_MS);
	ASSERT_EQ(r, 5);
	ASSERT_EQ(type, 0x234);
	ASSERT_MEM_EQ(buf, "hello", 5);

	/* Messages of any type reach stdout as their payloads; an empty one
	 * adds nothing, a fragmented one arrives whole. */
	ASSERT_EQ(vmsg_chan_send(ch, 0x999, "world!", 6, 0, CAT_WAIT_MS), 6);
	ASSERT_EQ(vmsg_chan_send(ch, 0x100, "", 0, 0, CAT_WAIT_MS), 0);
	ASSERT_EQ(vmsg_chan_send(ch, 0x101, big, sizeof(big), 0, CAT_WAIT_MS),
		  (int)sizeof(big));
	vmsg_chan_close(ch); /* vmsg-cat copies it all out, then exits 0 */
	char *out = cat_slurp(c.out, &n);
	ASSERT_EQ(n, 6 + sizeof(big));
	ASSERT_MEM_EQ(out, "world!", 6);
	ASSERT_MEM_EQ(out + 6, big, sizeof(big));
	ASSERT_EQ(cat_wait(&c), 0);
	free(out);
	free(cat_slurp(c.err, NULL));
	cat_close(&c.in);
	cat_close(&c.out);
	cat_close(&c.err);
	printf("framed: stdin chunk -> one message of type 0x234; three "
	       "messages -> %zu bytes on stdout; exit 0\n", n);
}

static void unsent(void)
{
	static unsigned char fill[65536];
	struct vmsg_chan_opts o;
	struct cat_proc c;
	char p[200], b;
	vmsg_chan *ch;

	path_in_dir(p, sizeof(p), "unsent");
	vmsg_chan_opts_init(&o);
	o.rx_ring_size = o.tx_ring_size = 1024;
	ASSERT_EQ(vmsg_host_serve(&ch, p, &o), 0);
	cat_start(&c, NULL, -1, (char *[]){ VMSG_CAT, "-c", "-U", p,
					    "--timeout", "30000", NULL });
	ASSERT_EQ(vmsg_chan_accept(ch, CAT_WAIT_MS), 0);
	/* 64 KiB of input for a 1 KiB ring we never drain: vmsg-cat holds
	 * most of it when we go. */
	ASSERT_EQ(write(c.in, fill, sizeof(fill)), (ssize_t)sizeof(fill));
	ASSERT_EQ(vmsg_chan_read(ch, &b, 1, CAT_WAIT_MS), 1);
	usleep(200000); /* let it fill the ring again and wait */
	vmsg_chan_close(ch);
	char *err = cat_slurp(c.err, NULL);
	ASSERT_EQ(cat_wait(&c), 1);
	expect_in(err, "vmsg-cat: the peer closed", "stderr");
	expect_in(err, "unsent", "stderr");
	printf("peer gone with input unsent: 1, %s", err);
	free(err);
	free(cat_slurp(c.out, NULL));
	cat_close(&c.in);
	cat_close(&c.out);
	cat_close(&c.err);
}

int main(void)
{
	const char *t = getenv("TMPDIR");

	if (!t || !*t || strlen(t) > 64)
		t = "/tmp";
	snprintf(dir, sizeof(dir), "%s/vmsg-cat.XXXXXX", t);
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	signal(SIGPIPE, SIG_IGN);
	alarm(100);

	help_and_usage();
	setup_errors();
	both_ways();
	framed();
	unsent();

	ASSERT_EQ(rmdir(dir), 0); /* every socket was withdrawn */
	return 0;
}
