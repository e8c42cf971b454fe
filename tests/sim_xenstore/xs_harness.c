#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "vmsg_test.h"
#include "xs_harness.h"

int xsh_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

const char *xsh_sock(const struct xsh *h, unsigned domid)
{
	static char buf[320];
	snprintf(buf, sizeof(buf), "%s/dom%u.sock", h->dir, domid);
	return buf;
}

void xsh_need_utils(void)
{
	if (access("/usr/bin/xenstore-read", X_OK) != 0) {
		fprintf(stderr, "xenstore-utils not installed: skipping\n");
		exit(VMSG_TEST_SKIP);
	}
}

void xsh_start(struct xsh *h, const char *bin)
{
	xsh_start_args(h, bin, NULL);
}

void xsh_start_args(struct xsh *h, const char *bin, const char *const *extra)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(h->dir, sizeof(h->dir), "%s/vmsg-xs-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	ASSERT_TRUE(mkdtemp(h->dir) != NULL);
	h->pid = fork();
	ASSERT_TRUE(h->pid >= 0);
	if (h->pid == 0) {
		/* If the test dies (a failed assert aborts), so does the
		 * daemon, removing its sockets on the way out. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		const char *argv[32] = {bin, "--dir", h->dir, "--foreground"};
		size_t n = 4;
		for (; extra && *extra && n < 31; extra++)
			argv[n++] = *extra;
		argv[n] = NULL;
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	/* The socket's name appears only once it accepts connections. */
	for (int i = 0; i < 3000 && !xsh_exists(xsh_sock(h, 0)); i++) {
		int st;
		if (waitpid(h->pid, &st, WNOHANG) == h->pid)
			VMSG_TEST_FAIL("daemon exited early (status %d)", st);
		usleep(10000);
	}
	ASSERT_TRUE(xsh_exists(xsh_sock(h, 0)));
}

void xsh_stop(struct xsh *h)
{
	int st;
	ASSERT_EQ(kill(h->pid, SIGTERM), 0);
	ASSERT_EQ(waitpid(h->pid, &st, 0), h->pid);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
	DIR *d = opendir(h->dir);
	ASSERT_TRUE(d != NULL);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' &&
		    (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		VMSG_TEST_FAIL("left behind after stop: %s", e->d_name);
	}
	closedir(d);
	ASSERT_EQ(rmdir(h->dir), 0);
}

int xsh_run(const struct xsh *h, unsigned domid, char *out, size_t cap,
	    const char *const *argv)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	char sock[320];
	snprintf(sock, sizeof(sock), "%s", xsh_sock(h, domid));
	pid_t pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		setenv("XENSTORED_PATH", sock, 1);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	size_t n = 0;
	char junk[512];
	for (;;) {
		char *dst = n + 1 < cap ? out + n : junk;
		size_t room = n + 1 < cap ? cap - 1 - n : sizeof(junk);
		ssize_t r = read(p[0], dst, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (dst != junk)
			n += (size_t)r;
	}
	close(p[0]);
	if (cap)
		out[n] = '\0';
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct xs_handle *xsh_open(const struct xsh *h, unsigned domid)
{
	/* libxenstore reads XENSTORED_PATH when it opens. */
	setenv("XENSTORED_PATH", xsh_sock(h, domid), 1);
	struct xs_handle *xs = xs_open(0);
	if (!xs)
		VMSG_TEST_FAIL("xs_open as dom%u: %s", domid, strerror(errno));
	unsetenv("XENSTORED_PATH");
	return xs;
}

char **xsh_next_event(struct xs_handle *xs)
{
	for (int i = 0; i < 300; i++) {
		char **v = xs_check_watch(xs);
		if (v)
			return v;
		ASSERT_EQ(errno, EAGAIN);
		struct pollfd pfd = {.fd = xs_fileno(xs), .events = POLLIN};
		(void)poll(&pfd, 1, 100);
	}
	VMSG_TEST_FAIL("no watch event within 30 s");
	return NULL;
}
