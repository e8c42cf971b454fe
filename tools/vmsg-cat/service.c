/* vmsg-cat --service / --offer: named services through vmsgd, so that a
 * provider, a policy or a bridge can be tried from a shell.
 *
 *   --service NAME        open NAME (vmsgd checks the policy) and copy
 *                         stdin/stdout over the channel
 *   --offer NAME          offer NAME and serve the first consumer on
 *                         stdin/stdout, then withdraw and exit
 *   --offer NAME -- CMD   offer NAME and serve every consumer, one after
 *                         another, with a run of CMD whose stdin and
 *                         stdout are the channel (VMSG_PEER_DOMID and
 *                         VMSG_SERVICE in its environment); until a signal
 *
 * Consumers that open while another is served are taken from vmsgd at
 * once (so their opens do not time out) and wait their turn. */
#define _GNU_SOURCE
#include "cat.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmsg/service.h>

#ifdef VMSG_CAT_XEN

/* How long --offer waits for vmsgd and for its answer to the offer. */
#define CAT_SERVICE_TIMEOUT_MS 10000
/* Consumers taken from vmsgd and waiting for their turn. */
#define CAT_QUEUE_MAX 8

struct waiting {
	vmsg_chan *c;
	struct vmsg_service_peer peer;
};

static int refused(vmsg_ctl *ctl, const char *what, const struct cat_opts *o,
		   int r)
{
	const char *why = ctl ? vmsg_ctl_error(ctl) : "";

	cat_err("%s %s: %s%s%s", what, cat_addr(o), cat_strerror(r),
		*why ? ": " : "", why);
	return CAT_EXIT_FAIL;
}

static int open_ctl(const struct cat_opts *o, vmsg_ctl **ctl, int timeout)
{
	int r = vmsg_ctl_open(ctl, timeout);

	if (r < 0) {
		cat_err("cannot reach vmsgd: %s", vmsg_ctl_strerror(r));
		return CAT_EXIT_FAIL;
	}
	cat_info(o, "control channel to vmsgd open (we are domain %d)",
		 vmsg_ctl_domid(*ctl));
	return CAT_EXIT_OK;
}

static int consume(const struct cat_opts *o, int stop_fd, volatile int *stop)
{
	int timeout = o->timeout_ms;
	vmsg_ctl *ctl;
	vmsg_chan *c;
	int r;

	if ((r = open_ctl(o, &ctl, timeout)) != CAT_EXIT_OK)
		return r;
	if ((r = vmsg_service_open(ctl, o->service, &c, timeout)) < 0) {
		r = refused(ctl, "cannot open", o, r);
		vmsg_ctl_close(ctl);
		return r;
	}
	cat_info(o, "connected to %s", cat_addr(o));
	r = cat_pump(o, c, STDIN_FILENO, STDOUT_FILENO, stop_fd, stop);
	vmsg_service_close(ctl, c);
	vmsg_ctl_close(ctl);
	return r;
}

/* Run o->cmd for one consumer and copy between it and the channel. */
static int serve_cmd(const struct cat_opts *o, vmsg_chan *c,
		     const struct vmsg_service_peer *peer, int stop_fd,
		     volatile int *stop)
{
	int to_cmd[2], from_cmd[2];

	if (pipe2(to_cmd, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(from_cmd, O_CLOEXEC) < 0) {
		int e = errno;
		close(to_cmd[0]);
		close(to_cmd[1]);
		return -e;
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(to_cmd[0]);
		close(to_cmd[1]);
		close(from_cmd[0]);
		close(from_cmd[1]);
		return -e;
	}
	if (pid == 0) {
		char dom[16];
		snprintf(dom, sizeof dom, "%u", (unsigned)peer->domid);
		setenv("VMSG_PEER_DOMID", dom, 1);
		setenv("VMSG_SERVICE", peer->service, 1);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(to_cmd[0], STDIN_FILENO) < 0 ||
		    dup2(from_cmd[1], STDOUT_FILENO) < 0)
			_exit(127);
		execvp(o->cmd[0], o->cmd);
		fprintf(stderr, "vmsg-cat: %s: %s\n", o->cmd[0],
			strerror(errno));
		_exit(127);
	}
	close(to_cmd[0]);
	close(from_cmd[1]);
	/* The command's output ending is its answer done: close then,
	 * unless --linger says to wait for the consumer. */
	struct cat_opts oc = *o;
	if (oc.linger_ms < 0)
		oc.linger_ms = 0;
	int r = cat_pump(&oc, c, from_cmd[0], to_cmd[1], stop_fd, stop);
	close(from_cmd[0]);
	close(to_cmd[1]); /* the command sees EOF on its stdin */
	if (r >= CAT_EXIT_SIGNAL)
		kill(pid, SIGTERM);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	cat_info(o, "%s for domain %u ended (status %d)", o->cmd[0],
		 (unsigned)peer->domid,
		 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return r;
}

/* Take every consumer vmsgd has for us now, up to the queue's room. */
static int take_waiting(const struct cat_opts *o, vmsg_ctl *ctl,
			struct waiting *q, int *n)
{
	while (*n < CAT_QUEUE_MAX) {
		struct waiting *w = &q[*n];
		int r = vmsg_service_accept(ctl, &w->c, &w->peer, 0);
		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			return r;
		cat_info(o, "channel %u from domain %u", w->peer.channel_id,
			 (unsigned)w->peer.domid);
		(*n)++;
	}
	return 0;
}

/* Wait until vmsgd has something for us or a signal came. */
static int wait_ctl(vmsg_ctl *ctl, int stop_fd, volatile int *stop)
{
	struct pollfd f[2] = { { .fd = vmsg_ctl_fd(ctl), .events = POLLIN },
			       { .fd = stop_fd, .events = POLLIN } };

	if (f[0].fd < 0) /* made at the first call: that one can fail */
		return f[0].fd;
	if (poll(f, 2, -1) < 0 && errno != EINTR)
		return -errno;
	return *stop ? -EINTR : 0;
}

static int provide(const struct cat_opts *o, int stop_fd, volatile int *stop)
{
	struct waiting q[CAT_QUEUE_MAX];
	int n = 0, r, status = CAT_EXIT_OK;
	vmsg_ctl *ctl;

	r = open_ctl(o, &ctl, o->timeout_ms > 0 ? o->timeout_ms
						: CAT_SERVICE_TIMEOUT_MS);
	if (r != CAT_EXIT_OK)
		return r;
	if ((r = vmsg_service_offer(ctl, o->service, CAT_SERVICE_TIMEOUT_MS)) < 0) {
		r = refused(ctl, "cannot offer", o, r);
		vmsg_ctl_close(ctl);
		return r;
	}
	cat_info(o, "offering %s", cat_addr(o));
	for (;;) {
		if ((r = take_waiting(o, ctl, q, &n)) < 0) {
			status = refused(ctl, "serving", o, r);
			break;
		}
		if (!n) {
			if ((r = wait_ctl(ctl, stop_fd, stop)) == -EINTR) {
				status = CAT_EXIT_SIGNAL + *stop;
				break;
			}
			if (r < 0) {
				cat_err("poll: %s", strerror(-r));
				status = CAT_EXIT_FAIL;
				break;
			}
			continue;
		}
		struct waiting w = q[0];
		memmove(q, q + 1, (size_t)--n * sizeof q[0]);
		r = cat_accept(o, w.c, stop_fd, stop);
		if (r == -EINTR) {
			vmsg_service_close(ctl, w.c);
			status = CAT_EXIT_SIGNAL + *stop;
			break;
		}
		if (r < 0 && r != -EPIPE) { /* -EPIPE: came and went */
			cat_err("channel %u from domain %u: %s",
				w.peer.channel_id, (unsigned)w.peer.domid,
				cat_strerror(r));
			vmsg_service_close(ctl, w.c);
			continue;
		}
		if (o->cmd)
			r = serve_cmd(o, w.c, &w.peer, stop_fd, stop);
		else
			r = cat_pump(o, w.c, STDIN_FILENO, STDOUT_FILENO,
				     stop_fd, stop);
		vmsg_service_close(ctl, w.c);
		if (r < 0) {
			cat_err("cannot run %s: %s", o->cmd[0], strerror(-r));
			status = CAT_EXIT_FAIL;
			break;
		}
		/* Without a command, stdin and stdout serve one consumer. */
		if (!o->cmd || r >= CAT_EXIT_SIGNAL) {
			status = r;
			break;
		}
	}
	for (int i = 0; i < n; i++)
		vmsg_service_close(ctl, q[i].c);
	vmsg_ctl_close(ctl); /* withdraws the offer */
	return status;
}

int cat_service(const struct cat_opts *o, int stop_fd, volatile int *stop)
{
	return o->listen ? provide(o, stop_fd, stop) : consume(o, stop_fd, stop);
}

#else

int cat_service(const struct cat_opts *o, int stop_fd, volatile int *stop)
{
	(void)o;
	(void)stop_fd;
	(void)stop;
	cat_err("this vmsg-cat was built without the Xen backend (vmsgd's "
		"services need it)");
	return CAT_EXIT_FAIL;
}

#endif
