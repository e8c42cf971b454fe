/* Paths: Xen's node-name rules and the relations between paths. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsd.h"

/* Length of a leading "/local/domain/<domid>/": Xen 4.17 measures a path
 * from there (its sscanf of "/local/domain/%5u/": 1 to 5 digits, then a
 * '/'), so that a domain's home does not eat its path quota; 0 without. */
static size_t home_prefix_len(const char *p)
{
	static const char pre[] = "/local/domain/";
	size_t n = sizeof pre - 1, d = 0;
	if (strncmp(p, pre, n) != 0)
		return 0;
	while (d < 5 && p[n + d] >= '0' && p[n + d] <= '9')
		d++;
	if (d == 0 || p[n + d] != '/')
		return 0;
	return n + d + 1;
}

bool xsd_path_valid(const char *p, uint32_t path_max)
{
	size_t len = strlen(p);
	if (len == 0 || p[0] != '/')
		return false;
	/* Xen's path-max quota, applied to every domain, dom0 included. */
	if (len > home_prefix_len(p) + path_max)
		return false;
	if (len > 1 && p[len - 1] == '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = p[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '/' || ch == '_' ||
			  ch == '-' || ch == '@';
		if (!ok)
			return false;
		if (ch == '/' && p[i + 1] == '/')
			return false;
	}
	return true;
}

char *xsd_path_canon(const char *in, unsigned domid, uint32_t path_max,
		     int *err)
{
	char *out;
	if (in[0] == '/') {
		out = strdup(in);
	} else {
		/* Relative to the domain's home, as Xen does. */
		if (strlen(in) > XENSTORE_REL_PATH_MAX) {
			*err = -EINVAL;
			return NULL;
		}
		size_t n = strlen(in) + 32;
		out = malloc(n);
		if (out)
			snprintf(out, n, "/local/domain/%u/%s", domid, in);
	}
	if (!out) {
		*err = -ENOMEM;
		return NULL;
	}
	if (!xsd_path_valid(out, path_max)) {
		free(out);
		*err = -EINVAL;
		return NULL;
	}
	return out;
}

bool xsd_path_under(const char *p, const char *anc)
{
	size_t n = strlen(anc);
	if (strcmp(anc, "/") == 0)
		return p[0] == '/';
	return strncmp(p, anc, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

size_t xsd_path_parent_len(const char *p)
{
	const char *s = strrchr(p, '/');
	if (!s || s == p)
		return 1;
	return (size_t)(s - p);
}

const char *xsd_path_base(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

char *xsd_path_join(const char *parent, const char *name)
{
	size_t a = strlen(parent), b = strlen(name);
	char *out = malloc(a + b + 2);
	if (!out)
		return NULL;
	memcpy(out, parent, a);
	if (!(a == 1 && parent[0] == '/'))
		out[a++] = '/';
	memcpy(out + a, name, b + 1);
	return out;
}

int xsd_parse_domid(const char *s, unsigned *out)
{
	unsigned long v = 0;
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > XSD_MAX_DOMID)
			return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}
