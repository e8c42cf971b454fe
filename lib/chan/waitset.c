/* One blocking wait for many channels (vmsg/waitset.h): the platforms'
 * wait_any op, over the platforms of the set's channels. Freestanding.
 *
 * Events the platform consumed but the caller had no room for stay in
 * fired[] and are handed out by the next call before it waits again, so
 * none is lost between calls.
 */
#include <vmsg/waitset.h>

#include "chan_private.h"

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

int vmsg_waitset_wait(struct vmsg_waitset *ws, struct vmsg_waitset_event *ev,
		      unsigned cap, int timeout_ms)
{
	if (!ws || !ev || cap == 0 || (ws->n == 0 && timeout_ms < 0))
		return -EINVAL;
	int k = report(ws, ev, cap);
	if (k > 0 || ws->n == 0)
		return k;
	vmsg__memset(ws->scratch, 0, ws->n);
	const struct vmsg_platform_ops *ops = ws->plat[0]->ops;
	int r = ops->wait_any(ws->plat, ws->n, timeout_ms, ws->scratch);
	if (r <= 0)
		return r;
	for (unsigned i = 0; i < ws->n; i++)
		ws->fired[i] |= ws->scratch[i];
	return report(ws, ev, cap);
}
