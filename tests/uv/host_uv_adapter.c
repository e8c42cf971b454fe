/* host_uv_adapter: vmsg/uv.h, both ends of a host-backend channel on
 * libuv loops (the server's in the main thread, the client's in another).
 *
 * The client sends N typed messages of 1..3000 bytes through 8 KiB rings,
 * as fast as the ring takes them (on -EAGAIN it asks for `writable`); the
 * server echoes each one, and when its echo does not fit it leaves the
 * message unconsumed (the adapter pauses) and resumes from `writable`:
 * the relay's backpressure. The client checks every echo and closes after
 * the last; the server must see every message once, in order, and then
 * `closed` -EPIPE, and it closes its adapter from inside that callback.
 *
 * Also checked: `connected` comes once, before the first message; the
 * server's budget (3 messages) is never exceeded in one phase of a loop
 * iteration; and once, at message PAUSE_AT, the server leaves a message
 * unconsumed on purpose and resumes 20 ms later from a timer: nothing is
 * delivered meanwhile and the same message comes again. A stall (no
 * message for 10 s: a lost wake-up, a resume that does not deliver) fails
 * at once. */
#include "host/host_test_util.h"

#include <pthread.h>
#include <string.h>

#include <uv.h>

#include <vmsg/chan.h>
#include <vmsg/uv.h>

#define N 3000u
#define PAUSE_AT 700u
#define BUDGET 3u
#define T 20000

static size_t len_of(unsigned i)
{
	return 1 + (i * 37u) % 3000u;
}

static uint16_t type_of(unsigned i)
{
	return (uint16_t)(0x100 + i % 8);
}

static void fill(uint8_t *b, unsigned i)
{
	for (size_t k = 0; k < len_of(i); k++)
		b[k] = (uint8_t)(i + k * 13u);
}

/* The message i, checked. */
static void check_(const struct vmsg_msg *m, unsigned i, const char *who)
{
	uint8_t want[3000]; /* per call: both threads check */
	ASSERT_EQ(m->type, type_of(i));
	ASSERT_EQ(m->len, len_of(i));
	fill(want, i);
	if (memcmp(m->data, want, m->len)) VMSG_TEST_FAIL("%s: message %u (len %zu type %x) differs", who, i, m->len, m->type);
}

/* ---- the server: echoes, with backpressure ---------------------------- */

static struct {
	unsigned next; /* the index of the next message expected */
	unsigned connected, closed, in_phase, most_in_phase, pauses;
	int closed_err;
	bool pausing;  /* the timer's pause is on */
	bool paused_once;
	bool chan_closed;
	uv_timer_t timer;
} srv;

static void on_resume_timer(uv_timer_t *t)
{
	srv.pausing = false;
	vmsg_uv_resume(t->data);
}

static void srv_connected(vmsg_uv *u)
{
	(void)u;
	ASSERT_EQ(srv.next, 0);
	srv.connected++;
}

static void srv_message(vmsg_uv *u, const struct vmsg_msg *m)
{
	ASSERT_TRUE(!srv.pausing); /* nothing comes while paused */
	ASSERT_EQ(srv.connected, 1);
	ASSERT_LT(srv.next, N);
	check_(m, srv.next, "server");
	ASSERT_LE(++srv.in_phase, BUDGET);
	if (srv.in_phase > srv.most_in_phase)
		srv.most_in_phase = srv.in_phase;
	if (srv.next == PAUSE_AT && !srv.paused_once) {
		srv.paused_once = srv.pausing = true;
		ASSERT_EQ(uv_timer_start(&srv.timer, on_resume_timer, 20, 0), 0);
		return; /* unconsumed: the adapter pauses */
	}
	int r = vmsg_chan_send(vmsg_uv_chan(u), m->type, m->data, m->len, 0, 0);
	if (r == -EAGAIN) {
		srv.pauses++;
		vmsg_uv_want_writable(u);
		return; /* unconsumed: again once the echo may fit */
	}
	ASSERT_EQ(r, (int)m->len);
	ASSERT_EQ(vmsg_chan_release(vmsg_uv_chan(u)), 0);
	srv.next++;
}

static void srv_writable(vmsg_uv *u)
{
	vmsg_uv_resume(u);
}

static void srv_done(vmsg_uv *u)
{
	vmsg_chan_close(vmsg_uv_chan(u));
	srv.chan_closed = true;
}

static void srv_closed(vmsg_uv *u, int err)
{
	srv.closed++;
	srv.closed_err = err;
	vmsg_uv_close(u, srv_done); /* from inside a callback */
	uv_close((uv_handle_t *)&srv.timer, NULL);
}

/* A stall (a wake-up the adapter lost) fails here, not at ctest's
 * timeout: no message for 10 s (generous on a loaded machine). */
static void watchdog(uv_timer_t *t)
{
	static unsigned last = ~0u, still;
	if (srv.next != last || srv.pausing) {
		last = srv.next;
		still = 0;
	} else if (++still == 10) {
		VMSG_TEST_FAIL("stalled at message %u for 10 s", srv.next);
	}
	(void)t;
}

/* Phases of a loop iteration: idle handles, then I/O. A prepare handle
 * runs between them and a check handle after the I/O: each ends one. */
static void phase_end(uv_prepare_t *h)
{
	(void)h;
	srv.in_phase = 0;
}

static void phase_end_check(uv_check_t *h)
{
	(void)h;
	srv.in_phase = 0;
}

/* ---- the client: sends as fast as the ring takes, checks echoes ------- */

struct client {
	const char *path;
	unsigned sent, echoed;
	unsigned writable_calls;
	uint8_t buf[3000];
};

static void cl_send_more(vmsg_uv *u)
{
	struct client *cl = vmsg_uv_data(u);
	while (cl->sent < N) {
		fill(cl->buf, cl->sent);
		int r = vmsg_chan_send(vmsg_uv_chan(u), type_of(cl->sent),
				       cl->buf, len_of(cl->sent), 0, 0);
		if (r == -EAGAIN) {
			vmsg_uv_want_writable(u);
			return;
		}
		ASSERT_EQ(r, (int)len_of(cl->sent));
		cl->sent++;
	}
}

static void cl_connected(vmsg_uv *u)
{
	cl_send_more(u); /* a client end is connected from the start */
}

static void cl_writable(vmsg_uv *u)
{
	((struct client *)vmsg_uv_data(u))->writable_calls++;
	cl_send_more(u);
}

static void cl_message(vmsg_uv *u, const struct vmsg_msg *m)
{
	struct client *cl = vmsg_uv_data(u);
	check_(m, cl->echoed, "client");
	ASSERT_EQ(vmsg_chan_release(vmsg_uv_chan(u)), 0);
	if (++cl->echoed == N)
		vmsg_uv_close(u, NULL); /* all back: stop; the thread closes */
}

static void cl_closed(vmsg_uv *u, int err)
{
	(void)u;
	VMSG_TEST_FAIL("client: channel ended early (%d) after %u echoes",
		       err, ((struct client *)vmsg_uv_data(u))->echoed);
}

static void *client_main(void *arg)
{
	struct client *cl = arg;
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	vmsg_chan *c;
	ASSERT_EQ(vmsg_host_connect(&c, cl->path, &o, T), 0);
	uv_loop_t loop;
	ASSERT_EQ(uv_loop_init(&loop), 0);
	static const struct vmsg_uv_callbacks cb = {
		.connected = cl_connected, .message = cl_message,
		.writable = cl_writable, .closed = cl_closed,
	};
	vmsg_uv *u;
	ASSERT_EQ(vmsg_uv_start(&u, &loop, c, &cb, cl), 0);
	ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
	ASSERT_EQ(cl->echoed, N);
	vmsg_chan_close(c); /* the server sees -EPIPE after the last */
	ASSERT_EQ(uv_loop_close(&loop), 0);
	return NULL;
}

int main(void)
{
	char dir[256], path[300];
	ht_mkdtemp(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/ch", dir);

	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.rx_ring_size = o.tx_ring_size = 8192;
	vmsg_chan *s;
	ASSERT_EQ(vmsg_host_serve(&s, path, &o), 0);

	/* Arguments checked. */
	static const struct vmsg_uv_callbacks bad = { .message = NULL };
	vmsg_uv *u;
	uv_loop_t *loop = uv_default_loop();
	ASSERT_EQ(vmsg_uv_start(&u, loop, s, &bad, NULL), -EINVAL);
	ASSERT_EQ(vmsg_uv_start(&u, NULL, s, &bad, NULL), -EINVAL);

	static const struct vmsg_uv_callbacks cb = {
		.connected = srv_connected, .message = srv_message,
		.writable = srv_writable, .closed = srv_closed,
	};
	ASSERT_EQ(vmsg_uv_start(&u, loop, s, &cb, NULL), 0);
	ASSERT_EQ(vmsg_uv_set_budget(u, 0), -EINVAL);
	ASSERT_EQ(vmsg_uv_set_budget(u, BUDGET), 0);
	ASSERT_TRUE(vmsg_uv_chan(u) == s);
	ASSERT_EQ(uv_timer_init(loop, &srv.timer), 0);
	srv.timer.data = u;
	uv_prepare_t prep;
	uv_check_t chk;
	ASSERT_EQ(uv_prepare_init(loop, &prep), 0);
	ASSERT_EQ(uv_check_init(loop, &chk), 0);
	ASSERT_EQ(uv_prepare_start(&prep, phase_end), 0);
	ASSERT_EQ(uv_check_start(&chk, phase_end_check), 0);
	uv_timer_t dog;
	ASSERT_EQ(uv_timer_init(loop, &dog), 0);
	ASSERT_EQ(uv_timer_start(&dog, watchdog, 1000, 1000), 0);
	uv_unref((uv_handle_t *)&dog);
	uv_unref((uv_handle_t *)&prep);
	uv_unref((uv_handle_t *)&chk);

	struct client cl = { .path = path };
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, client_main, &cl), 0);

	ASSERT_EQ(uv_run(loop, UV_RUN_DEFAULT), 0); /* until it is over */
	ASSERT_EQ(pthread_join(th, NULL), 0);

	ASSERT_EQ(srv.connected, 1);
	ASSERT_EQ(srv.next, N);
	ASSERT_EQ(srv.closed, 1);
	ASSERT_EQ(srv.closed_err, -EPIPE);
	ASSERT_TRUE(srv.chan_closed);
	ASSERT_TRUE(srv.paused_once);
	ASSERT_EQ(srv.most_in_phase, BUDGET); /* the budget was reached */
	uv_close((uv_handle_t *)&dog, NULL);
	uv_close((uv_handle_t *)&prep, NULL);
	uv_close((uv_handle_t *)&chk, NULL);
	ASSERT_EQ(uv_run(loop, UV_RUN_DEFAULT), 0);
	ASSERT_EQ(uv_loop_close(loop), 0);
	ht_rmdir(dir);
	printf("host_uv_adapter: %u messages echoed through 8 KiB rings; the "
	       "server paused %u times for room, the client was woken %u "
	       "times to write; budget %u per phase held\n",
	       N, srv.pauses, cl.writable_calls, BUDGET);
	return 0;
}
