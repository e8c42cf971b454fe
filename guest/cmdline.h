/* Private to guest/: code both targets of the SDK share (the PVH unikernel
 * and the Linux library, guest/linux/). */
#ifndef GUEST_CMDLINE_H
#define GUEST_CMDLINE_H

#include <stddef.h>

/* guest_cmdline_get() over `line` (space-separated key=value words): the
 * value of `key` into buf, NUL-terminated. Returns its length, -ENOENT when
 * absent, -ENAMETOOLONG if cap is short. */
int guest__cmdline_find(const char *line, const char *key, char *buf,
			size_t cap);

#endif
