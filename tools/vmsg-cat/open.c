/* vmsg-cat: make the channel (serve and accept, or connect), with messages
 * that say what went wrong. */
#define _GNU_SOURCE
#include "cat.h"
#include "vmsg_clock.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vmsg/host.h>
#ifdef VMSG_CAT_XEN
#include <vmsg/xen.h>
#endif

#define SLICE_MS 200 /* connect attempts, so that a signal is noticed */

static char xen_path[3100]; /* the resolved --path or --port path */
static char addr_buf[3200];

const char *cat_strerror(int err)
{
	const char *s = vmsg_strerror(err);

	if (!strcmp(s, vmsg_strerror(-4095))) /* a code vmsg does not name */
		return strerror(err < 0 ? -err : err);
	return s;
}

const char *cat_addr(const struct cat_opts *o)
{
	if (o->backend == CAT_UNIX)
		snprintf(addr_buf, sizeof(addr_buf), "unix:%s", o->unix_path);
	else if (o->backend == CAT_SERVICE)
		snprintf(addr_buf, sizeof(addr_buf), "service '%s'",
			 o->service);
	else
		snprintf(addr_buf, sizeof(addr_buf), "xen:dom%d:%s", o->domid,
			 xen_path[0] ? xen_path : o->xs_path ? o->xs_path
							     : o->port);
	return addr_buf;
}

/* What a failed setup most likely means, in the user's terms. */
static const char *hint(const struct cat_opts *o, int r)
{
	switch (-r) {
	case ENOENT:
		if (o->listen && o->backend == CAT_UNIX)
			return " (does the socket's directory exist?)";
		/* A server withdraws its address once its one client is
		 * in, so a busy server looks like none at all. */
		if (o->backend == CAT_UNIX)
			return " (or a server there already has its client: "
			       "one client per channel)";
		if (o->backend == CAT_XEN && !o->listen)
			return " (or the Xen devices are missing: not in a Xen "
			       "domain, nor under `xensim run`?)";
		if (o->backend == CAT_XEN)
			return " (not in a Xen domain, nor under `xensim run`?)";
		return "";
	case EACCES:
	case EPERM:
		if (o->backend == CAT_XEN && o->listen)
			return " (may this domain write that xenstore path?)";
		if (o->backend == CAT_XEN) /* Xen hides what we may not read */
			return " (nothing there this domain may read: no "
			       "server yet, or one for another domain)";
		return "";
	case EADDRINUSE:
		return " (another vmsg-cat or server is using it)";
	case EBUSY:
		return " (the server already has its client)";
	case ESRCH:
		return " (that domain, or ours, is not running)";
	default:
		return "";
	}
}

static int fail(const struct cat_opts *o, const char *what, int r)
{
	/* vmsg's text for -ENOENT speaks of a missing server: not the
	 * listener's problem. */
	const char *text = o->listen && r == -ENOENT ? strerror(ENOENT)
						      : cat_strerror(r);

	cat_err("%s %s: %s%s", what, cat_addr(o), text, hint(o, r));
	return CAT_EXIT_FAIL;
}

#ifdef VMSG_CAT_XEN
/* Our own domain id: --my-domid, else the 'domid' key of our home. */
static int self_domid(const struct cat_opts *o)
{
	uint16_t v;
	if (o->my_domid >= 0)
		return o->my_domid;
	int r = vmsg_xen_own_domid(&v);
	if (r == -EIO) {
		cat_err("our domain id in xenstore ('domid') is not one: "
			"give --my-domid N");
		return -1;
	}
	if (r < 0) {
		/* --path would not help: the channel needs xenstore too. */
		cat_err("cannot read our domain id from xenstore (%s): --xen "
			"needs a Xen domain, or the simulator (`xensim run "
			"--domid N -- vmsg-cat ...`)",
			vmsg_strerror(r));
		return -1;
	}
	return v;
}

static int resolve_xen_path(const struct cat_opts *o)
{
	int self, r;

	if (o->xs_path) {
		snprintf(xen_path, sizeof(xen_path), "%s", o->xs_path);
		return 0;
	}
	if ((self = self_domid(o)) < 0)
		return -1;
	if (o->listen)
		r = vmsg_xen_path(xen_path, sizeof(xen_path), (uint16_t)self,
				  (uint16_t)o->domid, o->port);
	else
		r = vmsg_xen_path(xen_path, sizeof(xen_path), (uint16_t)o->domid,
				  (uint16_t)self, o->port);
	if (r < 0) {
		cat_err("--port %s: %s", o->port, cat_strerror(r));
		return -1;
	}
	return 0;
}
#endif

static void chan_opts(const struct cat_opts *o, struct vmsg_chan_opts *co)
{
	vmsg_chan_opts_init(co);
	if (o->ring)
		co->rx_ring_size = co->tx_ring_size = o->ring;
	if (o->max_msg)
		co->max_msg = o->max_msg;
}

static int serve(const struct cat_opts *o, vmsg_chan **out,
		 const struct vmsg_chan_opts *co)
{
	if (o->backend == CAT_UNIX)
		return vmsg_host_serve(out, o->unix_path, co);
#ifdef VMSG_CAT_XEN
	return vmsg_xen_serve(out, (uint16_t)o->domid, xen_path, co);
#else
	return -ENOTSUP;
#endif
}

static int connect_once(const struct cat_opts *o, vmsg_chan **out,
			const struct vmsg_chan_opts *co, int timeout_ms)
{
	if (o->backend == CAT_UNIX)
		return vmsg_host_connect(out, o->unix_path, co, timeout_ms);
#ifdef VMSG_CAT_XEN
	return vmsg_xen_connect(out, (uint16_t)o->domid, xen_path, co,
				timeout_ms);
#else
	return -ENOTSUP;
#endif
}

/* Wait for the client in a poll loop, so that a signal ends the wait and
 * the server still withdraws itself (its socket, its xenstore keys). */
int cat_accept(const struct cat_opts *o, vmsg_chan *c, int stop_fd,
	       volatile int *stop)
{
	int64_t end = o->timeout_ms < 0 ? -1 : (int64_t)vmsg__clock_ms() + o->timeout_ms;
	int fd = vmsg_chan_fd(c), r;

	if (fd < 0)
		return vmsg_chan_accept(c, o->timeout_ms);
	while ((r = vmsg_chan_accept(c, 0)) == -EAGAIN) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = stop_fd, .events = POLLIN } };
		int64_t left = end < 0 ? -1 : end - (int64_t)vmsg__clock_ms();

		if (end >= 0 && left <= 0)
			return -ETIMEDOUT;
		if (poll(p, 2, (int)left) < 0 && errno != EINTR)
			return -errno;
		if (*stop)
			return -EINTR;
		if (p[0].revents)
			vmsg_chan_ack(c);
	}
	return r;
}

int cat_open(const struct cat_opts *o, vmsg_chan **out, int stop_fd,
	     volatile int *stop)
{
	struct vmsg_chan_opts co;
	vmsg_chan *c = NULL;
	int r;

	chan_opts(o, &co);
#ifdef VMSG_CAT_XEN
	if (o->backend == CAT_XEN && resolve_xen_path(o) < 0)
		return CAT_EXIT_FAIL;
#else
	if (o->backend == CAT_XEN) {
		cat_err("this vmsg-cat was built without the Xen backend");
		return CAT_EXIT_FAIL;
	}
#endif
	if (o->listen) {
		if ((r = serve(o, &c, &co)) < 0)
			return fail(o, "cannot listen on", r);
		cat_info(o, "listening on %s", cat_addr(o));
		r = cat_accept(o, c, stop_fd, stop);
		if (r == -EINTR) {
			vmsg_chan_close(c);
			return CAT_EXIT_SIGNAL + *stop;
		}
		/* -EPIPE: the client came and went; what it sent is still
		 * there to copy out. */
		if (r < 0 && r != -EPIPE) {
			vmsg_chan_close(c);
			if (r == -ETIMEDOUT)
				cat_err("no client on %s within %d ms",
					cat_addr(o), o->timeout_ms);
			else
				fail(o, "waiting for a client on", r);
			return CAT_EXIT_FAIL;
		}
		cat_info(o, "client connected");
		*out = c;
		return CAT_EXIT_OK;
	}

	int64_t end = o->timeout_ms < 0 ? -1 : (int64_t)vmsg__clock_ms() + o->timeout_ms;
	for (;;) {
		int64_t left = end < 0 ? SLICE_MS : end - (int64_t)vmsg__clock_ms();
		int slice = left < 0 ? 0 : left > SLICE_MS ? SLICE_MS : (int)left;

		r = connect_once(o, &c, &co, slice);
		if (r >= 0)
			break;
		/* Not there (yet): try again until the deadline. Xen answers
		 * -EACCES for a missing key below a directory we may not
		 * read, until the server has written it. */
		if (r != -ENOENT && r != -ECONNREFUSED && r != -ETIMEDOUT &&
		    !(r == -EACCES && o->backend == CAT_XEN))
			return fail(o, "cannot connect to", r);
		if (*stop)
			return CAT_EXIT_SIGNAL + *stop;
		if (end >= 0 && (int64_t)vmsg__clock_ms() >= end) {
			/* A socket that takes the connection but never
			 * answers: a server that does not look after its
			 * channel. Not "nobody serves". */
			if (r == -ETIMEDOUT && o->backend == CAT_UNIX) {
				cat_err("cannot connect to %s: a server listens "
					"there but did not answer in time (is "
					"it stuck?)",
					cat_addr(o));
				return CAT_EXIT_FAIL;
			}
			return fail(o, "cannot connect to", r);
		}
		usleep(20000); /* a host connect does not wait for the server */
	}
	cat_info(o, "connected to %s", cat_addr(o));
	*out = c;
	return CAT_EXIT_OK;
}
