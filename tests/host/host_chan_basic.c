/* host_chan_basic: channels over the host backend, end to end, in two
 * processes. Round 1: the server accepts, messages go both ways, the
 * client sends two more and closes at once; the server receives all of
 * them and only then -EPIPE. Round 2: the server sends and closes at once;
 * the client receives everything, then -EPIPE. No fd leaks. */
#include "host_test_util.h"

#include <string.h>

#include <vmsg/chan.h>

#define T 20000 /* generous ms for every blocking call */

static void fill(char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(seed * 31u + i * 7u);
}

static void expect(vmsg_chan *c, uint16_t type, size_t len, unsigned seed)
{
	char want[3000], got[3000];
	uint16_t t = 0;
	fill(want, len, seed);
	ASSERT_EQ(vmsg_chan_recv(c, &t, got, sizeof got, T), (int)len);
	ASSERT_EQ(t, type);
	ASSERT_MEM_EQ(got, want, len);
}

static void put(vmsg_chan *c, uint16_t type, size_t len, unsigned seed)
{
	char buf[3000];
	fill(buf, len, seed);
	ASSERT_EQ(vmsg_chan_send(c, type, buf, len, 0, T), (int)len);
}

static int client1(const char *path)
{
	vmsg_chan *c;
	ASSERT_EQ(vmsg_host_connect(&c, path, NULL, T), 0);
	for (unsigned i = 0; i < 3; i++)
		expect(c, (uint16_t)(100 + i), 10 + i * 1000, i);
	for (unsigned i = 0; i < 3; i++)
		put(c, (uint16_t)(200 + i), 5 + i * 900, 10 + i);
	put(c, 300, 64, 20);
	put(c, 301, 0, 21);
	vmsg_chan_close(c); /* at once: the server must still get it all */
	return 0;
}

static int client2(const char *path)
{
	vmsg_chan *c;
	ASSERT_EQ(vmsg_host_connect(&c, path, NULL, T), 0);
	for (unsigned i = 0; i < 4; i++)
		expect(c, (uint16_t)(400 + i), 100 + i * 700, 30 + i);
	char b[16];
	ASSERT_EQ(vmsg_chan_recv(c, NULL, b, sizeof b, T), -EPIPE);
	ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_CLOSED);
	vmsg_chan_close(c);
	return 0;
}

int main(void)
{
	char dir[256], path[300];
	ht_mkdtemp(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/sock", dir);
	int fds0 = vmsg_test_count_fds();
	vmsg_chan *c;
	char b[16];

	/* Round 1: the client closes first. */
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(client1(path));
	ASSERT_EQ(vmsg_host_serve(&c, path, NULL), 0);
	ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_WAITING);
	ASSERT_GE(vmsg_chan_fd(c), 0);
	ASSERT_EQ(vmsg_chan_accept(c, T), 0);
	ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_OPEN);
	for (unsigned i = 0; i < 3; i++)
		put(c, (uint16_t)(100 + i), 10 + i * 1000, i);
	for (unsigned i = 0; i < 3; i++)
		expect(c, (uint16_t)(200 + i), 5 + i * 900, 10 + i);
	ht_reap_ok(pid); /* gone now: what it sent must still be there */
	expect(c, 300, 64, 20);
	expect(c, 301, 0, 21);
	ASSERT_EQ(vmsg_chan_recv(c, NULL, b, sizeof b, T), -EPIPE);
	ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_CLOSED);
	vmsg_chan_close(c);
	struct stat st;
	ASSERT_EQ(lstat(path, &st), -1); /* the socket file went with it */
	ASSERT_EQ(vmsg_test_count_fds(), fds0);

	/* Round 2: the server closes first. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(client2(path));
	ASSERT_EQ(vmsg_host_serve(&c, path, NULL), 0);
	ASSERT_EQ(vmsg_chan_accept(c, T), 0);
	for (unsigned i = 0; i < 4; i++)
		put(c, (uint16_t)(400 + i), 100 + i * 700, 30 + i);
	vmsg_chan_close(c);
	ht_reap_ok(pid);
	ASSERT_EQ(vmsg_test_count_fds(), fds0);

	ht_rmdir(dir);
	return 0;
}
