/* The xenstore client: requests over the store ring (xs_ring.c), one at a
 * time, answered in order. Watch events can arrive between requests and
 * between a request and its answer; they only set a flag that
 * guest_xs_wait_watch() consumes (vmsg re-reads the keys after any event,
 * so which path fired does not matter). Answers are matched by req_id;
 * anything else is skipped.
 */
#include "guest_internal.h"

#include "vmsg_string.h"

#include <vmsg/xen.h>

#define XS_TOKEN "vmsg"

static void xs_notify(void *ctx)
{
	(void)ctx;
	guest__evtchn_send(guest__m.xs_port);
}

static int xs_wait(void *ctx, uint64_t deadline_ns)
{
	(void)ctx;
	return guest__evtchn_wait(guest__m.xs_port, deadline_ns);
}

static uint64_t xs_now(void *ctx)
{
	(void)ctx;
	return guest__now_ns();
}

static size_t slen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static bool streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* xenstored's errors are names ("ENOENT"); ours are numbers. */
static int xs_errno(const char *name)
{
	static const struct {
		const char *name;
		int err;
	} map[] = {
		{"EINVAL", EINVAL},   {"EACCES", EACCES}, {"EEXIST", EEXIST},
		{"EISDIR", EISDIR},   {"ENOENT", ENOENT}, {"ENOMEM", ENOMEM},
		{"ENOSPC", ENOSPC},   {"EIO", EIO},       {"ENOTEMPTY", ENOTEMPTY},
		{"ENOSYS", ENOSYS},   {"EROFS", EROFS},   {"EBUSY", EBUSY},
		{"EAGAIN", EAGAIN},   {"EISCONN", EISCONN}, {"E2BIG", E2BIG},
		{"EPERM", EPERM},
	};
	for (unsigned i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (streq(name, map[i].name))
			return -map[i].err;
	return -EIO;
}

struct part {
	const void *p;
	size_t n;
};

/* One request; the answer's payload is left in guest__m.xs_buf
 * (NUL-terminated). Returns its length or -errno. */
static int xs_request(uint32_t type, uint32_t tx, const struct part *parts,
		      unsigned nparts)
{
	struct guest_machine *m = &guest__m;
	size_t total = 0;
	for (unsigned i = 0; i < nparts; i++)
		total += parts[i].n;
	if (total > XS_PAYLOAD_MAX)
		return -E2BIG;
	struct xs_msg_hdr h = {.type = type,
			       .req_id = ++m->xs_req_id,
			       .tx_id = tx,
			       .len = (uint32_t)total};
	int r = guest_xs_ring_put(&m->xs, &h, sizeof(h), 0);
	for (unsigned i = 0; r == 0 && i < nparts; i++)
		r = guest_xs_ring_put(&m->xs, parts[i].p, parts[i].n, 0);
	if (r < 0)
		return r;
	for (;;) {
		struct xs_msg_hdr a;
		int n = guest_xs_ring_recv(&m->xs, &a, m->xs_buf, 0);
		if (n < 0)
			return n;
		if (a.type == XS_WATCH_EVENT) {
			m->xs_watch_fired = true;
			continue;
		}
		if (a.req_id != h.req_id)
			continue; /* not ours: an answer nobody waits for */
		if (a.type == XS_ERROR)
			return xs_errno(m->xs_buf);
		return n;
	}
}

static struct part str0(const char *s)
{
	return (struct part){s, slen(s) + 1}; /* with its NUL */
}

int guest_xs_read(uint32_t tx, const char *path, char *buf, size_t cap)
{
	struct part p[] = {str0(path)};
	int n = xs_request(XS_READ, tx, p, 1);
	if (n < 0)
		return n;
	if ((size_t)n >= cap)
		return -ENAMETOOLONG;
	vmsg__memcpy(buf, guest__m.xs_buf, (size_t)n + 1);
	return n;
}

int guest_xs_write(uint32_t tx, const char *path, const void *val,
		   size_t len)
{
	struct part p[] = {str0(path), {val, len}};
	int n = xs_request(XS_WRITE, tx, p, 2);
	return n < 0 ? n : 0;
}

int guest_xs_rm(uint32_t tx, const char *path)
{
	struct part p[] = {str0(path)};
	int n = xs_request(XS_RM, tx, p, 1);
	return n < 0 ? n : 0;
}

int guest_xs_directory(uint32_t tx, const char *path, char *buf, size_t cap)
{
	struct part p[] = {str0(path)};
	int n = xs_request(XS_DIRECTORY, tx, p, 1);
	if (n < 0)
		return n;
	if ((size_t)n > cap)
		return -ENAMETOOLONG;
	int count = 0;
	for (int i = 0; i < n; i++)
		if (guest__m.xs_buf[i] == 0)
			count++;
	vmsg__memcpy(buf, guest__m.xs_buf, (size_t)n);
	return count;
}

int guest_xs_set_perms(uint32_t tx, const char *path,
		       const struct guest_xs_perm *perms, unsigned n)
{
	/* "path\0" then one "<r|w|b|n><domid>\0" per entry. */
	char list[16 * 8];
	size_t len = 0;
	if (n == 0 || n > 16)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		char c = perms[i].perm;
		if (c != 'n' && c != 'r' && c != 'w' && c != 'b')
			return -EINVAL;
		char digits[6];
		int k = 0;
		unsigned v = perms[i].domid;
		do {
			digits[k++] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		list[len++] = c;
		while (k)
			list[len++] = digits[--k];
		list[len++] = 0;
	}
	struct part p[] = {str0(path), {list, len}};
	int r = xs_request(XS_SET_PERMS, tx, p, 2);
	return r < 0 ? r : 0;
}

int guest_xs_txn_start(uint32_t *tx)
{
	struct part p[] = {{"", 1}};
	int n = xs_request(XS_TRANSACTION_START, 0, p, 1);
	if (n < 0)
		return n;
	uint64_t v = 0;
	const char *s = guest__m.xs_buf;
	if (!*s)
		return -EIO;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 0xffffffffu)
			return -EIO;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v == 0 || v > 0xffffffffu)
		return -EIO;
	*tx = (uint32_t)v;
	return 0;
}

int guest_xs_txn_end(uint32_t tx, bool commit)
{
	struct part p[] = {{commit ? "T" : "F", 2}};
	int n = xs_request(XS_TRANSACTION_END, tx, p, 1);
	return n < 0 ? n : 0;
}

int guest_xs_watch(const char *path)
{
	guest__m.xs_watch_fired = false;
	struct part p[] = {str0(path), str0(XS_TOKEN)};
	int n = xs_request(XS_WATCH, 0, p, 2);
	return n < 0 ? n : 0;
}

int guest_xs_unwatch(const char *path)
{
	struct part p[] = {str0(path), str0(XS_TOKEN)};
	int n = xs_request(XS_UNWATCH, 0, p, 2);
	guest__m.xs_watch_fired = false;
	return n < 0 ? n : 0;
}

int guest_xs_wait_watch(int timeout_ms)
{
	struct guest_machine *m = &guest__m;
	uint64_t deadline = 0;
	if (timeout_ms >= 0)
		deadline = guest__now_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		if (m->xs_watch_fired) {
			m->xs_watch_fired = false;
			return 1;
		}
		/* No request is in flight: whatever comes is an event. */
		if (guest_xs_ring_has_rsp(&m->xs)) {
			struct xs_msg_hdr a;
			int n = guest_xs_ring_recv(&m->xs, &a, m->xs_buf, 0);
			if (n < 0)
				return n;
			if (a.type == XS_WATCH_EVENT)
				m->xs_watch_fired = true;
			continue;
		}
		if (timeout_ms == 0)
			return 0;
		if (!guest__evtchn_wait(m->xs_port, deadline) &&
		    !guest_xs_ring_has_rsp(&m->xs))
			return 0;
	}
}

int guest__xs_init(void)
{
	struct guest_machine *m = &guest__m;
	uint64_t pfn = 0, port = 0;
	int r = guest__hvm_param(XEN_HVM_PARAM_STORE_PFN, &pfn);
	if (r == 0)
		r = guest__hvm_param(XEN_HVM_PARAM_STORE_EVTCHN, &port);
	if (r < 0)
		return r;
	if (!pfn || !port)
		return -ENOENT;
	m->xs_port = (uint32_t)port;
	m->xs.intf = (struct xs_ring_intf *)(uintptr_t)(pfn << XEN_PAGE_SHIFT);
	m->xs.notify = xs_notify;
	m->xs.wait = xs_wait;
	m->xs.now_ns = xs_now;
	m->xs.ctx = m;
	m->xs.broken = 0;
	m->xs.started = false;

	/* Our domain id, now that xenstore answers. */
	return vmsg_xen_own_domid(&m->domid);
}
