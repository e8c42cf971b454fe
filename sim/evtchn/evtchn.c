/* Drop-in libxenevtchn.so.1 for the simulator, with Linux evtchn device
 * semantics: the handle's fd polls readable while a delivered port is
 * queued, xenevtchn_pending() reads one port (blocking unless the fd was
 * made non-blocking), a delivered port stays masked until unmasked.
 *
 * Fast notify: each handle owns a shared slot array (memfd, one
 * {state, gen} per port) and a socketpair whose read end is the handle's
 * fd.  Binding goes through xensimd; notifying does not: the first notify
 * on a port asks the daemon for the peer handle's slot memfd and socket,
 * caches them, and from then on notify is an atomic update of the peer's
 * slot plus a 4-byte send only when the port goes from unmasked to
 * delivered.  The cached binding generation is re-checked on every notify,
 * so a closed or re-bound peer sends the notifier back to the daemon. */
#define _GNU_SOURCE
#include "xsim_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xenevtchn.h>

struct peer {
	struct peer *next;
	uint32_t id;
	unsigned refs;
	struct xsim_evt_slot *slots;
	int sock;
};

struct lport {
	bool bound;
	struct peer *peer; /* cached remote end, or NULL */
	uint32_t peer_port, gen;
};

/* A handle's ports: the ones it ever bound, sorted by number. A handle
 * usually binds one port; a table of all XSIM_EVT_PORTS (96 KiB) in every
 * handle made each simulated channel cost ~100 KiB of heap, where Linux's
 * libxenevtchn handle is a few dozen bytes (issue 15's memory per idle
 * channel measures the guest's heap). An entry stays once made (unbound),
 * so a pointer to one lives until the next bind under the lock. */
struct lport_ent {
	uint32_t port;
	struct lport lp;
};

struct xenevtchn_handle {
	int conn, rfd, wfd, memfd;
	struct xsim_evt_slot *slots;
	pthread_mutex_t lock;
	struct peer *peers;
	struct lport_ent *ports; /* sorted by port */
	unsigned nports, cap;
};

/* Port `port` of h (lock held); NULL if it never bound it and `make` is
 * false, or there is no memory for it. */
static struct lport *lport_of(xenevtchn_handle *h, uint32_t port, bool make)
{
	unsigned lo = 0, hi = h->nports;
	while (lo < hi) { /* the first entry >= port */
		unsigned mid = (lo + hi) / 2;
		if (h->ports[mid].port < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < h->nports && h->ports[lo].port == port)
		return &h->ports[lo].lp;
	if (!make)
		return NULL;
	if (h->nports == h->cap) {
		unsigned cap = h->cap ? 2 * h->cap : 2;
		struct lport_ent *n = realloc(h->ports, cap * sizeof(*n));
		if (!n)
			return NULL;
		h->ports = n;
		h->cap = cap;
	}
	memmove(&h->ports[lo + 1], &h->ports[lo],
		(h->nports - lo) * sizeof(h->ports[0]));
	h->nports++;
	h->ports[lo] = (struct lport_ent){ .port = port };
	return &h->ports[lo].lp;
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger,
				 unsigned int flags)
{
	int domid = xsim_self_domid(), sv[2] = { -1, -1 }, err;
	xenevtchn_handle *h;

	if (domid < 0) {
		errno = EINVAL;
		return NULL;
	}
	if (!(h = calloc(1, sizeof(*h))))
		return NULL;
	h->conn = h->memfd = -1;
	h->slots = MAP_FAILED;
	h->memfd = memfd_create("xenevtchn", MFD_CLOEXEC);
	if (h->memfd < 0 || ftruncate(h->memfd, XSIM_EVT_SLOTS_SIZE) < 0)
		goto fail;
	h->slots = mmap(NULL, XSIM_EVT_SLOTS_SIZE, PROT_READ | PROT_WRITE,
			MAP_SHARED, h->memfd, 0);
	if (h->slots == MAP_FAILED)
		goto fail;
	int cloexec = (flags & XENEVTCHN_NO_CLOEXEC) ? 0 : SOCK_CLOEXEC;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		goto fail;
	if (!cloexec)
		fcntl(sv[0], F_SETFD, 0);
	h->rfd = sv[0];
	h->wfd = sv[1];
	int fds[2] = { h->memfd, h->wfd };
	h->conn = xsim_connect(XSIM_KIND_EVTCHN, (uint32_t)domid, fds, 2, NULL);
	if (h->conn < 0) {
		errno = -h->conn;
		goto fail;
	}
	pthread_mutex_init(&h->lock, NULL);
	return h;
fail:
	err = errno;
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	if (h->slots != MAP_FAILED)
		munmap(h->slots, XSIM_EVT_SLOTS_SIZE);
	if (h->memfd >= 0)
		close(h->memfd);
	free(h);
	errno = err;
	return NULL;
}

xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger, int fd,
				   unsigned open_flags)
{
	errno = EOPNOTSUPP; /* no device fd to adopt in the sim */
	return NULL;
}

int xenevtchn_close(xenevtchn_handle *xce)
{
	if (!xce)
		return 0;
	close(xce->conn); /* the daemon closes our ports on the hang-up */
	while (xce->peers) {
		struct peer *p = xce->peers;
		xce->peers = p->next;
		munmap(p->slots, XSIM_EVT_SLOTS_SIZE);
		close(p->sock);
		free(p);
	}
	free(xce->ports);
	munmap(xce->slots, XSIM_EVT_SLOTS_SIZE);
	close(xce->memfd);
	close(xce->rfd);
	close(xce->wfd);
	pthread_mutex_destroy(&xce->lock);
	free(xce);
	return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
	return xce->rfd;
}

static void peer_unref(xenevtchn_handle *h, struct peer *p)
{
	if (!p || --p->refs)
		return;
	for (struct peer **pp = &h->peers; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	munmap(p->slots, XSIM_EVT_SLOTS_SIZE);
	close(p->sock);
	free(p);
}

static void lport_forget(xenevtchn_handle *h, struct lport *lp)
{
	peer_unref(h, lp->peer);
	lp->peer = NULL;
}

/* Ask the daemon where `port`'s remote end lives.  Returns 1 if the port is
 * connected (lp->peer set), 0 if not (the event is dropped, as Xen drops a
 * send on an unbound port), or -errno. */
static int lport_resolve(xenevtchn_handle *h, uint32_t port)
{
	struct lport *lp = lport_of(h, port, false); /* bound: made */
	struct xsim_msg m = { .op = XSIM_OP_EVT_PEER, .arg = { port } };
	int fds[2], r;
	unsigned nfds = 0;

	lport_forget(h, lp);
	r = xsim_call(h->conn, &m, NULL, NULL, 0, NULL, 0, fds, 2, &nfds);
	if (r != 0 || nfds != 2) {
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		return r < 0 ? r : (r == 1 ? 0 : -EPROTO);
	}
	struct peer *p;
	for (p = h->peers; p && p->id != m.arg[0]; p = p->next)
		;
	if (p) {
		close(fds[0]);
		close(fds[1]);
	} else {
		void *s = mmap(NULL, XSIM_EVT_SLOTS_SIZE, PROT_READ | PROT_WRITE,
			       MAP_SHARED, fds[0], 0);
		close(fds[0]);
		if (s == MAP_FAILED || !(p = calloc(1, sizeof(*p)))) {
			if (s != MAP_FAILED)
				munmap(s, XSIM_EVT_SLOTS_SIZE);
			close(fds[1]);
			return -ENOMEM;
		}
		p->id = m.arg[0];
		p->slots = s;
		p->sock = fds[1];
		p->next = h->peers;
		h->peers = p;
	}
	if (m.arg[1] == 0 || m.arg[1] >= XSIM_EVT_PORTS) {
		p->refs++;
		peer_unref(h, p);
		return -EPROTO;
	}
	p->refs++;
	lp->peer = p;
	lp->peer_port = m.arg[1];
	lp->gen = m.arg[2];
	return 1;
}

static bool lport_current(struct lport *lp)
{
	return lp->peer &&
	       atomic_load((_Atomic uint32_t *)&lp->peer->slots[lp->peer_port].gen) ==
		       lp->gen;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	int r = 0;

	if (port == 0 || port >= XSIM_EVT_PORTS) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&xce->lock);
	struct lport *lp = lport_of(xce, port, false);
	if (!lp || !lp->bound) {
		r = -ENOTCONN; /* Linux: not a port of this handle */
	} else if (lport_current(lp) || (r = lport_resolve(xce, port)) > 0) {
		/* If the peer re-bound between resolve and now, the event
		 * lands on the new binding: a spurious event, which Xen
		 * allows. */
		xsim_evt_raise(lp->peer->slots, lp->peer->sock, lp->peer_port);
		r = 0;
	}
	pthread_mutex_unlock(&xce->lock);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return 0;
}

static xenevtchn_port_or_error_t bind_call(xenevtchn_handle *h, uint32_t op,
					   uint32_t a0, uint32_t a1)
{
	struct xsim_msg m = { .op = op, .arg = { a0, a1 } };

	pthread_mutex_lock(&h->lock);
	int r = xsim_call(h->conn, &m, NULL, NULL, 0, NULL, 0, NULL, 0, NULL);
	struct lport *lp = NULL;
	if (r > 0 && (uint32_t)r < XSIM_EVT_PORTS &&
	    !(lp = lport_of(h, (uint32_t)r, true))) {
		/* No memory for its entry: give the port back. */
		struct xsim_msg u = { .op = XSIM_OP_EVT_UNBIND,
				      .arg = { (uint32_t)r } };
		(void)xsim_call(h->conn, &u, NULL, NULL, 0, NULL, 0, NULL, 0,
				NULL);
		r = -ENOMEM;
	} else if (lp) {
		lport_forget(h, lp);
		lp->bound = true;
	} else if (r >= 0) {
		r = -EPROTO;
	}
	pthread_mutex_unlock(&h->lock);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *xce,
						      uint32_t domid)
{
	return bind_call(xce, XSIM_OP_EVT_UNBOUND, domid, 0);
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce,
						     uint32_t domid,
						     evtchn_port_t remote_port)
{
	return bind_call(xce, XSIM_OP_EVT_INTERDOMAIN, domid, remote_port);
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce,
					      unsigned int virq)
{
	errno = ENOSYS; /* no virtual IRQs in the sim */
	return -1;
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	int r;

	if (port == 0 || port >= XSIM_EVT_PORTS) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&xce->lock);
	struct lport *lp = lport_of(xce, port, false);
	if (!lp || !lp->bound) {
		r = -ENOTCONN;
	} else {
		struct xsim_msg m = { .op = XSIM_OP_EVT_UNBIND, .arg = { port } };
		r = xsim_call(xce->conn, &m, NULL, NULL, 0, NULL, 0, NULL, 0, NULL);
		lport_forget(xce, lp);
		lp->bound = false;
	}
	pthread_mutex_unlock(&xce->lock);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	uint32_t port;
	size_t got = 0;

	/* Ports are queued as whole 4-byte writes; read exactly one. */
	while (got < sizeof(port)) {
		ssize_t n = read(xce->rfd, (char *)&port + got, sizeof(port) - got);
		if (n > 0)
			got += (size_t)n;
		else if (n == 0) {
			errno = EPIPE;
			return -1;
		} else if (errno != EINTR && !(got && errno == EAGAIN))
			return -1;
	}
	return (xenevtchn_port_or_error_t)port;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	if (port == 0 || port >= XSIM_EVT_PORTS) {
		errno = EINVAL;
		return -1;
	}
	/* Like Linux's evtchn write(): only this handle's ports, else a
	 * silent no-op. */
	pthread_mutex_lock(&xce->lock);
	struct lport *lp = lport_of(xce, port, false);
	if (lp && lp->bound)
		xsim_evt_unmask(xce->slots, xce->wfd, port);
	pthread_mutex_unlock(&xce->lock);
	return 0;
}

int xenevtchn_restrict(xenevtchn_handle *xce, domid_t domid)
{
	errno = EOPNOTSUPP;
	return -1;
}
