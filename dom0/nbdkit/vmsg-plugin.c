/* nbdkit-vmsg-plugin: serve a vmsg block device (docs/block.md) over NBD
 * with nbdkit, so that qemu-img, nbdcopy, nbdinfo, qemu and the kernel's
 * nbd client use it. The NBD protocol is nbdkit's; this file only turns
 * nbdkit's calls into lib/block requests.
 *
 *   nbdkit vmsg path=/run/disk.sock      a provider on a host-backend path
 *   nbdkit vmsg service=NAME             a service through vmsgd (Xen)
 *   nbdkit vmsg xen=DOMID port=NAME      a direct Xen channel served by
 *                                        domain DOMID at the conventional
 *                                        path /local/domain/DOMID/data/
 *                                        vchan/<us>/NAME (dom0's way to a
 *                                        guest's disk: vmsgd brokers guest
 *                                        domains only)
 *
 * Each NBD connection opens its own vmsg channel. nbdkit calls in from
 * several threads at once (the parallel thread model); lib/block's client
 * is single-threaded, so it is used under the handle's mutex, and one
 * waiting thread at a time polls the channel's fd with the mutex released
 * ("the driver"), hands out every completion it reaps and wakes exactly
 * the threads whose requests completed. A driver whose own request is
 * done hands the driving to one thread still waiting ("the heir"). So one
 * connection keeps as many requests in flight as nbdkit has threads for
 * it.
 *
 * A waiting thread sleeps on a futex word of its own, woken after the
 * mutex is released, and one whose request is done returns without
 * taking the mutex again. (A broadcast condition woke all of nbdkit's
 * threads for every completion, 40 % of the depth-32 IOPS on two cores; a
 * condition per thread, signalled under the mutex, made each woken thread
 * block at once on the mutex its waker still held: at depth 32 a sixth
 * of nbdkit's time went to that convoy, docs/benchmarks.md.) */
#define NBDKIT_API_VERSION 2
#include <errno.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <nbdkit-plugin.h>

#include <vmsg/block.h>
#include <vmsg/host.h>
#include <vmsg/version.h>

#include "vmsg_clock.h"
#ifdef VMSG_PLUGIN_SERVICE
#include <vmsg/service.h>
#include <vmsg/xen.h>
#endif

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

#define DEPTH 64u
#define MAX_REQ (4u * 1024u * 1024u)
#define CONNECT_MS 10000

static const char *path;
static const char *service;
static const char *xen_port;  /* port=NAME */
static int xen_domid = -1;    /* xen=DOMID */
static uint64_t spin_ns;      /* spin-us=N, in ns */
/* timeout=SEC, in ns: requests waiting and no reply for this long fail
 * with EIO (0: wait for ever) */
static uint64_t timeout_ns = 30u * 1000000000ull;
#ifdef VMSG_PLUGIN_SERVICE
static char xen_path[256];    /* the channel's path (config_complete) */
#endif

#ifdef VMSG_PLUGIN_SERVICE
static pthread_mutex_t ctl_mu = PTHREAD_MUTEX_INITIALIZER;
static vmsg_ctl *ctl;
#endif

/* What a waiting thread is told (struct waiter's state). */
enum { W_WAIT, W_DRIVE, W_DONE };

/* One request's wait, on the handle's list of requests in flight until
 * it is done. */
struct waiter {
	/* W_*: written under h->mu, read by its own thread without it (a
	 * futex word). W_DONE is final: status is set before it (release). */
	_Atomic uint32_t state;
	int32_t status;
	struct waiter *prev, *next;
};

struct handle {
	pthread_mutex_t mu;
	pthread_cond_t room; /* submitters waiting for depth or ring room */
	vmsg_chan *c;
	vmsg_blk_client *cl;
	void *mem;
	bool driving; /* a thread is polling the channel */
	struct waiter *heir; /* told W_DRIVE, not yet back under h->mu */
	struct waiter *waiting; /* requests in flight, not yet done */
	uint64_t progress_ns; /* the last reply, or the first request sent
				 while none was in flight (timeout=) */
	const struct vmsg_blk_info *info;
};

/* Threads to wake once h->mu is released: the completions of a reap or
 * two, and an heir or two. */
struct wakes {
	unsigned n;
	struct waiter *w[DEPTH + 4];
};

/* A decimal number 0..max (no sign), the parameters' one syntax. */
static bool parse_num(const char *value, unsigned long max,
		      unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(value, &end, 10);
	if (errno || end == value || *end || value[0] == '-' || v > max)
		return false;
	*out = v;
	return true;
}

static int vmsg_config(const char *key, const char *value)
{
	if (strcmp(key, "path") == 0) {
		path = value;
	} else if (strcmp(key, "service") == 0) {
#ifdef VMSG_PLUGIN_SERVICE
		if (!vmsg_service_name_ok(value)) {
			nbdkit_error("service=%s: names are 1..%d of "
				     "[A-Za-z0-9._-]", value,
				     VMSG_SERVICE_NAME_MAX);
			return -1;
		}
		service = value;
#else
		nbdkit_error("service=: built without the Xen backend (no "
			     "vmsgd client); use path=");
		return -1;
#endif
	} else if (strcmp(key, "spin-us") == 0) {
		unsigned long us;
		if (!parse_num(value, 1000000, &us)) {
			nbdkit_error("spin-us=%s: expected 0..1000000 "
				     "microseconds", value);
			return -1;
		}
		spin_ns = (uint64_t)us * 1000u;
	} else if (strcmp(key, "timeout") == 0) {
		unsigned long sec;
		if (!parse_num(value, 86400, &sec)) {
			nbdkit_error("timeout=%s: expected 0..86400 seconds",
				     value);
			return -1;
		}
		timeout_ns = (uint64_t)sec * 1000000000u;
	} else if (strcmp(key, "xen") == 0 || strcmp(key, "port") == 0) {
#ifdef VMSG_PLUGIN_SERVICE
		if (key[0] == 'p') {
			/* Service names' alphabet: no '/' in a path. */
			if (!vmsg_service_name_ok(value)) {
				nbdkit_error("port=%s: names are 1..%d of "
					     "[A-Za-z0-9._-]", value,
					     VMSG_SERVICE_NAME_MAX);
				return -1;
			}
			xen_port = value;
			return 0;
		}
		char *end;
		errno = 0;
		unsigned long d = strtoul(value, &end, 10);
		if (errno || end == value || *end || d >= VMSG_DOMID_LIMIT) {
			nbdkit_error("xen=%s: expected a domain id", value);
			return -1;
		}
		xen_domid = (int)d;
#else
		nbdkit_error("%s=: built without the Xen backend; use path=",
			     key);
		return -1;
#endif
	} else {
		nbdkit_error("unknown parameter '%s' (see nbdkit vmsg --help)",
			     key);
		return -1;
	}
	return 0;
}

static int vmsg_config_complete(void)
{
	bool xen = xen_domid >= 0 || xen_port;
	if ((path != NULL) + (service != NULL) + xen != 1) {
		nbdkit_error("give path=PATH (a provider on the host backend), "
			     "service=NAME (through vmsgd) or xen=DOMID "
			     "port=NAME (a direct Xen channel), one of them");
		return -1;
	}
	if (xen && (xen_domid < 0 || !xen_port)) {
		nbdkit_error("xen=DOMID and port=NAME go together");
		return -1;
	}
#ifdef VMSG_PLUGIN_SERVICE
	if (xen) {
		uint16_t us;
		int r = vmsg_xen_own_domid(&us);
		if (r < 0) {
			nbdkit_error("xen=: our domain id: %s", vmsg_strerror(r));
			return -1;
		}
		if (vmsg_xen_path(xen_path, sizeof(xen_path),
				  (uint16_t)xen_domid, us, xen_port) < 0) {
			nbdkit_error("xen=%d port=%s: no such path", xen_domid,
				     xen_port);
			return -1;
		}
	}
#endif
	return 0;
}

static void vmsg_dump_plugin(void)
{
	printf("vmsg_version=%s\n", vmsg_version());
}

static int open_chan(vmsg_chan **c)
{
	struct vmsg_chan_opts o;
	int r;

	if (path) {
		vmsg_chan_opts_init(&o);
		o.max_msg = MAX_REQ + 64u;
		/* A provider serving many consumers on one path takes them
		 * one at a time: -EBUSY while it takes another. */
		for (int tries = 0;; tries++) {
			r = vmsg_host_connect(c, path, &o, CONNECT_MS);
			if (r != -EBUSY || tries == 5000)
				break;
			struct timespec ts = { 0, 2000000 };
			nanosleep(&ts, NULL);
		}
		if (r < 0)
			nbdkit_error("vmsg: connect to %s: %s", path,
				     vmsg_strerror(r));
		return r;
	}
#ifdef VMSG_PLUGIN_SERVICE
	if (xen_port) {
		vmsg_chan_opts_init(&o);
		o.max_msg = MAX_REQ + 64u;
		/* A guest's server takes one consumer at a time: -EBUSY (its
		 * event port taken) while it still has the previous one,
		 * which it drops once that one's close reaches it. */
		for (int tries = 0;; tries++) {
			r = vmsg_xen_connect(c, (uint16_t)xen_domid, xen_path, &o,
					     CONNECT_MS);
			if (r != -EBUSY || tries == 500)
				break;
			struct timespec ts = { 0, 20000000 };
			nanosleep(&ts, NULL);
		}
		if (r < 0)
			nbdkit_error("vmsg: connect to %s: %s", xen_path,
				     vmsg_strerror(r));
		return r;
	}
	pthread_mutex_lock(&ctl_mu);
	r = 0;
	if (!ctl && (r = vmsg_ctl_open(&ctl, CONNECT_MS)) < 0)
		nbdkit_error("vmsg: vmsgd: %s", vmsg_strerror(r));
	if (r == 0 && (r = vmsg_service_open(ctl, service, c, CONNECT_MS)) < 0)
		nbdkit_error("vmsg: open service %s: %s%s%s", service,
			     vmsg_strerror(r), *vmsg_ctl_error(ctl) ? ": " : "",
			     vmsg_ctl_error(ctl));
	pthread_mutex_unlock(&ctl_mu);
	return r;
#else
	return -ENOTSUP;
#endif
}

static void close_chan(vmsg_chan *c)
{
#ifdef VMSG_PLUGIN_SERVICE
	if (service) {
		pthread_mutex_lock(&ctl_mu);
		vmsg_service_close(ctl, c);
		pthread_mutex_unlock(&ctl_mu);
		return;
	}
#endif
	vmsg_chan_close(c);
}

static void *vmsg_open(int readonly)
{
	(void)readonly;
	struct handle *h = calloc(1, sizeof(*h));
	if (!h) {
		nbdkit_error("vmsg: out of memory");
		return NULL;
	}
	if (open_chan(&h->c) < 0) {
		free(h);
		return NULL;
	}
	size_t sz = vmsg_blk_client_size(DEPTH, MAX_REQ);
	h->mem = aligned_alloc(8, (sz + 7) & ~(size_t)7);
	int r = h->mem ? vmsg_blk_client_init(&h->cl, h->mem, sz, h->c, DEPTH,
					      MAX_REQ, CONNECT_MS)
		       : -ENOMEM;
	if (r < 0) {
		nbdkit_error("vmsg: block protocol negotiation: %s",
			     vmsg_strerror(r));
		close_chan(h->c);
		free(h->mem);
		free(h);
		return NULL;
	}
	h->info = vmsg_blk_client_info(h->cl);
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->room, NULL);
	nbdkit_debug("vmsg: %" PRIu64 " bytes, blocks %u/%u, max_req %u, "
		     "depth %u, flags 0x%x", h->info->size,
		     h->info->logical_block, h->info->physical_block,
		     h->info->max_req, h->info->depth, h->info->flags);
	return h;
}

static void vmsg_close(void *hv)
{
	struct handle *h = hv;
	vmsg_blk_client_fini(h->cl);
	close_chan(h->c);
	pthread_cond_destroy(&h->room);
	pthread_mutex_destroy(&h->mu);
	free(h->mem);
	free(h);
}

static int64_t vmsg_get_size(void *hv)
{
	return (int64_t)((struct handle *)hv)->info->size;
}

static int flag(void *hv, uint32_t f)
{
	return (((struct handle *)hv)->info->flags & f) != 0;
}

static int vmsg_can_write(void *hv) { return !flag(hv, VMSG_BLK_F_READ_ONLY); }
static int vmsg_can_flush(void *hv) { return flag(hv, VMSG_BLK_F_FLUSH); }
static int vmsg_can_trim(void *hv) { return flag(hv, VMSG_BLK_F_TRIM); }
static int vmsg_can_zero(void *hv) { return flag(hv, VMSG_BLK_F_WRITE_ZEROES); }

/* Each NBD connection is a channel of its own to the provider: several
 * see one disk where the provider says so (vmsg-blockd on a host path or
 * a service), and NBD clients may then spread their requests over them. */
static int vmsg_can_multi_conn(void *hv)
{
	return flag(hv, VMSG_BLK_F_MULTI_CONN);
}

static int vmsg_can_fua(void *hv)
{
	return flag(hv, VMSG_BLK_F_FUA) ? NBDKIT_FUA_NATIVE : NBDKIT_FUA_EMULATE;
}

static int vmsg_block_size(void *hv, uint32_t *min, uint32_t *pref,
			   uint32_t *max)
{
	struct handle *h = hv;
	*min = h->info->logical_block;
	*pref = h->info->physical_block;
	*max = 0xffffffffu; /* larger requests are split here */
	return 0;
}

static void unlist(struct handle *h, struct waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		h->waiting = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
}

static uint32_t state_of(struct waiter *w)
{
	return atomic_load_explicit(&w->state, memory_order_acquire);
}

/* Outside h->mu where it can be. A waiter told W_DONE may already have
 * seen it and returned, its struct gone with its stack frame: FUTEX_WAKE
 * only uses the address as a key and touches no memory there, and a
 * futex that later lives at that address takes the stray wake-up as
 * spurious, which every futex loop (ours below, glibc's) allows. */
static void do_wakes(struct wakes *wk)
{
	for (unsigned i = 0; i < wk->n; i++)
		(void)syscall(SYS_futex, &wk->w[i]->state, FUTEX_WAKE_PRIVATE,
			      1, NULL, NULL, 0);
	wk->n = 0;
}

/* Tell `w` (under h->mu) and wake it later (do_wakes). */
static void tell(struct wakes *wk, struct waiter *w, uint32_t state)
{
	atomic_store_explicit(&w->state, state, memory_order_release);
	if (wk->n == sizeof wk->w / sizeof wk->w[0])
		do_wakes(wk); /* never in practice; correct, only slower */
	wk->w[wk->n++] = w;
}

/* Sleep (outside h->mu) until w's state is no longer W_WAIT. */
static void sleep_while_waiting(struct waiter *w)
{
	while (state_of(w) == W_WAIT)
		(void)syscall(SYS_futex, &w->state, FUTEX_WAIT_PRIVATE, W_WAIT,
			      NULL, NULL, 0);
}

/* Hand out what the client has completed (under h->mu): each completed
 * waiter is told W_DONE and woken alone, later. */
static void dispatch(struct handle *h, struct wakes *wk)
{
	struct vmsg_blk_done done[DEPTH];
	int n = vmsg_blk_client_reap(h->cl, done, DEPTH, 0);
	if (n > 0 && timeout_ns)
		h->progress_ns = vmsg__clock_ns();
	for (int i = 0; i < n; i++) {
		struct waiter *w = (struct waiter *)(uintptr_t)done[i].user;
		w->status = done[i].status;
		unlist(h, w);
		if (h->heir == w)
			h->heir = NULL;
		tell(wk, w, W_DONE);
	}
	if (n > 0)
		pthread_cond_broadcast(&h->room);
}

/* Under h->mu, by a thread leaving the plugin's wait (its request done,
 * or never submitted): someone must drive for the requests still in
 * flight. The first waiter is told to, unless a driver or an heir is on
 * its way. (A thread woken with W_DONE leaves without the mutex: whoever
 * told it so drives on, or leaves through here.) */
static void hand_drive(struct handle *h, struct wakes *wk)
{
	if (h->driving || h->heir || !h->waiting)
		return;
	h->heir = h->waiting;
	tell(wk, h->heir, W_DRIVE);
}

/* Under h->mu, by the driver: a provider that is still connected but has
 * answered nothing for timeout= while requests wait (hung, or hostile)
 * would hold the NBD client's requests, and nbdkit's threads, for ever:
 * they fail instead (EIO), and so does everything after on this
 * connection, as when the provider goes away. */
static void give_up_if_silent(struct handle *h, struct wakes *wk)
{
	if (!timeout_ns || !vmsg_blk_client_outstanding(h->cl) ||
	    vmsg__clock_ns() - h->progress_ns < timeout_ns)
		return;
	nbdkit_error("vmsg: the provider has answered nothing for %" PRIu64
		     " s with %u requests waiting: failing them",
		     timeout_ns / 1000000000u,
		     vmsg_blk_client_outstanding(h->cl));
	(void)vmsg_blk_client_abort(h->cl, -ETIMEDOUT);
	dispatch(h, wk);
}

/* Under h->mu, with nobody driving: poll the channel with the mutex
 * released, then hand out what came. w: the driver's own request (NULL:
 * a submitter waiting for room). */
static void drive(struct handle *h, struct waiter *w, struct wakes *wk)
{
	h->driving = true;
	int fd = vmsg_chan_fd(h->c);
	pthread_mutex_unlock(&h->mu);
	do_wakes(wk);
	/* The reap that found nothing asked the provider for a kick; a
	 * provider that died makes the fd readable too. */
	struct pollfd p = { .fd = fd, .events = POLLIN };
	/* spin-us: look without sleeping first. A reply from a provider on
	 * another CPU comes within microseconds; a sleep costs a wake-up of
	 * an idle CPU, tens of microseconds where idle CPUs halt
	 * (docs/benchmarks.md, "Where the processes run"). */
	if (spin_ns) {
		uint64_t end = vmsg__clock_ns() + spin_ns;
		while (poll(&p, 1, 0) == 0 && vmsg__clock_ns() < end)
			;
	}
	if (!(p.revents & (POLLIN | POLLERR | POLLHUP)))
		(void)poll(&p, 1, 1000);
	pthread_mutex_lock(&h->mu);
	(void)vmsg_chan_ack(h->c);
	dispatch(h, wk);
	give_up_if_silent(h, wk);
	h->driving = false;
	/* A driver whose request is not done goes on itself (its caller
	 * loops); one whose request is done hands the driving on as it
	 * leaves (await_done). Submitters waiting for room look again (one
	 * of them drives if nobody does). */
	if (!w || state_of(w) == W_DONE)
		pthread_cond_broadcast(&h->room);
}

/* Submit io (under h->mu), waiting while the client is full. */
static int submit(struct handle *h, struct vmsg_blk_io *io, struct wakes *wk)
{
	for (;;) {
		int r = vmsg_blk_client_submit(h->cl, io, 0);
		if (r != -EBUSY && r != -EAGAIN)
			return r;
		/* Full (depth or ring): let completions make room. */
		dispatch(h, wk);
		if (h->driving) {
			do_wakes(wk); /* under the mutex: a rare path */
			pthread_cond_wait(&h->room, &h->mu);
		} else {
			drive(h, NULL, wk);
		}
	}
}

/* Wait until w, submitted and on the list, is done: entered under h->mu,
 * returns without it. */
static void await_done(struct handle *h, struct waiter *w, struct wakes *wk)
{
	while (state_of(w) != W_DONE) {
		if (!h->driving) {
			drive(h, w, wk);
			continue;
		}
		/* Someone drives: sleep until told. */
		pthread_mutex_unlock(&h->mu);
		do_wakes(wk);
		sleep_while_waiting(w);
		/* Done: return without the mutex. Whoever told us so drives
		 * on or hands the driving on. */
		if (state_of(w) == W_DONE)
			return;
		pthread_mutex_lock(&h->mu);
		/* W_DRIVE: back under the mutex, no longer the heir; drive if
		 * nobody took it meanwhile, or wait again. */
		if (h->heir == w)
			h->heir = NULL;
		if (state_of(w) == W_DRIVE)
			atomic_store_explicit(&w->state, W_WAIT,
					      memory_order_relaxed);
	}
	hand_drive(h, wk);
	pthread_mutex_unlock(&h->mu);
	do_wakes(wk);
}

/* One lib/block request of at most max_req bytes. Returns 0 or sets the
 * NBD error and returns -1. */
static int one(struct handle *h, unsigned op, void *buf, uint32_t len,
	       uint64_t off, unsigned flags)
{
	struct waiter w = { .state = W_WAIT };
	struct wakes wk = { .n = 0 };
	struct vmsg_blk_io io = {
		.op = (uint16_t)op, .flags = (uint16_t)flags, .length = len,
		.offset = off, .buf = buf, .user = (uint64_t)(uintptr_t)&w,
	};

	pthread_mutex_lock(&h->mu);
	bool idle = vmsg_blk_client_outstanding(h->cl) == 0;
	int r = submit(h, &io, &wk);
	if (r == 0) {
		if (idle && timeout_ns)
			h->progress_ns = vmsg__clock_ns(); /* the wait starts now */
		w.next = h->waiting;
		if (w.next)
			w.next->prev = &w;
		h->waiting = &w;
		dispatch(h, &wk); /* publishes it, and takes what is in */
		await_done(h, &w, &wk);
		r = w.status;
	} else {
		hand_drive(h, &wk);
		pthread_mutex_unlock(&h->mu);
		do_wakes(&wk);
	}
	if (r < 0) {
		nbdkit_error("vmsg: %s of %u bytes at %" PRIu64 ": %s",
			     vmsg_blk_op_name(op), len, off, vmsg_strerror(r));
		/* The provider went away: an I/O error for the NBD client. */
		nbdkit_set_error(r == -EPIPE || r == -EPROTO || r == -ETIMEDOUT
					 ? EIO : -r);
		return -1;
	}
	return 0;
}

/* Split a request into pieces of at most max_req. */
static int split(void *hv, unsigned op, void *buf, uint32_t count,
		 uint64_t off, unsigned flags)
{
	struct handle *h = hv;
	uint32_t max = h->info->max_req;
	while (count) {
		uint32_t n = count < max ? count : max;
		if (one(h, op, buf, n, off, flags) < 0)
			return -1;
		count -= n;
		off += n;
		if (buf)
			buf = (uint8_t *)buf + n;
	}
	return 0;
}

static unsigned fua(uint32_t flags)
{
	return flags & NBDKIT_FLAG_FUA ? VMSG_BLK_REQ_FUA : 0;
}

static int vmsg_pread(void *hv, void *buf, uint32_t count, uint64_t off,
		      uint32_t flags)
{
	(void)flags;
	return split(hv, VMSG_BLK_OP_READ, buf, count, off, 0);
}

static int vmsg_pwrite(void *hv, const void *buf, uint32_t count,
		       uint64_t off, uint32_t flags)
{
	return split(hv, VMSG_BLK_OP_WRITE, (void *)buf, count, off,
		     fua(flags));
}

static int vmsg_zero(void *hv, uint32_t count, uint64_t off, uint32_t flags)
{
	if (flags & NBDKIT_FLAG_FAST_ZERO) {
		nbdkit_set_error(ENOTSUP);
		return -1;
	}
	return split(hv, VMSG_BLK_OP_WRITE_ZEROES, NULL, count, off,
		     fua(flags));
}

static int vmsg_trim(void *hv, uint32_t count, uint64_t off, uint32_t flags)
{
	(void)flags; /* FUA on trim: a trimmed range has nothing to keep */
	return split(hv, VMSG_BLK_OP_TRIM, NULL, count, off, 0);
}

static int vmsg_flush(void *hv, uint32_t flags)
{
	(void)flags;
	return one(hv, VMSG_BLK_OP_FLUSH, NULL, 0, 0, 0);
}

static struct nbdkit_plugin plugin = {
	.name = "vmsg",
	.longname = "vmsg block device",
	.version = VMSG_VERSION_STRING,
	.description = "serve a vmsg block service (docs/storage.md) over NBD",
	.config = vmsg_config,
	.config_complete = vmsg_config_complete,
	.config_help =
		"path=PATH      a provider on the host backend (vmsg-blockd --listen)\n"
		"service=NAME   a block service offered through vmsgd\n"
		"xen=DOMID      with port=NAME: a direct Xen channel served by\n"
		"port=NAME      domain DOMID at /local/domain/DOMID/data/vchan/<us>/NAME\n"
		"               (vmsg-blockd --xen, overlay-appliance serve=xen:...)\n"
		"spin-us=N      wait for the provider's replies by looking for N\n"
		"               microseconds before sleeping (default 0: sleep at\n"
		"               once; docs/storage.md)\n"
		"timeout=SEC    requests waiting and no reply from the provider\n"
		"               for SEC seconds: they fail with EIO, and so does\n"
		"               the connection from then on (default 30; 0: wait\n"
		"               for ever)",
	.dump_plugin = vmsg_dump_plugin,
	.open = vmsg_open,
	.close = vmsg_close,
	.get_size = vmsg_get_size,
	.can_write = vmsg_can_write,
	.can_flush = vmsg_can_flush,
	.can_trim = vmsg_can_trim,
	.can_zero = vmsg_can_zero,
	.can_fua = vmsg_can_fua,
	.can_multi_conn = vmsg_can_multi_conn,
	.block_size = vmsg_block_size,
	.pread = vmsg_pread,
	.pwrite = vmsg_pwrite,
	.zero = vmsg_zero,
	.trim = vmsg_trim,
	.flush = vmsg_flush,
	.errno_is_preserved = 0,
};

NBDKIT_REGISTER_PLUGIN(plugin)
