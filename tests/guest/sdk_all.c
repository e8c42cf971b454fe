/* guest_sdk: one appliance that calls every function of the SDK
 * (vmsg/guest.h and vmsg/guest_xs.h), built for both targets: as a PVH
 * unikernel (sdk-all-uk.elf: the link itself is the check, ld refuses an
 * undefined symbol) and as a Linux program over vmsg_sdk_linux, which the
 * test runs on the simulator (tests/guest/sdk_sim.sh): the xenstore calls
 * on its own home, a transaction, permissions and a watch, the machine's
 * calls; "SDK ok" at the end. */
#include <vmsg/guest.h>
#include <vmsg/guest_xs.h>

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			guest_printf("SDK FAIL line %d: %s\n", __LINE__,       \
				     #cond);                                   \
			return 1;                                              \
		}                                                              \
	} while (0)

static int same(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

int app_main(const char *cmdline)
{
	char buf[256];
	CHECK(cmdline != 0);
	CHECK(guest_cmdline_get("word", buf, sizeof buf) == 5 &&
	      same(buf, "hello"));
	CHECK(guest_cmdline_get("absent", buf, sizeof buf) < 0);
	CHECK(guest_cmdline_get("word", buf, 3) < 0);
	uint16_t us = guest_domid();
	uint64_t t0 = guest_now_ns();
	guest_sleep_ms(20);
	CHECK(guest_now_ns() - t0 >= 20000000u);
	CHECK(guest_uptime_ns() > 0);
	struct guest_stats st;
	guest_get_stats(&st);
	CHECK(!guest_stop_requested());
	void *p = guest_alloc(10000);
	CHECK(p != 0 && ((const char *)p)[9999] == 0);
	guest_free(p, 10000);
	guest_puts("SDK machine calls done\n");

	/* xenstore: our home, relative paths. */
	CHECK(guest_xs_write(0, "data/sdk/a", "one", 3) == 0);
	CHECK(guest_xs_read(0, "data/sdk/a", buf, sizeof buf) == 3 &&
	      same(buf, "one"));
	CHECK(guest_xs_read(0, "data/sdk/a", buf, 3) < 0); /* too short */
	uint32_t tx;
	CHECK(guest_xs_txn_start(&tx) == 0);
	CHECK(guest_xs_write(tx, "data/sdk/b", "two", 3) == 0);
	CHECK(guest_xs_txn_end(tx, true) == 0);
	CHECK(guest_xs_directory(0, "data/sdk", buf, sizeof buf) == 2);
	struct guest_xs_perm perms[] = {{us, GUEST_XS_PERM_NONE},
					{0, GUEST_XS_PERM_READ}};
	CHECK(guest_xs_set_perms(0, "data/sdk/b", perms, 2) == 0);
	CHECK(guest_xs_txn_start(&tx) == 0);
	CHECK(guest_xs_write(tx, "data/sdk/c", "x", 1) == 0);
	CHECK(guest_xs_txn_end(tx, false) == 0); /* aborted */
	CHECK(guest_xs_read(0, "data/sdk/c", buf, sizeof buf) < 0);
	CHECK(guest_xs_watch("data/sdk/a") == 0);
	CHECK(guest_xs_wait_watch(5000) == 1); /* fires once at once */
	CHECK(guest_xs_write(0, "data/sdk/a", "three", 5) == 0);
	CHECK(guest_xs_wait_watch(5000) == 1);
	CHECK(guest_xs_unwatch("data/sdk/a") == 0);
	CHECK(guest_xs_rm(0, "data/sdk") == 0);
	CHECK(guest_xs_read(0, "data/sdk/a", buf, sizeof buf) < 0);

	guest_printf("SDK ok: domain %u, every call of guest.h and guest_xs.h\n",
		     (unsigned)us);
	if (guest_cmdline_get("shutdown", buf, sizeof buf) > 0)
		guest_shutdown(false);
	return 0;
}
