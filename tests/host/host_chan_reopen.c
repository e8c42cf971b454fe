/* A persistent server: after its client closes, and after one is killed
 * with SIGKILL, vmsg_chan_reopen() lets the same channel serve a new client
 * at the same path; while a client is connected, reopen refuses. */
#include "host_test_util.h"

#include <vmsg/chan.h>

#define T 10000 /* ms: generous, never a speed assertion */

/* A client that says hello, waits for the echo, then closes or hangs. */
static void client(const char *path, const char *word, bool hang)
{
	vmsg_chan *c;
	char buf[64];
	uint16_t type;

	ASSERT_EQ(vmsg_host_connect(&c, path, NULL, T), 0);
	int n = (int)strlen(word);
	ASSERT_EQ(vmsg_chan_send(c, 0x100, word, (size_t)n, 0, T), n);
	ASSERT_EQ(vmsg_chan_recv(c, &type, buf, sizeof buf, T), n);
	ASSERT_MEM_EQ(buf, word, (size_t)n);
	if (hang)
		pause(); /* until the test kills us */
	vmsg_chan_close(c);
	_exit(0);
}

/* Serve one client: echo its one message, then see it go. */
static void serve_one(vmsg_chan *s, const char *word)
{
	char buf[64];
	uint16_t type;
	int n = (int)strlen(word);

	ASSERT_EQ(vmsg_chan_accept(s, T), 0);
	ASSERT_EQ(vmsg_chan_state(s), VMSG_CHAN_OPEN);
	ASSERT_EQ(vmsg_chan_recv(s, &type, buf, sizeof buf, T), n);
	ASSERT_MEM_EQ(buf, word, (size_t)n);
	ASSERT_EQ(vmsg_chan_send(s, type, buf, (size_t)n, 0, T), n);
}

int main(void)
{
	char dir[256], path[300];
	vmsg_chan *s;
	char buf[8];

	ht_mkdtemp(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/persistent.sock", dir);
	int fds = vmsg_test_count_fds();
	ASSERT_EQ(vmsg_host_serve(&s, path, NULL), 0);
	ASSERT_EQ(vmsg_chan_reopen(s), 0); /* already waiting: a no-op */

	/* 1: a client that closes in order. */
	pid_t pid = fork();
	if (pid == 0)
		client(path, "first", false);
	serve_one(s, "first");
	ASSERT_EQ(vmsg_chan_recv(s, NULL, buf, sizeof buf, T), -EPIPE);
	ht_reap_ok(pid);
	ASSERT_EQ(vmsg_chan_state(s), VMSG_CHAN_CLOSED);

	/* 2: reopen, a client that is killed while connected; reopen is
	 * refused while it lives. */
	ASSERT_EQ(vmsg_chan_reopen(s), 0);
	ASSERT_EQ(vmsg_chan_state(s), VMSG_CHAN_WAITING);
	pid = fork();
	if (pid == 0)
		client(path, "second", true);
	serve_one(s, "second");
	ASSERT_EQ(vmsg_chan_reopen(s), -EBUSY);
	ASSERT_EQ(kill(pid, SIGKILL), 0);
	ASSERT_EQ(vmsg_chan_recv(s, NULL, buf, sizeof buf, T), -EPIPE);
	ASSERT_EQ(waitpid(pid, NULL, 0), pid);

	/* 3: a third client after the death; the old one's leftovers are
	 * gone (its unread bytes, its eventfd, its live byte). */
	ASSERT_EQ(vmsg_chan_reopen(s), 0);
	pid = fork();
	if (pid == 0)
		client(path, "third", false);
	serve_one(s, "third");
	ASSERT_EQ(vmsg_chan_recv(s, NULL, buf, sizeof buf, T), -EPIPE);
	ht_reap_ok(pid);

	/* A client end cannot reopen. */
	ASSERT_EQ(vmsg_chan_reopen(NULL), -EINVAL);

	vmsg_chan_close(s);
	ASSERT_EQ(vmsg_test_count_fds(), fds);
	ht_rmdir(dir);
	puts("a persistent server took three clients in turn");
	return 0;
}
