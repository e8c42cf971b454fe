/* The cmdline's key=value words (cmdline.h), for both targets of the SDK:
 * the unikernel's is the xl config's `cmdline`, the Linux program's its
 * arguments joined with spaces. Freestanding. */
#include "cmdline.h"

#include "vmsg_errno.h"
#include "vmsg_string.h"

int guest__cmdline_find(const char *line, const char *key, char *buf,
			size_t cap)
{
	size_t kl = 0;
	while (key[kl])
		kl++;
	for (const char *s = line; *s;) {
		while (*s == ' ')
			s++;
		const char *w = s;
		while (*s && *s != ' ')
			s++;
		size_t wl = (size_t)(s - w);
		if (wl > kl && w[kl] == '=' && !__builtin_memcmp(w, key, kl)) {
			size_t vl = wl - kl - 1;
			if (vl >= cap)
				return -ENAMETOOLONG;
			vmsg__memcpy(buf, w + kl + 1, vl);
			buf[vl] = 0;
			return (int)vl;
		}
	}
	return -ENOENT;
}
