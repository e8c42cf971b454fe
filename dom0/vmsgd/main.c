/* vmsgd: options, the loop, signals (SIGHUP reloads the policy, SIGTERM
 * and SIGINT stop in order and exit 0). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmsg/version.h>

#include "vmsg_pidfile.h"
#include "broker.h"
#include "vmsg_xen_msg.h"

#define DEFAULT_CONFIG "/etc/vmsg/vmsgd.conf"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vmsgd [--config FILE] [--foreground] [--syslog]\n"
		"             [--log-level LEVEL] [--pid-file FILE]\n"
		"       vmsgd --check-config FILE\n"
		"       vmsgd --help | --version\n"
		"\n"
		"The vmsg service broker for dom0: serves a control channel for\n"
		"every guest domain, lets guests offer and open named services\n"
		"as the policy in FILE allows (default deny), and answers\n"
		"vmsgctl on the policy's control_socket. With [daemon]\n"
		"backend = host it serves processes of this machine instead\n"
		"(no Xen), met at host_dir/vmsgd.sock.\n"
		"\n"
		"  -c, --config FILE      policy file (default " DEFAULT_CONFIG ")\n"
		"  -f, --foreground       do not detach; log to stderr unless\n"
		"                         --syslog (for systemd: Type=simple)\n"
		"  -s, --syslog           log to syslog (facility daemon); always\n"
		"                         so when detached\n"
		"  -l, --log-level LEVEL  error, warn, info or debug (overrides\n"
		"                         the config's log_level)\n"
		"  -p, --pid-file FILE    write our pid to FILE once serving\n"
		"                         (removed at exit)\n"
		"  -C, --check-config FILE  read and check FILE as a start\n"
		"                         would, print what it allows or the\n"
		"                         first error (FILE:LINE), and exit\n"
		"                         (0 good, 2 bad); needs no Xen\n"
		"  -V, --version          the version, then exit\n"
		"  -h, --help             this text\n"
		"\n"
		"Without --foreground vmsgd detaches (new session, cwd /, stdio\n"
		"on /dev/null) and the starting process exits once it is ready\n"
		"(status 0) or has failed (its status).\n"
		"Signals: SIGHUP reloads the policy (a bad file keeps the old\n"
		"one); SIGTERM/SIGINT answer pending opens, close every channel\n"
		"and the control socket, and exit 0.\n"
		"Exit status: 0 stopped by a signal, 1 runtime failure, 2 bad\n"
		"usage or configuration. See docs/vmsgd.md.\n");
}

/* --check-config: what a start would read, without starting. */
static int check_config(const char *file)
{
	struct policy p;
	char err[512];
	if (policy_load(file, &p, err, sizeof err) < 0) {
		fprintf(stderr, "vmsgd: bad configuration: %s\n", err);
		return 2;
	}
	printf("%s: ok: %zu service%s, %zu bridge%s, control socket %s\n",
	       file, p.nsvc, p.nsvc == 1 ? "" : "s", p.nbr,
	       p.nbr == 1 ? "" : "s", p.control_socket);
	if (p.host)
		printf("%s: host mode: clients at %s/vmsgd.sock\n", file,
		       p.host_dir);
	if (!p.nsvc)
		printf("%s: no [service NAME] section: every offer and open "
		       "will be refused (default deny)\n",
		       file);
	policy_free(&p);
	return 0;
}

static void on_tick(uv_timer_t *t)
{
	struct vmsgd *d = t->data;
	sessions_tick(d);
	guests_trim(d); /* before guests_wake resumes the held back */
	guests_wake(d);
	broker_tick(d);
	if (d->rescan_retry)
		xs_rescan(d);
	if (d->check_queued)
		guests_check(d);
}

/* Detach: fork; the parent waits for the child to be ready (or to fail)
 * and exits with its status, so that whoever started vmsgd learns whether
 * it is serving. The child gets a new session, / as cwd and /dev/null as
 * stdio. Returns the child's end of the status pipe, -1 on failure. */
static int detach(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		unsigned char st = 1;
		ssize_t n;
		while ((n = read(p[0], &st, 1)) < 0 && errno == EINTR)
			;
		_exit(n == 1 ? st : 1);
	}
	close(p[0]);
	(void)setsid();
	if (chdir("/") < 0)
		vmsgd_log(LOG_WARN, "chdir /: %s", strerror(errno));
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		(void)dup2(fd, 0);
		(void)dup2(fd, 1);
		(void)dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return p[1];
}

/* Tell the waiting parent (if any) how startup went. */
static void detach_done(int *fd, int status)
{
	if (*fd < 0)
		return;
	unsigned char b = (unsigned char)status;
	(void)!write(*fd, &b, 1);
	close(*fd);
	*fd = -1;
}

static void stop(struct vmsgd *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	vmsgd_log(LOG_INFO, "stopping");
	ctlsock_stop(d);
	metrics_stop(d);
	xs_watch_stop(d);
	host_stop(d);
	/* In order: first every pending open is answered; then the channels
	 * vmsgd holds ends of, each closed in order (what it passed on stays
	 * readable), and the bridges' listeners; then the control
	 * channels. */
	broker_fail_pending(d);
	relays_close_all(d);
	bridges_stop(d);
	session_close_all(d);
	uv_timer_stop(&d->timer);
	uv_close((uv_handle_t *)&d->timer, NULL);
	uv_close((uv_handle_t *)&d->backoff, NULL);
	guests_stop(d);
	uv_close((uv_handle_t *)&d->sighup, NULL);
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->sigint, NULL);
}

static void on_signal(uv_signal_t *h, int sig)
{
	struct vmsgd *d = h->data;
	if (sig == SIGHUP) {
		char err[512];
		vmsgd_log(LOG_INFO, "SIGHUP: reloading %s", d->config);
		(void)vmsgd_reload(d, err, sizeof err);
		return;
	}
	stop(d);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"foreground", no_argument, NULL, 'f'},
		{"log-level", required_argument, NULL, 'l'},
		{"syslog", no_argument, NULL, 's'},
		{"check-config", required_argument, NULL, 'C'},
		{"pid-file", required_argument, NULL, 'p'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct vmsgd *d = calloc(1, sizeof *d);
	if (!d) {
		fprintf(stderr, "vmsgd: %s\n", strerror(errno));
		return 1;
	}
	const char *config = DEFAULT_CONFIG, *pid_file = NULL;
	bool foreground = false, use_syslog = false;
	d->cli_log_level = -1;
	int o;
	while ((o = getopt_long(argc, argv, "c:C:fl:hp:sV", opts, NULL)) != -1) {
		switch (o) {
		case 'C':
			free(d);
			return check_config(optarg);
		case 'p':
			pid_file = optarg;
			break;
		case 'V':
			printf("vmsgd %s\n", vmsg_version());
			free(d);
			return 0;
		case 'c':
			config = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 's':
			use_syslog = true;
			break;
		case 'l':
			d->cli_log_level = vmsgd_log_level_parse(optarg);
			if (d->cli_log_level < 0) {
				fprintf(stderr, "vmsgd: --log-level '%s': "
						"expected error, warn, info or "
						"debug\n",
					optarg);
				free(d);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			free(d);
			return 0;
		default:
			usage(stderr);
			free(d);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vmsgd: unexpected argument '%s' (vmsgd takes "
				"options only; see vmsgd --help)\n",
			argv[optind]);
		free(d);
		return 2;
	}
	/* The pid file's path, absolute: detaching changes to "/". */
	char pid_abs[PATH_MAX];
	int pid_err = 0;
	if (pid_file && pid_file[0] != '/') {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof cwd) ||
		    snprintf(pid_abs, sizeof pid_abs, "%s/%s", cwd, pid_file) >=
			    (int)sizeof pid_abs) {
			fprintf(stderr, "vmsgd: --pid-file %s: path too long\n",
				pid_file);
			free(d);
			return 2;
		}
	} else if (pid_file) {
		snprintf(pid_abs, sizeof pid_abs, "%s", pid_file);
	}
	/* Absolute, so that a reload after chdir("/") finds it. */
	if (!realpath(config, d->config))
		snprintf(d->config, sizeof d->config, "%s", config);

	char err[512];
	int perr = policy_load(d->config, &d->pol, err, sizeof err);
	if (perr < 0) {
		/* Status 2 blames the file; want of memory is a runtime
		 * failure (1). */
		fprintf(stderr, "vmsgd: %s configuration: %s\n",
			perr == -ENOMEM ? "cannot load the" : "bad", err);
		free(d);
		return perr == -ENOMEM ? 1 : 2;
	}
	vmsgd_log_level = d->cli_log_level >= 0 ? d->cli_log_level
						: d->pol.log_level;
	/* Detached, stderr is /dev/null: syslog is the only place left. */
	if (use_syslog || !foreground)
		vmsgd_log_syslog();
	int ready_fd = -1;
	if (!foreground && (ready_fd = detach()) < 0) {
		vmsgd_log(LOG_ERROR, "cannot detach: %s", strerror(errno));
		policy_free(&d->pol);
		free(d);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	static const struct transport *const transports[CHM_COUNT] = {
		[CHM_DIRECT] = &direct_transport,
		[CHM_RELAYED] = &relay_transport,
		[CHM_BRIDGE_IN] = &bridge_in_transport,
		[CHM_BRIDGE_OUT] = &bridge_out_transport,
	};
	d->loop = uv_default_loop();
	if (broker_init(d, &session_notify, transports) < 0 ||
	    guests_init(d) < 0) {
		vmsgd_log(LOG_ERROR, "out of memory");
		broker_free(d);
		policy_free(&d->pol);
		free(d);
		return 1;
	}
	/* The tests' check of the queued-bytes totals (bounds.c). */
	const char *cq = getenv("VMSGD_CHECK_QUEUED");
	d->check_queued = cq && !strcmp(cq, "1");

	uv_signal_init(d->loop, &d->sighup);
	uv_signal_init(d->loop, &d->sigterm);
	uv_signal_init(d->loop, &d->sigint);
	d->sighup.data = d->sigterm.data = d->sigint.data = d;
	uv_signal_start(&d->sighup, on_signal, SIGHUP);
	uv_signal_start(&d->sigterm, on_signal, SIGTERM);
	uv_signal_start(&d->sigint, on_signal, SIGINT);
	uv_timer_init(d->loop, &d->timer);
	d->timer.data = d;
	uv_timer_start(&d->timer, on_tick, 500, 500);
	uv_timer_init(d->loop, &d->backoff);
	d->backoff.data = d;

	int rc = 0;
	/* The one difference between the two worlds past this point is
	 * d->sops and who starts sessions: xenstore's domains, or the
	 * processes that come to host_dir/vmsgd.sock. */
	d->sops = d->pol.host ? &host_session_ops : &xen_session_ops;
	/* Our own @releaseDomain watch (xs.c) ends a dead domain's ends:
	 * none of them needs a watch (and a thread) of its own. */
	if (!d->pol.host)
		vmsg__xen_death_watch_off();
	if (ctlsock_start(d) < 0 ||
	    (d->pol.host ? host_start(d) : xs_watch_start(d)) < 0 ||
	    bridges_init(d) < 0 || metrics_start(d) < 0) {
		rc = 1;
		stop(d);
	} else if (pid_file && (pid_err = vmsg_pidfile_write(pid_abs)) < 0) {
		vmsgd_log(LOG_ERROR, "cannot write the pid file %s: %s",
			  pid_abs, strerror(-pid_err));
		rc = 1;
		pid_file = NULL;
		stop(d);
	} else {
		vmsgd_log(LOG_INFO, "ready: %zu services in policy, control "
				    "socket %s",
			  d->pol.nsvc, d->ctl_path);
	}
	detach_done(&ready_fd, rc);
	uv_run(d->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(d->loop) != 0)
		vmsgd_log(LOG_WARN, "handles left open at exit");
	if (pid_file)
		vmsg_pidfile_remove(pid_abs);
	policy_free(&d->pol);
	broker_free(d);
	guests_free(d);
	if (rc == 0)
		vmsgd_log(LOG_INFO, "stopped");
	free(d);
	return rc;
}
