/* blk_app_timeout: the storage appliances' limit on a silent lower disk
 * (timeout=SEC, vmsg-overlay --timeout SEC; examples/blk-common/
 * blk_lower.c), their Linux builds on the host backend (host=DIR), with
 * lower disks that are RAM disks of block_test_util.h in threads here and
 * a lib/block client as their consumer.
 *
 * - A base that connects, answers INFO, then answers nothing: with
 *   timeout=1 the consumer's reads waiting on the overlay all end (the
 *   one the overlay was serving with -EIO, the rest with -EPIPE when the
 *   overlay goes, as when its base dies) between 1 s and 1 s + MARGIN_MS
 *   after they were sent, a later request fails at once, and the overlay
 *   exits 1 saying why. Both overlays: overlay-appliance (the unikernel's
 *   source) and vmsg-overlay. Without the limit the reads wait for ever
 *   (the watchdog, BA_WATCHDOG_MS, fails the test).
 * - The same silence on one leg of the mirror: that leg is dropped (the
 *   console says it answered nothing for 1 s), the consumer's writes and
 *   reads all succeed from the other leg, the reads bring back what was
 *   written, and the surviving leg's disk holds every acknowledged write.
 * - A slow lower disk that answers one request every 400 ms while twelve
 *   wait (4.8 s in all, more than timeout=2): never cut off, on the
 *   overlay's base or on a mirror leg; every request succeeds with the
 *   right data, and the mirror keeps both legs. */
#define _GNU_SOURCE
#include <errno.h>

#include "block/blk_app_util.h"

#define DISK (1u << 20)
#define BLK 4096u
#define N 12           /* requests the consumer keeps waiting at once */
#define MARGIN_MS 15000 /* a loaded 2-core machine's worst, generously */

static char dir[64];

/* The host backend's socket of xen:0:PORT as the SDK's host=DIR names it
 * (guest/linux/sdk.c: the xenstore path, slashes made underscores). */
static void sock_of(char *buf, size_t cap, const char *port)
{
	snprintf(buf, cap, "%s/local_domain_0_data_vchan_0_%s", dir, port);
}

static uint8_t pat(unsigned seq, size_t i)
{
	return (uint8_t)(seq * 53u + i * 7u + (i >> 9) + 1u);
}

static void submit(struct bt_client *b, uint16_t op, unsigned i, void *buf)
{
	struct vmsg_blk_io io = {
		.op = op, .length = BLK, .offset = (uint64_t)i * 3u * BLK,
		.buf = buf, .user = i,
	};
	ASSERT_EQ(vmsg_blk_client_submit(b->cl, &io, 10000), 0);
}

/* A silent base under an overlay (argv: the appliance, its base at
 * base_path, served at serve_path). */
static void overlay_silent(char *const argv[], const char *base_path,
			   const char *serve_path, const char *gone_msg)
{
	char log[128];
	snprintf(log, sizeof log, "%s/overlay-silent.log", dir);
	struct bt_disk d;
	bt_disk_start(&d, base_path, DISK, 0);
	d.silent = true; /* read by its thread only after a request comes */
	pid_t pid = vmsg_test_spawn_logged(argv, log);
	struct bt_client b;
	ba_consumer(&b, serve_path, pid, log);

	static uint8_t buf[N][BLK];
	int32_t st[4];
	uint64_t t0 = ht_now_ms();
	for (unsigned i = 0; i < 4; i++)
		submit(&b, VMSG_BLK_OP_READ, i, buf[i]);
	ba_reap_all(&b, 4, st, log);
	uint64_t ms = ht_now_ms() - t0;
	unsigned eio = 0;
	for (unsigned i = 0; i < 4; i++) {
		ASSERT_TRUE(st[i] == -EIO || st[i] == -EPIPE);
		eio += st[i] == -EIO;
	}
	ASSERT_EQ(eio, 1u);         /* the read the overlay was serving */
	ASSERT_GE(ms, 1000u);       /* not before the limit */
	ASSERT_LE(ms, 1000u + MARGIN_MS);
	/* Later: at once. */
	uint64_t t1 = ht_now_ms();
	struct vmsg_blk_io io = {.op = VMSG_BLK_OP_READ, .length = BLK,
				 .buf = buf[0]};
	int r = vmsg_blk_client_submit(b.cl, &io, 10000);
	int32_t later;
	if (r == 0)
		ba_reap_all(&b, 1, &later, log);
	else
		later = r;
	ASSERT_TRUE(later == -EIO || later == -EPIPE);
	ASSERT_LE(ht_now_ms() - t1, 1000u);
	ASSERT_EQ(ba_exit_status(pid, log), 1);
	if (!ba_log_has(log, gone_msg)) {
		vmsg_test_show_log(log);
		VMSG_TEST_FAIL("no '%s' in the log", gone_msg);
	}
	bt_close(&b);
	bt_disk_stop(&d);
	ASSERT_EQ(d.served, 0u);
	printf("%s, silent base: the reads ended after %llu ms (timeout 1 s; "
	       "one -EIO, the rest -EPIPE), a later one at once, exit 1\n",
	       argv[0], (unsigned long long)ms);
}

/* A slow base: N reads kept waiting, one answered every 400 ms. */
static void overlay_slow(const char *prog)
{
	char base[128], serve[128], log[128], host[80];
	sock_of(base, sizeof base, "sbase");
	sock_of(serve, sizeof serve, "sovl");
	snprintf(log, sizeof log, "%s/overlay-slow.log", dir);
	snprintf(host, sizeof host, "host=%s", dir);
	struct bt_disk d;
	bt_disk_start(&d, base, DISK, 0);
	for (size_t i = 0; i < DISK; i++)
		d.data[i] = pat(0, i); /* before the overlay connects */
	d.delay_ms = 400;
	char *argv[] = {(char *)prog, "base=xen:0:sbase", "serve=xen:0:sovl",
			host, "timeout=2", "clients=1", NULL};
	pid_t pid = vmsg_test_spawn_logged(argv, log);
	struct bt_client b;
	ba_consumer(&b, serve, pid, log);
	static uint8_t buf[N][BLK];
	int32_t st[N];
	uint64_t t0 = ht_now_ms();
	for (unsigned i = 0; i < N; i++)
		submit(&b, VMSG_BLK_OP_READ, i, buf[i]);
	ba_reap_all(&b, N, st, log);
	uint64_t ms = ht_now_ms() - t0;
	for (unsigned i = 0; i < N; i++) {
		if (st[i] != 0)
			vmsg_test_show_log(log);
		ASSERT_EQ(st[i], 0);
		for (size_t j = 0; j < BLK; j++)
			ASSERT_EQ(buf[i][j], pat(0, (size_t)i * 3u * BLK + j));
	}
	ASSERT_GE(ms, 4000u); /* longer than the limit, in all */
	bt_close(&b);
	ASSERT_EQ(ba_exit_status(pid, log), 0);
	bt_disk_stop(&d);
	ASSERT_EQ(d.served, (uint64_t)N);
	printf("%s, slow base: %u reads, one answered per 400 ms, all good "
	       "in %llu ms under timeout=2\n", prog, N, (unsigned long long)ms);
}

/* A mirror over leg1 (a working RAM disk) and leg2 (silent or slow). */
static void mirror(const char *prog, bool silent)
{
	char la[128], lb[128], serve[128], log[128], host[80];
	sock_of(la, sizeof la, silent ? "la" : "sla");
	sock_of(lb, sizeof lb, silent ? "lb" : "slb");
	sock_of(serve, sizeof serve, silent ? "mir" : "smir");
	snprintf(log, sizeof log, "%s/mirror-%s.log", dir,
		 silent ? "silent" : "slow");
	snprintf(host, sizeof host, "host=%s", dir);
	struct bt_disk d1, d2;
	bt_disk_start(&d1, la, DISK, 0);
	bt_disk_start(&d2, lb, DISK, 0);
	if (silent)
		d2.silent = true;
	else
		d2.delay_ms = 400;
	char *argv[] = {(char *)prog,
			silent ? "leg1=xen:0:la" : "leg1=xen:0:sla",
			silent ? "leg2=xen:0:lb" : "leg2=xen:0:slb",
			silent ? "serve=xen:0:mir" : "serve=xen:0:smir", host,
			silent ? "timeout=1" : "timeout=2", "clients=1", NULL};
	pid_t pid = vmsg_test_spawn_logged(argv, log);
	struct bt_client b;
	ba_consumer(&b, serve, pid, log);

	static uint8_t wbuf[N][BLK], rbuf[N][BLK];
	int32_t st[N];
	for (unsigned i = 0; i < N; i++)
		for (size_t j = 0; j < BLK; j++)
			wbuf[i][j] = pat(i + 1, j);
	uint64_t t0 = ht_now_ms();
	for (unsigned i = 0; i < N; i++)
		submit(&b, VMSG_BLK_OP_WRITE, i, wbuf[i]);
	ba_reap_all(&b, N, st, log);
	uint64_t wms = ht_now_ms() - t0;
	for (unsigned i = 0; i < N; i++) {
		if (st[i] != 0)
			vmsg_test_show_log(log);
		ASSERT_EQ(st[i], 0);
	}
	for (unsigned i = 0; i < N; i++)
		submit(&b, VMSG_BLK_OP_READ, i, rbuf[i]);
	ba_reap_all(&b, N, st, log);
	uint64_t ms = ht_now_ms() - t0;
	for (unsigned i = 0; i < N; i++) {
		ASSERT_EQ(st[i], 0);
		ASSERT_MEM_EQ(rbuf[i], wbuf[i], BLK);
	}
	bt_close(&b);
	ASSERT_EQ(ba_exit_status(pid, log), 0);
	/* The legs' threads end with the mirror's channels. Every
	 * acknowledged write is on leg1, and on leg2 unless dropped. */
	pthread_join(d1.th, NULL);
	pthread_join(d2.th, NULL);
	for (unsigned i = 0; i < N; i++) {
		ASSERT_MEM_EQ(d1.data + (size_t)i * 3u * BLK, wbuf[i], BLK);
		if (!silent)
			ASSERT_MEM_EQ(d2.data + (size_t)i * 3u * BLK, wbuf[i],
				      BLK);
	}
	free(d1.data);
	free(d2.data);
	const char *want = silent
		? "leg2 xen:0:lb failed (it answered nothing for 1 s): dropped; "
		  "carrying on on the other leg"
		: "legs up: 2";
	if (!ba_log_has(log, want) || (!silent && ba_log_has(log, "failed"))) {
		vmsg_test_show_log(log);
		VMSG_TEST_FAIL("the mirror's log lacks '%s'", want);
	}
	if (silent) {
		ASSERT_EQ(d2.served, 0u);
		ASSERT_GE(wms, 1000u); /* the first write waited the limit */
		ASSERT_LE(wms, 1000u + MARGIN_MS);
		printf("%s, silent leg: dropped, %u writes acknowledged in %llu "
		       "ms (timeout 1 s), read back from the other leg, which "
		       "holds them\n", prog, N, (unsigned long long)wms);
	} else {
		ASSERT_GE(wms, 4000u); /* longer than the limit, in all */
		printf("%s, slow leg: %u writes and %u reads in %llu ms under "
		       "timeout=2, both legs kept\n", prog, N, N,
		       (unsigned long long)ms);
	}
}

int main(void)
{
	char base[128], serve[128], host[80];
	setvbuf(stdout, NULL, _IONBF, 0);
	ht_mkdtemp(dir, sizeof dir);
	snprintf(host, sizeof host, "host=%s", dir);

	sock_of(base, sizeof base, "base");
	sock_of(serve, sizeof serve, "ovl");
	char *sdk[] = {OVERLAY_APPLIANCE, "base=xen:0:base", "serve=xen:0:ovl",
		       host, "timeout=1", "clients=1", NULL};
	overlay_silent(sdk, base, serve,
		       "the base is gone (it answered nothing for timeout=)");
	sock_of(base, sizeof base, "hbase");
	sock_of(serve, sizeof serve, "hovl");
	char *lin[] = {VMSG_OVERLAY, "--base", base, "--listen", serve,
		       "--timeout", "1", "--clients", "1", NULL};
	overlay_silent(lin, base, serve,
		       "the base is gone (it answered nothing for --timeout)");
	overlay_slow(OVERLAY_APPLIANCE);
	mirror(MIRROR_APPLIANCE, true);
	mirror(MIRROR_APPLIANCE, false);
	ht_rmdir(dir);
	return 0;
}
