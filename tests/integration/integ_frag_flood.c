/* integ_frag_flood: a peer that keeps one fragmented message going must
 * not keep the receiver inside one call (issue 16, defect 1). The peer
 * (a child, the client) writes frames straight into the victim's 1 MiB rx
 * ring; the victim (this process, the server) receives.
 *
 *   empty  a first fragment, then empty continuations (MORE|CONT, len 0)
 *          as fast as the ring takes them: a protocol error. recv with
 *          timeout 100 and peek with timeout 0 return -EPROTO at once.
 *   skip   a first fragment announcing 2^60 bytes (over max_msg: dropped),
 *          then 8-byte continuations for ever, the ring kept full. recv
 *          says -EMSGSIZE, then -ETIMEDOUT within its 100 ms plus a small
 *          bound (< 1 s; the flood lasts FLOOD_NS); with timeout 0, from a
 *          full ring, -EAGAIN promptly, having taken at most
 *          MAX_FRAGS_PER_CALL fragments (a few hundred microseconds of
 *          work: the channel's budget is about a thousand small ones).
 *   slow   a legitimate message of 60000 one-byte fragments, all in the
 *          ring at once, published with a single kick. An event loop
 *          (poll on the fd, ack, timeout-0 calls until -EAGAIN) takes it:
 *          no call takes more than MAX_FRAGS_PER_CALL fragments, and every
 *          -EAGAIN leaves the fd readable (nobody else will kick for the
 *          fragments still in the ring). Through recv straight into the
 *          caller's buffer (parked in the channel between calls) and
 *          through peek; and through recv with a wait set (vmsg/waitset.h)
 *          instead of the fd, which must report the channel after every
 *          such -EAGAIN too. The message arrives intact.
 * Before the fix, empty continuations were taken as progress (recv with
 * timeout 100 returned -ETIMEDOUT, or held on for the whole flood when
 * the peer kept ahead), and a timeout-0 call took whatever the ring held
 * and the peer added meanwhile: a whole 1 MiB ring (65536 fragments) of
 * skip, the whole slow message in one call. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmsg/frame.h>
#include <vmsg/waitset.h>

#include "frag_flood_peer.h"
#include "integ.h"

#define RING (1u << 20)
#define MAX_MSG (1u << 20)
#define FLOOD_NS 6000000000ull  /* a flood stops by itself after this */
#define SLOW_FRAGS 60000u       /* one-byte fragments of the slow message */
#define MAX_FRAGS_PER_CALL 4096u
#define PROMPT_NS 250000000ull  /* "at once", with ASan on a loaded box */
#define BOUND_NS 1000000000ull  /* a 100 ms call ends before this */

enum kind { EMPTY, SKIP, SLOW };

struct child {
	enum kind kind;
	const char *path;
	int ready_wr; /* child -> victim: the ring is full */
	int done_rd;  /* victim -> child: stop */
};

static uint8_t slow_byte(uint32_t i)
{
	return (uint8_t)(i * 7u + 3u);
}

static bool told_to_stop(int fd)
{
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	return poll(&pf, 1, 0) > 0;
}

static int hostile(void *arg)
{
	const struct child *ch = arg;
	struct vmsg_chan_opts o;
	vmsg_chan *c;
	int r;

	vmsg_chan_opts_init(&o);
	if ((r = integ_connect(&c, ch->path, &o, 20000)) < 0)
		VMSG_TEST_FAIL("hostile connect: %s", vmsg_strerror(r));
	struct vmsg_ring *tx = &vmsg__chan_ring(c)->tx;
	ASSERT_EQ(tx->size, RING);

	if (ch->kind == SLOW) {
		struct vmsg_platform *p = vmsg__chan_platform(c);
		uint32_t wp = tx->idx;
		uint64_t total = SLOW_FRAGS;
		ASSERT_TRUE(flood_put(tx, &wp, INTEG_TYPE, VMSG_FRAME_MORE,
				      &total, 8));
		for (uint32_t i = 0; i < SLOW_FRAGS; i++) {
			uint8_t b = slow_byte(i);
			uint16_t fl = i + 1 < SLOW_FRAGS
					      ? VMSG_FRAME_MORE | VMSG_FRAME_CONT
					      : VMSG_FRAME_CONT;
			ASSERT_TRUE(flood_put(tx, &wp, INTEG_TYPE, fl, &b, 1));
		}
		flood_publish(tx, wp, p); /* the only kick */
		integ_write_full(ch->ready_wr, "r", 1);
		uint8_t x;
		integ_read_full(ch->done_rd, &x, 1);
		vmsg_chan_close(c);
		return 0;
	}

	/* The flood, until told to stop (or FLOOD_NS, so that a victim
	 * stuck in one call ends too). */
	struct flood f;
	if (ch->kind == EMPTY)
		flood_begin(&f, c, INTEG_TYPE, 1000, 0);
	else
		flood_begin(&f, c, INTEG_TYPE, 1ull << 60, 8);
	integ_write_full(ch->ready_wr, "r", 1);
	uint64_t end = integ_now_ns() + FLOOD_NS;
	for (unsigned long it = 0;; it++) {
		if (!flood_step(&f) && it % 16 == 0)
			sched_yield();
		if (it % 1024 == 0 &&
		    (told_to_stop(ch->done_rd) || integ_now_ns() > end))
			break;
	}
	vmsg_chan_close(c);
	return 0;
}

/* ---- the victim --------------------------------------------------------- */

struct victim {
	vmsg_chan *c;
	pid_t pid;
	int ready_rd, done_wr;
	struct integ_tmp tmp;
};

static void start(struct victim *v, enum kind kind)
{
	struct vmsg_chan_opts o;
	int a[2], b[2], r;

	integ_tmp_make(&v->tmp);
	ASSERT_EQ(pipe(a), 0);
	ASSERT_EQ(pipe(b), 0);
	struct child ch = {.kind = kind, .path = v->tmp.path,
			   .ready_wr = a[1], .done_rd = b[0]};
	v->pid = integ_fork(hostile, &ch);
	close(a[1]);
	close(b[0]);
	v->ready_rd = a[0];
	v->done_wr = b[1];

	vmsg_chan_opts_init(&o);
	o.rx_ring_size = RING;
	o.max_msg = MAX_MSG;
	if ((r = integ_serve(&v->c, v->tmp.path, &o)) < 0)
		VMSG_TEST_FAIL("serve: %s", vmsg_strerror(r));
	ASSERT_EQ(vmsg_chan_accept(v->c, 20000), 0);
	uint8_t x;
	integ_read_full(v->ready_rd, &x, 1);
}

static void finish(struct victim *v)
{
	integ_write_full(v->done_wr, "d", 1);
	ASSERT_EQ(integ_reap(v->pid), 0);
	vmsg_chan_close(v->c);
	close(v->ready_rd);
	close(v->done_wr);
	integ_tmp_drop(&v->tmp);
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static void empty_continuations(bool use_peek)
{
	static uint8_t buf[64 * 1024];
	struct victim v;
	struct vmsg_msg m;

	start(&v, EMPTY);
	uint64_t t0 = integ_now_ns();
	int r = use_peek ? vmsg_chan_peek(v.c, &m, 0)
			 : vmsg_chan_recv(v.c, NULL, buf, sizeof buf, 100);
	uint64_t took = integ_now_ns() - t0;
	printf("empty (%s): %s after %.1f ms\n", use_peek ? "peek, 0" :
	       "recv, 100", vmsg_strerror(r), ms(took));
	ASSERT_EQ(r, -EPROTO);
	ASSERT_LT(took, PROMPT_NS);
	ASSERT_EQ(vmsg_chan_state(v.c), VMSG_CHAN_BROKEN);
	ASSERT_EQ(vmsg_chan_recv(v.c, NULL, buf, sizeof buf, 0), -EPROTO);
	finish(&v);
}

/* Ring bytes this end has consumed so far. */
static uint32_t consumed(vmsg_chan *c)
{
	return vmsg__chan_ring(c)->rx.idx;
}

/* Wait until the flooding peer has filled our rx ring. */
static void ring_full(vmsg_chan *c)
{
	const struct vmsg_ring *rx = &vmsg__chan_ring(c)->rx;
	uint64_t end = integ_now_ns() + 5000000000ull;
	while (vmsg__load_acquire(&rx->sh->prod) - rx->idx != rx->size) {
		if (integ_now_ns() > end)
			VMSG_TEST_FAIL("the peer does not fill the ring");
		sched_yield();
	}
}

static void endless_skip(void)
{
	static uint8_t buf[64 * 1024];
	struct victim v;
	uint64_t t0, took;
	int r;

	start(&v, SKIP);
	ASSERT_EQ(vmsg_chan_recv(v.c, NULL, buf, sizeof buf, 100), -EMSGSIZE);
	for (int i = 0; i < 3; i++) {
		t0 = integ_now_ns();
		r = vmsg_chan_recv(v.c, NULL, buf, sizeof buf, 100);
		took = integ_now_ns() - t0;
		printf("skip (recv, 100): %s after %.1f ms\n", vmsg_strerror(r),
		       ms(took));
		ASSERT_EQ(r, -ETIMEDOUT);
		ASSERT_GE(took, 99000000ull);
		ASSERT_LT(took, BOUND_NS);
	}
	/* With timeout 0, from a full ring: a bounded part of it. */
	for (int i = 0; i < 3; i++) {
		struct vmsg_msg m;
		ring_full(v.c);
		uint32_t at = consumed(v.c);
		t0 = integ_now_ns();
		r = i == 1 ? vmsg_chan_peek(v.c, &m, 0)
			   : vmsg_chan_recv(v.c, NULL, buf, sizeof buf, 0);
		took = integ_now_ns() - t0;
		uint32_t frags = (consumed(v.c) - at) / 16u;
		printf("skip (%s, 0): %s after %.1f ms, %u fragments\n",
		       i == 1 ? "peek" : "recv", vmsg_strerror(r), ms(took),
		       frags);
		ASSERT_EQ(r, -EAGAIN);
		ASSERT_LT(took, PROMPT_NS);
		ASSERT_LE(frags, MAX_FRAGS_PER_CALL);
	}
	/* Nothing broke: the message is only being dropped. */
	ASSERT_EQ(vmsg_chan_state(v.c), VMSG_CHAN_OPEN);
	finish(&v);
}

enum slow_via { RECV_FD, PEEK_FD, RECV_WAITSET };
static const char *via_name[] = {"recv, fd", "peek, fd", "recv, wait set"};

static void slow_message(enum slow_via via)
{
	bool use_peek = via == PEEK_FD;
	struct vmsg_waitset ws;
	static uint8_t buf[SLOW_FRAGS + 100];
	struct victim v;
	unsigned calls = 0, stops = 0;
	int r;

	start(&v, SLOW);
	int fd = vmsg_chan_fd(v.c);
	ASSERT_GE(fd, 0);
	vmsg_waitset_init(&ws);
	ASSERT_EQ(vmsg_waitset_add(&ws, v.c, NULL), 0);
	uint32_t before = consumed(v.c);
	for (;;) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		/* As an event loop does, first try (the peer's one kick may
		 * have gone to the accept), then sleep on the fd after each
		 * -EAGAIN: readable at once, our own event. */
		struct vmsg_waitset_event ev;
		if (calls > 0 && via == RECV_WAITSET &&
		    vmsg_waitset_wait(&ws, &ev, 1, 2000) != 1)
			VMSG_TEST_FAIL("after call %u (%u stopped on the "
				       "budget): the wait set reports nothing",
				       calls, stops);
		if (calls > 0 && via != RECV_WAITSET && poll(&pf, 1, 2000) != 1)
			VMSG_TEST_FAIL("after call %u (%u stopped on the "
				       "budget): the fd is not readable",
				       calls, stops);
		if (via != RECV_WAITSET)
			(void)vmsg_chan_ack(v.c);
		struct vmsg_msg m = {0};
		uint32_t at = consumed(v.c);
		uint64_t t0 = integ_now_ns();
		r = use_peek ? vmsg_chan_peek(v.c, &m, 0)
			     : vmsg_chan_recv(v.c, NULL, buf, sizeof buf, 0);
		uint64_t took = integ_now_ns() - t0;
		calls++;
		/* Every fragment but the first is 16 ring bytes. */
		uint32_t frags = (consumed(v.c) - at) / 16u;
		if (frags > MAX_FRAGS_PER_CALL)
			VMSG_TEST_FAIL("one call took %u fragments", frags);
		ASSERT_LT(took, PROMPT_NS);
		if (r == -EAGAIN) {
			stops++;
			continue;
		}
		if (use_peek) {
			ASSERT_EQ(r, 0);
			ASSERT_EQ(m.len, SLOW_FRAGS);
			memcpy(buf, m.data, m.len);
			ASSERT_EQ(vmsg_chan_release(v.c), 0);
			r = (int)m.len;
		}
		break;
	}
	printf("slow (%s, 0): %u calls, %u stopped on the budget, %u ring "
	       "bytes\n", via_name[via], calls, stops,
	       consumed(v.c) - before);
	ASSERT_EQ(r, (int)SLOW_FRAGS);
	for (uint32_t i = 0; i < SLOW_FRAGS; i++)
		if (buf[i] != slow_byte(i))
			VMSG_TEST_FAIL("byte %u: %u, want %u", i, buf[i],
				       slow_byte(i));
	ASSERT_GT(stops, 0);
	ASSERT_EQ(vmsg_chan_state(v.c), VMSG_CHAN_OPEN);
	ASSERT_EQ(vmsg_waitset_remove(&ws, v.c), 0);
	finish(&v);
}

int main(int argc, char **argv)
{
	integ_init(&argc, &argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	empty_continuations(false);
	empty_continuations(true);
	endless_skip();
	slow_message(RECV_FD);
	slow_message(PEEK_FD);
	slow_message(RECV_WAITSET);
	printf("ok (%s)\n", integ_backend_name());
	return 0;
}
