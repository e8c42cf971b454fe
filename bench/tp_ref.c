/* The physical-limit references: what two processes sharing memory on this
 * machine can do with no protocol at all.
 *
 * shm-cacheline  ping-pong over two shared cache lines: a sequence number
 *                and the payload right after it, busy-polled, no checks.
 * eventfd        the same shared buffers, but each message is announced
 *                with an eventfd write and waited for with a blocking read:
 *                the cost of one sleep/wake-up each way.
 * shm-ring       a single-producer/single-consumer byte ring: memcpy in,
 *                publish the index, memcpy out. No framing, no validation,
 *                no notification (busy-poll).
 *
 * Memory ordering (C11 atomics, no library helpers: this is not vmsg):
 * every payload write is followed by a release store of the index/sequence
 * that covers it, and the reader's acquire load of that index comes before
 * it reads the payload (release R1 pairs with acquire A1). The same pair
 * runs the other way for the consumer's index (R2/A2). */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#define CL 64u
#define SEQ_CLOSED UINT64_MAX

/* One busy-poll step. Every 4096th step yields the CPU: on a machine with
 * more runnable threads than cores the peer may share our CPU, and
 * spinning through its time slice would measure the scheduler, not memory.
 * When each side has a core of its own the yield is never reached on the
 * fast path (a hand-off takes far fewer polls). */
static inline void relax(void)
{
	static __thread unsigned n;

#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
	if (++n % 4096 == 0)
		sched_yield();
}

static int shm_map(struct bench_link *l, size_t len)
{
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return -errno;
	l->shm = m;
	l->shm_len = len;
	return 0;
}

static void shm_cleanup(struct bench_link *l)
{
	for (int i = 0; i < 4; i++)
		if (l->fd[i] >= 0)
			close(l->fd[i]);
	if (l->shm)
		munmap(l->shm, l->shm_len);
}

/* ---- ping-pong: shm-cacheline and eventfd -------------------------------- */

/* One direction: the sequence word, then the payload, on their own lines,
 * with a spare line so the adjacent-line prefetcher does not couple the
 * two directions. */
static size_t dir_bytes(size_t size)
{
	return (8 + size + CL - 1) / CL * CL + 2 * CL;
}

struct pp_end {
	uint64_t *tx_seq, *rx_seq;
	uint8_t *tx, *rx;
	uint64_t sent, seen;
	int efd_tx, efd_rx; /* eventfd, else -1 */
};

static int pp_prepare(struct bench_link *l, const struct bench_params *p)
{
	return shm_map(l, 2 * dir_bytes(p->size));
}

static int ev_prepare(struct bench_link *l, const struct bench_params *p)
{
	int r;

	if ((r = pp_prepare(l, p)) < 0)
		return r;
	/* fd[0]: side 0 -> side 1; fd[1]: side 1 -> side 0. Blocking. */
	if ((l->fd[0] = eventfd(0, 0)) < 0 || (l->fd[1] = eventfd(0, 0)) < 0)
		return -errno;
	return 0;
}

static int pp_open_common(struct bench_link *l, int side,
			  const struct bench_params *p, void **end, bool ev)
{
	uint8_t *d0 = l->shm, *d1 = d0 + dir_bytes(p->size);
	struct pp_end *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->tx_seq = (uint64_t *)(side ? d1 : d0);
	e->rx_seq = (uint64_t *)(side ? d0 : d1);
	e->tx = (uint8_t *)e->tx_seq + 8;
	e->rx = (uint8_t *)e->rx_seq + 8;
	e->efd_tx = ev ? l->fd[side] : -1;
	e->efd_rx = ev ? l->fd[!side] : -1;
	*end = e;
	return 0;
}

static int cl_open(struct bench_link *l, int side,
		   const struct bench_params *p, void **end)
{
	return pp_open_common(l, side, p, end, false);
}

static int ev_open(struct bench_link *l, int side,
		   const struct bench_params *p, void **end)
{
	return pp_open_common(l, side, p, end, true);
}

static int pp_send(void *end, const void *buf, size_t len, bool more)
{
	struct pp_end *e = end;
	uint64_t one = 1;

	memcpy(e->tx, buf, len);
	/* R1: the payload before the sequence that announces it. */
	__atomic_store_n(e->tx_seq, ++e->sent, __ATOMIC_RELEASE);
	if (e->efd_tx >= 0 && write(e->efd_tx, &one, 8) != 8)
		return -errno;
	return (int)len;
}

static int pp_recv(void *end, void *buf, size_t len)
{
	struct pp_end *e = end;
	uint64_t v, cnt;

	if (e->efd_rx >= 0) {
		while (read(e->efd_rx, &cnt, 8) != 8)
			if (errno != EINTR)
				return -errno;
	}
	/* A1: pairs with R1; the payload is read after the sequence. */
	while ((v = __atomic_load_n(e->rx_seq, __ATOMIC_ACQUIRE)) == e->seen)
		relax();
	if (v == SEQ_CLOSED)
		return 0;
	e->seen = v;
	memcpy(buf, e->rx, len);
	return (int)len;
}

static int pp_flush(void *end)
{
	return 0;
}

static void pp_close(void *end)
{
	struct pp_end *e = end;
	uint64_t one = 1;

	if (!e)
		return;
	__atomic_store_n(e->tx_seq, SEQ_CLOSED, __ATOMIC_RELEASE);
	if (e->efd_tx >= 0 && write(e->efd_tx, &one, 8) != 8) {
		/* nothing to do: the peer is gone too */
	}
	free(e);
}

const struct bench_transport bench_tp_shm_cacheline = {
	.name = "shm-cacheline",
	.what = "reference: shared cache lines, busy-polled sequence flags",
	.cmds = BENCH_CMD_BIT(BENCH_PINGPONG),
	.flags = BENCH_TP_REF_SPIN | BENCH_TP_SPIN_ONLY | BENCH_TP_NO_EXEC,
	.prepare = pp_prepare,
	.open = cl_open,
	.send = pp_send,
	.flush = pp_flush,
	.recv = pp_recv,
	.close = pp_close,
	.cleanup = shm_cleanup,
};

const struct bench_transport bench_tp_eventfd = {
	.name = "eventfd",
	.what = "reference: shared buffers, blocking eventfd wake-ups",
	.cmds = BENCH_CMD_BIT(BENCH_PINGPONG),
	.flags = BENCH_TP_REF_BLOCK | BENCH_TP_BLOCK_ONLY | BENCH_TP_NO_EXEC,
	.prepare = ev_prepare,
	.open = ev_open,
	.send = pp_send,
	.flush = pp_flush,
	.recv = pp_recv,
	.close = pp_close,
	.cleanup = shm_cleanup,
};

/* ---- stream: shm-ring ---------------------------------------------------- */

struct ring_hdr {
	_Alignas(64) uint32_t prod; /* written by the producer only */
	uint32_t closed;
	_Alignas(64) uint32_t cons; /* written by the consumer only */
	_Alignas(64) uint8_t data[];
};

struct ring_end {
	struct ring_hdr *h;
	uint32_t size, mask;
	uint32_t idx;    /* our private index (prod or cons) */
	uint32_t pub;    /* what we last published of it */
	uint32_t peer;   /* our cached copy of the peer's index */
	bool batch;
	int side;
};

static int ring_prepare(struct bench_link *l, const struct bench_params *p)
{
	return shm_map(l, sizeof(struct ring_hdr) + p->ring);
}

static int ring_open(struct bench_link *l, int side,
		     const struct bench_params *p, void **end)
{
	struct ring_end *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->h = l->shm;
	e->size = p->ring; /* a power of two: the CLI checks it */
	e->mask = p->ring - 1;
	e->batch = p->batch;
	e->side = side;
	*end = e;
	return 0;
}

static void ring_publish(struct ring_end *e, uint32_t *where)
{
	/* R1 (prod): the bytes before the index that covers them.
	 * R2 (cons): our reads of the bytes before giving the space back. */
	__atomic_store_n(where, e->idx, __ATOMIC_RELEASE);
	e->pub = e->idx;
}

static int ring_send(void *end, const void *buf, size_t len, bool more)
{
	struct ring_end *e = end;
	const uint8_t *p = buf;
	size_t left = len;

	while (left) {
		/* Unsigned subtraction is modulo 2^32: indices run free. */
		uint32_t space = e->size - (e->idx - e->peer);
		uint32_t n, off, first;

		if (space == 0) {
			ring_publish(e, &e->h->prod);
			/* A2: pairs with the consumer's R2. */
			e->peer = __atomic_load_n(&e->h->cons, __ATOMIC_ACQUIRE);
			if (e->size == e->idx - e->peer)
				relax();
			continue;
		}
		n = left < space ? (uint32_t)left : space;
		off = e->idx & e->mask;
		first = n < e->size - off ? n : e->size - off;
		memcpy(e->h->data + off, p, first);
		memcpy(e->h->data, p + first, n - first);
		e->idx += n;
		p += n;
		left -= n;
	}
	if (!more || e->idx - e->pub >= e->size / 4)
		ring_publish(e, &e->h->prod);
	return (int)len;
}

static int ring_flush(void *end)
{
	struct ring_end *e = end;

	ring_publish(e, &e->h->prod);
	return 0;
}

static int ring_recv(void *end, void *buf, size_t len)
{
	struct ring_end *e = end;
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		uint32_t avail = e->peer - e->idx, n, off, first;

		if (avail == 0) {
			ring_publish(e, &e->h->cons);
			/* A1: pairs with the producer's R1. */
			e->peer = __atomic_load_n(&e->h->prod, __ATOMIC_ACQUIRE);
			if (e->peer != e->idx)
				continue;
			if (__atomic_load_n(&e->h->closed, __ATOMIC_ACQUIRE)) {
				e->peer = __atomic_load_n(&e->h->prod,
							  __ATOMIC_ACQUIRE);
				if (e->peer == e->idx)
					return got ? -EPIPE : 0;
				continue;
			}
			relax();
			continue;
		}
		n = avail < len - got ? avail : (uint32_t)(len - got);
		off = e->idx & e->mask;
		first = n < e->size - off ? n : e->size - off;
		memcpy(p + got, e->h->data + off, first);
		memcpy(p + got + first, e->h->data, n - first);
		e->idx += n;
		got += n;
	}
	if (!e->batch || e->idx - e->pub >= e->size / 4)
		ring_publish(e, &e->h->cons);
	return (int)len;
}

/* Only the producer (side 0) closes the ring: it publishes its last index,
 * then the closed flag; the consumer re-reads prod once it sees closed (A1
 * again), so nothing is lost. */
static void ring_close(void *end)
{
	struct ring_end *e = end;

	if (!e)
		return;
	if (e->side == 0) {
		ring_publish(e, &e->h->prod);
		__atomic_store_n(&e->h->closed, 1, __ATOMIC_RELEASE);
	}
	free(e);
}

const struct bench_transport bench_tp_shm_ring = {
	.name = "shm-ring",
	.what = "reference: SPSC memcpy byte ring, no framing or checks",
	.cmds = BENCH_CMD_BIT(BENCH_STREAM),
	.flags = BENCH_TP_REF_STREAM | BENCH_TP_SPIN_ONLY | BENCH_TP_NO_EXEC,
	.prepare = ring_prepare,
	.open = ring_open,
	.send = ring_send,
	.flush = ring_flush,
	.recv = ring_recv,
	.close = ring_close,
	.cleanup = shm_cleanup,
};
