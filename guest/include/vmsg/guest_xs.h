/* vmsg/guest_xs.h - the appliance SDK's xenstore client (docs/unikernel.md).
 *
 * In a unikernel, requests on the xenstore ring (guest/xenstore.c); in the
 * SDK's Linux target, libxenstore (guest/linux/xs.c). Relative paths are
 * below /local/domain/<us>. tx 0 is outside any transaction.
 *
 * Error contract as in the rest of vmsg: >= 0 success, negative errno
 * (xenstored's errors by their Linux values: -ENOENT, -EACCES, -EAGAIN for
 * a transaction another writer won, ...).
 */
#ifndef VMSG_GUEST_XS_H
#define VMSG_GUEST_XS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GUEST_XS_PERM_NONE 'n'
#define GUEST_XS_PERM_READ 'r'
#define GUEST_XS_PERM_WRITE 'w'
#define GUEST_XS_PERM_BOTH 'b'
struct guest_xs_perm {
	uint16_t domid;
	char perm; /* GUEST_XS_PERM_* */
};
/* Read a value into buf (NUL-terminated); returns its length. */
int guest_xs_read(uint32_t tx, const char *path, char *buf, size_t cap);
int guest_xs_write(uint32_t tx, const char *path, const void *val,
		   size_t len);
int guest_xs_rm(uint32_t tx, const char *path);
/* The children's names, each NUL-terminated, into buf; returns how many. */
int guest_xs_directory(uint32_t tx, const char *path, char *buf,
		       size_t cap);
/* perms[0] names the owner and what everyone not listed gets. */
int guest_xs_set_perms(uint32_t tx, const char *path,
		       const struct guest_xs_perm *perms, unsigned n);
int guest_xs_txn_start(uint32_t *tx);
/* commit false aborts. -EAGAIN: another writer won; start over. */
int guest_xs_txn_end(uint32_t tx, bool commit);
/* One watch at a time is enough for vmsg; the token is ours. */
int guest_xs_watch(const char *path);
int guest_xs_unwatch(const char *path);
/* Wait for the watch to fire: 1 fired, 0 timeout (-1: forever). */
int guest_xs_wait_watch(int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
