/* Private: libxenstore helpers shared by libvmsg's Linux code and the
 * SDK's Linux target (guest/linux/xs.c). Hosted only. */
#ifndef VMSG_XS_LINUX_H
#define VMSG_XS_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include <xenstore.h>

/* The children of `path` (in transaction tx, 0 for none), each
 * NUL-terminated, into buf[0..cap). Returns how many, -ENAMETOOLONG when
 * they do not fit, or libxenstore's errno (-ENOENT, -EACCES, ...). */
int vmsg__xs_dir_names(struct xs_handle *xs, uint32_t tx, const char *path,
		       char *buf, size_t cap);

#endif
