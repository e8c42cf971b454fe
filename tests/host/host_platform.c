/* host_platform: the host backend's ops driven directly, server in the
 * parent and client in a forked child. Checks that shared pages are the
 * same memory on both sides (contiguous, in any ref order), that notify /
 * wait / ack / fd behave as platform.h says both ways, and that nothing
 * leaks. */
#include "host_test_util.h"

#include <sys/mman.h>

#define PG 4096u
#define CLI_OFF 20 /* the client's live byte */
#define SRV_OFF 21 /* the server's live byte */
#define STEP 64    /* a u32 in page 0 both sides use to take turns */

static uint8_t srv_pattern(uint32_t page, uint32_t j)
{
	return (uint8_t)(page * 7u + j * 13u + 1u);
}

static uint8_t cli_pattern(uint32_t j)
{
	return (uint8_t)(0xc0u ^ j);
}

static int client(const char *path)
{
	struct vmsg_platform *p;
	uint32_t ref, port;
	void *a0, *a1, *x;

	ASSERT_EQ(vmsg_host_platform_new(&p, path, false), 0);
	ASSERT_EQ(p->ops->map(p, 1, &ref, &x, -1), -EINVAL); /* lookup first */
	ASSERT_EQ(p->ops->lookup(p, &ref, &port, 20000), 0);
	ASSERT_EQ(ref, 0);
	ASSERT_NE(port, 0);
	ASSERT_EQ(p->ops->port_bind(p, port + 1), -EINVAL);
	ASSERT_EQ(p->ops->port_bind(p, port), 0);
	ASSERT_EQ(p->ops->map(p, 1, &ref, &a0, CLI_OFF), 0);
	ASSERT_EQ(ht_load8(a0, SRV_OFF), 1); /* written before publish */

	/* The memfd holds pages 0..4: ref 5 does not exist. */
	uint32_t bad[2] = {1, 5};
	ASSERT_EQ(p->ops->map(p, 2, bad, &x, -1), -EINVAL);

	uint32_t refs[4] = {1, 2, 3, 4};
	ASSERT_EQ(p->ops->map(p, 4, refs, &a1, -1), 0);
	for (uint32_t i = 0; i < 4; i++)
		for (uint32_t j = 0; j < PG; j++)
			ASSERT_EQ(((uint8_t *)a1)[i * PG + j],
				  srv_pattern(i + 1, j));

	/* Refs out of order and repeated still map page by page. */
	uint32_t mixed[3] = {4, 2, 2};
	ASSERT_EQ(p->ops->map(p, 3, mixed, &x, -1), 0);
	for (uint32_t i = 0; i < 3; i++)
		ASSERT_EQ(((uint8_t *)x)[i * PG + 100],
			  srv_pattern(mixed[i], 100));
	p->ops->unmap(p, x, 3);

	/* Our pattern in the second half of ref 3, then live, then turn. */
	for (uint32_t j = 0; j < PG / 2; j++)
		((uint8_t *)a1)[2 * PG + PG / 2 + j] = cli_pattern(j);
	ht_store8(a0, CLI_OFF, 1);
	ht_store32(a0, STEP, 1);
	ASSERT_EQ(p->ops->notify(p), 0);

	ht_wait_u32(p, a0, STEP, 2);
	ht_drain(p);
	ASSERT_EQ(p->ops->wait(p, 50), 0); /* nothing pending: timeout */
	int fd = p->ops->fd(p);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(ht_readable(fd, 0), 0);

	ht_store32(a0, STEP, 3);
	ASSERT_EQ(p->ops->notify(p), 0);

	/* The server's one kick for step 4 wakes us. */
	ASSERT_EQ(p->ops->wait(p, 20000), 1);
	ASSERT_EQ(ht_load32(a0, STEP), 4);

	p->ops->unmap(p, a1, 4);
	p->ops->unmap(p, a0, 1);
	p->ops->destroy(p);
	return 0;
}

int main(void)
{
	char dir[256], path[300];
	ht_mkdtemp(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/sock", dir);
	int fds0 = vmsg_test_count_fds();

	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(client(path));

	struct vmsg_platform *p;
	uint32_t port, port2, ref0, refs[4];
	void *a0, *a1;
	ASSERT_EQ(vmsg_host_platform_new(&p, path, true), 0);
	ASSERT_EQ(p->ops->port_alloc(p, &port), 0);
	ASSERT_NE(port, 0);
	ASSERT_EQ(p->ops->port_alloc(p, &port2), -EINVAL); /* one port */
	ASSERT_EQ(p->ops->share(p, 1, &a0, &ref0, SRV_OFF), 0);
	ASSERT_EQ(ref0, 0);
	ASSERT_EQ(p->ops->share(p, 4, &a1, refs, -1), 0);
	for (uint32_t i = 0; i < 4; i++)
		ASSERT_EQ(refs[i], i + 1);
	/* Shared pages come zeroed. */
	for (uint32_t j = 0; j < PG; j++)
		ASSERT_EQ(((uint8_t *)a0)[j], 0);
	for (uint32_t i = 0; i < 4; i++)
		for (uint32_t j = 0; j < PG; j++)
			((uint8_t *)a1)[i * PG + j] = srv_pattern(i + 1, j);
	ht_store8(a0, SRV_OFF, 1);
	ASSERT_EQ(p->ops->publish(p, 9, port), -EINVAL); /* no such ref */
	ASSERT_EQ(p->ops->publish(p, ref0, port), 0);
	ASSERT_EQ(p->ops->publish(p, ref0, port), -EINVAL); /* once */

	/* The client's pattern and live byte arrive. */
	ht_wait_u32(p, a0, STEP, 1);
	ASSERT_EQ(ht_load8(a0, CLI_OFF), 1);
	for (uint32_t j = 0; j < PG / 2; j++)
		ASSERT_EQ(((uint8_t *)a1)[2 * PG + PG / 2 + j], cli_pattern(j));

	/* Quiet: wait times out with 0, the fd does not poll readable. */
	ht_drain(p);
	ASSERT_EQ(p->ops->wait(p, 50), 0);
	int fd = p->ops->fd(p);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(ht_readable(fd, 0), 0);

	ht_store32(a0, STEP, 2);
	ASSERT_EQ(p->ops->notify(p), 0);

	/* The client's kick makes the fd readable; ack consumes it. */
	ASSERT_EQ(ht_readable(fd, 20000), 1);
	ASSERT_EQ(ht_load32(a0, STEP), 3);
	ASSERT_EQ(p->ops->ack(p), 1);
	ASSERT_EQ(p->ops->ack(p), 0);
	ASSERT_EQ(ht_readable(fd, 0), 0);

	ht_store32(a0, STEP, 4);
	ASSERT_EQ(p->ops->notify(p), 0);
	ht_reap_ok(pid);

	/* The client closed: its hang-up is an event and clears its byte. */
	ht_wait_u8(p, a0, CLI_OFF, 0);

	p->ops->unpublish(p);
	struct stat st;
	ASSERT_EQ(lstat(path, &st), -1); /* the socket file is gone */
	p->ops->unmap(p, a1, 4);
	p->ops->unmap(p, a0, 1);
	p->ops->destroy(p);
	ASSERT_EQ(vmsg_test_count_fds(), fds0);
	ht_rmdir(dir);
	return 0;
}
