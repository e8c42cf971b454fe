/* A string-keyed hash map with chaining; entries embed struct xsd_hent.
 * Used for the tree (path -> node) and for a transaction's entries. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xsd.h"

/* FNV-1a over the key's bytes. */
static size_t hash(const char *k)
{
	uint64_t h = 1469598103934665603ull;
	for (; *k; k++) {
		h ^= (unsigned char)*k;
		h *= 1099511628211ull;
	}
	return (size_t)h;
}

int xsd_map_init(struct xsd_map *m)
{
	m->nb = 64;
	m->n = 0;
	m->b = calloc(m->nb, sizeof(*m->b));
	return m->b ? 0 : -ENOMEM;
}

void xsd_map_fini(struct xsd_map *m)
{
	free(m->b);
	m->b = NULL;
	m->nb = m->n = 0;
}

struct xsd_hent *xsd_map_get(const struct xsd_map *m, const char *key)
{
	struct xsd_hent *e = m->b[hash(key) & (m->nb - 1)];
	for (; e; e = e->hnext)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static int grow(struct xsd_map *m)
{
	size_t nb = m->nb * 2;
	struct xsd_hent **b = calloc(nb, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < m->nb; i++) {
		struct xsd_hent *e = m->b[i], *nx;
		for (; e; e = nx) {
			nx = e->hnext;
			size_t j = hash(e->key) & (nb - 1);
			e->hnext = b[j];
			b[j] = e;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
	return 0;
}

int xsd_map_put(struct xsd_map *m, struct xsd_hent *e)
{
	/* Growing is best effort: a full table still works, only slower. */
	if (m->n >= m->nb)
		(void)grow(m);
	size_t i = hash(e->key) & (m->nb - 1);
	e->hnext = m->b[i];
	m->b[i] = e;
	m->n++;
	return 0;
}

struct xsd_hent *xsd_map_del(struct xsd_map *m, const char *key)
{
	struct xsd_hent **pp = &m->b[hash(key) & (m->nb - 1)];
	for (; *pp; pp = &(*pp)->hnext) {
		if (strcmp((*pp)->key, key) == 0) {
			struct xsd_hent *e = *pp;
			*pp = e->hnext;
			e->hnext = NULL;
			m->n--;
			return e;
		}
	}
	return NULL;
}

void xsd_map_each(const struct xsd_map *m,
		  void (*fn)(struct xsd_hent *e, void *arg), void *arg)
{
	for (size_t i = 0; i < m->nb; i++)
		for (struct xsd_hent *e = m->b[i]; e; e = e->hnext)
			fn(e, arg);
}
