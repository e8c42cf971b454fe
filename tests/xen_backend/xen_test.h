/* Helpers for the Xen backend tests on the simulator: every test program is
 * the driver and, re-executed as `prog ROLE PATH IN_FD OUT_FD [ARGS...]`
 * under `xensim run --domid N`, the programs inside the domains. Roles talk
 * to the driver with lines over inherited pipes (sim_harness.h). Data is a
 * seeded pseudo-random stream; both ends checksum it (FNV-1a) and report. */
#ifndef XEN_TEST_H
#define XEN_TEST_H

#include "sim_harness.h"

#include <time.h>

#include <vmsg/xen.h>

#define XT_CHUNK (64u * 1024u)

static int xt_in, xt_out; /* role side: pipes to the driver */

static inline uint64_t xt_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Fill n bytes (a multiple of 8) from the stream seeded by *seed. */
static inline void xt_fill(uint64_t *seed, unsigned char *buf, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = vmsg_test_rand(seed);
		memcpy(buf + i, &v, 8);
	}
}

/* A role process: one spawned `xensim run` and its two pipes. */
struct xt_role {
	pid_t pid;   /* of `xensim run` */
	int to, from; /* driver ends */
};

/* Spawn `self role path <fds> extra...` as domain domid. */
static inline void xt_spawn(struct xt_role *r, int domid, const char *self,
			    const char *role, const char *path,
			    const char *extra1, const char *extra2)
{
	int in[2], out[2];
	char a[16], b[16];
	sim_pipe(in);
	sim_pipe(out);
	snprintf(a, sizeof a, "%d", in[0]);
	snprintf(b, sizeof b, "%d", out[1]);
	char *argv[] = {(char *)self, (char *)role, (char *)path, a, b,
			(char *)extra1, (char *)extra2, NULL};
	r->pid = sim_spawn(domid, argv);
	close(in[0]);
	close(out[1]);
	r->to = in[1];
	r->from = out[0];
}

/* A role of a re-executed test program: its name and its body. */
struct xt_role_fn {
	const char *name;
	int (*fn)(void);
};

/* In a re-executed role (argc >= 5), run the role named by argv[1] (its
 * pipes set up) and exit with its status; 2 for an unknown one. In the
 * driver, return. */
static inline void xt_dispatch(int argc, char **argv,
			       const struct xt_role_fn *roles)
{
	if (argc < 5)
		return;
	xt_in = atoi(argv[3]);
	xt_out = atoi(argv[4]);
	for (; roles->name; roles++)
		if (!strcmp(argv[1], roles->name))
			exit(roles->fn());
	exit(2);
}

static inline void xt_role_done(struct xt_role *r, int expect_status)
{
	ASSERT_EQ(sim_wait(r->pid), expect_status);
	close(r->to);
	close(r->from);
}

/* Driver: skip without vmsg-xenstored, find ourselves, set up the sim. */
static inline void xt_driver_init(char *self, size_t cap, unsigned alarm_s)
{
	char xsd[4200];
	snprintf(xsd, sizeof xsd, "%s", XENSIM_BIN);
	*strrchr(xsd, '/') = 0;
	strcat(xsd, "/../xenstored/vmsg-xenstored");
	if (access(xsd, X_OK) != 0) {
		fprintf(stderr, "vmsg-xenstored not built (%s): skipping\n", xsd);
		exit(VMSG_TEST_SKIP);
	}
	ssize_t sl = readlink("/proc/self/exe", self, cap - 1);
	ASSERT_GT(sl, 0);
	self[sl] = 0;
	alarm(alarm_s);
	sim_setup(1);
}

/* ---- vmsg raw byte stream --------------------------------------------- */

/* Write `total` bytes of stream `seed`; returns their checksum. */
static inline uint64_t xt_vmsg_send(vmsg_chan *c, uint64_t total,
				    uint64_t seed)
{
	static unsigned char buf[XT_CHUNK];
	uint64_t h = VMSG_TEST_FNV_INIT;
	while (total) {
		size_t n = total < sizeof buf ? (size_t)total : sizeof buf;
		xt_fill(&seed, buf, n);
		h = vmsg_test_fnv(h, buf, n);
		for (size_t off = 0; off < n;) {
			int w = vmsg_chan_write(c, buf + off, n - off,
						SIM_WAIT_MS);
			if (w <= 0)
				VMSG_TEST_FAIL("vmsg_chan_write: %s",
					       vmsg_strerror(w));
			off += (size_t)w;
		}
		total -= n;
	}
	return h;
}

/* Read exactly `total` bytes; returns their checksum; *ns gets the time
 * from the first byte to the last. */
static inline uint64_t xt_vmsg_recv(vmsg_chan *c, uint64_t total,
				    uint64_t *ns)
{
	static unsigned char buf[XT_CHUNK];
	uint64_t h = VMSG_TEST_FNV_INIT, t0 = 0;
	while (total) {
		size_t want = total < sizeof buf ? (size_t)total : sizeof buf;
		int r = vmsg_chan_read(c, buf, want, SIM_WAIT_MS);
		if (r <= 0)
			VMSG_TEST_FAIL("vmsg_chan_read: %s (%llu left)",
				       vmsg_strerror(r),
				       (unsigned long long)total);
		if (!t0)
			t0 = xt_now_ns();
		h = vmsg_test_fnv(h, buf, (size_t)r);
		total -= (uint64_t)r;
	}
	if (ns)
		*ns = xt_now_ns() - t0;
	return h;
}

static inline double xt_mibs(uint64_t bytes, uint64_t ns)
{
	return ns ? (double)bytes / (1024.0 * 1024.0) / ((double)ns / 1e9) : 0;
}

#endif
