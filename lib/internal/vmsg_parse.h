/* Private: parsing numbers the other domain wrote (xenstore values), for the
 * Linux Xen backend and the unikernel alike. Freestanding. */
#ifndef VMSG_PARSE_H
#define VMSG_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "vmsg_errno.h"

/* A decimal value in [lo, hi], strictly: digits only, no sign, no leading
 * zero (one spelling per value), at most 10 digits. -EPROTO otherwise. */
static inline int vmsg__parse_u32(const char *s, size_t len, uint32_t lo,
				  uint32_t hi, uint32_t *out)
{
	if (!s || len == 0 || len > 10 || (s[0] == '0' && len > 1))
		return -EPROTO;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EPROTO;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < lo || v > hi)
		return -EPROTO;
	*out = (uint32_t)v;
	return 0;
}

#endif
