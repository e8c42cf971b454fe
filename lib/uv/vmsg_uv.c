/* libvmsg-uv: a vmsg channel on a libuv loop (vmsg/uv.h).
 *
 * One uv_poll on the channel's fd and one uv_idle for the work left over
 * when a wake-up's budget ran out (or for a resume): the idle handle runs
 * on the next loop iteration after the loop's other I/O, without another
 * kick from the peer. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include <uv.h>

#include <vmsg/uv.h>

struct vmsg_uv {
	uv_poll_t poll;
	uv_idle_t idle;
	vmsg_chan *c;
	struct vmsg_uv_callbacks cb;
	void *data;
	unsigned budget;
	unsigned open_handles;
	bool accepted;   /* the peer is there (a client end always is) */
	bool want_write; /* call `writable` at the next wake-up */
	bool paused;     /* `message` left its message: wait for resume */
	bool idling;
	bool ended;      /* `closed` was called */
	bool closing;    /* vmsg_uv_close was called */
	void (*done)(vmsg_uv *u);
};

static uint64_t consumed(vmsg_uv *u)
{
	struct vmsg_chan_stats st;
	return vmsg_chan_stats(u->c, &st) == 0 ? st.rx_msgs : 0;
}

static void on_idle(uv_idle_t *h);

static void idle(vmsg_uv *u, bool on)
{
	if (on == u->idling || u->closing)
		return;
	u->idling = on;
	if (on)
		uv_idle_start(&u->idle, on_idle);
	else
		uv_idle_stop(&u->idle);
}

/* The channel is over: stop watching and tell the caller once. */
static void end(vmsg_uv *u, int err)
{
	u->ended = true;
	idle(u, false);
	uv_poll_stop(&u->poll);
	u->cb.closed(u, err);
}

/* Everything a wake-up (or the idle handle) does. Every callback may
 * close the adapter: look at `closing` after each. */
static void pump(vmsg_uv *u)
{
	if (u->closing || u->ended)
		return;
	/* Consume the event before looking, so that a kick that comes
	 * while we look makes the fd readable again. */
	(void)vmsg_chan_ack(u->c);
	if (!u->accepted) {
		int r = vmsg_chan_accept(u->c, 0);
		if (r == -EAGAIN) {
			/* The client kicks us when it arrives. The idle handle
			 * (on from the start) goes off: left on, a server that
			 * waits would spin the loop until its client came
			 * (vmsgd, with a domain's spare control channel). */
			idle(u, false);
			return;
		}
		/* -EPIPE: it came and went, but what it sent is delivered
		 * first, as on a channel it closed after the accept. */
		if (r < 0 && r != -EPIPE) {
			end(u, r);
			return;
		}
		u->accepted = true;
		if (u->cb.connected) {
			u->cb.connected(u);
			if (u->closing)
				return;
		}
	}
	if (u->want_write) {
		u->want_write = false;
		if (u->cb.writable) {
			u->cb.writable(u);
			if (u->closing)
				return;
		}
	}
	for (unsigned n = 0; !u->paused; n++) {
		if (n == u->budget) {
			idle(u, true); /* the rest on the next iteration */
			return;
		}
		struct vmsg_msg m;
		int r = vmsg_chan_peek(u->c, &m, 0);
		if (r == -EAGAIN)
			break; /* it asked the peer for the next kick */
		if (r == -EMSGSIZE) { /* dropped by the library; go on */
			if (u->cb.dropped) {
				u->cb.dropped(u, r);
				if (u->closing)
					return;
			}
			continue;
		}
		if (r < 0) {
			end(u, r);
			return;
		}
		uint64_t before = consumed(u);
		u->cb.message(u, &m);
		if (u->closing)
			return;
		if (consumed(u) == before)
			u->paused = true; /* backpressure: until resume */
	}
	idle(u, false);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	(void)events;
	vmsg_uv *u = h->data;
	if (status < 0) {
		if (!u->closing && !u->ended)
			end(u, status); /* libuv's errors are -errno */
		return;
	}
	pump(u);
}

static void on_idle(uv_idle_t *h)
{
	pump(h->data);
}

int vmsg_uv_start(vmsg_uv **out, uv_loop_t *loop, vmsg_chan *c,
		  const struct vmsg_uv_callbacks *cb, void *data)
{
	if (!out || !loop || !c || !cb || !cb->message || !cb->closed)
		return -EINVAL;
	int fd = vmsg_chan_fd(c);
	if (fd < 0)
		return fd;
	vmsg_uv *u = calloc(1, sizeof *u);
	if (!u)
		return -ENOMEM;
	int r = uv_poll_init(loop, &u->poll, fd);
	if (r < 0) {
		free(u);
		return r;
	}
	uv_idle_init(loop, &u->idle); /* cannot fail */
	u->poll.data = u->idle.data = u;
	u->open_handles = 2;
	u->c = c;
	u->cb = *cb;
	u->data = data;
	u->budget = VMSG_UV_BUDGET;
	r = uv_poll_start(&u->poll, UV_READABLE, on_poll);
	if (r < 0) {
		vmsg_uv_close(u, NULL);
		return r;
	}
	/* What is in the ring already came without a kick for us. */
	idle(u, true);
	*out = u;
	return 0;
}

int vmsg_uv_set_budget(vmsg_uv *u, unsigned budget)
{
	if (!u || budget == 0)
		return -EINVAL;
	u->budget = budget;
	return 0;
}

void vmsg_uv_want_writable(vmsg_uv *u)
{
	if (u)
		u->want_write = true;
}

void vmsg_uv_resume(vmsg_uv *u)
{
	if (!u || !u->paused)
		return;
	u->paused = false;
	idle(u, true);
}

vmsg_chan *vmsg_uv_chan(vmsg_uv *u)
{
	return u ? u->c : NULL;
}

void *vmsg_uv_data(vmsg_uv *u)
{
	return u ? u->data : NULL;
}

static void on_closed(uv_handle_t *h)
{
	vmsg_uv *u = h->data;
	if (--u->open_handles)
		return;
	if (u->done)
		u->done(u);
	free(u);
}

void vmsg_uv_close(vmsg_uv *u, void (*done)(vmsg_uv *u))
{
	if (!u || u->closing)
		return;
	u->closing = true;
	u->done = done;
	uv_close((uv_handle_t *)&u->poll, on_closed);
	uv_close((uv_handle_t *)&u->idle, on_closed);
}
