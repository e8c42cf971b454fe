/* The SDK's xenstore client (vmsg/guest_xs.h) on Linux, over libxenstore:
 * what guest/xenstore.c does on the unikernel's ring. One connection for
 * the process, opened at the first call; one watch at a time. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include <vmsg/guest_xs.h>

#include "vmsg_xs_linux.h"
#include "xenplat_os.h"

#define XS_TOKEN "vmsg-sdk"

static struct xs_handle *g_xs;

/* libxenstore's failures leave the reason in errno. */
static int fail(void)
{
	return errno > 0 ? -errno : -EIO;
}

/* The process's connection (NULL with errno set). */
static struct xs_handle *conn(void)
{
	if (!g_xs)
		g_xs = xs_open(0);
	return g_xs;
}

int guest_xs_read(uint32_t tx, const char *path, char *buf, size_t cap)
{
	struct xs_handle *xs = conn();
	if (!xs)
		return fail();
	unsigned len = 0;
	char *v = xs_read(xs, tx, path, &len);
	if (!v)
		return fail();
	if ((size_t)len >= cap) {
		free(v);
		return -ENAMETOOLONG;
	}
	memcpy(buf, v, len);
	buf[len] = 0;
	free(v);
	return (int)len;
}

int guest_xs_write(uint32_t tx, const char *path, const void *val,
		   size_t len)
{
	struct xs_handle *xs = conn();
	if (!xs)
		return fail();
	return xs_write(xs, tx, path, val, (unsigned)len) ? 0 : fail();
}

int guest_xs_rm(uint32_t tx, const char *path)
{
	struct xs_handle *xs = conn();
	if (!xs)
		return fail();
	return xs_rm(xs, tx, path) ? 0 : fail();
}

int guest_xs_directory(uint32_t tx, const char *path, char *buf, size_t cap)
{
	struct xs_handle *xs = conn();
	if (!xs)
		return fail();
	return vmsg__xs_dir_names(xs, tx, path, buf, cap);
}

/* The platform's Linux hook does it (one translation to libxenstore's
 * permissions): the two structs carry the same letters. */
int guest_xs_set_perms(uint32_t tx, const char *path,
		       const struct guest_xs_perm *perms, unsigned n)
{
	struct vmsg__xs_perm p[VMSG_XS_PERMS_MAX];
	if (n == 0 || n > VMSG_XS_PERMS_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		p[i] = (struct vmsg__xs_perm){.domid = perms[i].domid,
					      .perm = perms[i].perm};
	struct xs_handle *xs = conn();
	if (!xs)
		return fail();
	return vmsg__xen_os.xs_set_perms(xs, tx, path, p, n);
}

int guest_xs_txn_start(uint32_t *tx)
{
	struct xs_handle *xs = conn();
	if (!xs)
		return fail();
	xs_transaction_t t = xs_transaction_start(xs);
	if (t == XBT_NULL)
		return fail();
	*tx = t;
	return 0;
}

int guest_xs_txn_end(uint32_t tx, bool commit)
{
	struct xs_handle *xs = conn();
	if (!xs)
		return fail();
	return xs_transaction_end(xs, tx, !commit) ? 0 : fail();
}

int guest_xs_watch(const char *path)
{
	struct xs_handle *xs = conn();
	if (!xs)
		return fail();
	/* As on the ring, xenstored fires a new watch once at once. */
	return xs_watch(xs, path, XS_TOKEN) ? 0 : fail();
}

int guest_xs_unwatch(const char *path)
{
	struct xs_handle *xs = conn();
	if (!xs)
		return fail();
	return xs_unwatch(xs, path, XS_TOKEN) ? 0 : fail();
}

int guest_xs_wait_watch(int timeout_ms)
{
	struct xs_handle *xs = conn();
	if (!xs)
		return fail();
	for (;;) {
		char **ev = xs_check_watch(xs);
		if (ev) {
			free(ev);
			return 1;
		}
		if (errno != EAGAIN)
			return fail();
		struct pollfd p = {xs_fileno(xs), POLLIN, 0};
		int n = poll(&p, 1, timeout_ms);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n == 0)
			return 0;
	}
}
