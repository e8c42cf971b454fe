/* ring_threads: two threads, one ring, 256 MiB. The client thread writes a
 * pseudo-random stream in random-sized chunks, alternating stream writes
 * (partial) and packet sends (all-or-nothing); the server thread reads it
 * back in random sizes with stream reads and packet recvs. Both spin-wait.
 * The checksums of what was sent and what was received must match. Rings
 * of order 10 (in-page) and 16 (separate buffer). */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmsg/ring.h>

#include "ring_pair.h"
#include "vmsg_barrier.h"
#include "vmsg_test.h"

#ifndef TOTAL
#define TOTAL (256ull << 20) /* -DTOTAL=... for a quick TSan run */
#endif
#define BLOCK 65536u

struct side {
	struct vmsg_ring_end *e;
	uint32_t size;
	uint64_t seed;
	uint64_t sum;
	uint64_t spins;
};

/* Spin politely: pause, and let the other thread run now and then in case
 * both share one CPU on a loaded machine. */
static void wait_a_bit(struct side *s)
{
	vmsg__cpu_relax();
	if ((++s->spins & 1023) == 0)
		sched_yield();
}

static void *writer(void *arg)
{
	struct side *s = arg;
	uint64_t data_seed = s->seed ^ 0xdada;
	uint8_t *block = malloc(BLOCK);
	ASSERT_TRUE(block != NULL);
	uint32_t have = 0, at = 0; /* bytes generated in block, next to send */
	uint64_t sent = 0;

	while (sent < TOTAL) {
		if (at == have) {
			for (uint32_t i = 0; i < BLOCK; i += 8) {
				uint64_t x = vmsg_test_rand(&data_seed);
				memcpy(block + i, &x, 8);
			}
			have = BLOCK;
			at = 0;
		}
		uint64_t x = vmsg_test_rand(&s->seed);
		uint32_t n = (uint32_t)(x >> 16) % (2 * s->size) + 1;
		if (n > have - at)
			n = have - at;
		if (n > TOTAL - sent)
			n = (uint32_t)(TOTAL - sent);
		int r;
		if (x & 1) {
			/* Packet: wait until it fits whole. Packets on both
			 * sides are at most half the ring: a recv waiting for
			 * n bytes and a send waiting for m bytes of space
			 * can then never block each other (n + m <= size). */
			if (n > s->size / 2)
				n = s->size / 2;
			while ((r = vmsg_ring_send(s->e, block + at, n)) == 0)
				wait_a_bit(s);
			ASSERT_EQ(r, n);
		} else {
			while ((r = vmsg_ring_write(s->e, block + at, n)) == 0)
				wait_a_bit(s);
			ASSERT_GT(r, 0);
			ASSERT_LE(r, n);
		}
		s->sum = vmsg_test_fnv(s->sum, block + at, (size_t)r);
		at += (uint32_t)r;
		sent += (uint64_t)r;
	}
	free(block);
	return NULL;
}

static void *reader(void *arg)
{
	struct side *s = arg;
	uint8_t *buf = malloc(2 * s->size);
	ASSERT_TRUE(buf != NULL);
	uint64_t got = 0;

	while (got < TOTAL) {
		uint64_t x = vmsg_test_rand(&s->seed);
		uint32_t n = (uint32_t)(x >> 16) % (2 * s->size) + 1;
		if (n > TOTAL - got)
			n = (uint32_t)(TOTAL - got);
		int r;
		if (x & 1) {
			if (n > s->size / 2) /* see writer() */
				n = s->size / 2;
			while ((r = vmsg_ring_recv(s->e, buf, n)) == 0)
				wait_a_bit(s);
			ASSERT_EQ(r, n);
		} else {
			while ((r = vmsg_ring_read(s->e, buf, n)) == 0)
				wait_a_bit(s);
			ASSERT_GT(r, 0);
			ASSERT_LE(r, n);
		}
		s->sum = vmsg_test_fnv(s->sum, buf, (size_t)r);
		got += (uint64_t)r;
	}
	free(buf);
	return NULL;
}

static void run(unsigned order, uint64_t seed)
{
	struct ring_pair p;
	/* Data flows client -> server over the left ring of `order`. */
	ring_pair_open(&p, order, order == 10 ? 11 : order);
	/* Start the indices just below 2^32 so they wrap during the run. */
	ring_pair_reset(&p, 0u - 3000u, 0);

	struct side w = {.e = &p.cli, .size = 1u << order, .seed = seed,
			 .sum = VMSG_TEST_FNV_INIT};
	struct side r = {.e = &p.srv, .size = 1u << order, .seed = ~seed,
			 .sum = VMSG_TEST_FNV_INIT};
	pthread_t tw, tr;
	ASSERT_EQ(pthread_create(&tr, NULL, reader, &r), 0);
	ASSERT_EQ(pthread_create(&tw, NULL, writer, &w), 0);
	ASSERT_EQ(pthread_join(tw, NULL), 0);
	ASSERT_EQ(pthread_join(tr, NULL), 0);

	fprintf(stderr, "order %u: sent %016" PRIx64 " received %016" PRIx64
			", spins %" PRIu64 "/%" PRIu64 "\n",
		order, w.sum, r.sum, w.spins, r.spins);
	ASSERT_EQ(w.sum, r.sum);
	ASSERT_EQ(p.cli.error, 0);
	ASSERT_EQ(p.srv.error, 0);
	ASSERT_EQ(vmsg_ring_data_ready(&p.srv), 0);
	ASSERT_EQ(p.page->left.prod, (uint32_t)(0u - 3000u + TOTAL));
	ring_pair_close(&p);
}

int main(void)
{
	uint64_t seed = 0x7e57da7au;
	if (getenv("VMSG_TEST_SEED"))
		seed = strtoull(getenv("VMSG_TEST_SEED"), NULL, 0);
	fprintf(stderr, "seed 0x%" PRIx64 "\n", seed);
	run(10, seed);
	run(16, seed + 1);
	return 0;
}
