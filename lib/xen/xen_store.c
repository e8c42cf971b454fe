/* The xenstore side of the handshake, as libxenvchan does it.
 *
 * Server: one transaction writes <path>/ring-ref (the control page's grant
 * reference) and <path>/event-channel (the unbound port), both in decimal,
 * each with the permissions [{us, none}, {peer, read}]: owned by our domain
 * (which may read and write its own node), readable by the peer, invisible
 * to everyone else. A transaction that races another writer fails with
 * EAGAIN and is retried. Unpublish removes both keys, and the directory
 * too when publish created it and it is empty.
 *
 * Client: read both keys, waiting for them with a watch on <path> up to the
 * caller's timeout. Values are parsed strictly: they come from another
 * domain and decide what we map and bind.
 *
 * Each call opens its own xenstore connection and closes it before
 * returning, so an idle channel holds none.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "xen_internal.h"
#include "vmsg_parse.h"

/* Transactions retried this many times before giving up with -EAGAIN
 * (each retry means another writer committed in between; a store that
 * never lets us through is broken, not busy). */
#define XEN_TXN_RETRIES 64
/* "<path>/event-channel" */
#define XEN_KEY_MAX (VMSG_XEN_PATH_MAX + 16)

static void key_path(char *buf, const struct vmsg_xen_platform *x,
		     const char *leaf)
{
	snprintf(buf, XEN_KEY_MAX, "%s/%s", x->path, leaf);
}

/* Our own domain id, from the relative key "domid" (our home). */
static int self_domid(struct xs_handle *xs, uint32_t *out)
{
	unsigned len = 0;
	char *s = xs_read(xs, XBT_NULL, "domid", &len);
	if (!s)
		return vmsg__xen_err();
	int r = vmsg__parse_u32(s, len, 0, XEN_DOMID_LIMIT - 1, out);
	free(s);
	return r < 0 ? -EIO : 0; /* our own store lies: not the peer's fault */
}

static bool write_key(struct xs_handle *xs, xs_transaction_t t,
		      const char *key, uint32_t val,
		      struct xs_permissions *perms)
{
	char v[16];
	int n = snprintf(v, sizeof v, "%u", val);
	return xs_write(xs, t, key, v, (unsigned)n) &&
	       xs_set_permissions(xs, t, key, perms, 2);
}

int vmsg__xen_publish(struct vmsg_platform *p, uint32_t ring_ref,
		      uint32_t port)
{
	struct vmsg_xen_platform *x = vmsg__xen_of(p);
	char ref_key[XEN_KEY_MAX], evt_key[XEN_KEY_MAX];
	uint32_t self = 0;
	int r;

	if (!x->server || x->published)
		return -EINVAL;
	struct xs_handle *xs = xs_open(0);
	if (!xs)
		return vmsg__xen_err();
	if ((r = self_domid(xs, &self)) < 0)
		goto out;
	struct xs_permissions perms[2] = {
		/* The first entry names the owner; its flags are what every
		 * domain not listed gets: nothing. */
		{.id = self, .perms = XS_PERM_NONE},
		{.id = x->peer, .perms = XS_PERM_READ},
	};
	key_path(ref_key, x, "ring-ref");
	key_path(evt_key, x, "event-channel");

	r = -EAGAIN;
	for (int i = 0; i < XEN_TXN_RETRIES; i++) {
		xs_transaction_t t = xs_transaction_start(xs);
		if (t == XBT_NULL) {
			r = vmsg__xen_err();
			break;
		}
		unsigned num;
		char **dir = xs_directory(xs, t, x->path, &num);
		bool made_dir = !dir && errno == ENOENT;
		free(dir);
		if (!write_key(xs, t, ref_key, ring_ref, perms) ||
		    !write_key(xs, t, evt_key, port, perms)) {
			r = vmsg__xen_err();
			(void)xs_transaction_end(xs, t, true);
			break;
		}
		if (xs_transaction_end(xs, t, false)) {
			x->published = true;
			x->made_dir = made_dir;
			r = 0;
			break;
		}
		if (errno != EAGAIN) {
			r = vmsg__xen_err();
			break;
		}
	}
out:
	xs_close(xs);
	return r;
}

void vmsg__xen_unpublish(struct vmsg_platform *p)
{
	struct vmsg_xen_platform *x = vmsg__xen_of(p);
	char ref_key[XEN_KEY_MAX], evt_key[XEN_KEY_MAX];

	if (!x->published)
		return;
	x->published = false;
	struct xs_handle *xs = xs_open(0);
	if (!xs)
		return; /* nothing more we can do; the keys die with us */
	key_path(ref_key, x, "ring-ref");
	key_path(evt_key, x, "event-channel");
	for (int i = 0; i < XEN_TXN_RETRIES; i++) {
		xs_transaction_t t = xs_transaction_start(xs);
		if (t == XBT_NULL)
			break;
		(void)xs_rm(xs, t, ref_key);
		(void)xs_rm(xs, t, evt_key);
		if (x->made_dir) {
			/* Ours and now empty: leave no litter. Something
			 * another writer put there keeps it. */
			unsigned num = 1;
			char **dir = xs_directory(xs, t, x->path, &num);
			if (dir && num == 0)
				(void)xs_rm(xs, t, x->path);
			free(dir);
		}
		if (xs_transaction_end(xs, t, false) || errno != EAGAIN)
			break;
	}
	xs_close(xs);
}

/* Read one key as a decimal in [lo, hi]. */
static int read_key(struct xs_handle *xs, const char *key, uint32_t lo,
		    uint32_t hi, uint32_t *out)
{
	unsigned len = 0;
	char *s = xs_read(xs, XBT_NULL, key, &len);
	if (!s)
		return vmsg__xen_err();
	int r = vmsg__parse_u32(s, len, lo, hi, out);
	free(s);
	return r;
}

static int read_keys(struct vmsg_xen_platform *x, struct xs_handle *xs,
		     uint32_t *ring_ref, uint32_t *port)
{
	char key[XEN_KEY_MAX];
	uint32_t ref, evt;
	int r;

	/* libxenvchan rejects 0 for both; a grant reference is any other
	 * 32-bit value, a port is below the FIFO ABI's limit. */
	key_path(key, x, "ring-ref");
	if ((r = read_key(xs, key, 1, UINT32_MAX, &ref)) < 0)
		return r;
	key_path(key, x, "event-channel");
	if ((r = read_key(xs, key, 1, XEN_PORT_MAX, &evt)) < 0)
		return r;
	*ring_ref = ref;
	*port = evt;
	return 0;
}

/* Discard the queued watch events (we re-read the keys after each). */
static void drain_watch(struct xs_handle *xs)
{
	char **ev;
	while ((ev = xs_check_watch(xs)) != NULL)
		free(ev);
}

int vmsg__xen_lookup(struct vmsg_platform *p, uint32_t *ring_ref,
		     uint32_t *port, int timeout_ms)
{
	struct vmsg_xen_platform *x = vmsg__xen_of(p);
	if (!ring_ref || !port || x->server)
		return -EINVAL;
	struct xs_handle *xs = xs_open(0);
	if (!xs)
		return vmsg__xen_err();

	uint64_t deadline = 0;
	if (timeout_ms > 0)
		deadline = vmsg__xen_now_ns() + (uint64_t)timeout_ms * 1000000u;
	/* The watch fires once at once, and on every change below <path>
	 * that we may read. Without it (refused), we poll. */
	bool watching = timeout_ms != 0 && xs_watch(xs, x->path, "vmsg");
	int fd = watching ? xs_fileno(xs) : -1;
	int r;
	for (;;) {
		r = read_keys(x, xs, ring_ref, port);
		/* Absent, or not readable yet: Xen may answer EACCES for a
		 * key below a directory we cannot read before the server
		 * has written it, so both mean "keep waiting". */
		if (r != -ENOENT && r != -EACCES)
			break;
		int t = XEN_LOOKUP_POLL_MS;
		if (timeout_ms == 0)
			break;
		if (timeout_ms > 0) {
			uint64_t now = vmsg__xen_now_ns();
			if (now >= deadline)
				break;
			uint64_t left = (deadline - now + 999999u) / 1000000u;
			if (left < (uint64_t)t)
				t = (int)left;
		}
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		/* fd < 0 makes poll a plain sleep. */
		if (poll(&pf, 1, t) > 0)
			drain_watch(xs);
	}
	if (watching)
		(void)xs_unwatch(xs, x->path, "vmsg");
	xs_close(xs);
	return r;
}
