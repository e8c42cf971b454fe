/* guest_xs_ring: the unikernel's xenstore ring client (guest/xs_ring.c,
 * built hosted) against a fake ring whose other end is a thread playing
 * xenstored.
 *   1. 300 requests of 0..1500 bytes echoed back as responses, written by
 *      the fake in random small pieces (partial headers and payloads),
 *      with the indices starting just below 2^32 (both rings wrap, and the
 *      32-bit indices overflow);
 *   2. a response header announcing more than XS_PAYLOAD_MAX bytes: recv
 *      fails with -EPROTO and the ring stays broken;
 *   3. a response index more than a ring ahead: -EPROTO.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmsg_test.h"
#include "xs_ring.h"

#define START_IDX 0xffffff00u

static struct xs_ring_intf ring;
static volatile int stop;

static void nap(void)
{
	struct timespec t = {0, 50000};
	nanosleep(&t, NULL);
}

static void fake_notify(void *ctx)
{
	(void)ctx;
}

static int fake_wait(void *ctx, uint64_t deadline)
{
	(void)ctx, (void)deadline;
	nap();
	return 1;
}

static uint64_t fake_now(void *ctx)
{
	(void)ctx;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* xenstored's side: take n request bytes. */
static int srv_get(void *buf, size_t n)
{
	char *p = buf;
	while (n) {
		uint32_t prod = __atomic_load_n(&ring.req_prod, __ATOMIC_ACQUIRE);
		uint32_t cons = ring.req_cons;
		if (prod == cons) {
			if (stop)
				return -1;
			nap();
			continue;
		}
		*p++ = ring.req[cons % XS_RING_SIZE];
		__atomic_store_n(&ring.req_cons, cons + 1, __ATOMIC_RELEASE);
		n--;
	}
	return 0;
}

/* xenstored's side: give n response bytes in pieces of 1..max_piece. */
static void srv_put(const void *buf, size_t n, unsigned *seed)
{
	const char *p = buf;
	while (n) {
		uint32_t cons = __atomic_load_n(&ring.rsp_cons, __ATOMIC_ACQUIRE);
		uint32_t prod = ring.rsp_prod;
		uint32_t room = XS_RING_SIZE - (prod - cons);
		if (!room) {
			nap();
			continue;
		}
		uint32_t k = 1 + (uint32_t)(rand_r(seed) % 97);
		if (k > room)
			k = room;
		if (k > n)
			k = (uint32_t)n;
		for (uint32_t i = 0; i < k; i++)
			ring.rsp[(prod + i) % XS_RING_SIZE] = p[i];
		__atomic_store_n(&ring.rsp_prod, prod + k, __ATOMIC_RELEASE);
		p += k;
		n -= k;
		if (rand_r(seed) % 4 == 0)
			nap(); /* leave the client a partial message */
	}
}

static void *server(void *arg)
{
	(void)arg;
	unsigned seed = 7;
	static char payload[XS_PAYLOAD_MAX];
	for (;;) {
		struct xs_msg_hdr h;
		if (srv_get(&h, sizeof(h)) < 0 || h.len > XS_PAYLOAD_MAX ||
		    srv_get(payload, h.len) < 0)
			return NULL;
		srv_put(&h, sizeof(h), &seed);
		srv_put(payload, h.len, &seed);
	}
}

static struct guest_xs_ring client(void)
{
	struct guest_xs_ring r = {.intf = &ring,
				  .notify = fake_notify,
				  .wait = fake_wait,
				  .now_ns = fake_now};
	return r;
}

static void test_echo_wrap(void)
{
	memset(&ring, 0, sizeof(ring));
	ring.req_cons = ring.req_prod = START_IDX;
	ring.rsp_cons = ring.rsp_prod = START_IDX + 17;
	struct guest_xs_ring r = client();
	pthread_t th;
	stop = 0;
	ASSERT_EQ(pthread_create(&th, NULL, server, NULL), 0);
	static char out[1600], in[XS_PAYLOAD_MAX + 1];
	uint64_t total = 0;
	for (uint32_t i = 0; i < 300; i++) {
		uint32_t len = (i * 7919u) % 1501u;
		for (uint32_t k = 0; k < len; k++)
			out[k] = (char)(i + k * 31);
		struct xs_msg_hdr h = {.type = XS_READ, .req_id = i, .len = len};
		ASSERT_EQ(guest_xs_ring_put(&r, &h, sizeof(h), 0), 0);
		ASSERT_EQ(guest_xs_ring_put(&r, out, len, 0), 0);
		struct xs_msg_hdr a;
		ASSERT_EQ(guest_xs_ring_recv(&r, &a, in, 0), (int)len);
		ASSERT_EQ(a.req_id, i);
		ASSERT_EQ(a.len, len);
		ASSERT_MEM_EQ(in, out, len);
		ASSERT_EQ(in[len], 0);
		total += len + sizeof(h);
	}
	/* Both indices went past 2^32. */
	ASSERT_TRUE(ring.req_prod < START_IDX);
	ASSERT_TRUE(total > 0x100 + XS_RING_SIZE);
	ASSERT_EQ(guest_xs_ring_has_rsp(&r), 0);
	stop = 1;
	pthread_join(th, NULL);
}

static void test_hostile_len(void)
{
	memset(&ring, 0, sizeof(ring));
	struct xs_msg_hdr h = {.type = XS_READ, .req_id = 1,
			       .len = XS_PAYLOAD_MAX + 1};
	memcpy(ring.rsp, &h, sizeof(h));
	ring.rsp_prod = sizeof(h);
	struct guest_xs_ring r = client();
	static char in[XS_PAYLOAD_MAX + 1];
	struct xs_msg_hdr a;
	ASSERT_EQ(guest_xs_ring_recv(&r, &a, in, 0), -EPROTO);
	/* Broken for good: even a sane request is refused. */
	ASSERT_EQ(guest_xs_ring_put(&r, &h, sizeof(h), 0), -EPROTO);
	ASSERT_EQ(guest_xs_ring_recv(&r, &a, in, 0), -EPROTO);
}

static void test_hostile_index(void)
{
	memset(&ring, 0, sizeof(ring));
	ring.rsp_prod = XS_RING_SIZE + 5; /* more than a ring's worth */
	struct guest_xs_ring r = client();
	char b[4];
	ASSERT_EQ(guest_xs_ring_get(&r, b, sizeof(b), 0), -EPROTO);

	memset(&ring, 0, sizeof(ring));
	ring.req_prod = 10;
	ring.req_cons = 10 + 2 * XS_RING_SIZE; /* consumer ahead of us */
	r = client();
	ASSERT_EQ(guest_xs_ring_put(&r, b, sizeof(b), 0), -EPROTO);
}

static void test_deadline(void)
{
	memset(&ring, 0, sizeof(ring));
	struct guest_xs_ring r = client();
	char b[4];
	/* Nothing ever comes: a deadline in the past gives up. */
	ASSERT_EQ(guest_xs_ring_get(&r, b, sizeof(b), fake_now(NULL) + 1000000),
		  -ETIMEDOUT);
	ASSERT_EQ(r.broken, 0);
}

int main(void)
{
	test_echo_wrap();
	test_hostile_len();
	test_hostile_index();
	test_deadline();
	return 0;
}
