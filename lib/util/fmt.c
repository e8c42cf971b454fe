/* The freestanding formatter (vmsg_fmt.h): printf's common subset over a
 * sink, and snprintf on top of it. */
#include "vmsg_fmt.h"

#include <stdbool.h>

struct spec {
	int width;
	char pad;
};

static void pad_to(vmsg__fmt_sink *put, void *ctx, int have,
		   const struct spec *sp, char pad)
{
	for (int i = have; i < sp->width; i++)
		put(ctx, &pad, 1);
}

/* v in base 10 or 16, with a '-' when neg. */
static void put_num(vmsg__fmt_sink *put, void *ctx, uint64_t v,
		    unsigned base, bool neg, const struct spec *sp)
{
	char tmp[24];
	int n = sizeof tmp;
	do {
		unsigned d = (unsigned)(v % base);
		tmp[--n] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	int len = (int)sizeof tmp - n + (neg ? 1 : 0);
	if (neg && sp->pad == '0')
		put(ctx, "-", 1); /* the sign before zeros: -0042 */
	pad_to(put, ctx, len, sp, sp->pad);
	if (neg && sp->pad != '0')
		put(ctx, "-", 1);
	put(ctx, tmp + n, sizeof tmp - (size_t)n);
}

void vmsg__vformat(vmsg__fmt_sink *put, void *ctx, const char *fmt,
		   va_list ap)
{
	const char *lit = fmt;
	for (const char *f = fmt; *f; f++) {
		if (*f != '%')
			continue;
		if (f > lit)
			put(ctx, lit, (size_t)(f - lit));
		const char *start = f++;
		struct spec sp = {0, ' '};
		int lng = 0;
		if (*f == '0') {
			sp.pad = '0';
			f++;
		}
		while (*f >= '0' && *f <= '9')
			sp.width = sp.width * 10 + (*f++ - '0');
		while (*f == 'l' || *f == 'z') {
			lng++;
			f++;
		}
		switch (*f) {
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			put_num(put, ctx,
				v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v,
				10, v < 0, &sp);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = lng ? va_arg(ap, uint64_t)
					 : va_arg(ap, unsigned);
			put_num(put, ctx, v, *f == 'u' ? 10 : 16, false, &sp);
			break;
		}
		case 'p':
			put(ctx, "0x", 2);
			put_num(put, ctx, (uintptr_t)va_arg(ap, void *), 16,
				false, &sp);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			size_t len = 0;
			while (s[len])
				len++;
			pad_to(put, ctx, (int)(len > 0x7fff ? 0x7fff : len),
			       &sp, ' ');
			put(ctx, s, len);
			break;
		}
		case 'c': {
			char ch = (char)va_arg(ap, int);
			put(ctx, &ch, 1);
			break;
		}
		case '%':
			put(ctx, "%", 1);
			break;
		case '\0':
			/* A lone '%' at the end: print it, stop. */
			put(ctx, start, (size_t)(f - start));
			return;
		default:
			put(ctx, start, (size_t)(f - start) + 1);
		}
		lit = f + 1;
	}
	const char *end = lit;
	while (*end)
		end++;
	if (end > lit)
		put(ctx, lit, (size_t)(end - lit));
}

struct sbuf {
	char *buf;
	size_t cap, len;
};

static void to_buf(void *ctx, const char *s, size_t n)
{
	struct sbuf *b = ctx;
	for (size_t i = 0; i < n; i++, b->len++)
		if (b->len + 1 < b->cap)
			b->buf[b->len] = s[i];
}

int vmsg__snprintf(char *buf, size_t cap, const char *fmt, ...)
{
	struct sbuf b = {buf, cap, 0};
	va_list ap;
	va_start(ap, fmt);
	vmsg__vformat(to_buf, &b, fmt, ap);
	va_end(ap);
	if (cap)
		buf[b.len < cap ? b.len : cap - 1] = '\0';
	return b.len > 0x7fffffff ? 0x7fffffff : (int)b.len;
}
