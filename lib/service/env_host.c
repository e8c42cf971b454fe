/* The vmsgd client's world in host mode (vmsg/service.h, "Host mode";
 * docs/vmsgd.md, "Host mode"): no Xen. vmsgd listens on
 * $VMSG_HOST_VMSGD/vmsgd.sock; each connection there is one client of its
 * own: vmsgd reads our uid and pid (SO_PEERCRED), serves a control channel
 * for us on the host backend and answers one line,
 *
 *   "ok ID PATH\n"           our number (in place of a domid) and where
 *                            our control channel waits for us, or
 *   "error ERRNO TEXT\n"     why not,
 *
 * and closes the connection. We connect to PATH on the host backend,
 * accepting vmsgd's uid only (read from the same connection), and the
 * rest is the Xen client's code: the same core (ctl.c, service.c), with
 * channels served and connected on the host backend under the uids vmsgd
 * names. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <vmsg/host.h>

#include "env_linux.h"
#include "service_private.h"

/* Where vmsgd's rendezvous socket lies inside the directory. */
#define HOST_SOCK_NAME "vmsgd.sock"
/* The answer is one short line. */
#define HOST_LINE_MAX 256

/* The directory's real path: vmsgd names paths under its own real path
 * of it, whichever way a user wrote ours (relative, through a link). */
const char *vmsg__svc_host_dir(void)
{
	static __thread char real[PATH_MAX];
	const char *d = getenv("VMSG_HOST_VMSGD");
	if (!d || !*d)
		return NULL;
	if (realpath(d, real))
		return real;
	snprintf(real, sizeof real, "%s", d);
	return real;
}

/* Read one line of vmsgd's answer within ms (at least a second: vmsgd
 * answers at once, the socket being ours). */
static int read_line(int fd, char *buf, size_t cap, int ms)
{
	size_t n = 0;
	uint64_t end = vmsg__svc_linux_now_ms() + (uint64_t)(ms < 1000 ? 1000 : ms);
	while (n + 1 < cap) {
		uint64_t now = vmsg__svc_linux_now_ms();
		if (now >= end)
			return -ETIMEDOUT;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)(end - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		ssize_t k = read(fd, buf + n, cap - 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EPIPE; /* closed before a whole line */
		n += (size_t)k;
		buf[n] = '\0';
		if (memchr(buf, '\n', n))
			return 0;
	}
	return -EPROTO;
}

static int host_ctl_connect(vmsg_chan **out, uint16_t *id,
			    const struct vmsg_chan_opts *o, int timeout_ms)
{
	const char *dir = vmsg__svc_host_dir();
	if (!dir)
		return -ENOENT;
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (snprintf(sa.sun_path, sizeof sa.sun_path, "%s/" HOST_SOCK_NAME,
		     dir) >= (int)sizeof sa.sun_path)
		return -ENAMETOOLONG;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int r = 0;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		/* No socket, or a stale one nobody listens on: no vmsgd
		 * (yet): the core retries until the deadline. */
		r = errno == ENOENT || errno == ECONNREFUSED ? -ENOENT : -errno;
		close(fd);
		return r;
	}
	struct ucred cred;
	socklen_t len = sizeof cred;
	char line[HOST_LINE_MAX];
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		r = -errno;
	} else {
		r = read_line(fd, line, sizeof line, timeout_ms);
		/* A vmsgd that closes at once (stopping) is not there. */
		if (r == -EPIPE || r == -ECONNRESET)
			r = -ENOENT;
	}
	close(fd);
	if (r < 0)
		return r;
	unsigned long num;
	int code, pos = 0;
	if (sscanf(line, "error %d %n", &code, &pos) == 1 && pos > 0)
		return code < 0 && code > -4096 ? code : -EPROTO;
	char path[HOST_LINE_MAX];
	size_t dl = strlen(dir);
	/* vmsgd's word, still checked: a number we can carry, and a path
	 * inside the directory we chose. */
	if (sscanf(line, "ok %lu %255s", &num, path) != 2 || num == 0 ||
	    num >= VMSG_DOMID_LIMIT || strncmp(path, dir, dl) != 0 ||
	    path[dl] != '/' || strstr(path, ".."))
		return -EPROTO;
	struct vmsg_host_opts ho;
	vmsg_host_opts_init(&ho);
	ho.peer_uid = cred.uid; /* vmsgd's, and no squatter's */
	r = vmsg_host_connect_opts(out, path, o, timeout_ms, &ho);
	if (r == 0)
		*id = (uint16_t)num;
	return r;
}

static int host_serve_prefix(char *buf, size_t cap, uint16_t id)
{
	const char *dir = vmsg__svc_host_dir();
	int n = snprintf(buf, cap, "%s/c/%u/", dir ? dir : "", (unsigned)id);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : n;
}

/* A channel for one consumer: the uid vmsgd names is the only one let
 * in. The socket's mode lets that uid connect (the folder vmsgd made for
 * us, ours and 0711, lets it reach the file without listing it); the
 * host backend's SO_PEERCRED check refuses every other uid. */
static int host_serve(vmsg_chan **out, uint16_t client_id, uint32_t peer_uid,
		      const char *path, const struct vmsg_chan_opts *o)
{
	(void)client_id;
	struct vmsg_host_opts ho;
	vmsg_host_opts_init(&ho);
	ho.mode = (uid_t)peer_uid == geteuid() ? 0600 : 0666;
	ho.peer_uid = (uid_t)peer_uid;
	return vmsg_host_serve_opts(out, path, o, &ho);
}

static int host_connect(vmsg_chan **out, uint16_t server_id,
			uint32_t peer_uid, const char *path,
			const struct vmsg_chan_opts *o, int timeout_ms)
{
	(void)server_id;
	struct vmsg_host_opts ho;
	vmsg_host_opts_init(&ho);
	ho.peer_uid = (uid_t)peer_uid;
	return vmsg_host_connect_opts(out, path, o, timeout_ms, &ho);
}

/* The real number comes with each connection (host_ctl_connect). */
static int host_own_domid(void)
{
	return 0;
}

/* No xenstore: the core asks only in Xen mode. */
static int host_xs_directory(const char *path, char *buf, size_t cap)
{
	(void)path;
	(void)buf;
	(void)cap;
	return -ENOENT;
}

const struct vmsg__svc_env vmsg__svc_host_env = {
	.serve = host_serve,
	.connect = host_connect,
	.ctl_connect = host_ctl_connect,
	.serve_prefix = host_serve_prefix,
	.own_domid = host_own_domid,
	.now_ms = vmsg__svc_linux_now_ms,
	.sleep_ms = vmsg__svc_linux_sleep_ms,
	.xs_directory = host_xs_directory,
	.alloc = vmsg__svc_linux_alloc,
	.free = vmsg__svc_linux_free,
	.poll = &vmsg__svc_linux_poll,
};

const char *vmsg__svc_target_strerror(int err)
{
	static __thread char text[512];
	const char *dir = vmsg__svc_host_dir();
	if (!dir)
		return NULL;
	switch (err) {
	case -ENOENT:
		snprintf(text, sizeof text,
			 "no vmsgd at %s/" HOST_SOCK_NAME ": is vmsgd running "
			 "in host mode at %s? (VMSG_HOST_VMSGD names the "
			 "directory of its [daemon] host_dir)",
			 dir, dir);
		return text;
	case -EACCES:
		snprintf(text, sizeof text,
			 "vmsgd in host mode at %s refused us: the directory "
			 "or its socket is not ours to use, or vmsgd runs as "
			 "another user and cannot give us a folder (run it as "
			 "root to serve several users)",
			 dir);
		return text;
	case -ETIMEDOUT:
		snprintf(text, sizeof text,
			 "vmsgd in host mode at %s did not answer in time: it "
			 "may be overloaded or stopped (SIGSTOP); try again",
			 dir);
		return text;
	case -EUSERS:
		snprintf(text, sizeof text,
			 "vmsgd in host mode at %s refused us: our user has "
			 "as many clients on it as its policy allows "
			 "(max_clients_per_user, 64 by default), or all users "
			 "together have (max_host_clients, 192): wait for some "
			 "to close, or raise the limit",
			 dir);
		return text;
	default:
		return NULL;
	}
}
