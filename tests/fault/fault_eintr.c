/* fault_eintr: every wait of the host backend interrupted, over and over,
 * by a signal whose handler was installed without SA_RESTART: each call
 * must complete as if no signal came (vmsg/chan.h: never -EINTR).
 *
 * Three threads of one process: a pinger sends SIGUSR1 with pthread_kill
 * to the server and the client thread every PING_US microseconds
 * (targeted, so that every blocked call of theirs is hit, not just the
 * main thread's). The client's connect starts before the server serves
 * (it waits, interrupted), the server waits in accept, then echoes from a
 * wait set (vmsg_waitset_wait interrupted) while the client sends MSGS
 * typed messages of 1 byte to four times the ring (send waits for space,
 * recv for the echo; the large ones fragmented) and checks every echo. A
 * quiet recv with a 300 ms timeout must end with -ETIMEDOUT after 300 ms
 * (the deadline kept across the interruptions, neither reset nor cut
 * short), and a wait set's 300 ms wait with 0. The handlers must have run
 * thousands of times. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vmsg/chan.h>
#include <vmsg/host.h>
#include <vmsg/waitset.h>

#include "vmsg_test.h"

#ifndef PING_US
#define PING_US 100
#endif
#define MSGS 2000
#define T 30000
#define MAXMSG (1 << 20)

static char path[300];
static atomic_uint hits;
static atomic_int stop;
static pthread_t srv_thread, cli_thread;
static unsigned char cbuf_out[MAXMSG], cbuf_in[MAXMSG], sbuf[MAXMSG];

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&hits, 1);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t msg_len(vmsg_chan *c, unsigned i)
{
	size_t ring = (size_t)vmsg_chan_max_frame(c);
	size_t max = (size_t)vmsg_chan_max_msg(c);
	size_t n;
	switch (i % 5) {
	case 0: n = 1 + i % 97; break;
	case 1: n = ring - 3; break;
	case 2: n = 2 * ring + i % 1000; break;
	case 3: n = 4 * ring + 1; break;
	default: n = 0; break;
	}
	if (n > max)
		n = max;
	return n > MAXMSG ? MAXMSG : n;
}

static void *pinger(void *arg)
{
	(void)arg;
	struct timespec ts = {0, PING_US * 1000};
	while (!atomic_load(&stop)) {
		pthread_kill(srv_thread, SIGUSR1);
		pthread_kill(cli_thread, SIGUSR1);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void *server(void *arg)
{
	(void)arg;
	vmsg_chan *c;
	usleep(50000); /* the client is waiting in connect by now */
	ASSERT_EQ(vmsg_host_serve(&c, path, NULL), 0);
	ASSERT_EQ(vmsg_chan_accept(c, T), 0);

	/* A quiet wait set's timeout holds under the signals. */
	struct vmsg_waitset ws;
	struct vmsg_waitset_event ev[1];
	vmsg_waitset_init(&ws);
	ASSERT_EQ(vmsg_waitset_add(&ws, c, NULL), 0);

	/* Drain to -EAGAIN (which asks the client for a kick), then wait. */
	unsigned echoed = 0;
	for (;;) {
		uint16_t type;
		int r;
		while ((r = vmsg_chan_recv(c, &type, sbuf, sizeof sbuf, 0)) >= 0) {
			ASSERT_EQ(vmsg_chan_send(c, type, sbuf, (size_t)r, 0, T), r);
			echoed++;
		}
		if (r == -EPIPE)
			break;
		if (r != -EAGAIN)
			VMSG_TEST_FAIL("server recv: %s", vmsg_strerror(r));
		uint64_t t0 = now_ms();
		/* Once all is echoed, the client times a quiet recv, and
		 * this wait is as quiet until its close comes. */
		int n = vmsg_waitset_wait(&ws, ev, 1, echoed == MSGS ? 300 : T);
		ASSERT_GE(n, 0);
		if (n == 0 && echoed != MSGS)
			VMSG_TEST_FAIL("the wait set timed out after %u echoes",
				       echoed);
		if (n == 0)
			ASSERT_GE(now_ms() - t0, 295);
	}
	ASSERT_EQ(echoed, MSGS);
	ASSERT_EQ(vmsg_waitset_remove(&ws, c), 0);
	vmsg_chan_close(c);
	return NULL;
}

static void *client(void *arg)
{
	(void)arg;
	vmsg_chan *c;
	ASSERT_EQ(vmsg_host_connect(&c, path, NULL, T), 0);
	for (unsigned i = 0; i < MSGS; i++) {
		size_t n = msg_len(c, i);
		for (size_t k = 0; k < n; k++)
			cbuf_out[k] = (unsigned char)(i * 13u + k * 7u);
		uint16_t type = 0;
		int r = vmsg_chan_send(c, (uint16_t)(0x100 + (i & 0xff)), cbuf_out, n, 0, T);
		if (r != (int)n)
			VMSG_TEST_FAIL("send %u: %s", i, vmsg_strerror(r));
		r = vmsg_chan_recv(c, &type, cbuf_in, sizeof cbuf_in, T);
		if (r != (int)n)
			VMSG_TEST_FAIL("recv %u: %d (%s), want %zu", i, r,
				       r < 0 ? vmsg_strerror(r) : "length", n);
		ASSERT_EQ(type, (uint16_t)(0x100 + (i & 0xff)));
		ASSERT_MEM_EQ(cbuf_in, cbuf_out, n);
	}
	uint64_t t0 = now_ms();
	ASSERT_EQ(vmsg_chan_recv(c, NULL, cbuf_in, sizeof cbuf_in, 300),
		  -ETIMEDOUT);
	uint64_t took = now_ms() - t0;
	ASSERT_GE(took, 295);
	ASSERT_LT(took, 5000);
	vmsg_chan_close(c);
	return NULL;
}

int main(void)
{
	char dir[] = "/tmp/vmsg-eintr.XXXXXX";
	const char *tmp = getenv("TMPDIR");
	char tdir[256];
	snprintf(tdir, sizeof tdir, "%s/vmsg-eintr.XXXXXX", tmp ? tmp : "/tmp");
	char *d = mkdtemp(tmp ? tdir : dir);
	ASSERT_TRUE(d != NULL);
	snprintf(path, sizeof path, "%s/sock", d);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: every blocking syscall gets EINTR */
	ASSERT_EQ(sigaction(SIGUSR1, &sa, NULL), 0);

	uint64_t t0 = now_ms();
	pthread_t ping;
	ASSERT_EQ(pthread_create(&cli_thread, NULL, client, NULL), 0);
	ASSERT_EQ(pthread_create(&srv_thread, NULL, server, NULL), 0);
	ASSERT_EQ(pthread_create(&ping, NULL, pinger, NULL), 0);
	ASSERT_EQ(pthread_join(cli_thread, NULL), 0);
	ASSERT_EQ(pthread_join(srv_thread, NULL), 0);
	atomic_store(&stop, 1);
	ASSERT_EQ(pthread_join(ping, NULL), 0);
	unsigned h = atomic_load(&hits);
	printf("fault_eintr: %u messages echoed in %llu ms under %u signals\n",
	       MSGS, (unsigned long long)(now_ms() - t0), h);
	ASSERT_GE(h, 2000);
	rmdir(d);
	return 0;
}
