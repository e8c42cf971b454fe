/* host_waitset_spin: a wait set spins for its channels' spin budget before
 * it sleeps (vmsg/waitset.h).
 *   spin   with a budget longer than the test, a message the peer sends
 *          while the set waits is reported, and the server's end never
 *          slept (its `sleeps` counter did not move);
 *   sleep  the same with no budget: the wait sleeps (the counter moves),
 *          which shows the counter sees a wait set's sleeps at all;
 *   early  with the budget, a message sent before the wait begins (its
 *          kick pending) is reported at once, not after the budget: the
 *          spin takes what is pending before it watches the rings
 *          (the budget set here with vmsg_chan_set_spin()).
 *   race   a spinning peer echoes each message at once, so its reply often
 *          lands while the set begins its wait (after the caller looked,
 *          before the spin's first counts): no wait of 500 rounds may last
 *          half the budget (2 s), where the set used to wait it out (it
 *          then failed in two runs of three on a quiet 2-CPU machine).
 * Nothing here depends on timing but the `early` and `race` bounds, each
 * the budget or half of it against answers that take microseconds. */
#include "host_test_util.h"

#include <poll.h>
#include <stdlib.h>

#include <vmsg/waitset.h>

#define BUDGET_NS (30ull * 1000 * 1000 * 1000)
#define T 20000
#define RACE_BUDGET_NS (2ull * 1000 * 1000 * 1000)
#define RACE_ROUNDS 500

/* The peer: connect, wait for the test's word on `go`, then `delay_ms`,
 * send "ping", wait for "bye". */
static void peer(const char *path, int go, int delay_ms)
{
	vmsg_chan *c;
	char buf[8];
	uint16_t type;
	ASSERT_EQ(vmsg_host_connect(&c, path, NULL, T), 0);
	ASSERT_EQ(read(go, buf, 1), 1);
	if (delay_ms)
		usleep((useconds_t)delay_ms * 1000);
	ASSERT_EQ(vmsg_chan_send(c, 1, "ping", 4, 0, T), 4);
	ASSERT_EQ(vmsg_chan_recv(c, &type, buf, sizeof buf, T), 3);
	vmsg_chan_close(c);
}

/* One round; returns how often the server's end slept in the set's wait
 * and how long the wait took (ms). */
static uint64_t round_of(const char *dir, const char *name, uint64_t spin_ns,
			 int delay_ms, uint64_t *took_ms)
{
	char path[300], buf[8];
	uint16_t type;
	struct vmsg_chan_opts o;
	vmsg_chan *c;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	vmsg_chan_opts_init(&o);
	/* The budget through the options, or (early) set afterwards as a
	 * brokered channel's user would, vmsg_chan_set_spin(). */
	o.spin_ns = delay_ms ? spin_ns : 0;
	ASSERT_EQ(vmsg_host_serve(&c, path, &o), 0);
	if (!delay_ms)
		ASSERT_EQ(vmsg_chan_set_spin(c, spin_ns), 0);
	int go[2];
	ASSERT_EQ(pipe(go), 0);
	pid_t kid = fork();
	ASSERT_GE(kid, 0);
	if (kid == 0) {
		close(go[1]);
		peer(path, go[0], delay_ms);
		_exit(0);
	}
	close(go[0]);
	ASSERT_EQ(vmsg_chan_accept(c, T), 0);
	/* Nothing yet, and the peer is asked to kick when it sends: what a
	 * caller of a wait set does before it waits. */
	ASSERT_EQ(vmsg_chan_recv(c, &type, buf, sizeof buf, 0), -EAGAIN);
	ASSERT_EQ(write(go[1], "g", 1), 1);
	close(go[1]);
	if (delay_ms == 0) {
		/* The message is there before the wait, its kick pending:
		 * the channel's fd says so without taking the event. */
		struct pollfd pf = {.fd = vmsg_chan_fd(c), .events = POLLIN};
		ASSERT_EQ(poll(&pf, 1, T), 1);
	}
	struct vmsg_waitset ws;
	struct vmsg_waitset_event ev;
	struct vmsg_chan_stats s0, s1;
	vmsg_waitset_init(&ws);
	ASSERT_EQ(vmsg_waitset_add(&ws, c, NULL), 0);
	ASSERT_EQ(vmsg_chan_stats(c, &s0), 0);
	uint64_t t0 = ht_now_ms();
	ASSERT_EQ(vmsg_waitset_wait(&ws, &ev, 1, T), 1);
	*took_ms = ht_now_ms() - t0;
	ASSERT_EQ(vmsg_chan_stats(c, &s1), 0);
	ASSERT_TRUE(ev.chan == c);
	ASSERT_EQ(vmsg_chan_recv(c, &type, buf, sizeof buf, T), 4);
	ASSERT_TRUE(memcmp(buf, "ping", 4) == 0);
	ASSERT_EQ(vmsg_chan_send(c, 2, "bye", 3, 0, T), 3);
	ht_reap_ok(kid);
	ASSERT_EQ(vmsg_waitset_remove(&ws, c), 0);
	vmsg_chan_close(c);
	return s1.sleeps - s0.sleeps;
}

/* race: the peer echoes 500 messages at once, spinning between them. */
static void echo_peer(const char *path)
{
	struct vmsg_chan_opts o;
	vmsg_chan *c;
	char buf[8];
	uint16_t type;
	vmsg_chan_opts_init(&o);
	o.spin_ns = RACE_BUDGET_NS;
	ASSERT_EQ(vmsg_host_connect(&c, path, &o, T), 0);
	for (int i = 0; i < RACE_ROUNDS; i++) {
		int n = vmsg_chan_recv(c, &type, buf, sizeof buf, T);
		ASSERT_EQ(n, 4);
		ASSERT_EQ(vmsg_chan_send(c, 1, buf, 4, 0, T), 4);
	}
	vmsg_chan_close(c);
}

static void test_race(const char *dir)
{
	char path[300], buf[8];
	uint16_t type;
	struct vmsg_chan_opts o;
	vmsg_chan *c;
	snprintf(path, sizeof path, "%s/race", dir);
	vmsg_chan_opts_init(&o);
	o.spin_ns = RACE_BUDGET_NS;
	ASSERT_EQ(vmsg_host_serve(&c, path, &o), 0);
	pid_t kid = fork();
	ASSERT_GE(kid, 0);
	if (kid == 0) {
		echo_peer(path);
		_exit(0);
	}
	ASSERT_EQ(vmsg_chan_accept(c, T), 0);
	struct vmsg_waitset ws;
	struct vmsg_waitset_event ev;
	vmsg_waitset_init(&ws);
	ASSERT_EQ(vmsg_waitset_add(&ws, c, NULL), 0);
	uint64_t longest = 0, waits = 0;
	for (int i = 0; i < RACE_ROUNDS; i++) {
		ASSERT_EQ(vmsg_chan_send(c, 1, &i, 4, 0, T), 4);
		/* As a wait set's caller: look (asking for a kick), then
		 * wait if nothing was there. */
		int n;
		while ((n = vmsg_chan_recv(c, &type, buf, sizeof buf, 0)) ==
		       -EAGAIN) {
			uint64_t t0 = ht_now_ms();
			ASSERT_EQ(vmsg_waitset_wait(&ws, &ev, 1, T), 1);
			uint64_t took = ht_now_ms() - t0;
			/* Not the budget waited out. */
			ASSERT_TRUE(took < RACE_BUDGET_NS / 2000000u);
			longest = took > longest ? took : longest;
			waits++;
		}
		ASSERT_EQ(n, 4);
		ASSERT_TRUE(memcmp(buf, &i, 4) == 0);
	}
	printf("race: %llu waits, the longest %llu ms\n",
	       (unsigned long long)waits, (unsigned long long)longest);
	ht_reap_ok(kid);
	ASSERT_EQ(vmsg_waitset_remove(&ws, c), 0);
	vmsg_chan_close(c);
}

int main(void)
{
	char dir[256];
	uint64_t took;
	alarm(120);
	ht_mkdtemp(dir, sizeof dir);

	uint64_t slept = round_of(dir, "spin", BUDGET_NS, 100, &took);
	printf("spin: slept %llu times, %llu ms\n", (unsigned long long)slept,
	       (unsigned long long)took);
	ASSERT_EQ(slept, 0);

	slept = round_of(dir, "sleep", 0, 100, &took);
	printf("sleep: slept %llu times, %llu ms\n", (unsigned long long)slept,
	       (unsigned long long)took);
	ASSERT_GE(slept, 1);

	slept = round_of(dir, "early", BUDGET_NS, 0, &took);
	printf("early: slept %llu times, %llu ms\n", (unsigned long long)slept,
	       (unsigned long long)took);
	ASSERT_TRUE(took < 10000); /* not the 30 s budget */
	ASSERT_EQ(slept, 0);       /* taken while spinning: the budget set */

	test_race(dir);

	ht_rmdir(dir);
	printf("host_waitset_spin: ok\n");
	return 0;
}
