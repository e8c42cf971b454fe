/* Sockets: one listening UNIX socket per introduced domain (dom0's always),
 * connections on them, the framing of xsd_sockmsg messages and the bounded
 * output queue of each connection.
 *
 * A socket is bound under a temporary name, put in the listening state and
 * only then renamed into place, so its name existing means it accepts. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "xsd.h"

void xsd_log(struct xsd_server *s, const char *fmt, ...)
{
	if (!s->verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("vmsg-xenstored: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- connections ----------------------------------------------------------- */

static void conn_closed(uv_handle_t *h)
{
	struct xsd_conn *c = h->data;
	/* Freed here, not at xsd_conn_close(), because a close can happen
	 * while the watch list or a transaction is in use further up the
	 * stack (an event overflowing the connection's own queue). */
	if (c->prev)
		c->prev->next = c->next;
	else
		c->srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->lis)
		c->lis->nconns--;
	xsd_watch_clear(c);
	xsd_conn_abort_txns(c);
	free(c);
}

void xsd_conn_close(struct xsd_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	xsd_log(c->srv, "dom%u: connection closed", c->domid);
	uv_close((uv_handle_t *)&c->pipe, conn_closed);
}

/* ---- the outstanding-requests quota ------------------------------------------ */

static void on_resume(uv_idle_t *h);

static bool must_wait(const struct xsd_conn *c)
{
	const struct xsd_server *s = c->srv;
	/* Xen's domain_can_read: not while the quota is in flight. */
	return !xsd_privileged(c->domid) &&
	       s->acct[c->domid].outstanding >= s->st.q.outstanding;
}

void xsd_ref_put(struct xsd_server *s, struct xsd_ref *ref)
{
	if (--ref->n)
		return;
	struct xsd_dacct *a = &s->acct[ref->domid];
	a->outstanding--;
	free(ref);
	/* Below the quota again: held connections may go on, from the loop
	 * rather than from inside whatever delivered the last message. */
	if (a->outstanding < s->st.q.outstanding && !s->stopping)
		uv_idle_start(&s->resume, on_resume);
}

struct out {
	uv_write_t req;
	struct xsd_conn *c;
	struct xsd_ref *ref;
	size_t n;
	char data[];
};

static void written(uv_write_t *req, int status)
{
	struct out *o = (struct out *)req;
	o->c->outq -= o->n;
	if (status < 0 && status != UV_ECANCELED)
		xsd_conn_close(o->c);
	if (o->ref)
		xsd_ref_put(o->c->srv, o->ref);
	free(o);
}

void xsd_conn_send(struct xsd_conn *c, uint32_t type, uint32_t req_id,
		   uint32_t tx_id, const void *payload, uint32_t len,
		   struct xsd_ref *ref)
{
	if (c->closing)
		return;
	size_t n = sizeof(struct xsd_sockmsg) + len;
	if (c->outq + n > XSD_OUTQ_MAX) {
		/* A peer that does not read its replies and events. */
		xsd_log(c->srv, "dom%u: output queue full, dropping",
			c->domid);
		xsd_conn_close(c);
		return;
	}
	struct out *o = malloc(sizeof(*o) + n);
	if (!o) {
		xsd_conn_close(c);
		return;
	}
	struct xsd_sockmsg h = {
		.type = type, .req_id = req_id, .tx_id = tx_id, .len = len};
	memcpy(o->data, &h, sizeof(h));
	if (len)
		memcpy(o->data + sizeof(h), payload, len);
	o->c = c;
	o->n = n;
	o->ref = NULL;
	uv_buf_t b = uv_buf_init(o->data, (unsigned)n);
	if (uv_write(&o->req, (uv_stream_t *)&c->pipe, &b, 1, written) < 0) {
		free(o);
		xsd_conn_close(c);
		return;
	}
	c->outq += n;
	if (ref) {
		o->ref = ref;
		ref->n++;
	}
}

static void alloc_in(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct xsd_conn *c = h->data;
	(void)hint;
	*buf = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

/* Frames and handles the bytes at p; returns how many it consumed, fewer
 * than len when the domain must wait for its outstanding requests first
 * (checked before each new request, as Xen checks before reading one). */
static size_t feed(struct xsd_conn *c, const unsigned char *p, size_t len)
{
	size_t left = len;
	const size_t hl = sizeof(struct xsd_sockmsg);
	while (left && !c->closing) {
		if (c->have == 0 && must_wait(c))
			break;
		/* The header first, then as much payload as it announces. */
		size_t want = hl;
		struct xsd_sockmsg hdr;
		if (c->have >= hl) {
			memcpy(&hdr, c->in, hl);
			want = hl + hdr.len;
		}
		size_t k = want - c->have;
		if (k > left)
			k = left;
		memcpy(c->in + c->have, p, k);
		c->have += (uint32_t)k;
		p += k;
		left -= k;
		if (c->have == hl) {
			memcpy(&hdr, c->in, hl);
			if (hdr.len > XENSTORE_PAYLOAD_MAX) {
				xsd_log(c->srv, "dom%u: payload of %u bytes, "
					"dropping", c->domid, hdr.len);
				xsd_conn_close(c);
				break;
			}
		}
		if (c->have < hl)
			continue;
		memcpy(&hdr, c->in, hl);
		if (c->have < hl + hdr.len)
			continue;
		c->have = 0;
		if (xsd_ops_handle(c, &hdr, (const char *)c->in + hl) < 0) {
			xsd_log(c->srv, "dom%u: malformed request, dropping",
				c->domid);
			xsd_conn_close(c);
			break;
		}
	}
	return len - left;
}

static void got_data(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct xsd_conn *c = st->data;
	if (nread < 0) {
		xsd_conn_close(c);
		return;
	}
	size_t k = feed(c, (const unsigned char *)buf->base, (size_t)nread);
	if (k < (size_t)nread && !c->closing) {
		/* buf is c->rbuf: keep the rest there, read no more. */
		c->held = true;
		c->hoff = (uint32_t)k;
		c->hlen = (uint32_t)nread;
		uv_read_stop(st);
		xsd_log(c->srv, "dom%u: %u requests outstanding, waiting",
			c->domid, c->srv->acct[c->domid].outstanding);
	}
}

static void on_resume(uv_idle_t *h)
{
	struct xsd_server *s = h->data;
	uv_idle_stop(h);
	/* Connections are unlinked only in their close callbacks, and none
	 * is added from here, so the list can be walked while handling. */
	for (struct xsd_conn *c = s->conns; c; c = c->next) {
		if (!c->held || c->closing || must_wait(c))
			continue;
		size_t k = feed(c, (const unsigned char *)c->rbuf + c->hoff,
				c->hlen - c->hoff);
		c->hoff += (uint32_t)k;
		if (c->hoff < c->hlen || c->closing)
			continue;
		c->held = false;
		if (uv_read_start((uv_stream_t *)&c->pipe, alloc_in,
				  got_data) < 0)
			xsd_conn_close(c);
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	struct xsd_listener *l = server->data;
	struct xsd_server *s = l->srv;
	if (status < 0)
		return;
	struct xsd_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return; /* stays in the backlog; retried on the next event */
	if (uv_pipe_init(s->loop, &c->pipe, 0) < 0) {
		free(c);
		return;
	}
	c->pipe.data = c;
	c->srv = s;
	c->domid = l->domid;
	c->lis = l;
	l->nconns++;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	uint32_t max = l->domid == 0 ? XSD_QUOTA_CONNS_DOM0 : XSD_QUOTA_CONNS_DOMU;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0 || l->closing ||
	    l->nconns > max) {
		xsd_conn_close(c);
		return;
	}
	xsd_log(s, "dom%u: new connection", c->domid);
	if (uv_read_start((uv_stream_t *)&c->pipe, alloc_in, got_data) < 0)
		xsd_conn_close(c);
}

/* ---- listeners ------------------------------------------------------------- */

struct xsd_listener *xsd_listener_find(struct xsd_server *s, unsigned domid)
{
	for (struct xsd_listener *l = s->listeners; l; l = l->next)
		if (l->domid == domid)
			return l;
	return NULL;
}

static int bind_listen(const char *path, const char *tmp)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path) ||
	    strlen(tmp) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	strcpy(sa.sun_path, tmp);
	(void)unlink(tmp);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 128) < 0 || rename(tmp, path) < 0) {
		int err = -errno;
		(void)unlink(tmp);
		close(fd);
		return err;
	}
	return fd;
}

static void listener_closed(uv_handle_t *h)
{
	free(((struct xsd_listener *)h->data)->path);
	free(h->data);
}

int xsd_listener_open(struct xsd_server *s, unsigned domid, uint64_t mfn,
		      struct xsd_listener **out)
{
	struct xsd_listener *l = calloc(1, sizeof(*l));
	size_t n = strlen(s->dir) + 32;
	char *tmp = malloc(n);
	if (!l || !tmp || !(l->path = malloc(n))) {
		free(tmp);
		free(l);
		return -ENOMEM;
	}
	snprintf(l->path, n, "%s/dom%u.sock", s->dir, domid);
	snprintf(tmp, n, "%s/.dom%u.sock.new", s->dir, domid);
	int fd = bind_listen(l->path, tmp);
	free(tmp);
	if (fd < 0) {
		xsd_log(s, "cannot listen on %s: %s", l->path, strerror(-fd));
		free(l->path);
		free(l);
		return fd;
	}
	/* libuv does not know the name, so it will not unlink it: we do, at
	 * close. */
	int err = uv_pipe_init(s->loop, &l->pipe, 0);
	if (err < 0) {
		close(fd);
		(void)unlink(l->path);
		free(l->path);
		free(l);
		return err;
	}
	l->pipe.data = l;
	err = uv_pipe_open(&l->pipe, fd);
	if (err < 0) {
		close(fd);
		(void)unlink(l->path);
		uv_close((uv_handle_t *)&l->pipe, listener_closed);
		return err;
	}
	l->srv = s;
	l->domid = domid;
	l->mfn = mfn;
	err = uv_listen((uv_stream_t *)&l->pipe, 128, on_connection);
	if (err < 0) {
		(void)unlink(l->path);
		uv_close((uv_handle_t *)&l->pipe, listener_closed);
		return err;
	}
	struct xsd_listener **pp = &s->listeners;
	while (*pp)
		pp = &(*pp)->next;
	*pp = l;
	*out = l;
	return 0;
}

void xsd_listener_close(struct xsd_listener *l)
{
	struct xsd_server *s = l->srv;
	for (struct xsd_listener **pp = &s->listeners; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	for (struct xsd_conn *c = s->conns; c; c = c->next)
		if (c->lis == l)
			c->lis = NULL;
	l->closing = true;
	/* Gone from the file system before the caller replies. */
	(void)unlink(l->path);
	uv_close((uv_handle_t *)&l->pipe, listener_closed);
}

/* ---- the server -------------------------------------------------------------- */

/* Refuses to start over a live daemon; removes a dead one's socket. */
static int check_stale(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	close(fd);
	if (r == 0)
		return -EADDRINUSE;
	if (e == ECONNREFUSED)
		(void)unlink(path);
	return 0;
}

int xsd_server_init(struct xsd_server *s, uv_loop_t *loop, const char *dir)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->dir = strdup(dir);
	s->acct = calloc(XSD_MAX_DOMID + 1, sizeof(*s->acct));
	if (!s->dir || !s->acct)
		return -ENOMEM;
	uv_idle_init(loop, &s->resume);
	s->resume.data = s;
	int err = xsd_store_init(&s->st);
	if (err)
		return err;
	size_t n = strlen(dir) + 16;
	char *p = malloc(n);
	if (!p)
		return -ENOMEM;
	snprintf(p, n, "%s/dom0.sock", dir);
	err = check_stale(p);
	free(p);
	if (err)
		return err;
	struct xsd_listener *l;
	return xsd_listener_open(s, 0, 0, &l);
}

void xsd_server_stop(struct xsd_server *s)
{
	s->stopping = true;
	uv_close((uv_handle_t *)&s->resume, NULL);
	while (s->listeners)
		xsd_listener_close(s->listeners);
	for (struct xsd_conn *c = s->conns; c; c = c->next)
		xsd_conn_close(c);
}

void xsd_server_fini(struct xsd_server *s)
{
	xsd_store_fini(&s->st);
	free(s->dir);
	s->dir = NULL;
	free(s->acct);
	s->acct = NULL;
}
