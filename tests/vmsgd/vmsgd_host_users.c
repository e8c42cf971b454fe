/* vmsgd_host_users: in host mode one local user cannot exhaust vmsgd
 * with rendezvous connections (docs/vmsgd.md, "Limits", "Host mode").
 * Each connection to DIR/vmsgd.sock is a client that costs vmsgd fds
 * until it goes, whether it connects to its control channel or not; a
 * user holds at most max_clients_per_user (64 by default) at once, all
 * users max_host_clients. Runs as root (it needs a second uid: nobody,
 * 65534); no simulator. With vmsgd's default limits:
 *  - vmsgctl policy shows the defaults, 64 and 192;
 *  - nobody opens 64 rendezvous connections and never connects to their
 *    control channels: each is answered "ok"; the next 100 are answered
 *    "error -87 uid 65534 has 64 clients on vmsgd, its limit
 *    (max_clients_per_user)", and vmsgd's fds (/proc/PID/fd) do not grow
 *    meanwhile; vmsgd logs the refusal at warn, a few lines for the 100;
 *    root still gets in at the rendezvous;
 *  - once vmsgd has forgotten those clients (never connected within
 *    10 s), nobody gets in again and opens root's echo service;
 *  - a nobody process holds 64 clients connected to their control
 *    channels (vmsg_ctl_open); its 65th vmsg_ctl_open fails with -EUSERS,
 *    vmsg_ctl_strerror naming max_clients_per_user; meanwhile root opens
 *    echo and is answered; once the process is killed, nobody gets in
 *    again;
 *  - a reload with max_clients_per_user = 2, max_host_clients = 3 applies
 *    at once (vmsgctl policy, text and JSON): nobody's third connection
 *    is refused naming max_clients_per_user, and root's (its second
 *    client, beside its provider) as the fourth of all, naming
 *    max_host_clients;
 *  - SIGTERM: vmsgd exits 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmsg/chan.h>
#include <vmsg/service.h>

#include "vmsg_test.h"

#define NOBODY 65534u
#define PER_USER 64 /* vmsgd's default max_clients_per_user */
#define EXTRA 100   /* connections over the limit */
#define WAIT_MS 30000

static char dir[32], hd[40], conf[64], ctlsock[64], logpath[64];
static char rdv[64]; /* hd/vmsgd.sock */
static pid_t vmsgd = -1, kids[8];
static int nkids;

static uint64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void cleanup(void)
{
	for (int i = 0; i < nkids; i++)
		if (kids[i] > 0)
			kill(kids[i], SIGKILL);
	if (vmsgd > 0)
		kill(vmsgd, SIGKILL);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	(void)!system(cmd);
}

/* On a failed assertion: vmsgd's last lines, then no process left. */
static void on_fail(void)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "tail -n 30 '%s' >&2", logpath);
	fprintf(stderr, "--- vmsgd's log, last lines:\n");
	(void)!system(cmd);
	cleanup();
}

static void write_conf(const char *daemon)
{
	char tmp[160];
	snprintf(tmp, sizeof tmp, "%s.tmp", conf);
	FILE *f = fopen(tmp, "w");
	ASSERT_TRUE(f != NULL);
	fprintf(f,
		"[daemon]\nbackend = host\nhost_dir = %s\n"
		"control_socket = %s\n%s\n"
		"[service echo]\noffer = root\nopen = root,nobody\n"
		"mode = direct\n",
		hd, ctlsock, daemon);
	ASSERT_EQ(fclose(f), 0);
	ASSERT_EQ(rename(tmp, conf), 0); /* a reload never sees half */
}

static bool log_has(const char *needle, int *count)
{
	FILE *f = fopen(logpath, "r");
	if (!f && errno == ENOENT) /* vmsgd has not opened it yet */
		return false;
	ASSERT_TRUE(f != NULL);
	char line[1024];
	int n = 0;
	while (fgets(line, sizeof line, f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	if (count)
		*count = n;
	return n > 0;
}

/* vmsgctl ARGS into out; its exit status. */
static int ctl(char *out, size_t cap, const char *args)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "'%s' --socket '%s' %s 2>&1", VMSGCTL_BIN,
		 ctlsock, args);
	FILE *f = popen(cmd, "r");
	ASSERT_TRUE(f != NULL);
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = 0;
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Lines of `vmsgctl list domains` that name user nobody. */
static int nobody_clients(void)
{
	static char out[1 << 16];
	ASSERT_EQ(ctl(out, sizeof out, "list domains"), 0);
	int n = 0;
	for (char *p = out; (p = strstr(p, " nobody ")) != NULL; p++)
		n++;
	return n;
}

static void wait_nobody_clients(int want)
{
	int n = -1;
	for (uint64_t end = now_ms() + WAIT_MS; now_ms() < end;) {
		if ((n = nobody_clients()) == want)
			return;
		usleep(100000);
	}
	VMSG_TEST_FAIL("vmsgctl lists %d clients of nobody, not %d", n, want);
}

static int fds_of(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	ASSERT_TRUE(d != NULL);
	int n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* One rendezvous, as env_host.c makes it: vmsgd's line into buf ("" if
 * it closed without one). Returns 0, or -errno of the connect. */
static int rendezvous(char *buf, size_t cap)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", rdv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	size_t n = 0;
	buf[0] = 0;
	while (n + 1 < cap && !memchr(buf, '\n', n)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 10000) <= 0)
			break;
		ssize_t k = read(fd, buf + n, cap - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
		buf[n] = 0;
	}
	close(fd);
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = 0;
	return 0;
}

/* ---- children: each reports on a pipe, one line per step */

static int report_fd = -1;

static void report(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	(void)!write(report_fd, line, (size_t)n);
}

/* Fork a child that becomes `uid` and runs fn(arg); its report pipe's
 * read end in *from, a pipe to it (a byte: go on) in *to (may be NULL). */
static pid_t spawn(uint32_t uid, void (*fn)(int go, int arg), int arg,
		   int *from, int *to)
{
	int up[2], down[2];
	ASSERT_EQ(pipe2(up, O_CLOEXEC), 0);
	ASSERT_EQ(pipe2(down, O_CLOEXEC), 0);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the test */
		vmsg_test_on_fail = NULL;
		close(up[0]);
		close(down[1]);
		report_fd = up[1];
		if (uid != 0 && (setgroups(0, NULL) < 0 ||
				 setgid((gid_t)uid) < 0 ||
				 setuid((uid_t)uid) < 0)) {
			report("fail setuid %u: %s", (unsigned)uid,
			       strerror(errno));
			_exit(1);
		}
		fn(down[0], arg);
		_exit(0); /* not exit: what the child holds is on purpose */
	}
	close(up[1]);
	close(down[0]);
	*from = up[0];
	if (to)
		*to = down[1];
	else
		close(down[1]);
	int k = 0;
	while (k < nkids && kids[k] > 0)
		k++;
	ASSERT_LT(k, (int)(sizeof kids / sizeof kids[0]));
	kids[k] = pid;
	nkids += k == nkids;
	return pid;
}

/* The child's next line into buf; fails the test after WAIT_MS, at EOF
 * or on a line starting "fail". */
static void expect(int from, char *buf, size_t cap, const char *prefix)
{
	size_t n = 0;
	uint64_t end = now_ms() + WAIT_MS;
	for (;;) {
		uint64_t now = now_ms();
		struct pollfd p = {.fd = from, .events = POLLIN};
		if (now >= end || poll(&p, 1, (int)(end - now)) <= 0)
			VMSG_TEST_FAIL("no line from the child (waited for "
				       "'%s')",
				       prefix);
		char ch;
		if (read(from, &ch, 1) != 1)
			VMSG_TEST_FAIL("the child ended (waited for '%s'; had "
				       "'%.*s')",
				       prefix, (int)n, buf);
		if (ch == '\n')
			break;
		if (n + 1 < cap)
			buf[n++] = ch;
	}
	buf[n] = 0;
	if (strncmp(buf, prefix, strlen(prefix)) != 0)
		VMSG_TEST_FAIL("the child said '%s', expected '%s...'", buf,
			       prefix);
}

static void reap(pid_t pid, int want)
{
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	for (int i = 0; i < nkids; i++)
		if (kids[i] == pid)
			kids[i] = -1;
	if (want >= 0) {
		ASSERT_TRUE(WIFEXITED(st));
		ASSERT_EQ(WEXITSTATUS(st), want);
	}
}

/* Nobody's flood: PER_USER connections never followed up, then (after a
 * byte from the driver) EXTRA more. */
static void flood(int go, int arg)
{
	(void)arg;
	char line[300];
	for (int i = 0; i < PER_USER; i++) {
		int r = rendezvous(line, sizeof line);
		if (r < 0 || strncmp(line, "ok ", 3) != 0) {
			report("fail connection %d: %d '%s'", i + 1, r, line);
			return;
		}
	}
	report("held %d", PER_USER);
	char b;
	if (read(go, &b, 1) != 1)
		return;
	int ok = 0, err = 0;
	char first[360] = "";
	for (int i = 0; i < EXTRA; i++) {
		int r = rendezvous(line, sizeof line);
		if (r == 0 && !strncmp(line, "ok ", 3)) {
			ok++;
			if (!first[0])
				snprintf(first, sizeof first,
					 "connection %d answered '%s'",
					 PER_USER + i + 1, line);
		} else if (r == 0 && !strncmp(line, "error ", 6)) {
			if (!err++ && !first[0])
				snprintf(first, sizeof first, "%s", line);
		}
	}
	report("extra %d %d %s", ok, err, first);
}

/* Raw rendezvous, `arg` times: each answer reported. */
static void connects(int go, int arg)
{
	(void)go;
	char line[300];
	for (int i = 0; i < arg; i++) {
		int r = rendezvous(line, sizeof line);
		report("answer %d %s", r, line);
	}
}

/* A client of the library: attach, open echo, one round trip. */
static void consumer(int go, int arg)
{
	(void)go;
	(void)arg;
	vmsg_ctl *ctl;
	int r = vmsg_ctl_open(&ctl, 10000);
	if (r < 0) {
		report("fail vmsg_ctl_open: %s", vmsg_ctl_strerror(r));
		return;
	}
	vmsg_chan *c;
	if ((r = vmsg_service_open(ctl, "echo", &c, 10000)) < 0) {
		report("fail open echo: %s", vmsg_strerror(r));
		return;
	}
	char msg[64], back[64];
	int n = snprintf(msg, sizeof msg, "hello from uid %u",
			 (unsigned)getuid());
	if ((r = vmsg_chan_send(c, 1, msg, (size_t)n, 0, 10000)) < 0 ||
	    (r = vmsg_chan_recv(c, NULL, back, sizeof back, 10000)) < 0) {
		report("fail echo: %s", vmsg_strerror(r));
		return;
	}
	if (r != n || memcmp(msg, back, (size_t)n) != 0) {
		report("fail echo: %d bytes back, not '%s'", r, msg);
		return;
	}
	vmsg_service_close(ctl, c);
	vmsg_ctl_close(ctl);
	report("echoed %s", msg);
}

/* Root's echo provider, until killed. */
static void provider(int go, int arg)
{
	(void)go;
	(void)arg;
	vmsg_ctl *ctl;
	int r = vmsg_ctl_open(&ctl, 10000);
	if (r == 0)
		r = vmsg_service_offer(ctl, "echo", 10000);
	if (r < 0) {
		report("fail offer: %s", vmsg_ctl_strerror(r));
		return;
	}
	report("offered");
	for (;;) {
		vmsg_chan *c;
		if (vmsg_service_accept(ctl, &c, NULL, 1000) < 0)
			continue;
		char buf[256];
		uint16_t type;
		int n = vmsg_chan_recv(c, &type, buf, sizeof buf, 10000);
		if (n >= 0)
			(void)vmsg_chan_send(c, type, buf, (size_t)n, 0, 10000);
		vmsg_service_close(ctl, c);
	}
}

/* Nobody holding PER_USER clients connected to their control channels;
 * then (a byte from the driver) one more attach, which must be refused. */
static void holder(int go, int arg)
{
	(void)arg;
	static vmsg_ctl *h[PER_USER];
	for (int i = 0; i < PER_USER; i++) {
		int r = vmsg_ctl_open(&h[i], 10000);
		if (r < 0) {
			report("fail client %d: %s", i + 1,
			       vmsg_ctl_strerror(r));
			return;
		}
	}
	report("held %d", PER_USER);
	char b;
	if (read(go, &b, 1) != 1)
		return;
	vmsg_ctl *x;
	uint64_t t0 = now_ms();
	int r = vmsg_ctl_open(&x, 1500);
	report("refused %d %llu %s", r, (unsigned long long)(now_ms() - t0),
	       vmsg_ctl_strerror(r));
	(void)!read(go, &b, 1); /* held until killed */
}

/* ---- the driver */

static void start_vmsgd(void)
{
	pid_t p = fork();
	ASSERT_GE(p, 0);
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execl(VMSGD_BIN, VMSGD_BIN, "--foreground", "--config", conf,
		      (char *)NULL);
		_exit(127);
	}
	vmsgd = p;
	for (uint64_t end = now_ms() + WAIT_MS; !log_has("ready", NULL);) {
		int st;
		if (waitpid(p, &st, WNOHANG) == p) {
			vmsgd = -1;
			VMSG_TEST_FAIL("vmsgd exited at start");
		}
		if (now_ms() >= end)
			VMSG_TEST_FAIL("vmsgd not ready in %d ms", WAIT_MS);
		usleep(50000);
	}
}

/* A raw rendezvous of user `uid` in a child of its own: vmsgd's line. */
static void connect_as(uint32_t uid, char *line, size_t cap)
{
	int from;
	pid_t p = spawn(uid, connects, 1, &from, NULL);
	expect(from, line, cap, "answer 0 ");
	memmove(line, line + 9, strlen(line + 9) + 1);
	close(from);
	reap(p, 0);
}

static void library_round_trip(uint32_t uid)
{
	int from;
	char line[512];
	pid_t p = spawn(uid, consumer, 0, &from, NULL);
	expect(from, line, sizeof line, "echoed ");
	close(from);
	reap(p, 0);
	printf("uid %u: attached and opened echo ('%s')\n", (unsigned)uid,
	       line + 7);
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "vmsgd_host_users: needs root (a second uid): "
				"skipping\n");
		return VMSG_TEST_SKIP;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Short (the sockets inside must fit) and reachable by nobody. */
	snprintf(dir, sizeof dir, "/tmp/vmsg-users.XXXXXX");
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	ASSERT_EQ(chmod(dir, 0711), 0);
	vmsg_test_on_fail = on_fail;
	snprintf(hd, sizeof hd, "%s/h", dir);
	snprintf(rdv, sizeof rdv, "%s/vmsgd.sock", hd);
	snprintf(conf, sizeof conf, "%s/vmsgd.conf", dir);
	snprintf(ctlsock, sizeof ctlsock, "%s/ctl.sock", dir);
	snprintf(logpath, sizeof logpath, "%s/vmsgd.log", dir);
	ASSERT_EQ(setenv("VMSG_HOST_VMSGD", hd, 1), 0);
	write_conf(""); /* vmsgd's default limits */
	start_vmsgd();
	char line[512];
	static char out[1 << 16];
	ASSERT_EQ(ctl(out, sizeof out, "policy"), 0);
	ASSERT_TRUE(strstr(out, "\nmax_clients_per_user 64\n") != NULL);
	ASSERT_TRUE(strstr(out, "\nmax_host_clients 192\n") != NULL);

	/* Root's echo provider: one client of root's, all along. */
	int pfrom;
	pid_t prov = spawn(0, provider, 0, &pfrom, NULL);
	expect(pfrom, line, sizeof line, "offered");

	/* ---- nobody floods the rendezvous, never connecting */
	int fd0 = fds_of(vmsgd), to, from;
	uint64_t t0 = now_ms();
	pid_t fl = spawn(NOBODY, flood, 0, &from, &to);
	expect(from, line, sizeof line, "held ");
	int fd1 = fds_of(vmsgd);
	ASSERT_EQ(write(to, "g", 1), 1);
	expect(from, line, sizeof line, "extra ");
	int fd2 = fds_of(vmsgd);
	uint64_t t1 = now_ms();
	reap(fl, 0);
	close(from);
	close(to);
	int ok, err, pos = 0;
	ASSERT_EQ(sscanf(line, "extra %d %d %n", &ok, &err, &pos), 2);
	if (ok != 0)
		VMSG_TEST_FAIL("nobody's %d connections over %d: %d let in "
			       "(first: %s); vmsgd's fds %d -> %d -> %d",
			       EXTRA, PER_USER, ok, line + pos, fd0, fd1, fd2);
	ASSERT_EQ(err, EXTRA);
	if (strcmp(line + pos, "error -87 uid 65534 has 64 clients on "
			       "vmsgd, its limit (max_clients_per_user)") != 0)
		VMSG_TEST_FAIL("refusal said '%s'", line + pos);
	printf("nobody: %d clients let in, %d more refused in %llu ms: "
	       "'%s'\n",
	       PER_USER, EXTRA, (unsigned long long)(t1 - t0), line + pos);
	printf("vmsgd's fds: %d before, %d with nobody's %d clients, %d "
	       "after %d refusals\n",
	       fd0, fd1, PER_USER, fd2, EXTRA);
	/* Bounded: a refusal holds nothing once answered; a waiting client
	 * holds at most 6 (a socket, a memfd, an epoll fd, eventfds). */
	ASSERT_LE(fd2, fd1 + 1);
	ASSERT_LE(fd1, fd0 + PER_USER * 6);
	/* Root still gets in (its second client, beside the provider). */
	connect_as(0, line, sizeof line);
	if (strncmp(line, "ok ", 3) != 0)
		VMSG_TEST_FAIL("root, while nobody is at its limit: '%s'",
			       line);
	/* Logged at warn, not once per refusal: log_burst (5) lines, then
	 * log_per_s (1) a second. */
	int lines;
	ASSERT_TRUE(log_has("vmsgd: warn: host client (user nobody, uid "
			    "65534, pid ",
			    &lines));
	ASSERT_TRUE(log_has(") refused: uid 65534 has 64 clients on vmsgd, "
			    "its limit (max_clients_per_user)",
			    NULL));
	int most = 5 + (int)((now_ms() - t0) / 1000) + 1;
	printf("the %d refusals took %d lines of vmsgd's log\n", EXTRA, lines);
	ASSERT_LE(lines, most);

	/* Forgotten (never connected), nobody gets in again. */
	wait_nobody_clients(0);
	int never;
	ASSERT_TRUE(log_has("never connected to its control channel", &never));
	ASSERT_GE(never, PER_USER);
	library_round_trip(NOBODY);

	/* ---- nobody holds 64 clients connected: its 65th is refused */
	wait_nobody_clients(0);
	pid_t ho = spawn(NOBODY, holder, 0, &from, &to);
	expect(from, line, sizeof line, "held ");
	ASSERT_EQ(nobody_clients(), PER_USER);
	int fh1 = fds_of(vmsgd);
	ASSERT_EQ(write(to, "g", 1), 1);
	expect(from, line, sizeof line, "refused ");
	int fh2 = fds_of(vmsgd);
	int r;
	unsigned long long ms;
	ASSERT_EQ(sscanf(line, "refused %d %llu %n", &r, &ms, &pos), 2);
	printf("nobody's 65th vmsg_ctl_open: %d after %llu ms: %s\n", r, ms,
	       line + pos);
	ASSERT_EQ(r, -EUSERS);
	ASSERT_TRUE(strstr(line + pos, "max_clients_per_user") != NULL);
	ASSERT_LE(fh2, fh1 + 1);
	ASSERT_EQ(nobody_clients(), PER_USER);
	library_round_trip(0); /* root, meanwhile */
	ASSERT_EQ(nobody_clients(), PER_USER);
	kill(ho, SIGKILL);
	reap(ho, -1);
	close(from);
	close(to);
	wait_nobody_clients(0);
	library_round_trip(NOBODY);

	/* ---- a reload: both limits at once */
	write_conf("max_clients_per_user = 2\nmax_host_clients = 3\n");
	ASSERT_EQ(kill(vmsgd, SIGHUP), 0);
	for (uint64_t end = now_ms() + WAIT_MS;;) {
		ASSERT_EQ(ctl(out, sizeof out, "policy"), 0);
		if (strstr(out, "\nmax_clients_per_user 2\n"))
			break;
		if (now_ms() >= end)
			VMSG_TEST_FAIL("reload not applied: %s", out);
		usleep(50000);
	}
	ASSERT_TRUE(strstr(out, "\nmax_host_clients 3\n") != NULL);
	ASSERT_EQ(ctl(out, sizeof out, "--json policy"), 0);
	ASSERT_TRUE(strstr(out, "\"max_clients_per_user\":2") != NULL);
	ASSERT_TRUE(strstr(out, "\"max_host_clients\":3") != NULL);
	/* Wait for the clients of the steps above to go: root's provider
	 * is the only one left. */
	for (uint64_t end = now_ms() + WAIT_MS;;) {
		ASSERT_EQ(ctl(out, sizeof out, "list domains"), 0);
		int rows = 0;
		for (char *p = out; (p = strstr(p, " root ")) != NULL; p++)
			rows++;
		if (rows == 1 && !strstr(out, " nobody "))
			break;
		if (now_ms() >= end)
			VMSG_TEST_FAIL("clients left: %s", out);
		usleep(100000);
	}
	pid_t nc = spawn(NOBODY, connects, 3, &from, NULL);
	for (int i = 0; i < 3; i++) {
		expect(from, line, sizeof line, "answer 0 ");
		if (i < 2 && strncmp(line + 9, "ok ", 3) != 0)
			VMSG_TEST_FAIL("nobody's connection %d: '%s'", i + 1,
				       line + 9);
	}
	reap(nc, 0);
	close(from);
	ASSERT_EQ(strcmp(line + 9, "error -87 uid 65534 has 2 clients on "
				   "vmsgd, its limit (max_clients_per_user)"),
		  0);
	/* Root has one client (its provider), under its own limit; all
	 * users have 3. */
	connect_as(0, line, sizeof line);
	if (strcmp(line, "error -87 vmsgd has 3 clients, its limit "
			 "(max_host_clients)") != 0)
		VMSG_TEST_FAIL("root's connection over max_host_clients: '%s'",
			       line);
	printf("after the reload: nobody's third client refused "
	       "(max_clients_per_user 2), then root's second "
	       "(max_host_clients 3)\n");

	/* ---- stop */
	kill(prov, SIGKILL);
	reap(prov, -1);
	close(pfrom);
	ASSERT_EQ(kill(vmsgd, SIGTERM), 0);
	int st;
	ASSERT_EQ(waitpid(vmsgd, &st, 0), vmsgd);
	vmsgd = -1;
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
	vmsg_test_on_fail = NULL;
	cleanup();
	printf("vmsgd_host_users: ok\n");
	return 0;
}
