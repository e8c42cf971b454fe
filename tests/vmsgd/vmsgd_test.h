/* Helpers for the vmsgd tests on the simulator. Each program is the
 * driver and, re-executed as `prog ROLE IN_FD OUT_FD [ARG]` under
 * `xensim run --domid N`, the guest programs. The driver starts vmsgd as
 * dom0 with a config in the test's private XENSIM_DIR, talks to the roles
 * with lines over pipes (sim_harness.h) and to vmsgd through vmsgctl, and
 * stops vmsgd with SIGTERM at the end (it must exit 0). */
#ifndef VMSGD_TEST_H
#define VMSGD_TEST_H

#include "sim_harness.h"

#include <poll.h>
#include <time.h>

#include <vmsg/service.h>
#include <vmsg/xen.h>

#define ECHO_MAX_MSG (1u << 20)

static int vt_in = -1, vt_out = -1; /* role side: pipes to the driver */
static const char *vt_arg; /* role side: vt_spawn's arg, or NULL */
static char vt_conf[600], vt_sock[600], vt_self[4096];
static pid_t vt_vmsgd = -1; /* `xensim run` of vmsgd */

struct vt_role {
	pid_t pid;
	int to, from;
};

/* Driver: skip without the sim's xenstored, set up the sim. */
static inline void vt_driver_init(void)
{
	char xsd[4200];
	snprintf(xsd, sizeof xsd, "%s", XENSIM_BIN);
	*strrchr(xsd, '/') = 0;
	strcat(xsd, "/../xenstored/vmsg-xenstored");
	if (access(xsd, X_OK) != 0) {
		fprintf(stderr, "vmsg-xenstored not built: skipping\n");
		exit(VMSG_TEST_SKIP);
	}
	ssize_t n = readlink("/proc/self/exe", vt_self, sizeof vt_self - 1);
	ASSERT_GT(n, 0);
	vt_self[n] = 0;
	sim_setup(1);
	snprintf(vt_conf, sizeof vt_conf, "%s/vmsgd.conf", sim_dir);
	snprintf(vt_sock, sizeof vt_sock, "%s/vmsgd.sock", sim_dir);
}

/* Write the config: a [daemon] section naming our socket, with the keys
 * of `daemon` (lines, "" for none), then `body`. */
static inline void vt_write_conf_daemon(const char *daemon, const char *body)
{
	char tmp[700];
	snprintf(tmp, sizeof tmp, "%s.tmp", vt_conf);
	FILE *f = fopen(tmp, "w");
	ASSERT_TRUE(f != NULL);
	fprintf(f, "[daemon]\nlog_level = debug\ncontrol_socket = %s\n%s\n%s",
		vt_sock, daemon, body);
	ASSERT_EQ(fclose(f), 0);
	ASSERT_EQ(rename(tmp, vt_conf), 0); /* a reload never sees half */
}

/* Write the config: a [daemon] section naming our socket, then `body`. */
static inline void vt_write_conf(const char *body)
{
	vt_write_conf_daemon("", body);
}

/* Run vmsgctl ARGS; its stdout (and stderr) into out. Returns status. */
static inline int vt_ctl(char *out, size_t cap, const char *args)
{
	char cmd[2000];
	snprintf(cmd, sizeof cmd, "'%s' --socket '%s' %s 2>&1", VMSGCTL_BIN,
		 vt_sock, args);
	FILE *f = popen(cmd, "r");
	ASSERT_TRUE(f != NULL);
	size_t got = fread(out, 1, cap - 1, f);
	out[got] = 0;
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* How often `what` stands in `vmsgctl list channels`: with "pending",
 * the channels asked of their provider and not answered yet. */
static inline int vt_listed(const char *what)
{
	char out[16384];
	int n = 0;
	ASSERT_EQ(vt_ctl(out, sizeof out, "list channels"), 0);
	for (const char *p = out; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

/* Poll vmsgctl ARGS until its output contains (want=1) or lacks (want=0)
 * `needle`; fails the test after SIM_WAIT_MS. */
static inline void vt_ctl_wait(const char *args, const char *needle, int want)
{
	char out[8192];
	for (int i = 0; i < SIM_WAIT_MS / 50; i++) {
		int st = vt_ctl(out, sizeof out, args);
		if (st == 0 && (strstr(out, needle) != NULL) == want)
			return;
		usleep(50000);
	}
	VMSG_TEST_FAIL("vmsgctl %s: '%s' %s; last output:\n%s", args, needle,
		       want ? "never appeared" : "never went", out);
}

/* A monotonic clock in ms, for the tests' deadlines and reports. */
static inline uint64_t vt_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Where vmsgd's stderr goes: the test's own stderr, or (a test that
 * checks what vmsgd logged sets this before vt_start_vmsgd) a file. */
static const char *vt_vmsgd_log;

/* Start vmsgd as dom0 and wait until it answers vmsgctl. Every test's
 * vmsgd checks its running totals of queued bytes against a recount of
 * its channels at each tick and aborts on a difference
 * (VMSGD_CHECK_QUEUED, docs/vmsgd.md): then it does not exit 0 at
 * vt_stop_vmsgd. */
static inline void vt_start_vmsgd(void)
{
	/* VT_VMSGD_BIN: another vmsgd (bench/relayping's "before"). */
	const char *bin = getenv("VT_VMSGD_BIN");
	char *argv[] = {(char *)(bin ? bin : VMSGD_BIN), (char *)"--config",
			vt_conf, (char *)"--foreground", NULL};
	/* Unless a measuring mode turned it off (set to 0). */
	ASSERT_EQ(setenv("VMSGD_CHECK_QUEUED", "1", 0), 0);
	int saved = -1;
	if (vt_vmsgd_log) {
		int fd = open(vt_vmsgd_log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		ASSERT_TRUE(fd >= 0);
		saved = dup(2);
		ASSERT_TRUE(saved >= 0);
		ASSERT_EQ(dup2(fd, 2), 2);
		close(fd);
	}
	vt_vmsgd = sim_spawn(0, argv);
	if (saved >= 0) {
		ASSERT_EQ(dup2(saved, 2), 2);
		close(saved);
	}
	vt_ctl_wait("list domains", "DOMID", 1);
}

/* The vmsgd log file (vt_vmsgd_log) into buf; fails if unreadable. */
static inline void vt_read_vmsgd_log(char *buf, size_t cap)
{
	FILE *f = fopen(vt_vmsgd_log, "r");
	ASSERT_TRUE(f != NULL);
	size_t n = fread(buf, 1, cap - 1, f);
	buf[n] = 0;
	fclose(f);
}

/* SIGTERM vmsgd (xensim run forwards it); it must exit 0. */
static inline void vt_stop_vmsgd(void)
{
	ASSERT_EQ(kill(vt_vmsgd, SIGTERM), 0);
	ASSERT_EQ(sim_wait(vt_vmsgd), 0);
	ASSERT_TRUE(access(vt_sock, F_OK) != 0); /* socket removed */
	vt_vmsgd = -1;
}

static inline void vt_spawn(struct vt_role *r, int domid, const char *role,
			    const char *arg)
{
	int in[2], out[2];
	char a[16], b[16];
	sim_pipe(in);
	sim_pipe(out);
	snprintf(a, sizeof a, "%d", in[0]);
	snprintf(b, sizeof b, "%d", out[1]);
	char *argv[] = {vt_self, (char *)role, a, b, (char *)arg, NULL};
	r->pid = sim_spawn(domid, argv);
	close(in[0]);
	close(out[1]);
	r->to = in[1];
	r->from = out[0];
}

static inline void vt_role_done(struct vt_role *r, int status)
{
	ASSERT_EQ(sim_wait(r->pid), status);
	close(r->to);
	close(r->from);
}

/* Role side: take the pipe fds from argv. */
static inline void vt_role_init(char **argv)
{
	vt_in = atoi(argv[2]);
	vt_out = atoi(argv[3]);
	vt_arg = argv[4]; /* argv[argc] is NULL */
}

/* A test program is both the driver and its roles (vt_spawn runs it
 * again with a role name and two pipe fds). In a role process, run the
 * role argv[1] names ("provider" is built in) and exit with its status;
 * in the driver, set up the simulator and a 240 s alarm and return. */
struct vt_role_fn {
	const char *name;
	int (*fn)(void);
};

static inline int vt_role_echo_provider(void);

static inline void vt_main(int argc, char **argv,
			   const struct vt_role_fn *roles)
{
	if (argc < 4) {
		vt_driver_init();
		alarm(240);
		return;
	}
	vt_role_init(argv);
	if (!strcmp(argv[1], "provider"))
		exit(vt_role_echo_provider());
	for (; roles->name; roles++)
		if (!strcmp(argv[1], roles->name))
			exit(roles->fn());
	exit(2);
}

static inline vmsg_ctl *vt_ctl_open(void)
{
	vmsg_ctl *ctl;
	int r = vmsg_ctl_open(&ctl, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("vmsg_ctl_open: %s", vmsg_strerror(r));
	return ctl;
}

/* The number `field` of domain `domid` in `vmsgctl --json list
 * domains`. */
static inline unsigned long long vt_domain_uint(unsigned domid,
						const char *field)
{
	static char buf[1 << 16];
	char key[32], f[64];
	snprintf(key, sizeof key, "{\"domid\":%u,", domid);
	snprintf(f, sizeof f, "\"%s\":", field);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json list domains"), 0);
	const char *p = strstr(buf, key);
	ASSERT_TRUE(p != NULL);
	p = strstr(p, f);
	ASSERT_TRUE(p != NULL);
	return strtoull(p + strlen(f), NULL, 10);
}

/* Domain `domid`'s queued bytes: its data vmsgd holds. */
static inline unsigned long long vt_queued_of(unsigned domid)
{
	return vt_domain_uint(domid, "queued_bytes");
}

/* Is channel `id` listed by vmsgctl in `state` ("open", "spare-asked",
 * "lingering", ...)? */
static inline bool vt_in_state(unsigned id, const char *state)
{
	char out[8192], want[64];
	ASSERT_EQ(vt_ctl(out, sizeof out, "--json list channels"), 0);
	snprintf(want, sizeof want, "{\"id\":%u,", id);
	const char *at = strstr(out, want);
	if (!at)
		return false;
	char st[64];
	snprintf(st, sizeof st, "\"state\":\"%s\"", state);
	const char *s = strstr(at, st), *end = strchr(at, '}');
	return s && end && s < end;
}

/* The id of a channel of service `svc` that vmsgctl lists in `state`
 * ("spare": a served spare), or 0. */
static inline unsigned vt_chan_in(const char *svc, const char *state)
{
	char out[8192];
	ASSERT_EQ(vt_ctl(out, sizeof out, "list channels"), 0);
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		unsigned id, prov, cons;
		char name[80], st[40];
		if (sscanf(l, "%u %79s %u %u %39s", &id, name, &prov, &cons,
			   st) == 5 &&
		    !strcmp(name, svc) && !strcmp(st, state))
			return id;
	}
	return 0;
}

/* vt_chan_in(), waiting up to SIM_WAIT_MS for one; fails the test. */
static inline unsigned vt_wait_chan_in(const char *svc, const char *state)
{
	for (int i = 0; i < SIM_WAIT_MS / 20; i++) {
		unsigned id = vt_chan_in(svc, state);
		if (id)
			return id;
		usleep(20000);
	}
	char out[8192];
	vt_ctl(out, sizeof out, "list channels");
	VMSG_TEST_FAIL("no channel of %s listed %s:\n%s", svc, state, out);
}

/* Open service `name` through the library, or fail the test saying why. */
static inline vmsg_chan *vt_open(vmsg_ctl *ctl, const char *name)
{
	vmsg_chan *c;
	int r = vmsg_service_open(ctl, name, &c, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("open %s: %s (%s)", name, vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	return c;
}

/* Offer service `name`, or fail the test. */
static inline void vt_offer(vmsg_ctl *ctl, const char *name)
{
	int r = vmsg_service_offer(ctl, name, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("offer %s: %s (%s)", name, vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
}

/* The next channel brokered to one of our services, or fail the test. */
static inline vmsg_chan *vt_accept(vmsg_ctl *ctl)
{
	vmsg_chan *c;
	int r = vmsg_service_accept(ctl, &c, NULL, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("accept: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	return c;
}

/* ---- the echo provider: offers `echo`, echoes every message on every
 * channel it accepts until the driver says "quit". -------------------- */

#define VT_MAX_CHANS 16

/* Driver: write the config, start vmsgd, and start dom1's echo provider
 * ("provider", vt_role_echo_provider); returns once vmsgctl lists echo. */
static inline void vt_start_with_echo(const char *conf, struct vt_role *prov)
{
	char buf[256];
	vt_write_conf(conf);
	vt_start_vmsgd();
	vt_spawn(prov, 1, "provider", NULL);
	sim_expect(prov->from, "offered", buf, sizeof buf);
	vt_ctl_wait("list services", "echo", 1);
}

/* Provider side: take the channels vmsgd brokered (into ch[*n], at most
 * max; of service `service`, any when NULL; each one's peer to `seen`
 * when not NULL), echo every message on each, and close those whose
 * consumer closed. */
static inline void vt_echo_pump_n(vmsg_ctl *ctl, vmsg_chan **ch, int *n,
				  int max, const char *service,
				  void (*seen)(const struct vmsg_service_peer *),
				  unsigned char *buf, size_t cap)
{
	vmsg_chan *c;
	struct vmsg_service_peer peer;
	int r;
	while ((r = vmsg_service_accept(ctl, &c, &peer, 0)) == 0) {
		ASSERT_TRUE(*n < max);
		if (service)
			ASSERT_EQ(strcmp(peer.service, service), 0);
		if (seen)
			seen(&peer);
		ch[(*n)++] = c;
	}
	if (r != -EAGAIN)
		VMSG_TEST_FAIL("accept: %s", vmsg_strerror(r));
	for (int i = 0; i < *n; i++) {
		(void)vmsg_chan_ack(ch[i]);
		uint16_t type;
		while ((r = vmsg_chan_recv(ch[i], &type, buf, cap, 0)) >= 0)
			ASSERT_EQ(vmsg_chan_send(ch[i], type, buf, (size_t)r, 0,
						 SIM_WAIT_MS),
				  r);
		if (r == -EPIPE) {
			vmsg_service_close(ctl, ch[i]);
			ch[i--] = ch[--(*n)];
		} else if (r != -EAGAIN) {
			VMSG_TEST_FAIL("echo recv: %s", vmsg_strerror(r));
		}
	}
}

/* The same for the echo provider's channels (of `echo`, or the service
 * vt_spawn's arg names). */
static inline void vt_echo_pump(vmsg_ctl *ctl, vmsg_chan **ch, int *n,
				unsigned char *buf, size_t cap)
{
	vt_echo_pump_n(ctl, ch, n, VT_MAX_CHANS, vt_arg ? vt_arg : "echo",
		       NULL, buf, cap);
}

/* A provider's wait: up to timeout_ms for the driver's line (p[0]), the
 * control channel's fd ctl_fd (p[1]) or any of the n channels (p has
 * room for n + 2). Returns true when the driver wrote: the provider
 * stops. */
static inline bool vt_provider_wait(struct pollfd *p, int ctl_fd,
				    vmsg_chan **ch, int n, int timeout_ms)
{
	p[0] = (struct pollfd){.fd = vt_in, .events = POLLIN};
	p[1] = (struct pollfd){.fd = ctl_fd, .events = POLLIN};
	for (int i = 0; i < n; i++)
		p[2 + i] = (struct pollfd){.fd = vmsg_chan_fd(ch[i]),
					   .events = POLLIN};
	poll(p, (nfds_t)(n + 2), timeout_ms);
	return p[0].revents != 0;
}

/* The echo provider: offer `echo`, then pump until the driver says quit.
 * With `fixed_fd`, poll the ctl fd taken once at the start and check it
 * never changes (reconnects must keep it). */
static inline int vt_echo_provider(bool fixed_fd)
{
	static unsigned char buf[ECHO_MAX_MSG];
	vmsg_ctl *ctl = vt_ctl_open();
	/* The role "provider" offers vt_spawn's arg, or `echo`. */
	int r = vmsg_service_offer(ctl, vt_arg ? vt_arg : "echo", SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("offer: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	const int cfd = vmsg_ctl_fd(ctl);
	ASSERT_TRUE(cfd >= 0);
	sim_say(vt_out, "offered %d", (int)getpid());
	vmsg_chan *ch[VT_MAX_CHANS];
	int n = 0;
	for (;;) {
		struct pollfd p[VT_MAX_CHANS + 2];
		if (vt_provider_wait(p, fixed_fd ? cfd : vmsg_ctl_fd(ctl), ch,
				     n, fixed_fd ? 1000 : 200))
			break; /* "quit" or the driver's end closed */
		vt_echo_pump(ctl, ch, &n, buf, sizeof buf);
		if (fixed_fd)
			ASSERT_EQ(vmsg_ctl_fd(ctl), cfd);
	}
	for (int i = 0; i < n; i++)
		vmsg_service_close(ctl, ch[i]);
	vmsg_ctl_close(ctl);
	return 0;
}

static inline int vt_role_echo_provider(void)
{
	return vt_echo_provider(false);
}

/* Consumer side: send `count` messages (type and length vary, one of
 * them fragmented when `big`), read the echoes, compare checksums. */
static inline void vt_echo_exchange(vmsg_chan *c, unsigned count, bool big)
{
	static unsigned char out[ECHO_MAX_MSG], in[ECHO_MAX_MSG];
	uint64_t seed = 0x1234567u + count, hs = VMSG_TEST_FNV_INIT,
		 hr = VMSG_TEST_FNV_INIT;
	for (unsigned i = 0; i < count; i++) {
		size_t len = (i * 97u) % 2000u;
		if (big && i == count / 2)
			len = 300000; /* several frames through 64 KiB rings */
		for (size_t j = 0; j < len; j++)
			out[j] = (unsigned char)vmsg_test_rand(&seed);
		uint16_t type = (uint16_t)(0x100 + i % 7);
		hs = vmsg_test_fnv(hs, &type, sizeof type);
		hs = vmsg_test_fnv(hs, out, len);
		ASSERT_EQ(vmsg_chan_send(c, type, out, len, 0, SIM_WAIT_MS),
			  (int)len);
		uint16_t rt;
		int r = vmsg_chan_recv(c, &rt, in, sizeof in, SIM_WAIT_MS);
		ASSERT_EQ(r, (int)len);
		hr = vmsg_test_fnv(hr, &rt, sizeof rt);
		hr = vmsg_test_fnv(hr, in, (size_t)r);
	}
	ASSERT_EQ(hs, hr);
}

/* Consumer side: open `echo`, exchange a first batch, say "streaming" and
 * keep exchanging until the driver says something; then expect "reopen".
 * Returns the channel; *rounds counts the batches. */
static inline vmsg_chan *vt_stream_until_reopen(vmsg_ctl *ctl,
						unsigned *rounds)
{
	char buf[64];
	vmsg_chan *c;
	int r = vmsg_service_open(ctl, "echo", &c, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("open: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	vt_echo_exchange(c, 20, false);
	sim_say(vt_out, "streaming");
	*rounds = 0;
	for (;;) {
		struct pollfd p = {.fd = vt_in, .events = POLLIN};
		if (poll(&p, 1, 0) > 0)
			break;
		vt_echo_exchange(c, 5, false);
		(*rounds)++;
	}
	sim_expect(vt_in, "reopen", buf, sizeof buf);
	return c;
}

#endif
