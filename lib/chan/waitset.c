/* One blocking wait for many channels (vmsg/waitset.h): a spin over the
 * channels' rings for the largest of their spin budgets, then the
 * platforms' wait_any op, over the platforms of the set's channels.
 * Freestanding.
 *
 * Events the platform consumed but the caller had no room for stay in
 * fired[] and are handed out by the next call before it waits again, so
 * none is lost between calls.
 */
#include <vmsg/waitset.h>

#include "chan_private.h"

#include "vmsg_barrier.h"
#include "vmsg_errno.h"
#include "vmsg_string.h"

void vmsg_waitset_init(struct vmsg_waitset *ws)
{
	if (ws)
		vmsg__memset(ws, 0, sizeof(*ws));
}

static int find(const struct vmsg_waitset *ws, const vmsg_chan *c)
{
	for (unsigned i = 0; i < ws->n; i++)
		if (ws->chan[i] == c)
			return (int)i;
	return -1;
}

int vmsg_waitset_add(struct vmsg_waitset *ws, vmsg_chan *c, void *data)
{
	if (!ws || !c || !c->p)
		return -EINVAL;
	if (find(ws, c) >= 0)
		return -EEXIST;
	if (ws->n >= VMSG_WAITSET_MAX)
		return -ENOBUFS;
	const struct vmsg_platform_ops *ops = c->p->ops;
	/* One wait for the whole set: every platform in it must be waited
	 * on by the same function. */
	if (!ops->wait_any ||
	    (ws->n && ws->plat[0]->ops->wait_any != ops->wait_any))
		return -ENOTSUP;
	ws->chan[ws->n] = c;
	ws->data[ws->n] = data;
	ws->plat[ws->n] = c->p;
	ws->fired[ws->n] = 0;
	ws->n++;
	return 0;
}

int vmsg_waitset_remove(struct vmsg_waitset *ws, vmsg_chan *c)
{
	if (!ws || !c)
		return -EINVAL;
	int i = find(ws, c);
	if (i < 0)
		return -ENOENT;
	/* Keep the order of the rest: events come out in adding order. */
	for (unsigned k = (unsigned)i; k + 1 < ws->n; k++) {
		ws->chan[k] = ws->chan[k + 1];
		ws->data[k] = ws->data[k + 1];
		ws->plat[k] = ws->plat[k + 1];
		ws->fired[k] = ws->fired[k + 1];
	}
	ws->n--;
	return 0;
}

unsigned vmsg_waitset_count(const struct vmsg_waitset *ws)
{
	return ws ? ws->n : 0;
}

/* Hand out up to cap of the events in fired[]. */
static int report(struct vmsg_waitset *ws, struct vmsg_waitset_event *ev,
		  unsigned cap)
{
	unsigned k = 0;
	for (unsigned i = 0; i < ws->n && k < cap; i++) {
		if (!ws->fired[i])
			continue;
		ws->fired[i] = 0;
		ev[k].chan = ws->chan[i];
		ev[k].data = ws->data[i];
		k++;
	}
	return (int)k;
}

/* Rounds of looking at the rings between two reads of the clock. */
#define SPIN_ROUNDS_PER_CLOCK 32u
/* Reads of the clock between two looks at the events (a system call). */
#define SPIN_CLOCKS_PER_EVENTS 16u

/* Wait up to timeout_ms (0: only take what is pending) for the
 * platforms' events and add them to ws->fired; 1 if any, 0 if none, or
 * the platform's error. */
static int take_events(struct vmsg_waitset *ws, int timeout_ms)
{
	vmsg__memset(ws->scratch, 0, ws->n);
	int r = ws->plat[0]->ops->wait_any(ws->plat, ws->n, timeout_ms,
					   ws->scratch);
	if (r <= 0)
		return r;
	for (unsigned i = 0; i < ws->n; i++)
		ws->fired[i] |= ws->scratch[i];
	return 1;
}

/* Before sleeping: watch the rings for up to the largest spin budget
 * (opts.spin_ns) of the set's channels, bounded by the timeout, and mark
 * fired the channels whose peer published or consumed meanwhile (what
 * its kick, if we asked for one, would say). A ring's count that changes
 * to an error (-EPROTO) counts too: the caller's next call reports it.
 * Returns 1 when some fired, 0 when the budget ran out (a close or
 * anything else the rings do not show is then left to the sleep), or the
 * platform's error.
 *
 * What the peer did between the caller's last look and our first counts
 * shows in neither: its kick does, if the caller asked for one. So the
 * counts and our request bytes (which the peer clears as it kicks) are
 * taken first, then the events already pending; a kick whose bit was
 * cleared before our counts but whose event lands after that look is
 * caught by the looks at the events while spinning. Our request bytes
 * are in the shared page: a peer that writes them at will only makes us
 * report a channel with nothing new, as a stray kick would. (Taking the
 * events first left a reply published in between to wait out the whole
 * budget: lib/block's depth-1 reads against a server that answers within
 * a microsecond or two then took 60 us instead of 5.) */
static int spin(struct vmsg_waitset *ws, int timeout_ms, uint64_t *spent)
{
	*spent = 0;
	uint64_t budget = 0;
	for (unsigned i = 0; i < ws->n; i++)
		if (ws->chan[i]->opts.spin_ns > budget)
			budget = ws->chan[i]->opts.spin_ns;
	if (budget == 0 || timeout_ms == 0)
		return 0;
	if (timeout_ms > 0 && budget > (uint64_t)timeout_ms * 1000000u)
		budget = (uint64_t)timeout_ms * 1000000u;
	int rx0[VMSG_WAITSET_MAX], tx0[VMSG_WAITSET_MAX];
	uint8_t want0[VMSG_WAITSET_MAX];
	for (unsigned i = 0; i < ws->n; i++) {
		struct vmsg_ring_end *e = &ws->chan[i]->end;
		want0[i] = vmsg__load_acquire(e->want);
		rx0[i] = vmsg_ring_data_ready(e);
		tx0[i] = vmsg_ring_buffer_space(e);
	}
	int r = take_events(ws, 0);
	if (r != 0)
		return r;
	struct vmsg_platform *p = ws->plat[0];
	uint64_t start = p->ops->now_ns(p);
	for (unsigned round = 1;; round++) {
		bool moved = false;
		for (unsigned i = 0; i < ws->n; i++) {
			struct vmsg_ring_end *e = &ws->chan[i]->end;
			if (vmsg_ring_data_ready(e) != rx0[i] ||
			    vmsg_ring_buffer_space(e) != tx0[i] ||
			    vmsg__load_acquire(e->want) != want0[i]) {
				ws->fired[i] = 1;
				moved = true;
			}
		}
		if (moved)
			return 1;
		if (round % SPIN_ROUNDS_PER_CLOCK == 0) {
			*spent = p->ops->now_ns(p) - start;
			if (*spent >= budget)
				return 0;
			unsigned clocks = round / SPIN_ROUNDS_PER_CLOCK;
			if (clocks % SPIN_CLOCKS_PER_EVENTS == 0 &&
			    (r = take_events(ws, 0)) != 0)
				return r;
		}
		vmsg__cpu_relax();
	}
}

int vmsg_waitset_wait(struct vmsg_waitset *ws, struct vmsg_waitset_event *ev,
		      unsigned cap, int timeout_ms)
{
	if (!ws || !ev || cap == 0 || (ws->n == 0 && timeout_ms < 0))
		return -EINVAL;
	int k = report(ws, ev, cap);
	if (k > 0 || ws->n == 0)
		return k;
	uint64_t spent;
	int r = spin(ws, timeout_ms, &spent);
	if (r < 0)
		return r;
	if (r > 0)
		return report(ws, ev, cap);
	if (timeout_ms > 0) { /* the spin came out of the timeout */
		uint64_t left = (uint64_t)timeout_ms * 1000000u;
		if (spent >= left)
			return 0;
		timeout_ms = (int)((left - spent + 999999u) / 1000000u);
	}
	for (unsigned i = 0; i < ws->n; i++)
		ws->chan[i]->st.sleeps++;
	r = take_events(ws, timeout_ms);
	return r <= 0 ? r : report(ws, ev, cap);
}
