/* vmsg-xenstored: the simulator's xenstore daemon.
 *
 *   vmsg-xenstored --dir DIR [--foreground] [--verbose] [QUOTA OPTIONS]
 *
 * Listens on DIR/dom0.sock for domain 0; XS_INTRODUCE of domain N opens
 * DIR/domN.sock. Without --foreground it daemonizes and the starting
 * process exits 0 only once DIR/dom0.sock accepts connections. SIGTERM or
 * SIGINT: close everything, remove the sockets, exit 0. The quota options
 * are xenstored's own (Xen 4.17), with its defaults. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmsg_pidfile.h"
#include "xsd.h"

static void usage(FILE *f)
{
	fputs("usage: vmsg-xenstored --dir DIR [--foreground] [--verbose]\n"
	      "                      [QUOTA OPTIONS]\n"
	      "\n"
	      "A xenstore daemon for the vmsg Xen simulator. Speaks Xen's\n"
	      "xenstore wire protocol on UNIX sockets: DIR/dom0.sock is\n"
	      "domain 0 (privileged); XS_INTRODUCE of domain N creates\n"
	      "DIR/domN.sock, XS_RELEASE removes it. Point libxenstore at a\n"
	      "socket with XENSTORED_PATH=DIR/domN.sock.\n"
	      "\n"
	      "  --dir DIR      socket directory (must exist)\n"
	      "  --foreground   do not daemonize; log to stderr (detached,\n"
	      "                 DIR/vmsg-xenstored.pid holds the pid)\n"
	      "  --verbose      log connections and every request to stderr\n"
	      "  --help         this text\n"
	      "\n"
	      "Quotas, as Xen 4.17's xenstored names them (per unprivileged\n"
	      "domain; domain 0 is exempt; Xen's defaults in brackets):\n"
	      "  -E, --entry-nb N       nodes a domain owns [1000]\n"
	      "  -S, --entry-size N     bytes of one node's record [2048]\n"
	      "  -W, --watch-nb N       watches [128]\n"
	      "  -t, --transaction N    open transactions [10]\n"
	      "  -A, --perm-nb N        permission entries of a node [5]\n"
	      "  -M, --path-max N       path bytes after /local/domain/N/\n"
	      "                         (or in all); every domain, dom0\n"
	      "                         too; at most 2048 [2048]\n"
	      "  -Q, --quota outstanding=N        requests in flight [20]\n"
	      "  -Q, --quota transaction-nodes=N  nodes one transaction\n"
	      "                                   touches [1024]\n",
	      f);
}

struct sigs {
	uv_signal_t term, intr;
	struct xsd_server *srv;
};

static void on_signal(uv_signal_t *h, int signum)
{
	struct sigs *sg = h->data;
	(void)signum;
	xsd_server_stop(sg->srv);
	uv_close((uv_handle_t *)&sg->term, NULL);
	uv_close((uv_handle_t *)&sg->intr, NULL);
}

/* Forks; the parent waits for the child's readiness byte and exits. */
static int daemonize(int *ready_fd)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		char b = 0;
		close(p[1]);
		ssize_t r;
		do
			r = read(p[0], &b, 1);
		while (r < 0 && errno == EINTR);
		_exit(r == 1 && b == 'R' ? 0 : 1);
	}
	close(p[0]);
	setsid();
	*ready_fd = p[1];
	return 0;
}

/* A quota value: a decimal in [0, INT_MAX], as xenstored accepts. */
static bool quota_val(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 0 || v > INT_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* -Q WHAT=N */
static bool quota_named(struct xsd_quota *q, const char *arg)
{
	static const struct {
		const char *name;
		size_t off;
	} named[] = {
		{"outstanding=", offsetof(struct xsd_quota, outstanding)},
		{"transaction-nodes=", offsetof(struct xsd_quota, txn_nodes)},
	};
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		size_t n = strlen(named[i].name);
		if (strncmp(arg, named[i].name, n) == 0)
			return quota_val(arg + n,
					 (uint32_t *)((char *)q + named[i].off));
	}
	return false;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},
		{"foreground", no_argument, NULL, 'f'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"entry-nb", required_argument, NULL, 'E'},
		{"entry-size", required_argument, NULL, 'S'},
		{"watch-nb", required_argument, NULL, 'W'},
		{"transaction", required_argument, NULL, 't'},
		{"perm-nb", required_argument, NULL, 'A'},
		{"path-max", required_argument, NULL, 'M'},
		{"quota", required_argument, NULL, 'Q'},
		{NULL, 0, NULL, 0},
	};
	struct xsd_quota q = XSD_QUOTA_DEFAULTS;
	const char *dir = NULL;
	bool fg = false, verbose = false;
	int o;
	while ((o = getopt_long(argc, argv, "d:fvhE:S:W:t:A:M:Q:", opts,
				NULL)) != -1) {
		bool ok = true;
		switch (o) {
		case 'd': dir = optarg; break;
		case 'f': fg = true; break;
		case 'v': verbose = true; break;
		case 'h': usage(stdout); return 0;
		case 'E': ok = quota_val(optarg, &q.nodes); break;
		case 'S': ok = quota_val(optarg, &q.entry_size); break;
		case 'W': ok = quota_val(optarg, &q.watches); break;
		case 't': ok = quota_val(optarg, &q.txns); break;
		case 'A': ok = quota_val(optarg, &q.perms); break;
		case 'M':
			/* As xenstored: never above XENSTORE_REL_PATH_MAX. */
			ok = quota_val(optarg, &q.path_max);
			if (q.path_max > XENSTORE_REL_PATH_MAX)
				q.path_max = XENSTORE_REL_PATH_MAX;
			break;
		case 'Q': ok = quota_named(&q, optarg); break;
		default: usage(stderr); return 2;
		}
		if (!ok) {
			fprintf(stderr, "vmsg-xenstored: bad value for -%c: %s\n",
				o, optarg);
			return 2;
		}
	}
	if (!dir || optind != argc) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);

	int ready_fd = -1;
	if (!fg && daemonize(&ready_fd) < 0) {
		perror("vmsg-xenstored: fork");
		return 1;
	}

	uv_loop_t loop;
	struct xsd_server srv;
	if (uv_loop_init(&loop) < 0) {
		fputs("vmsg-xenstored: cannot create event loop\n", stderr);
		return 1;
	}
	int err = xsd_server_init(&srv, &loop, dir);
	srv.verbose = verbose;
	srv.st.q = q;
	if (err) {
		fprintf(stderr, "vmsg-xenstored: cannot serve in %s: %s\n", dir,
			err == -EADDRINUSE ? "a daemon is already running there"
					   : strerror(-err));
		return 1;
	}
	struct sigs sg = {.srv = &srv};
	uv_signal_init(&loop, &sg.term);
	uv_signal_init(&loop, &sg.intr);
	sg.term.data = sg.intr.data = &sg;
	uv_signal_start(&sg.term, on_signal, SIGTERM);
	uv_signal_start(&sg.intr, on_signal, SIGINT);

	/* Detached: DIR/vmsg-xenstored.pid names us while we serve. */
	char pid_path[4096] = "";
	if (ready_fd >= 0) {
		snprintf(pid_path, sizeof pid_path, "%s/vmsg-xenstored.pid", dir);
		int pr = vmsg_pidfile_write(pid_path);
		if (pr < 0) {
			fprintf(stderr, "vmsg-xenstored: %s: %s\n", pid_path,
				strerror(-pr));
			return 1;
		}
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			if (!verbose)
				dup2(null, 2);
			close(null);
		}
		(void)!write(ready_fd, "R", 1);
		close(ready_fd);
	}

	uv_run(&loop, UV_RUN_DEFAULT);
	if (pid_path[0])
		vmsg_pidfile_remove(pid_path);
	xsd_server_fini(&srv);
	uv_loop_close(&loop);
	return 0;
}
