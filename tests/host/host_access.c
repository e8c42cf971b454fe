/* host_access: who may be the peer of a host-backend channel (vmsg/host.h,
 * "the access model"; issue 16, defect 5). Runs as root (skips otherwise)
 * and puts the other user in forked children that drop to uid/gid 65534.
 *  1. Under umask 000 a server's socket file is still mode 0600 (and an
 *     explicit mode is what it asks for).
 *  2. A client of another uid is refused with -EACCES, at once:
 *     a. by the 0600 file (connect() is denied);
 *     b. with the file opened to all (mode 0666), by the server's check of
 *        its uid (SO_PEERCRED): it gets no memfd, and the server, still
 *        waiting, then takes a client of its own uid.
 *  3. A server that names the other uid (and a mode that lets it in) and
 *     a client that names the server's uid talk.
 *  4. A server of another uid (a squatter of the path, say) is refused by
 *     a root client with -EACCES, before the client reads anything, unless
 *     the client names that uid.
 * The children reach the socket by a path relative to the folder they
 * were in before dropping privileges ($TMPDIR may be closed to others). */
#include "host_test_util.h"

#include <fcntl.h>
#include <grp.h>
#include <string.h>

#include <vmsg/chan.h>

#define OTHER 65534u /* nobody / nogroup */
#define WAIT_MS 20000

/* In a child: become OTHER for good. */
static void drop_privileges(void)
{
	ASSERT_EQ(setgroups(0, NULL), 0);
	ASSERT_EQ(setresgid(OTHER, OTHER, OTHER), 0);
	ASSERT_EQ(setresuid(OTHER, OTHER, OTHER), 0);
	ASSERT_EQ(geteuid(), OTHER);
}

/* Fork a child that enters `dir`, drops to OTHER and runs fn, whose result
 * (an int) it writes to the returned pipe before _exit (not exit: the
 * sanitizers' exit-time checks need a dumpable process). */
static pid_t spawn_other(const char *dir, int (*fn)(void), int *res_fd)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	pid_t pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		ASSERT_EQ(chdir(dir), 0);
		drop_privileges();
		int r = fn();
		ASSERT_EQ(write(p[1], &r, sizeof r), (ssize_t)sizeof r);
		_exit(0);
	}
	close(p[1]);
	*res_fd = p[0];
	return pid;
}

static int read_result(int fd)
{
	int r;
	ASSERT_EQ(read(fd, &r, sizeof r), (ssize_t)sizeof r);
	close(fd);
	return r;
}

/* Serve while the child runs: a client it must not take is not taken. */
static void serve_until_exit(vmsg_chan *srv, pid_t pid)
{
	for (;;) {
		int r = vmsg_chan_accept(srv, 50);
		ASSERT_TRUE(r == -ETIMEDOUT || r == -EAGAIN);
		int st;
		pid_t w = waitpid(pid, &st, WNOHANG);
		ASSERT_TRUE(w >= 0);
		if (w == pid) {
			ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
			return;
		}
	}
}

/* One message each way on an open channel. */
static void ping(vmsg_chan *c)
{
	char buf[16];
	uint16_t t;
	ASSERT_EQ(vmsg_chan_send(c, 0x100, "ping", 4, 0, WAIT_MS), 4);
	ASSERT_EQ(vmsg_chan_recv(c, &t, buf, sizeof buf, WAIT_MS), 4);
	ASSERT_MEM_EQ(buf, "pong", 4);
}

static void pong(vmsg_chan *c)
{
	char buf[16];
	uint16_t t;
	ASSERT_EQ(vmsg_chan_recv(c, &t, buf, sizeof buf, WAIT_MS), 4);
	ASSERT_MEM_EQ(buf, "ping", 4);
	ASSERT_EQ(vmsg_chan_send(c, 0x100, "pong", 4, 0, WAIT_MS), 4);
}

/* Children (run as OTHER, in the test's folder). */

static int connect_default(void)
{
	vmsg_chan *c;
	int r = vmsg_host_connect(&c, "sock", NULL, WAIT_MS);
	if (r == 0)
		vmsg_chan_close(c);
	return r;
}

/* Accepts the root server (so that only the server's check can refuse). */
static int connect_accepting_root(void)
{
	struct vmsg_host_opts ho;
	vmsg_host_opts_init(&ho);
	ASSERT_EQ(ho.peer_uid, OTHER);
	ho.peer_uid = 0;
	vmsg_chan *c;
	int r = vmsg_host_connect_opts(&c, "sock", NULL, WAIT_MS, &ho);
	if (r < 0)
		return r;
	ping(c);
	vmsg_chan_close(c);
	return 0;
}

/* A server of uid OTHER that would take root as its client. */
static int serve_as_other(void)
{
	struct vmsg_host_opts ho;
	vmsg_host_opts_init(&ho);
	ho.peer_uid = 0;
	vmsg_chan *c;
	int r = vmsg_host_serve_opts(&c, "sock", NULL, &ho);
	if (r < 0)
		return r;
	r = vmsg_chan_accept(c, WAIT_MS);
	if (r == 0)
		pong(c);
	vmsg_chan_close(c);
	return r;
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	ASSERT_EQ(lstat(path, &st), 0);
	ASSERT_TRUE(S_ISSOCK(st.st_mode));
	return st.st_mode & 07777;
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "host_access needs root (to become another "
				"uid): skipping\n");
		return VMSG_TEST_SKIP;
	}
	signal(SIGPIPE, SIG_IGN);
	char dir[200], path[300];
	ht_mkdtemp(dir, sizeof dir);
	ASSERT_EQ(chmod(dir, 0711), 0); /* OTHER may look up names in it */
	snprintf(path, sizeof path, "%s/sock", dir);
	umask(0);

	/* 1 and 2a: the default mode, whatever the umask. */
	vmsg_chan *srv;
	ASSERT_EQ(vmsg_host_serve(&srv, path, NULL), 0);
	ASSERT_EQ(mode_of(path), 0600u);
	int fd;
	pid_t pid = spawn_other(dir, connect_default, &fd);
	serve_until_exit(srv, pid);
	int r = read_result(fd);
	if (r != -EACCES)
		VMSG_TEST_FAIL("other uid, mode 0600: %d (%s), want -EACCES",
			       r, vmsg_strerror(r));
	vmsg_chan_close(srv);

	/* 2b: the file open to all; the server's own check refuses. */
	struct vmsg_host_opts ho;
	vmsg_host_opts_init(&ho);
	ASSERT_EQ(ho.peer_uid, 0u);
	ASSERT_EQ(ho.mode, 0600u);
	ho.mode = 0666;
	ASSERT_EQ(vmsg_host_serve_opts(&srv, path, NULL, &ho), 0);
	ASSERT_EQ(mode_of(path), 0666u);
	pid = spawn_other(dir, connect_accepting_root, &fd);
	serve_until_exit(srv, pid);
	r = read_result(fd);
	if (r != -EACCES)
		VMSG_TEST_FAIL("other uid, mode 0666: %d (%s), want -EACCES",
			       r, vmsg_strerror(r));
	ASSERT_EQ(vmsg_chan_state(srv), VMSG_CHAN_WAITING);
	/* Still ours to take: a client of our uid. */
	pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		vmsg_chan *c;
		ASSERT_EQ(vmsg_host_connect(&c, path, NULL, WAIT_MS), 0);
		ping(c);
		vmsg_chan_close(c);
		_exit(0);
	}
	ASSERT_EQ(vmsg_chan_accept(srv, WAIT_MS), 0);
	pong(srv);
	ht_reap_ok(pid);
	vmsg_chan_close(srv);

	/* 3: both ends name the other's uid. */
	ho.peer_uid = OTHER;
	ASSERT_EQ(vmsg_host_serve_opts(&srv, path, NULL, &ho), 0);
	pid = spawn_other(dir, connect_accepting_root, &fd);
	ASSERT_EQ(vmsg_chan_accept(srv, WAIT_MS), 0);
	pong(srv);
	ht_reap_ok(pid);
	ASSERT_EQ(read_result(fd), 0);
	vmsg_chan_close(srv);

	/* 4: a server of uid OTHER, in a folder of its own. */
	char odir[256], opath[300];
	snprintf(odir, sizeof odir, "%s/other", dir);
	ASSERT_EQ(mkdir(odir, 0700), 0);
	ASSERT_EQ(chown(odir, OTHER, OTHER), 0);
	snprintf(opath, sizeof opath, "%s/sock", odir);
	pid = spawn_other(odir, serve_as_other, &fd);
	vmsg_chan *c = NULL;
	/* The server may not be listening yet: -ENOENT is retried within
	 * the wait; what we must get is the refusal. */
	r = vmsg_host_connect(&c, opath, NULL, WAIT_MS);
	if (r != -EACCES)
		VMSG_TEST_FAIL("server of another uid: %d (%s), want -EACCES",
			       r, vmsg_strerror(r));
	ASSERT_TRUE(c == NULL);
	vmsg_host_opts_init(&ho);
	ho.peer_uid = OTHER;
	/* The server frees its slot when it sees our refused connection
	 * hang up; until then a second client is told -EBUSY. */
	uint64_t end = ht_now_ms() + WAIT_MS;
	while ((r = vmsg_host_connect_opts(&c, opath, NULL, WAIT_MS, &ho)) ==
		       -EBUSY &&
	       ht_now_ms() < end)
		usleep(10000);
	if (r != 0)
		VMSG_TEST_FAIL("server of a named uid: %d (%s)", r,
			       vmsg_strerror(r));
	ping(c);
	vmsg_chan_close(c);
	ht_reap_ok(pid);
	ASSERT_EQ(read_result(fd), 0);

	ASSERT_EQ(rmdir(odir), 0);
	ht_rmdir(dir);
	printf("host_access: mode 0600 under umask 000; other uids refused "
	       "(-EACCES) both ways unless named\n");
	return 0;
}
