/* vmsgd: options, the loop, signals (SIGHUP reloads the policy, SIGTERM
 * and SIGINT stop in order and exit 0). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmsgd.h"

#define DEFAULT_CONFIG "/etc/vmsg/vmsgd.conf"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vmsgd [--config FILE] [--foreground] [--log-level LEVEL]\n"
		"\n"
		"The vmsg service broker for dom0: serves a control channel for\n"
		"every guest domain, lets guests offer and open named services\n"
		"as the policy in FILE allows (default deny), and answers\n"
		"vmsgctl on the policy's control_socket.\n"
		"\n"
		"  -c, --config FILE      policy file (default " DEFAULT_CONFIG ")\n"
		"  -f, --foreground       do not detach\n"
		"  -l, --log-level LEVEL  error, warn, info or debug (overrides\n"
		"                         the config's log_level)\n"
		"  -h, --help             this text\n"
		"\n"
		"Signals: SIGHUP reloads the policy (a bad file keeps the old\n"
		"one); SIGTERM/SIGINT close every channel and exit 0.\n"
		"Exit status: 0 stopped by a signal, 1 runtime failure, 2 bad\n"
		"usage or configuration. See docs/vmsgd.md.\n");
}

int vmsgd_reload(struct vmsgd *d, char *err, size_t cap)
{
	struct policy np;
	if (policy_load(d->config, &np, err, cap) < 0) {
		vmsgd_log(LOG_ERROR, "reload failed, keeping the old policy: "
				     "%s",
			  err);
		return -1;
	}
	if (strcmp(np.control_socket, d->pol.control_socket) != 0)
		vmsgd_log(LOG_WARN, "reload: control_socket changes only at "
				    "restart (still %s)",
			  d->ctl_path);
	policy_free(&d->pol);
	d->pol = np;
	vmsgd_log_level = d->cli_log_level >= 0 ? d->cli_log_level
						: d->pol.log_level;
	/* Existing channels stay: policy is checked at offer and open. */
	vmsgd_log(LOG_INFO, "policy reloaded from %s (%zu services)",
		  d->config, d->pol.nsvc);
	return 0;
}

static void on_tick(uv_timer_t *t)
{
	sessions_tick(t->data);
}

static void stop(struct vmsgd *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	vmsgd_log(LOG_INFO, "stopping");
	ctlsock_stop(d);
	xs_watch_stop(d);
	session_close_all(d);
	uv_timer_stop(&d->timer);
	uv_close((uv_handle_t *)&d->timer, NULL);
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
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct vmsgd *d = calloc(1, sizeof *d);
	if (!d)
		return 1;
	const char *config = DEFAULT_CONFIG;
	bool foreground = false;
	d->cli_log_level = -1;
	int o;
	while ((o = getopt_long(argc, argv, "c:fl:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			config = optarg;
			break;
		case 'f':
			foreground = true;
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
		usage(stderr);
		free(d);
		return 2;
	}
	/* Absolute, so that a reload after chdir("/") finds it. */
	if (!realpath(config, d->config))
		snprintf(d->config, sizeof d->config, "%s", config);

	char err[512];
	if (policy_load(d->config, &d->pol, err, sizeof err) < 0) {
		fprintf(stderr, "vmsgd: bad configuration: %s\n", err);
		free(d);
		return 2;
	}
	vmsgd_log_level = d->cli_log_level >= 0 ? d->cli_log_level
						: d->pol.log_level;
	if (!foreground && daemon(0, 1) < 0) {
		vmsgd_log(LOG_ERROR, "daemon: %s", strerror(errno));
		policy_free(&d->pol);
		free(d);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	d->loop = uv_default_loop();
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

	int rc = 0;
	if (ctlsock_start(d) < 0 || xs_watch_start(d) < 0) {
		rc = 1;
		stop(d);
	} else {
		vmsgd_log(LOG_INFO, "ready: %zu services in policy, control "
				    "socket %s",
			  d->pol.nsvc, d->ctl_path);
	}
	uv_run(d->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(d->loop) != 0)
		vmsgd_log(LOG_WARN, "handles left open at exit");
	policy_free(&d->pol);
	for (struct service *v = d->services, *n; v; v = n) {
		n = v->next;
		free(v);
	}
	for (struct channel *c = d->channels, *n; c; c = n) {
		n = c->next;
		free(c);
	}
	if (rc == 0)
		vmsgd_log(LOG_INFO, "stopped");
	free(d);
	return rc;
}
