/* The vmsgd client's world on Linux (vmsg_service_env.h): channels over
 * the Xen backend (vmsg/xen.h), our domid and directories from xenstore,
 * libc's clock, sleep and memory, and vmsg_ctl_fd() as an epoll set
 * holding the control channel's fd and a timer that ticks while vmsgd is
 * away (so the fd a poller holds survives reconnects). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include <vmsg/xen.h>

#include "env_linux.h"
#include "service_private.h"
#include "vmsg_clock.h"
#include "vmsg_xs_linux.h"

_Static_assert(VMSG_PBW_PATH_CAP <= VMSG_XEN_PATH_MAX,
	       "a path vmsgd sends fits the Xen backend");

static int linux_own_domid(void)
{
	uint16_t d;
	int r = vmsg_xen_own_domid(&d);
	return r < 0 ? r : d;
}

int vmsg__xs_dir_names(struct xs_handle *xs, uint32_t tx, const char *path,
		       char *buf, size_t cap)
{
	unsigned num = 0;
	char **d = xs_directory(xs, tx, path, &num);
	if (!d)
		return errno > 0 ? -errno : -EIO;
	int r = (int)num;
	size_t used = 0;
	for (unsigned i = 0; i < num && r >= 0; i++) {
		size_t n = strlen(d[i]) + 1;
		if (n > cap - used)
			r = -ENAMETOOLONG;
		else
			memcpy(buf + used, d[i], n);
		used += n;
	}
	free(d);
	return r;
}

static int linux_xs_directory(const char *path, char *buf, size_t cap)
{
	struct xs_handle *xs = xs_open(0);
	if (!xs)
		return errno > 0 ? -errno : -EIO;
	int r = vmsg__xs_dir_names(xs, XBT_NULL, path, buf, cap);
	xs_close(xs);
	return r;
}

uint64_t vmsg__svc_linux_now_ms(void)
{
	return vmsg__clock_ms();
}

void vmsg__svc_linux_sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void *vmsg__svc_linux_alloc(size_t size)
{
	return calloc(1, size);
}

void vmsg__svc_linux_free(void *p, size_t size)
{
	(void)size;
	free(p);
}

/* ---- vmsg_ctl_fd() */

/* epfd holds the control channel's fd, tfd (ticks every retry period
 * while vmsgd is away), xfd (a one-shot timer at the next connect
 * deadline of a served channel) and the fds of the served channels that
 * wait for their consumer. */
struct ctl_poll {
	int epfd, tfd, xfd;
};

static int poll_open(void **os)
{
	struct ctl_poll *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	p->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	p->xfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	struct epoll_event ev;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	if (p->epfd < 0 || p->tfd < 0 || p->xfd < 0 ||
	    epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->tfd, &ev) < 0 ||
	    epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->xfd, &ev) < 0) {
		int r = -errno;
		if (p->epfd >= 0)
			close(p->epfd);
		if (p->tfd >= 0)
			close(p->tfd);
		if (p->xfd >= 0)
			close(p->xfd);
		free(p);
		return r;
	}
	*os = p;
	return 0;
}

static void poll_close(void *os)
{
	struct ctl_poll *p = os;
	close(p->epfd);
	close(p->tfd);
	close(p->xfd);
	free(p);
}

static int poll_fd(void *os)
{
	return ((struct ctl_poll *)os)->epfd;
}

static void poll_drain(void *os)
{
	struct ctl_poll *p = os;
	uint64_t n;
	(void)!read(p->tfd, &n, sizeof n);
	(void)!read(p->xfd, &n, sizeof n);
}

/* Tick every `ms` (0: stop). */
static void timer_set(struct ctl_poll *p, unsigned ms)
{
	struct itimerspec it;
	memset(&it, 0, sizeof it);
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	it.it_interval = it.it_value;
	(void)timerfd_settime(p->tfd, 0, &it, NULL);
	if (ms == 0) {
		uint64_t n;
		(void)!read(p->tfd, &n, sizeof n); /* clear a tick due */
	}
}

static int poll_watch(void *os, vmsg_chan *c)
{
	struct ctl_poll *p = os;
	int fd = vmsg_chan_fd(c);
	struct epoll_event ev;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	if (fd < 0)
		return fd;
	return epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void poll_unwatch(void *os, vmsg_chan *c)
{
	int fd = vmsg_chan_fd(c);
	if (fd >= 0)
		(void)epoll_ctl(((struct ctl_poll *)os)->epfd, EPOLL_CTL_DEL, fd,
				NULL);
}

static int poll_attached(void *os, vmsg_chan *c)
{
	int r = poll_watch(os, c);
	if (r == 0)
		timer_set(os, 0);
	return r;
}

static void poll_detached(void *os, vmsg_chan *c, unsigned retry_ms)
{
	poll_unwatch(os, c);
	timer_set(os, retry_ms);
}

/* One shot in ms (0: at once, which a zero it_value would not do; < 0:
 * disarm). */
static void poll_deadline(void *os, int ms)
{
	struct itimerspec it;
	memset(&it, 0, sizeof it);
	if (ms >= 0) {
		it.it_value.tv_sec = ms / 1000;
		it.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
		if (ms == 0)
			it.it_value.tv_nsec = 1;
	}
	(void)timerfd_settime(((struct ctl_poll *)os)->xfd, 0, &it, NULL);
}

const struct vmsg__svc_poll_ops vmsg__svc_linux_poll = {
	.open = poll_open,
	.close = poll_close,
	.fd = poll_fd,
	.attached = poll_attached,
	.detached = poll_detached,
	.watch = poll_watch,
	.unwatch = poll_unwatch,
	.deadline = poll_deadline,
	.drain = poll_drain,
};

static const struct vmsg__svc_env linux_env = {
	VMSG__SVC_XEN_ENV_OPS,
	.prepare = vmsg__xen_prepare,
	.unprepare = vmsg__xen_unprepare,
	.own_domid = linux_own_domid,
	.now_ms = vmsg__svc_linux_now_ms,
	.sleep_ms = vmsg__svc_linux_sleep_ms,
	.xs_directory = linux_xs_directory,
	.alloc = vmsg__svc_linux_alloc,
	.free = vmsg__svc_linux_free,
	.poll = &vmsg__svc_linux_poll,
};

int vmsg_ctl_open(vmsg_ctl **out, int timeout_ms)
{
	/* Host mode is chosen by the environment (vmsg/service.h). */
	if (vmsg__svc_host_dir())
		return vmsg__ctl_open(out, &vmsg__svc_host_env, timeout_ms);
	return vmsg__ctl_open(out, &linux_env, timeout_ms);
}
