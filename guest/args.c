/* An appliance's cmdline check and its addresses (vmsg/guest_args.h), for
 * both targets of the SDK. Freestanding. */
#include <vmsg/guest.h>
#include <vmsg/guest_args.h>
#include <vmsg/xen.h>

#include "vmsg_errno.h"
#include "vmsg_string.h"

static bool same(const char *a, size_t al, const char *b)
{
	size_t i = 0;
	for (; i < al && b[i]; i++)
		if (a[i] != b[i])
			return false;
	return i == al && !b[i];
}

/* Is v (vl bytes) one of words ("a|b|c")? */
static bool one_of(const char *v, size_t vl, const char *words)
{
	for (const char *w = words;;) {
		size_t n = 0;
		while (w[n] && w[n] != '|')
			n++;
		if (n == vl && !__builtin_memcmp(w, v, vl))
			return true;
		if (!w[n])
			return false;
		w += n + 1;
	}
}

enum uint_result { UINT_OK, UINT_EMPTY, UINT_NOT_DIGITS, UINT_TOO_BIG };

/* Digits only, no more than max: the value into *out. */
static enum uint_result parse_uint(const char *v, size_t vl, unsigned max,
				   unsigned *out)
{
	unsigned long long n = 0;
	if (vl == 0)
		return UINT_EMPTY;
	for (size_t i = 0; i < vl; i++)
		if (v[i] < '0' || v[i] > '9')
			return UINT_NOT_DIGITS;
	for (size_t i = 0; i < vl; i++)
		if ((n = n * 10 + (unsigned)(v[i] - '0')) > max)
			return UINT_TOO_BIG;
	*out = (unsigned)n;
	return UINT_OK;
}

int guest_addr_parse(const char *v, size_t vl, struct guest_addr *a,
		     const char **why)
{
	const char *name, *dummy;
	size_t nl;

	if (!why)
		why = &dummy;
	if (vl > 4 && same(v, 4, "svc:")) {
		a->kind = GUEST_ADDR_SVC;
		a->domid = 0;
		name = v + 4;
		nl = vl - 4;
	} else if (vl > 4 && same(v, 4, "xen:")) {
		size_t i = 4;
		unsigned d;
		while (i < vl && v[i] != ':')
			i++;
		if (i == vl) {
			*why = "expected xen:DOMID:PORT";
			return -EINVAL;
		}
		if (parse_uint(v + 4, i - 4, VMSG_DOMID_LIMIT - 1, &d) != UINT_OK) {
			*why = "the DOMID of xen:DOMID:PORT is not a domain id";
			return -EINVAL;
		}
		a->kind = GUEST_ADDR_XEN;
		a->domid = (uint16_t)d;
		name = v + i + 1;
		nl = vl - i - 1;
	} else {
		*why = "expected xen:DOMID:PORT or svc:NAME";
		return -EINVAL;
	}
	if (nl == 0 || nl > VMSG_SERVICE_NAME_MAX) {
		*why = "the PORT or NAME must be 1..64 characters";
		return -EINVAL;
	}
	vmsg__memcpy(a->name, name, nl);
	a->name[nl] = 0;
	/* The service names' alphabet for ports too: no '/' that would make
	 * another path, nothing xenstore refuses. */
	if (!vmsg_service_name_ok(a->name)) {
		*why = "the PORT or NAME must be of [A-Za-z0-9._-]";
		return -EINVAL;
	}
	return 0;
}

static void put_n(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		guest_printf("%c", s[i]);
}

static int bad(const char *prog, const char *w, size_t wl, const char *why,
	       const char *more)
{
	guest_printf("%s: '", prog);
	put_n(w, wl);
	guest_printf("': %s%s (--help lists the arguments)\n", why, more);
	return -1;
}

static int check_value(const char *prog, const struct guest_arg *k,
		       const char *w, size_t wl, const char *v, size_t vl)
{
	const char *why = "";
	struct guest_addr a;
	unsigned n;

	switch (k->kind) {
	case GUEST_ARG_WORDS:
		return one_of(v, vl, k->words)
			       ? 0
			       : bad(prog, w, wl, "the value must be one of ",
				     k->words);
	case GUEST_ARG_ADDR:
		return guest_addr_parse(v, vl, &a, &why) < 0
			       ? bad(prog, w, wl, why, "")
			       : 0;
	case GUEST_ARG_NAME:
		if (vl == 0 || vl < k->min)
			return bad(prog, w, wl, vl ? "value too short"
						   : "empty value", "");
		return vl > k->max ? bad(prog, w, wl, "value too long", "") : 0;
	case GUEST_ARG_UINT:
		switch (parse_uint(v, vl, k->max, &n)) {
		case UINT_EMPTY:
			return bad(prog, w, wl, "a number is needed", "");
		case UINT_NOT_DIGITS:
			return bad(prog, w, wl, "not a number", "");
		case UINT_OK:
			if (n >= k->min)
				return 0;
			break;
		case UINT_TOO_BIG:
			break;
		}
		guest_printf("%s: '", prog);
		put_n(w, wl);
		guest_printf("': out of range %u..%u (--help lists the "
			     "arguments)\n", k->min, k->max);
		return -1;
	}
	return bad(prog, w, wl, "a key of no known kind", "");
}

int guest_args_check(const char *prog, const char *usage,
		     const struct guest_arg *keys, unsigned n,
		     const char *cmdline)
{
	unsigned char seen[GUEST_ARGS_MAX] = {0};

	if (n > GUEST_ARGS_MAX)
		return -1;
	for (const char *s = cmdline; *s;) {
		while (*s == ' ')
			s++;
		const char *w = s;
		while (*s && *s != ' ')
			s++;
		size_t wl = (size_t)(s - w), kl = 0;
		if (!wl)
			break;
		if (same(w, wl, "--help") || same(w, wl, "-h") ||
		    same(w, wl, "help")) {
			guest_printf("%s", usage);
			return 1;
		}
		while (kl < wl && w[kl] != '=')
			kl++;
		if (kl == wl)
			return bad(prog, w, wl, "not a KEY=VALUE word", "");
		unsigned i = 0;
		while (i < n && !same(w, kl, keys[i].name))
			i++;
		if (i == n)
			return bad(prog, w, wl, "unknown key", "");
		if (seen[i]++)
			return bad(prog, w, wl, "key given twice", "");
		if (check_value(prog, &keys[i], w, wl, w + kl + 1,
				wl - kl - 1) < 0)
			return -1;
	}
	for (unsigned i = 0; i < n; i++)
		if ((keys[i].flags & GUEST_ARG_REQUIRED) && !seen[i]) {
			guest_printf("%s: %s= is required (--help lists the "
				     "arguments)\n", prog, keys[i].name);
			return -1;
		}
	return 0;
}

unsigned guest_arg_uint(const char *key, unsigned dflt)
{
	char v[16];
	unsigned n;
	int l = guest_cmdline_get(key, v, sizeof(v));
	if (l < 0 || parse_uint(v, (size_t)l, ~0u, &n) != UINT_OK)
		return dflt;
	return n;
}

int guest_arg_addr(const char *key, struct guest_addr *a)
{
	char v[VMSG_SERVICE_NAME_MAX + 16];
	int l = guest_cmdline_get(key, v, sizeof(v));
	if (l < 0)
		return l == -ENAMETOOLONG ? -EINVAL : l;
	return guest_addr_parse(v, (size_t)l, a, NULL);
}
