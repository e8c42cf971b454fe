/* host_one_client: the rendezvous rules. Bad arguments (-EINVAL), a path
 * longer than sun_path (-ENAMETOOLONG), no server (-ENOENT, at once with
 * timeout 0 and after the timeout otherwise), a stale socket file left by a
 * killed server (refused by clients, replaced by the next server), a live
 * server (-EADDRINUSE for a second one, whose failure leaves the first's
 * socket alone), and the one-client rule (-EBUSY for a second client). */
#include "host_test_util.h"

#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "../../lib/host/host_internal.h" /* the handshake wire format */

static struct vmsg_platform *make_server(const char *path, void **page)
{
	struct vmsg_platform *p;
	uint32_t port, ref, refs[2];
	void *rings;
	ASSERT_EQ(vmsg_host_platform_new(&p, path, true), 0);
	ASSERT_EQ(p->ops->port_alloc(p, &port), 0);
	ASSERT_EQ(p->ops->share(p, 1, page, &ref, 21), 0);
	ASSERT_EQ(p->ops->share(p, 2, &rings, refs, -1), 0);
	p->ops->unmap(p, rings, 2);
	int r = p->ops->publish(p, ref, port);
	if (r < 0) {
		p->ops->unmap(p, *page, 1);
		p->ops->destroy(p);
		errno = -r;
		return NULL;
	}
	return p;
}

static void bad_args(const char *dir)
{
	struct vmsg_platform *p;
	char longp[200];
	uint32_t ref, port, refs[1];
	void *a;

	ASSERT_EQ(vmsg_host_platform_new(NULL, "x", true), -EINVAL);
	ASSERT_EQ(vmsg_host_platform_new(&p, NULL, true), -EINVAL);
	ASSERT_EQ(vmsg_host_platform_new(&p, "", false), -EINVAL);
	memset(longp, 'a', sizeof longp);
	longp[108] = '\0'; /* 108 bytes + NUL does not fit sun_path */
	ASSERT_EQ(vmsg_host_platform_new(&p, longp, true), -ENAMETOOLONG);
	ASSERT_EQ(vmsg_host_platform_new(&p, longp, false), -ENAMETOOLONG);
	longp[107] = '\0'; /* 107 does */
	ASSERT_EQ(vmsg_host_platform_new(&p, longp, true), 0);
	p->ops->destroy(p);

	vmsg_chan *c;
	ASSERT_EQ(vmsg_host_serve(NULL, "x", NULL), -EINVAL);
	ASSERT_EQ(vmsg_host_serve(&c, NULL, NULL), -EINVAL);
	ASSERT_EQ(vmsg_host_connect(NULL, "x", NULL, 0), -EINVAL);
	ASSERT_EQ(vmsg_host_connect(&c, longp, NULL, 0), -ENOENT);
	longp[107] = 'a';
	ASSERT_EQ(vmsg_host_connect(&c, longp, NULL, 0), -ENAMETOOLONG);

	char path[300];
	snprintf(path, sizeof path, "%s/unused", dir);
	ASSERT_EQ(vmsg_host_platform_new(&p, path, true), 0);
	ASSERT_EQ(p->ops->port_alloc(p, NULL), -EINVAL);
	ASSERT_EQ(p->ops->share(p, 1, NULL, refs, -1), -EINVAL);
	ASSERT_EQ(p->ops->share(p, 1, &a, NULL, -1), -EINVAL);
	ASSERT_EQ(p->ops->share(p, 0, &a, refs, -1), -EINVAL);
	ASSERT_EQ(p->ops->share(p, 1, &a, refs, 4096), -EINVAL);
	ASSERT_EQ(p->ops->share(p, 1, &a, refs, 21), -EINVAL); /* no port */
	ASSERT_EQ(p->ops->publish(p, 0, 1), -EINVAL); /* nothing shared */
	ASSERT_EQ(p->ops->lookup(p, &ref, &port, 0), -EINVAL); /* server */
	ASSERT_EQ(p->ops->map(p, 1, refs, &a, -1), -ENOTSUP);
	p->ops->destroy(p);

	ASSERT_EQ(vmsg_host_platform_new(&p, path, false), 0);
	ASSERT_EQ(p->ops->lookup(p, NULL, &port, 0), -EINVAL);
	ASSERT_EQ(p->ops->lookup(p, &ref, NULL, 0), -EINVAL);
	ASSERT_EQ(p->ops->port_bind(p, 1), -EINVAL); /* lookup first */
	ASSERT_EQ(p->ops->share(p, 1, &a, refs, -1), -ENOTSUP);
	ASSERT_EQ(p->ops->publish(p, 0, 1), -EINVAL);
	p->ops->destroy(p);
}

static void no_server(const char *dir)
{
	struct vmsg_platform *p;
	uint32_t ref, port;
	char path[300];
	snprintf(path, sizeof path, "%s/nobody", dir);
	ASSERT_EQ(vmsg_host_platform_new(&p, path, false), 0);
	ASSERT_EQ(p->ops->lookup(p, &ref, &port, 0), -ENOENT);
	uint64_t t0 = ht_now_ms();
	ASSERT_EQ(p->ops->lookup(p, &ref, &port, 200), -ENOENT);
	ASSERT_GE(ht_now_ms() - t0, 199); /* it did wait for a server */
	p->ops->destroy(p);
}

/* A server killed by SIGKILL leaves its socket file behind. */
static void stale_socket(const char *path)
{
	int go[2];
	ASSERT_EQ(pipe(go), 0);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		void *page;
		close(go[0]);
		struct vmsg_platform *p = make_server(path, &page);
		if (!p)
			_exit(1);
		(void)!write(go[1], "k", 1);
		for (;;)
			pause();
	}
	close(go[1]);
	char c;
	ASSERT_EQ(read(go[0], &c, 1), 1);
	close(go[0]);
	ht_kill9(pid);
	struct stat st;
	ASSERT_EQ(lstat(path, &st), 0);
	ASSERT_TRUE(S_ISSOCK(st.st_mode));

	/* A client sees no server there. */
	struct vmsg_platform *p;
	uint32_t ref, port;
	ASSERT_EQ(vmsg_host_platform_new(&p, path, false), 0);
	ASSERT_EQ(p->ops->lookup(p, &ref, &port, 0), -ENOENT);
	p->ops->destroy(p);
}

/* A hand-made client that takes the server's handshake first and only
 * then says its hello (later than an honest client, which sends it with
 * its connect: the server has given up looking for it and sent its
 * handshake). Returns the connected socket. */
static int late_hello(struct vmsg_platform *srv, const char *path, int evfd,
		      uint32_t version)
{
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_GE(s, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	ASSERT_EQ(connect(s, (struct sockaddr *)&sa, sizeof sa), 0);
	uint64_t end = ht_now_ms() + 20000;
	while (!ht_readable(s, 0)) {
		ASSERT_LT(ht_now_ms(), end);
		ASSERT_GE(srv->ops->wait(srv, 20), 0);
	}
	struct host_hello_srv hs;
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 2)];
	} u;
	struct iovec iov = {.iov_base = &hs, .iov_len = sizeof hs};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
			   .msg_control = u.b, .msg_controllen = sizeof u.b};
	ASSERT_EQ(recvmsg(s, &m, MSG_CMSG_CLOEXEC), (ssize_t)sizeof hs);
	ASSERT_EQ(hs.magic, HOST_MAGIC_SRV);
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	ASSERT_TRUE(c != NULL && c->cmsg_type == SCM_RIGHTS);
	int got[2];
	memcpy(got, CMSG_DATA(c), sizeof got);
	close(got[0]);
	close(got[1]);

	struct host_hello_cli hc = {HOST_MAGIC_CLI, version};
	iov.iov_base = &hc;
	iov.iov_len = sizeof hc;
	m.msg_controllen = CMSG_SPACE(sizeof(int));
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &evfd, sizeof evfd);
	ASSERT_EQ(sendmsg(s, &m, MSG_NOSIGNAL), (ssize_t)sizeof hc);
	return s;
}

/* A bad hello: the server must drop the client (the socket reads EOF) and
 * keep its slot free for a real client. */
static void bad_hello(struct vmsg_platform *srv, const char *path,
		      int evfd, uint32_t version)
{
	int s = late_hello(srv, path, evfd, version);
	uint64_t end = ht_now_ms() + 20000;
	char ch;
	while (!ht_readable(s, 0)) {
		ASSERT_LT(ht_now_ms(), end);
		ASSERT_GE(srv->ops->wait(srv, 20), 0);
	}
	ASSERT_EQ(read(s, &ch, 1), 0);
	close(s);
}

int main(void)
{
	char dir[256], path[300], file[300];
	ht_mkdtemp(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/sock", dir);
	int fds0 = vmsg_test_count_fds();

	bad_args(dir);
	no_server(dir);
	stale_socket(path);

	/* A new server replaces the stale file. */
	void *page, *page_b;
	struct vmsg_platform *a = make_server(path, &page);
	ASSERT_TRUE(a != NULL);
	struct stat st_a, st;
	ASSERT_EQ(lstat(path, &st_a), 0);

	/* A second live server is refused and leaves the first's socket. */
	struct vmsg_platform *b = make_server(path, &page_b);
	ASSERT_TRUE(b == NULL);
	ASSERT_EQ(errno, EADDRINUSE);
	ASSERT_EQ(lstat(path, &st), 0);
	ASSERT_EQ(st.st_ino, st_a.st_ino);

	/* A path held by something that is not a socket is never removed. */
	snprintf(file, sizeof file, "%s/file", dir);
	int fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_TRUE(make_server(file, &page_b) == NULL);
	ASSERT_EQ(errno, EADDRINUSE);
	ASSERT_EQ(lstat(file, &st), 0);
	ASSERT_TRUE(S_ISREG(st.st_mode));
	unlink(file);

	/* Bad hellos: a pipe for an eventfd, version 1 (whose client waits
	 * for the server's handshake before it says anything). */
	int pp[2];
	ASSERT_EQ(pipe(pp), 0);
	bad_hello(a, path, pp[1], HOST_VERSION);
	close(pp[0]);
	close(pp[1]);
	int ev = eventfd(0, EFD_CLOEXEC);
	ASSERT_GE(ev, 0);
	bad_hello(a, path, ev, 1);
	close(ev);
	ASSERT_EQ(ht_load8(page, 20), 0); /* nobody was admitted */

	/* The first client gets in (the second server's probe connection
	 * and the bad hellos above, all gone before a valid hello, did not
	 * take the slot). The server's platform admits it on its hello: its
	 * live byte goes from WAITING to ADMITTED before it maps anything. */
	ht_store8(page, 20, 2); /* WAITING, as lib/chan's server writes it */
	int up[2], hold[2];
	ASSERT_EQ(pipe(up), 0);
	ASSERT_EQ(pipe(hold), 0);
	pid_t c1 = fork();
	ASSERT_GE(c1, 0);
	if (c1 == 0) {
		struct vmsg_platform *p;
		uint32_t ref, port;
		void *m;
		close(up[0]);
		close(hold[1]);
		if (vmsg_host_platform_new(&p, path, false) < 0 ||
		    p->ops->lookup(p, &ref, &port, 20000) < 0 ||
		    p->ops->port_bind(p, port) < 0)
			_exit(1);
		(void)!write(up[1], "k", 1);
		/* Our live byte is where the protocol says, nowhere else. */
		if (p->ops->map(p, 1, &ref, &m, 21) != -EINVAL ||
		    p->ops->map(p, 1, &ref, &m, 20) < 0)
			_exit(1);
		char ch;
		(void)!read(hold[0], &ch, 1); /* until the parent lets go */
		p->ops->unmap(p, m, 1);
		p->ops->destroy(p);
		_exit(0);
	}
	close(up[1]);
	close(hold[0]);
	uint64_t end = ht_now_ms() + 20000;
	while (!ht_readable(up[0], 0)) {
		ASSERT_LT(ht_now_ms(), end);
		ASSERT_GE(a->ops->wait(a, 20), 0);
	}
	/* Nobody but the server's platform writes it: the client never
	 * stores its live byte here. */
	ht_wait_u8(a, page, 20, VMSG_LIVE_ADMITTED);

	/* A second client is turned away while the first is connected. */
	pid_t c2 = fork();
	ASSERT_GE(c2, 0);
	if (c2 == 0) {
		struct vmsg_platform *p;
		uint32_t ref, port;
		if (vmsg_host_platform_new(&p, path, false) < 0)
			_exit(1);
		int r = p->ops->lookup(p, &ref, &port, 20000);
		p->ops->destroy(p);
		_exit(r == -EBUSY ? 0 : 2);
	}
	int status;
	end = ht_now_ms() + 20000;
	while (waitpid(c2, &status, WNOHANG) == 0) {
		ASSERT_LT(ht_now_ms(), end);
		ASSERT_GE(a->ops->wait(a, 20), 0);
	}
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);

	/* The first client leaves; the server hears of it. */
	close(hold[1]);
	close(up[0]);
	ht_reap_ok(c1);
	ht_wait_u8(a, page, 20, 0);

	a->ops->unmap(a, page, 1);
	a->ops->destroy(a);
	ASSERT_EQ(lstat(path, &st), -1); /* destroy unpublished */

	/* A valid hello that comes late is read at the socket's event and
	 * admits its client then; its hang-up clears the live byte. */
	a = make_server(path, &page);
	ASSERT_TRUE(a != NULL);
	ht_store8(page, 20, 2);
	ev = eventfd(0, EFD_CLOEXEC);
	ASSERT_GE(ev, 0);
	int late = late_hello(a, path, ev, HOST_VERSION);
	ht_wait_u8(a, page, 20, VMSG_LIVE_ADMITTED);
	close(late);
	close(ev);
	ht_wait_u8(a, page, 20, 0);
	a->ops->unmap(a, page, 1);
	a->ops->destroy(a);
	ASSERT_EQ(vmsg_test_count_fds(), fds0);
	ht_rmdir(dir);
	return 0;
}
