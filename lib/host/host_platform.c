/* The host platform: vchan's primitives emulated between Linux processes.
 *
 *   grant pages       -> pages of one memfd owned by the server
 *   event port        -> one eventfd per end, passed with SCM_RIGHTS
 *   xenstore entry    -> a listening UNIX socket (host_rendezvous.c)
 *   unmap notification-> the connected socket hangs up when a peer dies
 *                        (even by kill -9); the survivor then clears the
 *                        peer's live byte itself and reports an event
 *
 * wait/ack/fd all go through one epoll fd that groups our eventfd, the
 * listening socket (server, while published) and the connected socket.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vmsg/host.h>
#include <vmsg/waitset.h>

#include "host_internal.h"
#include "vmsg_barrier.h"
#include "vmsg_clock.h"
#include "vmsg_poll.h"
#include "vmsg_linux_alloc.h"

/* ---- small helpers ------------------------------------------------------ */

void vmsg__host_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && !(fl & O_NONBLOCK))
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int vmsg__host_epoll_add(struct vmsg_host_platform *h, int fd, uint32_t tag,
			 uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.u32 = tag};
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

void vmsg__host_epoll_del(struct vmsg_host_platform *h, int fd)
{
	(void)epoll_ctl(h->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* Is fd an eventfd? A peer passes "its event port" and we write to it on
 * every kick: a pipe or a socket in its place could block us or raise
 * SIGPIPE. /proc names the kind exactly; without /proc, accept only an
 * anonymous inode (no file type bits: eventfd, epoll, timerfd...), which
 * never blocks a non-blocking write nor raises a signal. */
bool vmsg__host_is_eventfd(int fd)
{
	char link[64], target[32];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof target);
	if (n >= 0)
		return (size_t)n == sizeof "anon_inode:[eventfd]" - 1 &&
		       memcmp(target, "anon_inode:[eventfd]", (size_t)n) == 0;
	struct stat st;
	return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == 0;
}

/* ---- memory -------------------------------------------------------------- */

/* A reopened server shares a fresh control page (vmsg_chan_reopen). Here
 * the old one can serve again: on this backend the survivor itself clears
 * a gone peer's live byte, and forgets the peer before it publishes anew,
 * so no late notification of the old client can land on the new layout
 * (on Xen one can: there the page must be a new grant). Zeroed as new. */
static int share_again(struct vmsg_host_platform *h, void **addr,
		       uint32_t *refs, int notify_off)
{
	void *a = mmap(NULL, HOST_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		       h->memfd, (off_t)h->notify_page * HOST_PAGE);
	if (a == MAP_FAILED)
		return -errno;
	memset(a, 0, HOST_PAGE);
	refs[0] = h->notify_page;
	h->notify_off = (uint32_t)notify_off;
	*addr = a;
	return 0;
}

static int host_share(struct vmsg_platform *p, uint32_t n, void **addr,
		      uint32_t *refs, int notify_off)
{
	struct vmsg_host_platform *h = vmsg__host_of(p);
	if (!addr || !refs || n == 0 || notify_off >= (int)HOST_PAGE)
		return -EINVAL;
	if (!h->server)
		return -ENOTSUP; /* the server owns the memfd */
	if (n > HOST_MAX_PAGES - h->pages)
		return -ENOMEM;
	if (notify_off >= 0) {
		/* The notify byte lives in the first page of this share and
		 * is signalled through our port, which must exist. */
		if (h->evfd < 0 || n != 1)
			return -EINVAL;
		if (h->notify_page != HOST_NO_NOTIFY)
			return share_again(h, addr, refs, notify_off);
	}
	if (h->memfd < 0) {
		h->memfd = memfd_create("vmsg",
					 MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (h->memfd < 0)
			return -errno;
		/* The client checks this seal: shrinking the file under its
		 * mappings would SIGBUS it. Growing stays allowed. */
		if (fcntl(h->memfd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
			int e = -errno;
			close_fd(&h->memfd);
			return e;
		}
	}
	uint32_t first = h->pages;
	/* ftruncate zero-fills the new pages. */
	if (ftruncate(h->memfd, (off_t)(first + n) * HOST_PAGE) < 0)
		return -errno;
	h->pages = first + n;
	void *a = mmap(NULL, (size_t)n * HOST_PAGE, PROT_READ | PROT_WRITE,
		       MAP_SHARED, h->memfd, (off_t)first * HOST_PAGE);
	if (a == MAP_FAILED)
		return -errno; /* the pages stay in the memfd, unused */
	for (uint32_t i = 0; i < n; i++)
		refs[i] = first + i;
	if (notify_off >= 0) {
		h->notify_page = first;
		h->notify_off = (uint32_t)notify_off;
	}
	*addr = a;
	return 0;
}

static int host_map(struct vmsg_platform *p, uint32_t n, const uint32_t *refs,
		    void **addr, int notify_off)
{
	struct vmsg_host_platform *h = vmsg__host_of(p);
	if (!addr || !refs || n == 0 || n > HOST_MAX_PAGES ||
	    notify_off >= (int)HOST_PAGE)
		return -EINVAL;
	if (h->server)
		return -ENOTSUP;
	if (!h->peer_in || h->memfd < 0)
		return -EINVAL; /* lookup first */
	/* Our live byte is where the protocol puts it (the server reads it
	 * there from our hello on), on the page the server published; the
	 * server watches it through the connected socket, so there is
	 * nothing to register here. */
	if (notify_off >= 0 &&
	    (!h->bound || h->live_mapped || refs[0] != h->ring_ref ||
	     (uint32_t)notify_off != HOST_CLI_LIVE_OFF))
		return -EINVAL; /* port_bind first; one notify byte */
	for (uint32_t i = 0; i < n; i++) {
		if (refs[i] < h->pages)
			continue;
		/* The server may have grown the memfd since the handshake;
		 * it cannot shrink (sealed), so a fresh size only helps. */
		struct stat st;
		if (fstat(h->memfd, &st) < 0)
			return -errno;
		uint64_t now = (uint64_t)st.st_size / HOST_PAGE;
		h->pages = now > HOST_MAX_PAGES ? HOST_MAX_PAGES
						 : (uint32_t)now;
		if (refs[i] >= h->pages)
			return -EINVAL;
	}
	size_t len = (size_t)n * HOST_PAGE;
	uint32_t run = 1;
	while (run < n && refs[run] == refs[0] + run)
		run++;
	uint8_t *base;
	if (run == n) {
		/* One run of consecutive pages (what lib/chan asks for): one
		 * mapping, no reservation to lay it over. */
		base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			    h->memfd, (off_t)refs[0] * HOST_PAGE);
		if (base == MAP_FAILED)
			return -errno;
	} else {
		/* Reserve the whole range, then lay each run of consecutive
		 * refs over it, so the pages appear contiguous whatever their
		 * order. */
		base = mmap(NULL, len, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (base == MAP_FAILED)
			return -errno;
		for (uint32_t i = 0; i < n; i += run) {
			run = 1;
			while (i + run < n && refs[i + run] == refs[i] + run)
				run++;
			void *a = mmap(base + (size_t)i * HOST_PAGE,
				       (size_t)run * HOST_PAGE,
				       PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_FIXED, h->memfd,
				       (off_t)refs[i] * HOST_PAGE);
			if (a == MAP_FAILED) {
				int e = -errno;
				munmap(base, len);
				return e;
			}
		}
	}
	if (notify_off >= 0)
		h->live_mapped = true;
	*addr = base;
	return 0;
}

static void host_unmap(struct vmsg_platform *p, void *addr, uint32_t n)
{
	if (addr && n)
		munmap(addr, (size_t)n * HOST_PAGE);
}

/* ---- events -------------------------------------------------------------- */

int vmsg__host_new_eventfd(struct vmsg_host_platform *h)
{
	h->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->evfd < 0)
		return -errno;
	/* Edge-triggered: every write to an eventfd wakes its waiters, so
	 * each kick is one epoll event even while the counter is nonzero.
	 * We never read the counter, which saves a syscall per wake-up (the
	 * difference to a bare eventfd read in a blocking ping-pong). The
	 * counter cannot realistically reach its limit (2^64 - 2 kicks); a
	 * peer that writes a huge value only stops its own kicks. */
	int r = vmsg__host_epoll_add(h, h->evfd, HOST_TAG_EVENT,
				     EPOLLIN | EPOLLET);
	if (r < 0)
		close_fd(&h->evfd);
	return r;
}

static int host_port_alloc(struct vmsg_platform *p, uint32_t *port)
{
	struct vmsg_host_platform *h = vmsg__host_of(p);
	if (!port || !h->server || h->evfd >= 0)
		return -EINVAL;
	int r = vmsg__host_new_eventfd(h);
	if (r < 0)
		return r;
	*port = HOST_PORT;
	return 0;
}

static int host_port_bind(struct vmsg_platform *p, uint32_t remote_port)
{
	struct vmsg_host_platform *h = vmsg__host_of(p);
	if (h->server || !h->peer_in || h->bound || remote_port != h->port)
		return -EINVAL;
	/* Our eventfd went to the server with our hello (lookup). */
	h->bound = true;
	return 0;
}

static int host_notify(struct vmsg_platform *p)
{
	struct vmsg_host_platform *h = vmsg__host_of(p);
	if (h->peer_evfd < 0 && h->conn_fd >= 0 && !h->peer_in) {
		/* The client sends its hello before it can mark itself live,
		 * so a server that saw the live byte and kicks before its
		 * wait loop read the hello finds it here: no kick is lost. */
		if (vmsg__host_recv_hello(h) > 0) {
			/* Keep wait() and the fd truthful about the event. */
			uint64_t one = 1;
			(void)!write(h->evfd, &one, sizeof one);
		}
	}
	if (h->peer_evfd < 0)
		return 0; /* no client yet: nobody to kick */
	uint64_t one = 1;
	if (write(h->peer_evfd, &one, sizeof one) < 0 && errno != EAGAIN)
		return -errno; /* EAGAIN: the counter is full, a kick is
				  pending anyway */
	return 0;
}

/* The connected socket hung up (or the peer sent something it must not).
 * Returns 1 when this is news for the channel. */
static int peer_hangup(struct vmsg_host_platform *h)
{
	vmsg__host_epoll_del(h, h->conn_fd);
	close_fd(&h->conn_fd);
	if (!h->peer_in)
		return 0; /* server: a client left before its hello; the
			     slot is free again */
	if (h->peer_live_known) {
		/* Emulate Xen's unmap notification for the dead peer: clear
		 * its live byte. Every ring write it made before dying is
		 * already in the shared pages (its exit, and the kernel's
		 * hang-up we observed, come after them), so a reader that
		 * sees 0 here also sees its final indices: the barrier orders
		 * what we observed before the write, which pairs with the
		 * channel's acquire load of the live byte. The byte was
		 * checked to be inside the memfd (no growth). A peer that
		 * sealed its memfd against writes afterwards (it can only
		 * hurt itself) makes its death look like silence. */
		static const uint8_t gone = VMSG_LIVE_GONE;
		vmsg__mb();
		(void)!pwrite(h->memfd, &gone, 1,
			      (off_t)h->peer_live_page * HOST_PAGE +
				      h->peer_live_off);
	}
	return 1;
}

/* Read what the connected socket has. 1: news (hello done, or hang-up). */
static int conn_event(struct vmsg_host_platform *h)
{
	if (h->server && !h->peer_in) {
		int r = vmsg__host_recv_hello(h);
		if (r == 0)
			return 0;
		if (r > 0)
			return 1;
		return peer_hangup(h);
	}
	/* After the handshake the peer has nothing to say on the socket:
	 * EOF, an error or any byte at all ends the channel. */
	char c;
	ssize_t n = recv(h->conn_fd, &c, 1, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	return peer_hangup(h);
}

/* epoll_wait plus housekeeping. */
static int host_poll(struct vmsg_host_platform *h, int timeout_ms)
{
	const uint64_t deadline = vmsg__deadline_in(timeout_ms);
	for (;;) {
		int t = vmsg__poll_ms(deadline);
		struct epoll_event ev[4];
		int n = epoll_wait(h->epfd, ev, 4, t);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		int got = 0;
		for (int i = 0; i < n; i++) {
			switch (ev[i].data.u32) {
			case HOST_TAG_EVENT:
				got = 1; /* edge-triggered: nothing to drain */
				break;
			case HOST_TAG_LISTEN:
				got |= vmsg__host_accept(h);
				break;
			case HOST_TAG_CONN:
				if (h->conn_fd >= 0)
					got |= conn_event(h);
				break;
			}
		}
		if (got)
			return 1;
		/* Only housekeeping happened (say, a rejected extra
		 * client): wait on with the time that is left. */
		if (n == 0 || t == 0)
			return 0;
	}
}

static int host_wait(struct vmsg_platform *p, int timeout_ms)
{
	return host_poll(vmsg__host_of(p), timeout_ms < 0 ? -1 : timeout_ms);
}

static int host_ack(struct vmsg_platform *p)
{
	return host_poll(vmsg__host_of(p), 0);
}

static int host_fd(struct vmsg_platform *p)
{
	return vmsg__host_of(p)->epfd;
}

/* Our own eventfd, written as the peer would: epoll reports it (edge-
 * triggered, every write is an edge), so the fd and the next wait or ack
 * see an event. */
static int host_pend(struct vmsg_platform *p)
{
	struct vmsg_host_platform *h = vmsg__host_of(p);
	uint64_t one = 1;
	if (h->evfd < 0)
		return 0;
	if (write(h->evfd, &one, sizeof one) < 0 && errno != EAGAIN)
		return -errno; /* EAGAIN: the counter is full, an event is
				  pending anyway */
	return 0;
}

/* host_wait_any's take: a readable epoll fd's housekeeping and event,
 * as ack does. */
static int take_host(void *ctx, unsigned i, short revents)
{
	(void)revents;
	struct vmsg_platform *const *ps = ctx;
	return host_poll(vmsg__host_of(ps[i]), 0);
}

/* Many platforms at once (vmsg/waitset.h): poll their epoll fds. */
static int host_wait_any(struct vmsg_platform *const *ps, unsigned n,
			 int timeout_ms, uint8_t *fired)
{
	struct pollfd pf[VMSG_WAITSET_MAX];
	if (!ps || !fired || n == 0 || n > VMSG_WAITSET_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		pf[i] = (struct pollfd){.fd = vmsg__host_of(ps[i])->epfd,
					.events = POLLIN};
	return vmsg__poll_events(pf, n, vmsg__deadline_in(timeout_ms),
				 take_host, (void *)ps, fired);
}

/* ---- the rest ---------------------------------------------------------- */

static void *host_alloc(struct vmsg_platform *p, size_t size)
{
	return vmsg__linux_alloc(size);
}

static void host_free(struct vmsg_platform *p, void *ptr, size_t size)
{
	vmsg__linux_free(ptr, size);
}

static uint64_t host_now_ns(struct vmsg_platform *p)
{
	return vmsg__clock_ns();
}

static void host_destroy(struct vmsg_platform *p)
{
	struct vmsg_host_platform *h = vmsg__host_of(p);
	if (!h)
		return;
	/* Our ring writes are already in the shared pages. Withdraw the
	 * rendezvous first so no new client arrives, then hang up: the peer
	 * sees the hang-up only after everything we wrote. */
	vmsg__host_unpublish(p);
	close_fd(&h->conn_fd);
	close_fd(&h->peer_evfd);
	close_fd(&h->evfd);
	if (h->admit_page)
		munmap(h->admit_page, HOST_PAGE);
	close_fd(&h->memfd);
	close_fd(&h->epfd);
	free(h);
}

static const struct vmsg_platform_ops host_ops = {
	.name = "host",
	.share = host_share,
	.map = host_map,
	.unmap = host_unmap,
	.port_alloc = host_port_alloc,
	.port_bind = host_port_bind,
	.notify = host_notify,
	.wait = host_wait,
	.ack = host_ack,
	.fd = host_fd,
	.pend = host_pend,
	.wait_any = host_wait_any,
	.publish = vmsg__host_publish,
	.unpublish = vmsg__host_unpublish,
	.lookup = vmsg__host_lookup,
	.alloc = host_alloc,
	.free = host_free,
	.now_ns = host_now_ns,
	.destroy = host_destroy,
};

void vmsg_host_opts_init(struct vmsg_host_opts *o)
{
	if (!o)
		return;
	o->peer_uid = geteuid();
	o->mode = 0600;
}

int vmsg_host_platform_new(struct vmsg_platform **out, const char *path,
			   bool server)
{
	return vmsg_host_platform_new_opts(out, path, server, NULL);
}

int vmsg_host_platform_new_opts(struct vmsg_platform **out, const char *path,
				bool server, const struct vmsg_host_opts *ho)
{
	struct vmsg_host_opts def;
	if (!ho) {
		vmsg_host_opts_init(&def);
		ho = &def;
	}
	if (!out || !path || !path[0] || (ho->mode & ~(mode_t)0777))
		return -EINVAL;
	size_t len = strlen(path);
	struct vmsg_host_platform *h;
	if (len >= sizeof h->path)
		return -ENAMETOOLONG;
	h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	h->base.ops = &host_ops;
	h->server = server;
	h->peer_uid = ho->peer_uid;
	h->mode = ho->mode;
	memcpy(h->path, path, len + 1);
	h->evfd = h->peer_evfd = h->memfd = h->listen_fd = h->conn_fd = -1;
	h->notify_page = h->notify_off = HOST_NO_NOTIFY;
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (h->epfd < 0) {
		int e = -errno;
		free(h);
		return e == -EMFILE || e == -ENFILE ? e : -ENOMEM;
	}
	*out = &h->base;
	return 0;
}
