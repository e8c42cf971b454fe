/* Fuzz target: the simulated xenstored (sim/xenstored): the framing of
 * xsd_sockmsg messages on a connection (conn.c's read callback, in bytes
 * as they arrive) and every request handler behind it (ops.c, the store,
 * transactions, watches, permissions, introduce and release), for two
 * connections: one of dom0 (privileged) and one of domain 5.
 *
 * Input: [conn: 1][len: 2][bytes]...: the bytes arrive on that
 * connection (bit 0 of conn: which), cut wherever the input cuts them.
 * The daemon's replies go to a socket pair nobody reads (a connection
 * that lets its queue grow past the limit is closed, as in the daemon).
 * The bytes are handed over as libuv would, in the connection's own read
 * buffer (up to its size at a time); while a domain has its quota of
 * requests in flight the daemon holds the connection, and the harness
 * lets the loop run until it reads again (or drops that chunk, as bytes
 * a peer wrote that were never read).
 *
 * conn.c is included, not linked: its read callback is static. */
#define _GNU_SOURCE
#include "../sim/xenstored/conn.c"

#include <sys/socket.h>

#include "fuzz_peer.h"

static uv_loop_t loop;
static char dir[256];

/* The introduced domains' sockets are unlinked as they close: the
 * directory is empty at exit. */
static void dir_remove(void)
{
	(void)rmdir(dir);
}

static struct xsd_conn *conn_new(struct xsd_server *s, unsigned domid,
				 int *peer_fd)
{
	int sv[2];
	struct xsd_conn *c = calloc(1, sizeof(*c));

	CHECK(c);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	CHECK(uv_pipe_init(&loop, &c->pipe, 0) == 0);
	CHECK(uv_pipe_open(&c->pipe, sv[0]) == 0);
	c->pipe.data = c;
	c->srv = s;
	c->domid = domid;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	*peer_fd = sv[1];
	return c;
}

/* Is c still one of the server's connections? (A connection can be
 * closed, and freed, inside the loop: a failed write, say.) */
static bool alive(const struct xsd_server *s, const struct xsd_conn *c)
{
	for (const struct xsd_conn *k = s->conns; k; k = k->next)
		if (k == c)
			return !k->closing;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct xsd_server srv;
	struct xsd_conn *conns[2];
	int peer[2];

	if (!dir[0]) {
		const char *t = getenv("TMPDIR");
		snprintf(dir, sizeof(dir), "%s/vmsg-fuzz-xsd.XXXXXX", t ? t : "/tmp");
		CHECK(mkdtemp(dir));
		atexit(dir_remove);
		CHECK(uv_loop_init(&loop) == 0);
	}
	CHECK(xsd_server_init(&srv, &loop, dir) == 0);
	conns[0] = conn_new(&srv, 0, &peer[0]);
	conns[1] = conn_new(&srv, 5, &peer[1]);

	while (fuzz_in_left(&in)) {
		unsigned which = fuzz_u8(&in) & 1;
		size_t n;
		const uint8_t *p = fuzz_bytes(&in, fuzz_u16(&in), &n);
		struct xsd_conn *c = conns[which];
		/* A connection closes for good: like a peer that hung up, the
		 * rest of its input is not sent. */
		if (!c || n == 0)
			continue;
		/* alive() first: the loop may have closed and freed c. */
		for (int i = 0; i < 16 && alive(&srv, c) && c->held; i++)
			uv_run(&loop, UV_RUN_NOWAIT);
		if (!alive(&srv, c)) {
			conns[which] = NULL;
			continue;
		}
		if (!c->held) {
			if (n > sizeof(c->rbuf))
				n = sizeof(c->rbuf);
			memcpy(c->rbuf, p, n);
			uv_buf_t b = uv_buf_init(c->rbuf, (unsigned)n);
			got_data((uv_stream_t *)&c->pipe, (ssize_t)n, &b);
		}
		uv_run(&loop, UV_RUN_NOWAIT);
		for (int i = 0; i < 2; i++)
			if (conns[i] && !alive(&srv, conns[i]))
				conns[i] = NULL;
	}
	/* Stop as the daemon does: listeners (of introduced domains) and
	 * connections closed, the loop run until they are gone. */
	xsd_server_stop(&srv);
	uv_run(&loop, UV_RUN_DEFAULT);
	close(peer[0]);
	close(peer[1]);
	CHECK(!srv.conns && !srv.listeners);
	uv_run(&loop, UV_RUN_NOWAIT); /* the resume handle's close */
	xsd_server_fini(&srv);
	return 0;
}
