/* Helpers shared by the two-process integration tests: temp socket paths,
 * forking a peer that dies with us, fd counting, a fast streaming hash and
 * pipe I/O. Failures inside a child abort() it; the parent sees the signal
 * through integ_reap(). */
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

/* A rendezvous path in a fresh temp dir (under $TMPDIR, else /tmp). */
struct integ_tmp {
	char dir[128];
	char path[160];
};
void integ_tmp_make(struct integ_tmp *t);
/* Remove the socket (if still there) and the dir. */
void integ_tmp_drop(struct integ_tmp *t);

/* Connect, retrying while the server is not there yet (the child may run
 * before its parent has served), for up to timeout_ms. */
int integ_connect(vmsg_chan **c, const char *path,
		  const struct vmsg_chan_opts *o, int timeout_ms);

/* Fork a child that runs fn(arg) and exits with its result; the child is
 * killed if the parent dies. */
pid_t integ_fork(int (*fn)(void *), void *arg);
/* Wait for a child: its exit status, or 128 + signal if it was killed. */
int integ_reap(pid_t pid);

uint64_t integ_now_ns(void);
/* Open file descriptors of this process (entries of /proc/self/fd). */
int integ_count_fds(void);

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
