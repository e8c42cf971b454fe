/* Private: text from a peer, made safe to keep and to log.
 *
 * The one sanitiser of the tree (freestanding, inline): the Hello's name
 * and error text, vmsgd's error texts in the vmsgd client, the wire
 * codec's free-text fields and vmsgd's logs of what guests send all go
 * through it.
 */
#ifndef VMSG_TEXT_H
#define VMSG_TEXT_H

#include <stddef.h>

/* Is byte ch printable ASCII (0x20..0x7e)? */
static inline int vmsg__text_printable(unsigned char ch)
{
	return ch >= 0x20 && ch < 0x7f;
}

/* Copy up to n bytes of untrusted src (fewer if a NUL comes first; src
 * may be NULL) into dst[0..cap), cap >= 1: cut to cap - 1 bytes, always
 * NUL-terminated, every byte outside printable ASCII replaced by '?'.
 * Returns the length written. */
static inline size_t vmsg__text_clean(char *dst, size_t cap, const char *src,
				      size_t n)
{
	size_t i = 0;
	for (; src && i < n && i + 1 < cap && src[i]; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[i] = vmsg__text_printable(ch) ? (char)ch : '?';
	}
	dst[i] = '\0';
	return i;
}

/* The same for a NUL-terminated src (or NULL). */
static inline size_t vmsg__text_copy(char *dst, size_t cap, const char *src)
{
	return vmsg__text_clean(dst, cap, src, (size_t)-1);
}

#endif
