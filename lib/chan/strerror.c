/* One message per error vmsg returns: the texts of lib/internal/vmsg_errno.h's
 * list. */
#include <vmsg/chan.h>

#include "vmsg_errno.h"

const char *vmsg_strerror(int err)
{
	/* Negate as unsigned: -INT_MIN does not fit an int. */
	unsigned e = err < 0 ? 0u - (unsigned)err : (unsigned)err;
	switch (e) {
	case 0:
		return "success";
#define VMSG_ERROR_CASE(name, value, text)                                     \
	case value:                                                            \
		return text;
		VMSG_ERRNO_LIST(VMSG_ERROR_CASE)
#undef VMSG_ERROR_CASE
	default:
		return "unknown error";
	}
}
