/* Permission lists, as Xen defines them: entry 0 names the owner and gives
 * the access of every domain not listed; later entries give one domain its
 * own access. The owner and domain 0 (privileged) always have both. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsd.h"

int xsd_perms_copy(struct xsd_perms *dst, const struct xsd_perms *src)
{
	dst->p = malloc(src->n * sizeof(*dst->p));
	if (!dst->p)
		return -ENOMEM;
	memcpy(dst->p, src->p, src->n * sizeof(*dst->p));
	dst->n = src->n;
	return 0;
}

void xsd_perms_free(struct xsd_perms *p)
{
	free(p->p);
	p->p = NULL;
	p->n = 0;
}

int xsd_perms_parse(struct xsd_perms *out, const char *const *s, uint32_t n)
{
	if (n == 0)
		return -EINVAL;
	out->p = calloc(n, sizeof(*out->p));
	if (!out->p)
		return -ENOMEM;
	out->n = n;
	for (uint32_t i = 0; i < n; i++) {
		unsigned acc, id;
		switch (s[i][0]) {
		case 'n': acc = 0; break;
		case 'r': acc = XSD_ACC_R; break;
		case 'w': acc = XSD_ACC_W; break;
		case 'b': acc = XSD_ACC_R | XSD_ACC_W; break;
		default: xsd_perms_free(out); return -EINVAL;
		}
		if (xsd_parse_domid(s[i] + 1, &id) < 0) {
			xsd_perms_free(out);
			return -EINVAL;
		}
		out->p[i].id = (uint16_t)id;
		out->p[i].acc = (uint8_t)acc;
	}
	return 0;
}

int xsd_perms_format(const struct xsd_perms *p, char *buf, size_t cap)
{
	static const char letter[4] = {'n', 'r', 'w', 'b'};
	size_t off = 0;
	for (uint32_t i = 0; i < p->n; i++) {
		char one[16];
		int k = snprintf(one, sizeof(one), "%c%u", letter[p->p[i].acc & 3],
				 (unsigned)p->p[i].id);
		if (off + (size_t)k + 1 > cap)
			return -E2BIG;
		memcpy(buf + off, one, (size_t)k + 1);
		off += (size_t)k + 1;
	}
	return (int)off;
}

unsigned xsd_perms_access(const struct xsd_perms *p, unsigned domid)
{
	if (domid == 0 || p->p[0].id == domid)
		return XSD_ACC_R | XSD_ACC_W;
	for (uint32_t i = 1; i < p->n; i++)
		if (p->p[i].id == domid)
			return p->p[i].acc;
	return p->p[0].acc;
}
