/* Helpers shared by the two-process integration tests: the backend a test
 * body runs over, rendezvous addresses, forking a peer that dies with us,
 * fd counting, a fast streaming hash and pipe I/O. Failures inside a child
 * abort() it; the parent sees the signal through integ_reap().
 *
 * One body, two backends. Every test's main() calls integ_init() first;
 * ctest runs each program twice:
 *   integ_NAME ARGS             host backend (vmsg_host_serve/connect on a
 *                               socket in a temp dir)
 *   integ_NAME --xen=SECS ARGS  Xen backend on the simulator: this process
 *                               becomes the driver (sim_harness.h: a
 *                               private XENSIM_DIR, stopped at the end),
 *                               anchors domain 1 with `xensim run --domid
 *                               1`, and re-runs itself as the test body
 *                               under `xensim run --domid 0`; the body's
 *                               integ_fork() children are domain 1 (their
 *                               XENSIM_DOMID and XENSTORED_PATH say so;
 *                               the sim's libraries are already loaded).
 *                               SECS arms an alarm that stops the sim.
 * The body only uses integ_serve()/integ_connect()/integ_server_gone(),
 * which pick the backend. */
#ifndef VMSG_INTEG_H
#define VMSG_INTEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <vmsg/chan.h>
#include <vmsg/host.h>

#include "vmsg_test.h"

/* An application message type for the tests. */
#define INTEG_TYPE 0x0123u

/* Pick the backend from argv (see above) and drop its arguments; under
 * --xen this process drives the simulator and never returns. */
void integ_init(int *argc, char ***argv);
/* Is the body running over the Xen backend? */
bool integ_xen(void);
/* "host" or "xen", for messages. */
const char *integ_backend_name(void);

/* A rendezvous address: host, a socket path in a fresh temp dir (under
 * $TMPDIR, else /tmp); xen, a port name unique to this run, which
 * integ_serve()/integ_connect() turn into the conventional xenstore path
 * /local/domain/<server>/data/vchan/<client>/<port>. */
struct integ_tmp {
	char dir[128];
	char path[160];
};
void integ_tmp_make(struct integ_tmp *t);
/* Remove the socket (if still there) and the dir. */
void integ_tmp_drop(struct integ_tmp *t);

/* Serve at `addr` (struct integ_tmp's path) over the body's backend. */
int integ_serve(vmsg_chan **c, const char *addr,
		const struct vmsg_chan_opts *o);

/* True once the server that this process (the parent, domain 0) served at
 * `addr` has withdrawn its rendezvous: host, the socket file is gone;
 * xen, its ring-ref key is. */
bool integ_server_gone(const char *addr);

/* Connect to `addr` over the body's backend, retrying while the server
 * is not there yet (the child may run before its parent has served), for
 * up to timeout_ms. */
int integ_connect(vmsg_chan **c, const char *addr,
		  const struct vmsg_chan_opts *o, int timeout_ms);

/* Fork a child that runs fn(arg) and exits with its result; the child is
 * killed if the parent dies. Over xen the child is domain 1. */
pid_t integ_fork(int (*fn)(void *), void *arg);
/* Wait for a child: its exit status, or 128 + signal if it was killed. */
int integ_reap(pid_t pid);

uint64_t integ_now_ns(void);

/* Fast 64-bit streaming hash, independent of how the bytes are chunked:
 * eight bytes per multiply. Not cryptographic; enough to catch loss,
 * duplication, reordering and corruption. */
struct integ_hash {
	uint64_t h, carry, total;
	unsigned ncarry;
};
void integ_hash_init(struct integ_hash *s);
void integ_hash_update(struct integ_hash *s, const void *p, size_t n);
uint64_t integ_hash_final(const struct integ_hash *s);

/* Fill buf with pseudo-random bytes from *seed (xorshift64*, 8 at a time). */
void integ_fill_random(uint64_t *seed, void *buf, size_t n);

/* Whole-buffer pipe I/O; abort on error or short transfer. */
void integ_write_full(int fd, const void *buf, size_t n);
void integ_read_full(int fd, void *buf, size_t n);

#endif
