/* Message framing over SOCK_SEQPACKET with SCM_RIGHTS, the state-dir and
 * domid lookups every client shares, and the event-slot transitions used by
 * both the libraries (notify, unmask) and the daemon (unmap notification). */
#include "xsim_proto.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int xsim_send(int fd, const struct xsim_msg *m, const uint32_t *vals,
	      const int *fds, unsigned nfds)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)m, .iov_len = sizeof(*m) },
		{ .iov_base = (void *)vals, .iov_len = m->n * sizeof(uint32_t) },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * XSIM_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = m->n ? 2 : 1 };

	if (m->n > XSIM_MAX_VALS || nfds > XSIM_MAX_FDS)
		return -E2BIG;
	if (nfds) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	for (;;) {
		ssize_t r = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (r >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

int xsim_recv(int fd, struct xsim_msg *m, uint32_t *vals, unsigned max_vals,
	      int *fds, unsigned max_fds, unsigned *nfds)
{
	struct iovec iov[2] = {
		{ .iov_base = m, .iov_len = sizeof(*m) },
		{ .iov_base = vals, .iov_len = max_vals * sizeof(uint32_t) },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * XSIM_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	ssize_t r;
	unsigned kept = 0;

	do
		r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == ECONNRESET ? -EPIPE : -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (unsigned i = 0; i < cnt; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (kept < max_fds)
				fds[kept++] = f;
			else
				close(f);
		}
	}
	if (nfds)
		*nfds = kept;
	if (r == 0)
		return -EPIPE;
	/* A sender that lies about n, or a truncated message, is refused. */
	if ((size_t)r < sizeof(*m) || (mh.msg_flags & MSG_TRUNC) ||
	    m->n > max_vals || (size_t)r != sizeof(*m) + m->n * sizeof(uint32_t)) {
		for (unsigned i = 0; i < kept; i++)
			close(fds[i]);
		if (nfds)
			*nfds = 0;
		return -EPROTO;
	}
	return 0;
}

int xsim_call(int fd, struct xsim_msg *m, const uint32_t *vals,
	      const int *fds, unsigned nfds, uint32_t *rvals, unsigned max_rvals,
	      int *rfds, unsigned max_rfds, unsigned *nrfds)
{
	int r = xsim_send(fd, m, vals, fds, nfds);
	if (r < 0)
		return r;
	uint32_t op = m->op;
	r = xsim_recv(fd, m, rvals, max_rvals, rfds, max_rfds, nrfds);
	if (r < 0)
		return r;
	if (m->op != op)
		return -EPROTO;
	return m->result;
}

int xsim_state_dir(char *buf, size_t len)
{
	const char *d = getenv("XENSIM_DIR");
	int n;

	if (d && *d)
		n = snprintf(buf, len, "%s", d);
	else if ((d = getenv("XDG_RUNTIME_DIR")) && *d)
		n = snprintf(buf, len, "%s/xensim", d);
	else if (geteuid() == 0)
		n = snprintf(buf, len, "/run/xensim");
	else
		n = snprintf(buf, len, "/tmp/xensim-%u", (unsigned)geteuid());
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int xsim_self_domid(void)
{
	const char *s = getenv("XENSIM_DOMID");
	char *end;

	if (!s || !*s)
		return 0;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v >= XSIM_DOMID_LIMIT)
		return -EINVAL;
	return (int)v;
}

int xsim_connect(int kind, uint32_t domid, const int *fds, unsigned nfds,
		 uint32_t *id)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)];
	int r, fd;

	if ((r = xsim_state_dir(dir, sizeof(dir))) < 0)
		return r;
	r = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/xensimd.sock", dir);
	if (r < 0 || (size_t)r >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	struct xsim_msg m = { .op = XSIM_OP_HELLO, .arg = { (uint32_t)kind, domid } };
	r = xsim_call(fd, &m, NULL, fds, nfds, NULL, 0, NULL, 0, NULL);
	if (r < 0) {
		close(fd);
		return r;
	}
	if (id)
		*id = m.arg[0];
	return fd;
}

/* Slot transitions.  The state word is shared between the receiving
 * process, every notifier and the daemon, so it only changes by CAS.
 * Delivery = queue the port number on the receiver's event socket; the
 * MASKED bit guarantees a port is queued at most once per unmask. */
void xsim_evt_raise(struct xsim_evt_slot *slots, int sock, uint32_t port)
{
	_Atomic uint32_t *st = (_Atomic uint32_t *)&slots[port].state;
	uint32_t old = atomic_load(st), nv;

	do
		nv = (old & XSIM_EVT_MASKED) ? (old | XSIM_EVT_PENDING)
					     : XSIM_EVT_MASKED;
	while (!atomic_compare_exchange_weak(st, &old, nv));
	if (!(old & XSIM_EVT_MASKED))
		(void)send(sock, &port, sizeof(port), MSG_DONTWAIT | MSG_NOSIGNAL);
}

void xsim_evt_unmask(struct xsim_evt_slot *slots, int sock, uint32_t port)
{
	_Atomic uint32_t *st = (_Atomic uint32_t *)&slots[port].state;
	uint32_t old = atomic_load(st), nv;

	do
		nv = (old & XSIM_EVT_PENDING) ? XSIM_EVT_MASKED : 0;
	while (!atomic_compare_exchange_weak(st, &old, nv));
	if (old & XSIM_EVT_PENDING)
		(void)send(sock, &port, sizeof(port), MSG_DONTWAIT | MSG_NOSIGNAL);
}
