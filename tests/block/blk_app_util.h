/* Helpers of the tests that run the block appliances as programs
 * (blk_app_timeout, blk_app_sigterm): start one with its output in a log,
 * wait for its exit, connect a lib/block consumer to it, reap its
 * answers; every wait bounded by BA_WATCHDOG_MS. */
#ifndef BLK_APP_UTIL_H
#define BLK_APP_UTIL_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "block/block_test_util.h"
#include "spawn_logged.h"

#define BA_WATCHDOG_MS 60000

static inline bool ba_log_has(const char *log, const char *what)
{
	static char buf[16384];
	FILE *f = fopen(log, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	buf[n] = 0;
	if (f)
		fclose(f);
	return strstr(buf, what) != NULL;
}

/* The appliance's wait status, waited for up to BA_WATCHDOG_MS. */
static inline int ba_wait_status(pid_t pid, const char *log)
{
	uint64_t end = ht_now_ms() + BA_WATCHDOG_MS;
	int st;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		ASSERT_GE(r, 0);
		if (r == pid)
			return st;
		if (ht_now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			vmsg_test_show_log(log);
			VMSG_TEST_FAIL("the appliance did not exit in %d ms",
				       BA_WATCHDOG_MS);
		}
		usleep(20000); /* a child's exit is not an event we can poll */
	}
}

/* Its exit status (it must have exited, not been killed). */
static inline int ba_exit_status(pid_t pid, const char *log)
{
	int st = ba_wait_status(pid, log);
	if (!WIFEXITED(st))
		vmsg_test_show_log(log);
	ASSERT_TRUE(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* The consumer: connect to the appliance at path (which comes up once
 * its lower disks are open), retried while the appliance runs. */
static inline void ba_consumer(struct bt_client *b, const char *path,
			       pid_t pid, const char *log)
{
	uint64_t end = ht_now_ms() + BA_WATCHDOG_MS;
	int r;
	while ((r = bt_connect(b, path, 32, 1u << 20)) < 0) {
		if (waitpid(pid, NULL, WNOHANG) == pid || ht_now_ms() > end) {
			vmsg_test_show_log(log);
			VMSG_TEST_FAIL("connect to %s: %s (the appliance %s)",
				       path, vmsg_strerror(r),
				       ht_now_ms() > end ? "never served"
							 : "exited");
		}
		usleep(20000);
	}
}

/* Reap n completions into st[user], bounded by the watchdog. */
static inline void ba_reap_all(struct bt_client *b, unsigned n, int32_t *st,
			       const char *log)
{
	uint64_t end = ht_now_ms() + BA_WATCHDOG_MS;
	for (unsigned got = 0; got < n;) {
		struct vmsg_blk_done d[16];
		int k = vmsg_blk_client_reap(b->cl, d, 16, 1000);
		ASSERT_GE(k, 0);
		for (int i = 0; i < k; i++)
			st[d[i].user] = d[i].status;
		got += (unsigned)k;
		if (got < n && ht_now_ms() > end) {
			vmsg_test_show_log(log);
			VMSG_TEST_FAIL("%u of %u requests still waiting after "
				       "%d ms", n - got, n, BA_WATCHDOG_MS);
		}
	}
}

#endif
