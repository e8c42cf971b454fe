/* net_app_sigterm: SIGTERM ends the network appliances' Linux programs
 * in order: a client whose link is up sees its channel close (lib/net:
 * -EPIPE, the link down), every port's socket file is gone, and the exit
 * status is 0 (not 143, the default action's death).
 *
 * The SDK builds l2switch-appliance and firewall-appliance (netapp_sdk.c,
 * host=DIR: the SDK's guest_stop_requested) and the host-backend builds
 * l2switch and firewall (netapp_host.c, its signal pipe), each with a
 * client on its port 0.
 *
 * argv: l2switch firewall [l2switch-appliance firewall-appliance] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "net/net_test_util.h"
#include "spawn_logged.h"

#define WATCHDOG_MS 60000

static char dir[64];

static void ignore_frame(void *arg, const uint8_t *frame, size_t len)
{
	(void)arg, (void)frame, (void)len;
}

/* prog serving ports at socks[0..nsocks-1]: a client up on socks[0],
 * SIGTERM, then the close, exit 0, the files gone. */
static void stop_one(char *const argv[], const char *const *socks,
		     unsigned nsocks, const char *log)
{
	pid_t pid = vmsg_test_spawn_logged(argv, log);
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.max_msg = VMSG_NET_MAX_MSG;
	vmsg_chan *c;
	int r;
	uint64_t end = ht_now_ms() + WATCHDOG_MS;
	/* Its ports come up at its start: connect, retried while it runs. */
	while ((r = vmsg_host_connect(&c, socks[0], &o, 1000)) < 0) {
		if (waitpid(pid, NULL, WNOHANG) == pid || ht_now_ms() > end) {
			vmsg_test_show_log(log);
			VMSG_TEST_FAIL("connect to %s: %s", socks[0],
				       vmsg_strerror(r));
		}
		usleep(20000);
	}
	struct vmsg_net_config cfg = {.mtu = 1500, .mac = {2, 0, 0, 0, 0, 9}};
	struct vmsg_net n;
	ASSERT_EQ(vmsg_net_init(&n, c, &cfg), 0);
	nt_wait_up(&n, ignore_frame, NULL);

	ASSERT_EQ(kill(pid, SIGTERM), 0);
	uint64_t t0 = ht_now_ms();
	while ((r = nt_step(&n, ignore_frame, NULL)) >= 0) {
		if (ht_now_ms() > t0 + WATCHDOG_MS) {
			vmsg_test_show_log(log);
			VMSG_TEST_FAIL("the link stayed up after SIGTERM");
		}
	}
	ASSERT_EQ(r, -EPIPE);
	ASSERT_TRUE(!n.up);
	vmsg_chan_close(c);

	int st;
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		ASSERT_GE(w, 0);
		if (w == pid)
			break;
		if (ht_now_ms() > t0 + WATCHDOG_MS) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			vmsg_test_show_log(log);
			VMSG_TEST_FAIL("%s did not exit after SIGTERM", argv[0]);
		}
		usleep(20000); /* a child's exit is not an event we can poll */
	}
	uint64_t ms = ht_now_ms() - t0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		vmsg_test_show_log(log);
		VMSG_TEST_FAIL("%s after SIGTERM: %s %d, want exit status 0",
			       argv[0],
			       WIFSIGNALED(st) ? "killed by signal"
					       : "exit status",
			       WIFSIGNALED(st) ? WTERMSIG(st)
					       : WEXITSTATUS(st));
	}
	for (unsigned i = 0; i < nsocks; i++) {
		struct stat sb;
		if (lstat(socks[i], &sb) == 0)
			VMSG_TEST_FAIL("%s: %s left behind", argv[0], socks[i]);
	}
	printf("%s: SIGTERM with a link up: the client saw the close, exit 0 "
	       "in %llu ms, %u socket files removed\n", argv[0],
	       (unsigned long long)ms, nsocks);
}

/* The host-backend build: ports at DIR/portN (the builds one after
 * another in the same DIR: each removes its files). */
static void host_build(const char *prog, const char *name, unsigned nports)
{
	char log[128], s[4][128];
	const char *socks[4];
	snprintf(log, sizeof log, "%s/%s.log", dir, name);
	for (unsigned i = 0; i < nports; i++) {
		snprintf(s[i], sizeof s[i], "%s/port%u", dir, i);
		socks[i] = s[i];
	}
	char arg[160];
	snprintf(arg, sizeof arg, "dir=%s", dir);
	char *argv[] = {(char *)prog, arg, NULL};
	stop_one(argv, socks, nports, log);
}

/* The SDK build: port=xen:0:NAMEa,xen:0:NAMEb on the host backend
 * (host=DIR). */
static void sdk_build(const char *prog, const char *name)
{
	char log[128], s[2][160], host[160], port[64];
	const char *socks[2];
	snprintf(log, sizeof log, "%s/%s.log", dir, name);
	for (unsigned i = 0; i < 2; i++) {
		snprintf(s[i], sizeof s[i], "%s/local_domain_0_data_vchan_0_%s%c",
			 dir, name, 'a' + i);
		socks[i] = s[i];
	}
	snprintf(host, sizeof host, "host=%s", dir);
	snprintf(port, sizeof port, "port=xen:0:%sa,xen:0:%sb", name, name);
	char *argv[] = {(char *)prog, host, port, NULL};
	stop_one(argv, socks, 2, log);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGPIPE, SIG_IGN);
	ASSERT_TRUE(argc == 3 || argc == 5);
	ht_mkdtemp(dir, sizeof dir);
	if (argc == 5) {
		sdk_build(argv[3], "sw");
		sdk_build(argv[4], "fw");
	}
	host_build(argv[1], "sw-host", 4);
	host_build(argv[2], "fw-host", 2);
	ht_rmdir(dir);
	return 0;
}
