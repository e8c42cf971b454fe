/* blk_app_sigterm: SIGTERM ends the block appliances' Linux programs on
 * the host backend (vmsg-ramdisk, vmsg-overlay, and the SDK's
 * ramdisk-appliance, overlay-appliance, mirror-appliance with host=DIR)
 * in order: the requests their consumer had sent are answered, the
 * consumer then sees its channel close (lib/block: -EPIPE), the listen
 * socket's file is gone and the exit status is 0 (not 143, the default
 * action's death).
 *
 * - vmsg-ramdisk with no consumer: exit 0, its path gone.
 * - vmsg-ramdisk with 16 requests in its ring (8 writes, 8 reads of what
 *   they wrote) when SIGTERM comes: all 16 answered, status 0, the reads
 *   with the data written; then the close.
 * - vmsg-overlay over a base (a RAM disk thread here) that holds its
 *   reply: the consumer's read waits on the base, 8 more requests wait
 *   in the overlay's ring; SIGTERM, then the base answers: all 9 answered
 *   with status 0, then the close; the base's channel closed too.
 * - ramdisk-appliance, overlay-appliance (its base holding a read, as
 *   above) and mirror-appliance (over two RAM disk threads), each with 16
 *   requests in its ring: the same.
 * - Each of the five with a consumer that takes no replies: 32 reads of
 *   128 KiB (4 MiB of replies for a ring of 1 MiB or 256 KiB) sent,
 *   none reaped, SIGTERM: the appliance gives up on them after its grace
 *   (BLK_STOP_GRACE_MS, 5 s) and exits 0 within 15 s of the signal, its
 *   socket file gone; the consumer then takes the replies in its ring
 *   (fewer than 32), the others end with -EPIPE, as the channel does.
 * - vmsg-overlay waiting for a base that is not there yet: SIGTERM ends
 *   it with status 0 ("stopped before serving"), no socket file made. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>

#include "block/blk_app_util.h"

#define DISK (1u << 20)
#define BLK 4096u
#define NW 8 /* writes, then as many reads of them */
#define GRACE_MS 5000 /* the appliances' BLK_STOP_GRACE_MS */
#define NFILL 32      /* the reads of a consumer that takes no replies */
#define FILL_LEN (128u * 1024u)

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
			vmsg_test_show_log(log);
			VMSG_TEST_FAIL("the channel did not close");
		}
	}
	ASSERT_EQ(r, -EPIPE);
	struct vmsg_blk_io io = {.op = VMSG_BLK_OP_READ, .length = BLK,
				 .buf = d};
	ASSERT_EQ(vmsg_blk_client_submit(b->cl, &io, 1000), -EPIPE);
}

/* Exit status 0 after the signal, said so in the log (`said`), the path
 * gone. */
static void expect_stopped_as(pid_t pid, const char *log, const char *path,
			      const char *said)
{
	int st = ba_wait_status(pid, log);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		vmsg_test_show_log(log);
		VMSG_TEST_FAIL("after SIGTERM: %s %d, want exit status 0",
			       WIFSIGNALED(st) ? "killed by signal"
					       : "exit status",
			       WIFSIGNALED(st) ? WTERMSIG(st)
					       : WEXITSTATUS(st));
	}
	if (!ba_log_has(log, said)) {
		vmsg_test_show_log(log);
		VMSG_TEST_FAIL("no '%s' in the log", said);
	}
	struct stat sb;
	ASSERT_EQ(lstat(path, &sb), -1);
	ASSERT_EQ(errno, ENOENT);
}

static void expect_stopped(pid_t pid, const char *log, const char *path)
{
	expect_stopped_as(pid, log, path, "signal 15: stopped");
}

/* The SDK programs say it their way (blk_app.c). */
#define SDK_STOPPED "stop signal: stopped"

/* The host backend's socket of xen:0:PORT as the SDK's host=DIR names it
 * (guest/linux/sdk.c: the xenstore path, slashes made underscores). */
static void sock_of(char *buf, size_t cap, const char *port)
{
	snprintf(buf, cap, "%s/local_domain_0_data_vchan_0_%s", dir, port);
}

static void ramdisk_idle(void)
{
	char path[128], log[128];
	snprintf(path, sizeof path, "%s/rd-idle", dir);
	snprintf(log, sizeof log, "%s/rd-idle.log", dir);
	char *argv[] = {VMSG_RAMDISK, "--listen", path, "--size", "4", NULL};
	pid_t pid = vmsg_test_spawn_logged(argv, log);
	/* Serving once its socket is there (there is no event to wait on
	 * for another process's bind: look, bounded). */
	uint64_t end = ht_now_ms() + BA_WATCHDOG_MS;
	struct stat sb;
	while (lstat(path, &sb) < 0) {
		if (ht_now_ms() > end || waitpid(pid, NULL, WNOHANG) == pid) {
			vmsg_test_show_log(log);
			VMSG_TEST_FAIL("vmsg-ramdisk never served at %s", path);
		}
		usleep(10000);
	}
	ASSERT_EQ(kill(pid, SIGTERM), 0);
	expect_stopped(pid, log, path);
	printf("vmsg-ramdisk, no consumer: SIGTERM, exit 0, %s removed\n",
	       path);
}

/* 16 requests (writes, then reads of them) in the ring of the appliance
 * run by argv at path when SIGTERM comes: all answered, then the close,
 * exit 0 with `said` in the log, path gone. */
static void ring_busy(const char *name, char *const argv[], const char *path,
		      const char *log, const char *said)
{
	pid_t pid = vmsg_test_spawn_logged(argv, log);
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
			vmsg_test_show_log(log);
		ASSERT_EQ(st[i], 0);
	}
	for (unsigned i = 0; i < NW; i++)
		ASSERT_MEM_EQ(r[i], w[i], BLK);
	expect_close(&b, log);
	expect_stopped_as(pid, log, path, said);
	bt_close(&b);
	printf("%s, %u requests sent (%d answered) at SIGTERM: all "
	       "answered, then the close; exit 0, %s removed\n", name, 2 * NW,
	       got, path);
}

static void ramdisk_busy(void)
{
	char path[128], log[128];
	snprintf(path, sizeof path, "%s/rd", dir);
	snprintf(log, sizeof log, "%s/rd.log", dir);
	char *argv[] = {VMSG_RAMDISK, "--listen", path, "--size", "4", NULL};
	ring_busy("vmsg-ramdisk", argv, path, log, "signal 15: stopped");
}

/* A RAM disk thread at base whose replies wait for the test's word, with
 * pat(0, ...) on it. */
static void gated_base(struct bt_disk *bd, const char *base)
{
	bt_disk_start(bd, base, DISK, 0);
	for (size_t i = 0; i < DISK; i++)
		bd->data[i] = pat(0, i); /* before the overlay connects */
	bt_disk_gate(bd);
}

/* The overlay run by argv at path over bd (gated_base): a read waiting on
 * the base and 16 requests in the overlay's ring at SIGTERM. */
static void overlay_busy_run(const char *name, char *const argv[],
			     struct bt_disk *bd, const char *path,
			     const char *log, const char *said)
{
	pid_t pid = vmsg_test_spawn_logged(argv, log);
	struct bt_client b;
	ba_consumer(&b, path, pid, log);

	/* A read of block 0 (never written): it goes to the base, which
	 * holds its answer. */
	static uint8_t r0[BLK], w[NW][BLK], r[NW][BLK];
	int32_t st[1 + 2 * NW];
	submit(&b, VMSG_BLK_OP_READ, 0, 0, r0);
	struct vmsg_blk_done d[1];
	ASSERT_EQ(vmsg_blk_client_reap(b.cl, d, 1, 0), 0); /* flushed */
	struct pollfd p = {.fd = bd->seen[0], .events = POLLIN};
	ASSERT_EQ(poll(&p, 1, BA_WATCHDOG_MS), 1);
	char c;
	ASSERT_EQ(read(bd->seen[0], &c, 1), 1);
	/* Behind it, in the overlay's ring. */
	submit_writes_reads(&b, 1, w, r);
	ASSERT_EQ(vmsg_blk_client_reap(b.cl, d, 1, 0), 0);
	ASSERT_EQ(kill(pid, SIGTERM), 0);
	ASSERT_EQ(write(bd->gate[1], &c, 1), 1); /* the base answers */
	ba_reap_all(&b, 1 + 2 * NW, st, log);
	for (unsigned i = 0; i < 1 + 2 * NW; i++) {
		if (st[i] != 0)
			vmsg_test_show_log(log);
		ASSERT_EQ(st[i], 0);
	}
	for (size_t j = 0; j < BLK; j++)
		ASSERT_EQ(r0[j], pat(0, j));
	for (unsigned i = 0; i < NW; i++)
		ASSERT_MEM_EQ(r[i], w[i], BLK);
	expect_close(&b, log);
	expect_stopped_as(pid, log, path, said);
	bt_close(&b);
	/* The base's channel closed by the overlay: its thread ends. */
	bt_disk_stop(bd);
	ASSERT_EQ(bd->result, -EPIPE);
	ASSERT_EQ(bd->served, 1u);
	printf("%s, a read waiting on the base and %u requests in its ring "
	       "at SIGTERM: all answered, then the close; base closed, exit "
	       "0, %s removed\n", name, 2 * NW, path);
}

static void overlay_busy(void)
{
	char base[128], path[128], log[128];
	snprintf(base, sizeof base, "%s/base", dir);
	snprintf(path, sizeof path, "%s/ovl", dir);
	snprintf(log, sizeof log, "%s/ovl.log", dir);
	struct bt_disk bd;
	gated_base(&bd, base);
	char *argv[] = {VMSG_OVERLAY, "--base", base, "--listen", path, NULL};
	overlay_busy_run("vmsg-overlay", argv, &bd, path, log,
			 "signal 15: stopped");
}

/* A consumer of the appliance run by argv at path that sends NFILL reads
 * of FILL_LEN and takes no reply: SIGTERM ends the appliance, status 0,
 * within 3 * GRACE_MS; then the consumer finds fewer than NFILL replies
 * and the close. Returns the milliseconds from the signal to the exit. */
static uint64_t no_taker(const char *name, char *const argv[],
			 const char *path, const char *log)
{
	pid_t pid = vmsg_test_spawn_logged(argv, log);
	struct bt_client b;
	ba_consumer(&b, path, pid, log);
	static uint8_t buf[NFILL][FILL_LEN];
	for (unsigned i = 0; i < NFILL; i++) {
		struct vmsg_blk_io io = {
			.op = VMSG_BLK_OP_READ, .length = FILL_LEN,
			.offset = (uint64_t)(i % 8) * FILL_LEN, .buf = buf[i],
			.user = i,
		};
		ASSERT_EQ(vmsg_blk_client_submit(b.cl, &io, 10000), 0);
	}
	/* Published, and no reply taken (reap would take them). */
	ASSERT_EQ(vmsg_chan_flush(b.c), 0);
	uint64_t t0 = ht_now_ms();
	ASSERT_EQ(kill(pid, SIGTERM), 0);
	int st = ba_wait_status(pid, log);
	uint64_t ms = ht_now_ms() - t0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || ms > 3 * GRACE_MS) {
		vmsg_test_show_log(log);
		VMSG_TEST_FAIL("%s, replies not taken, after SIGTERM: %s %d "
			       "after %llu ms, want exit status 0 within %d ms",
			       name, WIFSIGNALED(st) ? "killed by signal"
						     : "exit status",
			       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
			       (unsigned long long)ms, 3 * GRACE_MS);
	}
	if (!ba_log_has(log, "not all taken within the grace")) {
		vmsg_test_show_log(log);
		VMSG_TEST_FAIL("%s: no 'not all taken within the grace' in "
			       "the log", name);
	}
	struct stat sb;
	ASSERT_EQ(lstat(path, &sb), -1);
	ASSERT_EQ(errno, ENOENT);
	/* The replies the ring holds, then the close: the rest complete
	 * with -EPIPE (lib/block), and the channel says -EPIPE. */
	unsigned got = 0, lost = 0;
	uint64_t end = ht_now_ms() + BA_WATCHDOG_MS;
	int r;
	for (;;) {
		struct vmsg_blk_done d[NFILL];
		r = vmsg_blk_client_reap(b.cl, d, NFILL, 1000);
		if (r < 0)
			break;
		for (int i = 0; i < r; i++) {
			if (d[i].status != 0)
				ASSERT_EQ(d[i].status, -EPIPE);
			*(d[i].status ? &lost : &got) += 1;
		}
		ASSERT_TRUE(ht_now_ms() < end);
	}
	ASSERT_EQ(r, -EPIPE);
	ASSERT_EQ(got + lost, NFILL);
	ASSERT_LT(got, NFILL);
	bt_close(&b);
	printf("%s, %u reads of %u KiB whose replies are not taken: exit 0 "
	       "%llu ms after SIGTERM (grace %d ms); the consumer finds %u "
	       "replies, then the close (%u lost); %s removed\n", name, NFILL,
	       FILL_LEN / 1024u, (unsigned long long)ms, GRACE_MS, got, lost,
	       path);
	return ms;
}

static void no_taker_host(void)
{
	char path[128], log[128], base[128];
	snprintf(path, sizeof path, "%s/rd-full", dir);
	snprintf(log, sizeof log, "%s/rd-full.log", dir);
	char *argv[] = {VMSG_RAMDISK, "--listen", path, "--size", "4", NULL};
	no_taker("vmsg-ramdisk", argv, path, log);

	snprintf(base, sizeof base, "%s/base-full", dir);
	snprintf(path, sizeof path, "%s/ovl-full", dir);
	snprintf(log, sizeof log, "%s/ovl-full.log", dir);
	struct bt_disk bd;
	bt_disk_start(&bd, base, DISK, 0);
	char *oargv[] = {VMSG_OVERLAY, "--base", base, "--listen", path, NULL};
	no_taker("vmsg-overlay", oargv, path, log);
	bt_disk_stop(&bd);
	ASSERT_EQ(bd.result, -EPIPE);
}

/* vmsg-overlay waiting for its base (not there): SIGTERM, exit 0. */
static void overlay_early(void)
{
	char base[128], path[128], log[128];
	snprintf(base, sizeof base, "%s/no-base", dir);
	snprintf(path, sizeof path, "%s/ovl-early", dir);
	snprintf(log, sizeof log, "%s/ovl-early.log", dir);
	char *argv[] = {VMSG_OVERLAY, "--base", base, "--listen", path, NULL};
	pid_t pid = vmsg_test_spawn_logged(argv, log);
	/* It says when it starts to wait (a line in its log: no event to
	 * wait on for that; look, bounded). */
	uint64_t end = ht_now_ms() + BA_WATCHDOG_MS;
	while (!ba_log_has(log, "not there yet")) {
		if (ht_now_ms() > end || waitpid(pid, NULL, WNOHANG) == pid) {
			vmsg_test_show_log(log);
			VMSG_TEST_FAIL("vmsg-overlay never waited for its base");
		}
		usleep(10000);
	}
	uint64_t t0 = ht_now_ms();
	ASSERT_EQ(kill(pid, SIGTERM), 0);
	expect_stopped_as(pid, log, path, "signal 15: stopped before serving");
	printf("vmsg-overlay waiting for its base: SIGTERM, exit 0 after %llu "
	       "ms, nothing served\n", (unsigned long long)(ht_now_ms() - t0));
}

#ifdef RAMDISK_APPLIANCE
/* The SDK's programs, on the host backend (host=DIR). */
static void sdk_busy(void)
{
	char host[96], path[128], log[128], base[128], la[128], lb[128];
	snprintf(host, sizeof host, "host=%s", dir);

	sock_of(path, sizeof path, "srd");
	snprintf(log, sizeof log, "%s/srd.log", dir);
	char *rargv[] = {RAMDISK_APPLIANCE, "serve=xen:0:srd", "size=4", host,
			 NULL};
	ring_busy("ramdisk-appliance", rargv, path, log, SDK_STOPPED);

	sock_of(base, sizeof base, "sbase");
	sock_of(path, sizeof path, "sovl");
	snprintf(log, sizeof log, "%s/sovl.log", dir);
	struct bt_disk bd;
	gated_base(&bd, base);
	char *oargv[] = {OVERLAY_APPLIANCE, "base=xen:0:sbase",
			 "serve=xen:0:sovl", host, NULL};
	overlay_busy_run("overlay-appliance", oargv, &bd, path, log,
			 SDK_STOPPED);

	sock_of(la, sizeof la, "sla");
	sock_of(lb, sizeof lb, "slb");
	sock_of(path, sizeof path, "smir");
	snprintf(log, sizeof log, "%s/smir.log", dir);
	struct bt_disk d1, d2;
	bt_disk_start(&d1, la, DISK, 0);
	bt_disk_start(&d2, lb, DISK, 0);
	char *margv[] = {MIRROR_APPLIANCE, "leg1=xen:0:sla", "leg2=xen:0:slb",
			 "serve=xen:0:smir", host, NULL};
	ring_busy("mirror-appliance", margv, path, log, SDK_STOPPED);
	/* Its legs' channels closed by the mirror: their threads end. */
	bt_disk_stop(&d1);
	bt_disk_stop(&d2);
	ASSERT_EQ(d1.result, -EPIPE);
	ASSERT_EQ(d2.result, -EPIPE);
}

static void sdk_no_taker(void)
{
	char host[96], path[128], log[128], base[128], la[128], lb[128];
	snprintf(host, sizeof host, "host=%s", dir);

	sock_of(path, sizeof path, "frd");
	snprintf(log, sizeof log, "%s/frd.log", dir);
	char *rargv[] = {RAMDISK_APPLIANCE, "serve=xen:0:frd", "size=4", host,
			 NULL};
	no_taker("ramdisk-appliance", rargv, path, log);

	sock_of(base, sizeof base, "fbase");
	sock_of(path, sizeof path, "fovl");
	snprintf(log, sizeof log, "%s/fovl.log", dir);
	struct bt_disk bd;
	bt_disk_start(&bd, base, DISK, 0);
	char *oargv[] = {OVERLAY_APPLIANCE, "base=xen:0:fbase",
			 "serve=xen:0:fovl", host, NULL};
	no_taker("overlay-appliance", oargv, path, log);
	bt_disk_stop(&bd);
	ASSERT_EQ(bd.result, -EPIPE);

	sock_of(la, sizeof la, "fla");
	sock_of(lb, sizeof lb, "flb");
	sock_of(path, sizeof path, "fmir");
	snprintf(log, sizeof log, "%s/fmir.log", dir);
	struct bt_disk d1, d2;
	bt_disk_start(&d1, la, DISK, 0);
	bt_disk_start(&d2, lb, DISK, 0);
	char *margv[] = {MIRROR_APPLIANCE, "leg1=xen:0:fla", "leg2=xen:0:flb",
			 "serve=xen:0:fmir", host, NULL};
	no_taker("mirror-appliance", margv, path, log);
	bt_disk_stop(&d1);
	bt_disk_stop(&d2);
}
#endif

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGPIPE, SIG_IGN);
	ht_mkdtemp(dir, sizeof dir);
	ramdisk_idle();
	ramdisk_busy();
	overlay_busy();
	overlay_early();
#ifdef RAMDISK_APPLIANCE
	sdk_busy();
#endif
	no_taker_host();
#ifdef RAMDISK_APPLIANCE
	sdk_no_taker();
#endif
	ht_rmdir(dir);
	return 0;
}
