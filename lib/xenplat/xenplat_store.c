/* The xenstore side of the handshake, as libxenvchan does it, and our own
 * domid.
 *
 * Server: one transaction writes <path>/ring-ref (the control page's grant
 * reference) and <path>/event-channel (the unbound port), both in decimal,
 * each with the permissions [{us, none}, {peer, read}]: owned by our domain
 * (which may read and write its own node), readable by the peer, invisible
 * to everyone else. A transaction that races another writer fails with
 * -EAGAIN and is retried. Publishing again while the keys are up (a server
 * that reopens before it saw its client come in) writes them anew.
 * Unpublish removes both keys, and the directory too when publish created
 * it and it is empty.
 *
 * Client: read both keys; while they are missing, wait for them with a
 * watch on <path> up to the caller's timeout. Values are parsed strictly: they come from another
 * domain and decide what we map and bind.
 *
 * Each call opens its own xenstore session and closes it before
 * returning, so an idle channel holds none.
 */
#include "xenplat_os.h"

#include "vmsg_errno.h"
#include "vmsg_fmt.h"
#include "vmsg_parse.h"
#include "vmsg_string.h"

#define OS (&vmsg__xen_os)

/* Transactions retried this many times before giving up with -EAGAIN
 * (each retry means another writer committed in between; a store that
 * never lets us through is broken, not busy). */
#define XS_TXN_RETRIES 64
/* While a client waits for the server's keys, re-read them at least this
 * often even without a watch event (a watch on an unreadable parent may
 * stay silent). */
#define XS_LOOKUP_POLL_MS 200u
/* "<path>/event-channel" */
#define XS_KEY_MAX (VMSG_XEN_PATH_MAX + 16)
/* A value we read: a decimal below 2^32 and its NUL, with room to see
 * that a longer one is too long. */
#define XS_VAL_MAX 16

static void key_path(char *buf, const struct vmsg__xenplat *x,
		     const char *leaf)
{
	size_t n = 0, l = 0;
	while (x->path[n])
		n++;
	while (leaf[l])
		l++;
	vmsg__memcpy(buf, x->path, n);
	buf[n] = '/';
	vmsg__memcpy(buf + n + 1, leaf, l + 1);
}

/* One key as a decimal in [lo, hi]. */
static int read_u32_tx(void *s, uint32_t tx, const char *key, uint32_t lo,
		       uint32_t hi, uint32_t *out)
{
	char v[XS_VAL_MAX];
	int n = OS->xs_read(s, tx, key, v, sizeof(v));
	if (n == -ENAMETOOLONG)
		return -EPROTO; /* no decimal we accept is that long */
	if (n < 0)
		return n;
	return vmsg__parse_u32(v, (size_t)n, lo, hi, out);
}

static int read_u32(void *s, const char *key, uint32_t lo, uint32_t hi,
		    uint32_t *out)
{
	return read_u32_tx(s, 0, key, lo, hi, out);
}

static int own_domid(void *s, uint16_t *out)
{
	uint32_t v;
	/* The relative key "domid": our home's. */
	int r = read_u32(s, "domid", 0, VMSG_DOMID_LIMIT - 1, &v);
	if (r == -EPROTO)
		return -EIO; /* our own store lies: not a peer's doing */
	if (r < 0)
		return r;
	*out = (uint16_t)v;
	return 0;
}

int vmsg_xen_own_domid(uint16_t *out)
{
	void *s;
	if (!out)
		return -EINVAL;
	int r = OS->xs_open(&s);
	if (r < 0)
		return r;
	r = own_domid(s, out);
	OS->xs_close(s);
	return r;
}

static int write_key(void *s, uint32_t tx, const char *key, uint32_t val,
		     const struct vmsg__xs_perm *perms)
{
	char v[12];
	int n = vmsg__snprintf(v, sizeof v, "%u", (unsigned)val);
	int r = OS->xs_write(s, tx, key, v, (size_t)n);
	if (r == 0)
		r = OS->xs_set_perms(s, tx, key, perms, 2);
	return r;
}

int vmsg__xenplat_publish(struct vmsg_platform *p, uint32_t ring_ref,
			  uint32_t port)
{
	struct vmsg__xenplat *x = vmsg__xenplat_of(p);
	char ref_key[XS_KEY_MAX], evt_key[XS_KEY_MAX];
	uint16_t self;
	void *s;

	if (!x->server)
		return -EINVAL;
	if (x->by_msg) {
		/* Set up by message: the caller carries them (xenplat_msg.c);
		 * xenstore never sees this channel. */
		x->msg_ref = ring_ref;
		x->msg_port = port;
		return 0;
	}
	int r = OS->xs_open(&s);
	if (r < 0)
		return r;
	if ((r = own_domid(s, &self)) < 0)
		goto out;
	const struct vmsg__xs_perm perms[2] = {
		/* The first entry names the owner; its flags are what every
		 * domain not listed gets: nothing. */
		{.domid = self, .perm = VMSG_XS_PERM_NONE},
		{.domid = x->peer, .perm = VMSG_XS_PERM_READ},
	};
	key_path(ref_key, x, "ring-ref");
	key_path(evt_key, x, "event-channel");

	r = -EAGAIN;
	for (int i = 0; i < XS_TXN_RETRIES; i++) {
		uint32_t tx;
		if ((r = OS->xs_txn_start(s, &tx)) < 0)
			break;
		/* Whether we make <path>: the first publish decides; again,
		 * the keys are ours already. */
		bool made_dir = x->published
					? x->made_dir
					: OS->xs_dir_empty(s, tx, x->path) == -ENOENT;
		r = write_key(s, tx, ref_key, ring_ref, perms);
		if (r == 0)
			r = write_key(s, tx, evt_key, port, perms);
		if (r < 0) {
			(void)OS->xs_txn_end(s, tx, false);
			break;
		}
		r = OS->xs_txn_end(s, tx, true);
		if (r == 0) {
			x->published = true;
			x->made_dir = made_dir;
			x->pub_ref = ring_ref;
			x->pub_port = port;
			x->withdraw = false; /* these keys are to stay */
			break;
		}
		if (r != -EAGAIN)
			break;
	}
out:
	OS->xs_close(s);
	return r;
}

/* Unpublish only asks: the keys go at the platform's next kick (after it),
 * wait, ack or destroy (vmsg__xenplat_withdraw). lib/chan unpublishes the moment it sees
 * its client in, and the removal, a xenstore transaction (about 200 us on
 * the simulated Xen, more than libxenvchan's whole setup there), then
 * delayed the server's first message by that much. A second client
 * meanwhile gets nothing: Xen binds the port once. */
void vmsg__xenplat_unpublish(struct vmsg_platform *p)
{
	struct vmsg__xenplat *x = vmsg__xenplat_of(p);
	if (x->published)
		x->withdraw = true;
}

void vmsg__xenplat_withdraw_keys(struct vmsg__xenplat *x)
{
	char ref_key[XS_KEY_MAX], evt_key[XS_KEY_MAX];
	void *s;

	x->withdraw = false;
	if (!x->published)
		return;
	x->published = false;
	if (OS->xs_open(&s) < 0)
		return; /* nothing more we can do; the keys die with us */
	key_path(ref_key, x, "ring-ref");
	key_path(evt_key, x, "event-channel");
	for (int i = 0; i < XS_TXN_RETRIES; i++) {
		uint32_t tx;
		if (OS->xs_txn_start(s, &tx) < 0)
			break;
		/* Only keys that are still ours: by now (our next wait) the
		 * owner may have served another channel at the same path
		 * (vmsgd's next control channel for a domain does, and so
		 * does a persistent server). */
		uint32_t ref = 0, port = 0;
		if (read_u32_tx(s, tx, ref_key, 0, UINT32_MAX, &ref) < 0 ||
		    read_u32_tx(s, tx, evt_key, 0, UINT32_MAX, &port) < 0 ||
		    ref != x->pub_ref || port != x->pub_port) {
			(void)OS->xs_txn_end(s, tx, false);
			break;
		}
		(void)OS->xs_rm(s, tx, ref_key);
		(void)OS->xs_rm(s, tx, evt_key);
		/* Ours and now empty: leave no litter. Something another
		 * writer put there keeps it. */
		if (x->made_dir && OS->xs_dir_empty(s, tx, x->path) == 1)
			(void)OS->xs_rm(s, tx, x->path);
		if (OS->xs_txn_end(s, tx, true) != -EAGAIN)
			break;
	}
	OS->xs_close(s);
}

static int read_keys(struct vmsg__xenplat *x, void *s, uint32_t *ring_ref,
		     uint32_t *port)
{
	char key[XS_KEY_MAX];
	uint32_t ref, evt;
	int r;

	/* libxenvchan rejects 0 for both; a grant reference is any other
	 * 32-bit value, a port is below the FIFO ABI's limit. */
	key_path(key, x, "ring-ref");
	if ((r = read_u32(s, key, 1, UINT32_MAX, &ref)) < 0)
		return r;
	key_path(key, x, "event-channel");
	if ((r = read_u32(s, key, 1, VMSG_XEN_PORT_MAX, &evt)) < 0)
		return r;
	*ring_ref = ref;
	*port = evt;
	return 0;
}

int vmsg__xenplat_lookup(struct vmsg_platform *p, uint32_t *ring_ref,
			 uint32_t *port, int timeout_ms)
{
	struct vmsg__xenplat *x = vmsg__xenplat_of(p);
	void *s;
	if (!ring_ref || !port || x->server)
		return -EINVAL;
	if (x->by_msg) {
		/* vmsgd told us (checked by vmsg__xen_connect_msg). */
		*ring_ref = x->msg_ref;
		*port = x->msg_port;
		return 0;
	}
	int r = OS->xs_open(&s);
	if (r < 0)
		return r;

	uint64_t deadline = VMSG_XEN_FOREVER;
	if (timeout_ms >= 0)
		deadline = OS->now_ns() + (uint64_t)timeout_ms * 1000000u;
	/* The keys are usually there already: one look, no watch (a watch
	 * costs xenstore two requests and, in libxenstore, a thread). If
	 * not, the watch, set before the next look, fires once at once and
	 * on every change below <path> that we may read, so a write between
	 * the two looks is not missed. Without it (refused), we poll. */
	bool watching = false, tried = false;
	for (;;) {
		r = read_keys(x, s, ring_ref, port);
		/* Absent, or not readable yet: Xen may answer EACCES for a
		 * key below a directory we cannot read before the server
		 * has written it, so both mean "keep waiting". */
		if (r != -ENOENT && r != -EACCES)
			break;
		if (timeout_ms == 0)
			break;
		uint64_t now = OS->now_ns();
		if (now >= deadline)
			break;
		if (!tried) {
			tried = true;
			watching = OS->xs_watch(s, x->path) == 0;
			if (watching)
				continue; /* look again, now watched */
		}
		uint64_t until = now + XS_LOOKUP_POLL_MS * 1000000ull;
		if (until > deadline)
			until = deadline;
		(void)OS->xs_wait_watch(s, until);
	}
	if (watching)
		OS->xs_unwatch(s, x->path);
	OS->xs_close(s);
	return r;
}
