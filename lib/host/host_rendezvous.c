/* The host platform's rendezvous: a listening UNIX socket at the channel's
 * path stands in for the xenstore directory, and one message each way
 * passes the fds (SCM_RIGHTS) that the other side needs:
 *
 *   client -> server: host_hello_cli + [client eventfd], right after
 *                     connect, without waiting for the server's
 *   server -> client: host_hello_srv + [memfd, server eventfd]
 *
 * The server admits the client that sent a valid hello: it moves the
 * client's live byte (cli_live of the published page) from WAITING to
 * ADMITTED itself, so its accept returns, and its first message is in the
 * ring, while the client maps the pages; the client then moves it on to
 * UP, as it would from WAITING. The server has one client: any other
 * connection is accepted and closed at once, which the connecting side
 * reads as EOF and reports as -EBUSY. The connection then stays
 * open, silent, until one side goes away.
 *
 * Access (vmsg/host.h): the socket file gets its mode before listen();
 * the server checks each client's uid (SO_PEERCRED) before it sends
 * anything, and answers one it does not accept with HOST_MAGIC_DENY and
 * no fds; the client checks the server's uid before it sends anything.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <vmsg/host.h>

#include "host_internal.h"
#include "vmsg_barrier.h"
#include "vmsg_clock.h"
#include "vmsg_poll.h"

/* A lookup retries a missing or refusing socket this often. */
#define HOST_RETRY_MS 5
/* Once connected, a lookup waits at least this long for the server's
 * handshake, whatever the timeout: the server exists and answers from its
 * next wait/ack, so "0: never wait" cannot apply to this step. */
#define HOST_HANDSHAKE_MIN_MS 1000
/* How long a server that accepted a client looks for its hello before it
 * leaves it to the socket's event (an honest client has sent it already,
 * or sends it within a few system calls). */
#define HOST_HELLO_WAIT_NS 20000u
/* At most this many fds are accepted in one message; more is a violation. */
#define HOST_MAX_FDS 4

static void sun_of(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	/* vmsg_host_platform_new checked that path fits with its NUL. */
	memcpy(sa->sun_path, path, strlen(path) + 1);
}

static void close_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* sendmsg of one message with fds. MSG_NOSIGNAL: a peer that has gone
 * must not kill us with SIGPIPE. */
static int send_fds(int sock, const void *buf, size_t len, const int *fds,
		    int nfds)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 2)];
	} u;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	memset(&u, 0, sizeof u);
	m.msg_control = u.b;
	m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	ssize_t n;
	do
		n = sendmsg(sock, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

/* recvmsg of one message of exactly `len` bytes with up to HOST_MAX_FDS
 * fds (close-on-exec). Returns the byte count (0: EOF) or -errno; the fds
 * received are in fds[0..*nfds-1], and belong to the caller even when the
 * message is bad. -EPROTO when the control data was truncated. */
static int recv_fds(int sock, void *buf, size_t len, int *fds, int *nfds)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * HOST_MAX_FDS)];
	} u;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
			   .msg_control = u.b, .msg_controllen = sizeof u.b};
	*nfds = 0;
	ssize_t n;
	do
		n = recvmsg(sock, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + sizeof(int) * (size_t)i,
			       sizeof fd);
			if (*nfds < HOST_MAX_FDS)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
	if (m.msg_flags & MSG_CTRUNC)
		return -EPROTO;
	return (int)n;
}

/* Is the peer of connected socket `s` a uid we accept? 0 yes, -EACCES
 * no, -errno when the kernel cannot tell (then no, too). */
static int peer_ok(int s, uid_t want)
{
	struct ucred cr;
	socklen_t len = sizeof cr;
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return -errno;
	if (len != sizeof cr)
		return -EACCES;
	return want == VMSG_HOST_ANY_UID || cr.uid == want ? 0 : -EACCES;
}

/* ---- server ------------------------------------------------------------ */

/* Give the socket file we just bound its mode, before we listen: until
 * then a connect is refused, so whatever the umask made of it never lets
 * anyone in. Through an O_PATH descriptor of the file, checked to be a
 * socket of ours, and not by path: chmod(path) follows a symlink that
 * someone who may write to the folder put there after our bind, and as
 * root would change what it names. *st gets the file's identity. */
static int set_mode(const char *path, mode_t mode, struct stat *st)
{
	int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fstat(fd, st) < 0 ? -errno : 0;
	if (r == 0 && (!S_ISSOCK(st->st_mode) || st->st_uid != geteuid()))
		r = -EADDRINUSE; /* not what we bound: the path was replaced */
	if (r == 0) {
		/* fchmod() of an O_PATH fd is EBADF; its /proc link is the
		 * file itself (what glibc's fchmodat does for NOFOLLOW). */
		char link[40];
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		if (chmod(link, mode) < 0)
			r = -errno;
	}
	close(fd);
	return r;
}

/* Is there a live server at `path`? 1 yes, 0 no (stale socket), -errno. */
static int probe_live(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EADDRINUSE; /* never remove what is not a socket */
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return -errno;
	struct sockaddr_un sa;
	sun_of(&sa, path);
	int r = connect(s, (struct sockaddr *)&sa, sizeof sa);
	int e = r < 0 ? errno : 0;
	close(s);
	if (r == 0 || e == EAGAIN)
		return 1; /* accepted, or a full backlog: someone listens */
	if (e == ECONNREFUSED)
		return 0; /* nobody listens: left by a dead server */
	if (e == ENOENT)
		return 0;
	return -e;
}

/* Drop what we kept of a former client (its connection, eventfd and live
 * byte mapping), so that a reopened server can take a new one. */
static void forget_client(struct vmsg_host_platform *h)
{
	if (h->conn_fd >= 0) {
		vmsg__host_epoll_del(h, h->conn_fd);
		close(h->conn_fd);
		h->conn_fd = -1;
	}
	if (h->peer_evfd >= 0) {
		close(h->peer_evfd);
		h->peer_evfd = -1;
	}
	h->peer_live_known = false;
	h->peer_in = false;
}

int vmsg__host_publish(struct vmsg_platform *p, uint32_t ring_ref,
		       uint32_t port)
{
	struct vmsg_host_platform *h = vmsg__host_of(p);
	if (!h->server || h->listen_fd >= 0 || h->memfd < 0 || h->evfd < 0 ||
	    ring_ref >= h->pages || port != HOST_PORT)
		return -EINVAL;
	/* A reopened server: the channel saw the old client leave (its live
	 * byte), so whatever is left of it goes. */
	forget_client(h);
	/* The page the client's live byte is on, mapped now, before anyone
	 * can connect, so that admitting the client costs no mapping. */
	if (h->admit_page && h->admit_ref != ring_ref) {
		munmap(h->admit_page, HOST_PAGE);
		h->admit_page = NULL;
	}
	if (!h->admit_page) {
		void *a = mmap(NULL, HOST_PAGE, PROT_READ | PROT_WRITE,
			       MAP_SHARED, h->memfd,
			       (off_t)ring_ref * HOST_PAGE);
		if (a == MAP_FAILED)
			return -errno;
		h->admit_page = a;
		h->admit_ref = ring_ref;
	}
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return -errno;
	struct sockaddr_un sa;
	sun_of(&sa, h->path);
	int r = -EADDRINUSE;
	for (int tries = 0; tries < 3; tries++) {
		if (bind(s, (struct sockaddr *)&sa, sizeof sa) == 0) {
			r = 0;
			break;
		}
		r = -errno;
		if (r != -EADDRINUSE)
			break;
		int live = probe_live(h->path);
		if (live != 0) {
			r = live > 0 ? -EADDRINUSE : live;
			break;
		}
		/* A stale socket file: replace it. (ENOENT: someone else
		 * removed it first; bind again either way.) */
		if (unlink(h->path) < 0 && errno != ENOENT) {
			r = -errno;
			break;
		}
		r = -EADDRINUSE;
	}
	struct stat st;
	memset(&st, 0, sizeof st);
	if (r == 0)
		r = set_mode(h->path, h->mode, &st);
	if (r == 0 && listen(s, 8) < 0)
		r = -errno;
	if (r < 0 && r != -EADDRINUSE && st.st_ino) {
		/* The file we just bound (set_mode saw it), if still there. */
		struct stat now;
		if (lstat(h->path, &now) == 0 && now.st_dev == st.st_dev &&
		    now.st_ino == st.st_ino)
			(void)unlink(h->path);
	}
	if (r < 0) {
		close(s);
		return r;
	}
	h->listen_fd = s;
	h->listen_dev = st.st_dev;
	h->listen_ino = st.st_ino;
	r = vmsg__host_epoll_add(h, s, HOST_TAG_LISTEN, EPOLLIN);
	if (r < 0) {
		vmsg__host_unpublish(p);
		return r;
	}
	h->ring_ref = ring_ref;
	h->port = port;
	return 0;
}

void vmsg__host_unpublish(struct vmsg_platform *p)
{
	struct vmsg_host_platform *h = vmsg__host_of(p);
	if (h->listen_fd < 0)
		return;
	/* Closing removes it from the epoll set: nothing else holds it. */
	close(h->listen_fd);
	h->listen_fd = -1;
	/* Remove the path only while it is still our socket: a later server
	 * may have replaced it (after deciding ours was stale). */
	struct stat st;
	if (lstat(h->path, &st) == 0 && st.st_dev == h->listen_dev &&
	    st.st_ino == h->listen_ino)
		(void)unlink(h->path);
}

static int send_handshake(struct vmsg_host_platform *h, int s)
{
	struct host_hello_srv m = {
		.magic = HOST_MAGIC_SRV,
		.version = HOST_VERSION,
		.ring_ref = h->ring_ref,
		.port = h->port,
		.pages = h->pages,
		.notify_page = h->notify_page,
		.notify_off = h->notify_off,
	};
	int fds[2] = {h->memfd, h->evfd};
	return send_fds(s, &m, sizeof m, fds, 2);
}

int vmsg__host_accept(struct vmsg_host_platform *h)
{
	for (;;) {
		int s = accept4(h->listen_fd, NULL, NULL,
				SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (s < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return 0; /* EAGAIN, or nothing we can act on */
		}
		/* Only a uid we accept sees anything of ours: the others are
		 * told why (best effort) and closed, and do not count as our
		 * client. */
		if (peer_ok(s, h->peer_uid) < 0) {
			struct host_hello_srv deny = {.magic = HOST_MAGIC_DENY};
			(void)!send(s, &deny, sizeof deny,
				    MSG_NOSIGNAL | MSG_DONTWAIT);
			close(s);
			continue;
		}
		/* One client per server: while we have one (or had one that
		 * completed its hello), others are closed at once. */
		if (h->conn_fd >= 0 || h->peer_in ||
		    vmsg__host_epoll_add(h, s, HOST_TAG_CONN,
					 EPOLLIN | EPOLLRDHUP) < 0) {
			close(s);
			continue;
		}
		h->conn_fd = s;
		/* The client sends its hello right after its connect, which
		 * woke us: it is here already or on its way (on this CPU, the
		 * client may not have run since). Look again for a moment,
		 * giving the CPU away between looks. Admitted before our
		 * handshake goes out: the handshake wakes the client, which
		 * may run at once on this CPU and would find itself not yet
		 * in, mark itself and kick us, a wake-up more. */
		uint64_t until = vmsg__clock_ns() + HOST_HELLO_WAIT_NS;
		int r;
		while ((r = vmsg__host_recv_hello(h)) == 0 &&
		       vmsg__clock_ns() < until)
			sched_yield();
		if (r >= 0 && send_handshake(h, s) == 0)
			return r; /* 0: the socket's event reads the hello */
		if (r > 0) {
			/* It never got our handshake, so it never saw the
			 * page: take the admission back. */
			uint8_t expect = VMSG_LIVE_ADMITTED;
			(void)vmsg__cas(&h->admit_page[HOST_CLI_LIVE_OFF],
					&expect, (uint8_t)VMSG_LIVE_WAITING);
		}
		forget_client(h);
		return 0; /* any further connection waits for the next look */
	}
}

int vmsg__host_recv_hello(struct vmsg_host_platform *h)
{
	struct host_hello_cli m;
	int fds[HOST_MAX_FDS], nfds;
	int n = recv_fds(h->conn_fd, &m, sizeof m, fds, &nfds);
	if (n == -EAGAIN) {
		close_fds(fds, nfds);
		return 0;
	}
	/* Everything below is checked before use: the client may be hostile.
	 * Its live byte is on the page we published (publish checked
	 * ring_ref < pages), at the protocol's offset. */
	if (n < 0 || n != (int)sizeof m || nfds != 1 ||
	    m.magic != HOST_MAGIC_CLI || m.version != HOST_VERSION ||
	    !vmsg__host_is_eventfd(fds[0])) {
		close_fds(fds, nfds);
		return n < 0 ? n : -EPROTO;
	}
	vmsg__host_set_nonblock(fds[0]); /* a kick must never block us */
	h->peer_evfd = fds[0];
	h->peer_in = true;
	h->peer_live_page = h->ring_ref;
	h->peer_live_off = HOST_CLI_LIVE_OFF;
	h->peer_live_known = true;
	/* Admit it: WAITING -> ADMITTED, which the server's channel reads
	 * as open and the client moves to UP after mapping. Only from
	 * WAITING: a client that got there first, or has closed already (0),
	 * keeps what it wrote. (publish mapped the page at ring_ref.) */
	uint8_t expect = VMSG_LIVE_WAITING;
	(void)vmsg__cas(&h->admit_page[HOST_CLI_LIVE_OFF], &expect,
			(uint8_t)VMSG_LIVE_ADMITTED);
	return 1;
}

/* ---- client ------------------------------------------------------------ */

/* Connect, retrying while there is no server (yet). */
static int connect_retry(const char *path, int timeout_ms, uint64_t deadline)
{
	struct sockaddr_un sa;
	sun_of(&sa, path);
	for (;;) {
		int s = socket(AF_UNIX,
			       SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (s < 0)
			return -errno;
		if (connect(s, (struct sockaddr *)&sa, sizeof sa) == 0)
			return s;
		int e = errno;
		close(s);
		/* ENOENT: no socket yet; ECONNREFUSED: a stale one (its
		 * server died); EAGAIN: the backlog is full. */
		if (e != ENOENT && e != ECONNREFUSED && e != EAGAIN &&
		    e != EINTR)
			return -e;
		int left = timeout_ms < 0 ? HOST_RETRY_MS : vmsg__poll_ms(deadline);
		if (left == 0)
			return -ENOENT;
		if (left > HOST_RETRY_MS)
			left = HOST_RETRY_MS;
		struct timespec ts = {.tv_nsec = left * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* Validate the server's handshake and take its fds. */
static int take_handshake(struct vmsg_host_platform *h,
			  const struct host_hello_srv *m, int n, int *fds,
			  int nfds)
{
	if (n == (int)sizeof *m && nfds == 0 && m->magic == HOST_MAGIC_DENY)
		return -EACCES; /* the server does not accept our uid */
	if (n != (int)sizeof *m || nfds != 2 || m->magic != HOST_MAGIC_SRV ||
	    m->version != HOST_VERSION || m->pages == 0 ||
	    m->pages > HOST_MAX_PAGES || m->ring_ref >= m->pages ||
	    m->port == 0)
		return -EPROTO;
	bool notify = m->notify_off != HOST_NO_NOTIFY;
	if (notify &&
	    (m->notify_page >= m->pages || m->notify_off >= HOST_PAGE))
		return -EPROTO;
	/* The memfd must really hold the pages it claims and must not be able
	 * to shrink under our mappings (that would SIGBUS us). */
	struct stat st;
	if (!vmsg__host_is_eventfd(fds[1]))
		return -EPROTO;
	if (fstat(fds[0], &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size < (uint64_t)m->pages * HOST_PAGE)
		return -EPROTO;
	int seals = fcntl(fds[0], F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return -EPROTO;
	h->memfd = fds[0];
	h->pages = m->pages;
	if (notify) {
		h->peer_live_page = m->notify_page;
		h->peer_live_off = m->notify_off;
		h->peer_live_known = true;
	}
	vmsg__host_set_nonblock(fds[1]); /* a kick must never block us */
	h->peer_evfd = fds[1];
	h->ring_ref = m->ring_ref;
	h->port = m->port;
	return 0;
}

int vmsg__host_lookup(struct vmsg_platform *p, uint32_t *ring_ref,
		      uint32_t *port, int timeout_ms)
{
	struct vmsg_host_platform *h = vmsg__host_of(p);
	if (!ring_ref || !port || h->server || h->peer_in || h->conn_fd >= 0)
		return -EINVAL;
	uint64_t start = vmsg__clock_ns();
	uint64_t deadline = start;
	if (timeout_ms > 0)
		deadline += (uint64_t)timeout_ms * 1000000u;
	/* Our event port before we connect: the hello must follow the
	 * connect at once, so that the server, woken by the connect, finds
	 * it there (else its accept returns without it and the client's own
	 * kick has to wake it again). */
	int s = h->evfd < 0 ? vmsg__host_new_eventfd(h) : 0;
	if (s < 0)
		return s;
	s = connect_retry(h->path, timeout_ms, deadline);
	if (s < 0)
		return s;
	/* Before we send or read a byte: is this a server we accept? (The
	 * uid it had when it called listen(); a squatter's is its own.) */
	int ok = peer_ok(s, h->peer_uid);
	if (ok < 0) {
		close(s);
		return ok;
	}
	/* Our hello now, not after the server's: it reads both on the one
	 * wake-up our connect gives it. A server that refuses us may have
	 * closed already (EPIPE): what it said, if anything, is read below. */
	struct host_hello_cli hello = {.magic = HOST_MAGIC_CLI,
				       .version = HOST_VERSION};
	int sent = send_fds(s, &hello, sizeof hello, &h->evfd, 1);

	uint64_t hs_deadline =
		start + (uint64_t)HOST_HANDSHAKE_MIN_MS * 1000000u;
	if (hs_deadline < deadline)
		hs_deadline = deadline;
	struct host_hello_srv m;
	int fds[HOST_MAX_FDS], nfds = 0, n;
	for (;;) {
		struct pollfd pf = {.fd = s, .events = POLLIN};
		int r = poll(&pf, 1,
			     timeout_ms < 0 ? -1 : vmsg__poll_ms(hs_deadline));
		if (r < 0 && errno != EINTR) {
			r = -errno;
			close(s);
			return r;
		}
		if (r == 0) {
			close(s);
			return -ETIMEDOUT;
		}
		n = recv_fds(s, &m, sizeof m, fds, &nfds);
		if (n != -EAGAIN && n != -EINTR)
			break;
		close_fds(fds, nfds);
	}
	int r;
	if (n == 0 || n == -ECONNRESET)
		r = -EBUSY; /* closed without a word: it has its client */
	else if (n < 0)
		r = n;
	else
		r = take_handshake(h, &m, n, fds, nfds);
	if (r == 0 && sent < 0)
		r = -EBUSY; /* it answered, but our hello never got there */
	if (r == 0)
		r = vmsg__host_epoll_add(h, s, HOST_TAG_CONN,
					 EPOLLIN | EPOLLRDHUP);
	if (r < 0) {
		/* take_handshake may have kept fds: release them as well. */
		h->peer_live_known = false;
		h->memfd = h->peer_evfd = -1;
		close_fds(fds, nfds);
		close(s);
		return r;
	}
	h->conn_fd = s;
	h->peer_in = true;
	*ring_ref = h->ring_ref;
	*port = h->port;
	return 0;
}
