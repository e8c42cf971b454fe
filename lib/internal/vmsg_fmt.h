/* Private: the one freestanding number and text formatter (lib/util/fmt.c).
 *
 * printf's common subset, for code with no libc: the unikernel's console,
 * the vmsgd client's xenstore paths. Conversions %s %c %d %i %u %x %p %%,
 * the sizes l, ll and z, a field width and the '0' flag; anything else is
 * printed as it stands. No floating point, no allocation.
 */
#ifndef VMSG_FMT_H
#define VMSG_FMT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Where formatted text goes, a piece at a time. */
typedef void vmsg__fmt_sink(void *ctx, const char *s, size_t n);

/* Format fmt with ap into sink put(ctx, ...). */
void vmsg__vformat(vmsg__fmt_sink *put, void *ctx, const char *fmt,
		   va_list ap);

/* As snprintf: at most cap - 1 bytes and a NUL into buf (cap >= 1).
 * Returns the length of the whole text; >= cap means it was cut. */
int vmsg__snprintf(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
