/* blk_app_sigterm: SIGTERM ends the block appliances' Linux programs on
 * the host backend (vmsg-ramdisk, vmsg-overlay) in order: the requests
 * their consumer had sent are answered, the consumer then sees its
 * channel close (lib/block: -EPIPE), the listen socket's file is gone and
 * the exit status is 0 (not 143, the default action's death).
 *
 * - vmsg-ramdisk with no consumer: exit 0, its path gone.
 * - vmsg-ramdisk with 16 requests in its ring (8 writes, 8 reads of what
 *   they wrote) when SIGTERM comes: all 16 answered, status 0, the reads
 *   with the data written; then the close.
 * - vmsg-overlay over a base (a RAM disk thread here) that holds its
 *   reply: the consumer's read waits on the base, 8 more requests wait
 *   in the overlay's ring; SIGTERM, then the base answers: all 9 answered
 *   with status 0, then the close; the base's channel closed too. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>

#include "block/blk_app_util.h"

#define DISK (1u << 20)
#define BLK 4096u
#define NW 8 /* writes, then as many reads of them */

static char dir[64];

static uint8_t pat(unsigned seq, size_t i)
{
	return (uint8_t)(seq * 29u + i * 13u + (i >> 9) + 3u);
}

static void submit(struct bt_client *b, uint16_t op, unsigned user,
		   uint64_t off, void *buf)
{
	struct vmsg_blk_io io = {
		.op = op, .length = BLK, .offset = off, .buf = buf,
		.user = user,
	};
	ASSERT_EQ(vmsg_blk_client_submit(b->cl, &io, 10000), 0);
}

/* Submit NW writes (users first..first+NW-1) and NW reads of them (the
 * next NW), at block offsets 2 * (user - first) + 1. */
static void submit_writes_reads(struct bt_client *b, unsigned first,
				uint8_t (*w)[BLK], uint8_t (*r)[BLK])
{
	for (unsigned i = 0; i < NW; i++) {
		for (size_t j = 0; j < BLK; j++)
			w[i][j] = pat(i + 1, j);
		submit(b, VMSG_BLK_OP_WRITE, first + i,
		       (uint64_t)(2 * i + 1) * BLK, w[i]);
	}
	for (unsigned i = 0; i < NW; i++)
		submit(b, VMSG_BLK_OP_READ, first + NW + i,
		       (uint64_t)(2 * i + 1) * BLK, r[i]);
}

/* After the answers: the channel closes (reap says -EPIPE), in time. */
static void expect_close(struct bt_client *b, const char *log)
{
	uint64_t end = ht_now_ms() + BA_WATCHDOG_MS;
	struct vmsg_blk_done d[4];
	int r;
	while ((r = vmsg_blk_client_reap(b->cl, d, 4, 1000)) == 0) {
		if (ht_now_ms() > end) {
			ba_show_log(log);
			VMSG_TEST_FAIL("the channel did not close");
		}
	}
	ASSERT_EQ(r, -EPIPE);
	struct vmsg_blk_io io = {.op = VMSG_BLK_OP_READ, .length = BLK,
				 .buf = d};
	ASSERT_EQ(vmsg_blk_client_submit(b->cl, &io, 1000), -EPIPE);
}

/* Exit status 0 after the signal, said so in the log, the path gone. */
static void expect_stopped(pid_t pid, const char *log, const char *path)
{
	int st = ba_wait_status(pid, log);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		ba_show_log(log);
		VMSG_TEST_FAIL("after SIGTERM: %s %d, want exit status 0",
			       WIFSIGNALED(st) ? "killed by signal"
					       : "exit status",
			       WIFSIGNALED(st) ? WTERMSIG(st)
					       : WEXITSTATUS(st));
	}
	if (!ba_log_has(log, "signal 15: stopped")) {
		ba_show_log(log);
		VMSG_TEST_FAIL("no 'signal 15: stopped' in the log");
	}
	struct stat sb;
	ASSERT_EQ(lstat(path, &sb), -1);
	ASSERT_EQ(errno, ENOENT);
}

static void ramdisk_idle(void)
{
	char path[128], log[128];
	snprintf(path, sizeof path, "%s/rd-idle", dir);
	snprintf(log, sizeof log, "%s/rd-idle.log", dir);
	char *argv[] = {VMSG_RAMDISK, "--listen", path, "--size", "4", NULL};
	pid_t pid = ba_spawn(argv, log);
	/* Serving once its socket is there (there is no event to wait on
	 * for another process's bind: look, bounded). */
	uint64_t end = ht_now_ms() + BA_WATCHDOG_MS;
	struct stat sb;
	while (lstat(path, &sb) < 0) {
		if (ht_now_ms() > end || waitpid(pid, NULL, WNOHANG) == pid) {
			ba_show_log(log);
			VMSG_TEST_FAIL("vmsg-ramdisk never served at %s", path);
		}
		usleep(10000);
	}
	ASSERT_EQ(kill(pid, SIGTERM), 0);
	expect_stopped(pid, log, path);
	printf("vmsg-ramdisk, no consumer: SIGTERM, exit 0, %s removed\n",
	       path);
}

static void ramdisk_busy(void)
{
	char path[128], log[128];
	snprintf(path, sizeof path, "%s/rd", dir);
	snprintf(log, sizeof log, "%s/rd.log", dir);
	char *argv[] = {VMSG_RAMDISK, "--listen", path, "--size", "4", NULL};
	pid_t pid = ba_spawn(argv, log);
	struct bt_client b;
	ba_consumer(&b, path, pid, log);

	static uint8_t w[NW][BLK], r[NW][BLK];
	int32_t st[2 * NW];
	submit_writes_reads(&b, 0, w, r);
	/* Everything in the ring (flushed; none answered yet, or some). */
	struct vmsg_blk_done d[2 * NW];
	int got = vmsg_blk_client_reap(b.cl, d, 2 * NW, 0);
	ASSERT_GE(got, 0);
	for (int i = 0; i < got; i++)
		st[d[i].user] = d[i].status;
	ASSERT_EQ(kill(pid, SIGTERM), 0);
	/* Each answered or failed, never left waiting. */
	ba_reap_all(&b, 2 * NW - (unsigned)got, st, log);
	for (unsigned i = 0; i < 2 * NW; i++) {
		if (st[i] != 0)
			ba_show_log(log);
		ASSERT_EQ(st[i], 0);
	}
	for (unsigned i = 0; i < NW; i++)
		ASSERT_MEM_EQ(r[i], w[i], BLK);
	expect_close(&b, log);
	expect_stopped(pid, log, path);
	bt_close(&b);
	printf("vmsg-ramdisk, %u requests sent (%d answered) at SIGTERM: all "
	       "answered, then the close; exit 0, %s removed\n", 2 * NW, got,
	       path);
}

static void overlay_busy(void)
{
	char base[128], path[128], log[128];
	snprintf(base, sizeof base, "%s/base", dir);
	snprintf(path, sizeof path, "%s/ovl", dir);
	snprintf(log, sizeof log, "%s/ovl.log", dir);
	struct bt_disk bd;
	bt_disk_start(&bd, base, DISK, 0);
	for (size_t i = 0; i < DISK; i++)
		bd.data[i] = pat(0, i); /* before the overlay connects */
	bt_disk_gate(&bd);
	char *argv[] = {VMSG_OVERLAY, "--base", base, "--listen", path, NULL};
	pid_t pid = ba_spawn(argv, log);
	struct bt_client b;
	ba_consumer(&b, path, pid, log);

	/* A read of block 0 (never written): it goes to the base, which
	 * holds its answer. */
	static uint8_t r0[BLK], w[NW][BLK], r[NW][BLK];
	int32_t st[1 + 2 * NW];
	submit(&b, VMSG_BLK_OP_READ, 0, 0, r0);
	struct vmsg_blk_done d[1];
	ASSERT_EQ(vmsg_blk_client_reap(b.cl, d, 1, 0), 0); /* flushed */
	struct pollfd p = {.fd = bd.seen[0], .events = POLLIN};
	ASSERT_EQ(poll(&p, 1, BA_WATCHDOG_MS), 1);
	char c;
	ASSERT_EQ(read(bd.seen[0], &c, 1), 1);
	/* Behind it, in the overlay's ring. */
	submit_writes_reads(&b, 1, w, r);
	ASSERT_EQ(vmsg_blk_client_reap(b.cl, d, 1, 0), 0);
	ASSERT_EQ(kill(pid, SIGTERM), 0);
	ASSERT_EQ(write(bd.gate[1], &c, 1), 1); /* the base answers */
	ba_reap_all(&b, 1 + 2 * NW, st, log);
	for (unsigned i = 0; i < 1 + 2 * NW; i++) {
		if (st[i] != 0)
			ba_show_log(log);
		ASSERT_EQ(st[i], 0);
	}
	for (size_t j = 0; j < BLK; j++)
		ASSERT_EQ(r0[j], pat(0, j));
	for (unsigned i = 0; i < NW; i++)
		ASSERT_MEM_EQ(r[i], w[i], BLK);
	expect_close(&b, log);
	expect_stopped(pid, log, path);
	bt_close(&b);
	/* The base's channel closed by the overlay: its thread ends. */
	bt_disk_stop(&bd);
	ASSERT_EQ(bd.result, -EPIPE);
	ASSERT_EQ(bd.served, 1u);
	printf("vmsg-overlay, a read waiting on the base and %u requests in "
	       "its ring at SIGTERM: all answered, then the close; base "
	       "closed, exit 0, %s removed\n", 2 * NW, path);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGPIPE, SIG_IGN);
	ht_mkdtemp(dir, sizeof dir);
	ramdisk_idle();
	ramdisk_busy();
	overlay_busy();
	ht_rmdir(dir);
	return 0;
}
