/* The bounded store: a sorted array searched by bisection. A few thousand
 * keys at most, so inserting by memmove is fine. */
#include "kv_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int kv_key_ok(const void *key, size_t len)
{
	const unsigned char *k = key;
	if (!k || len == 0 || len > KV_KEY_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("._:/@-", c)) ||
		    c == 0) /* strchr finds the terminator too */
			return 0;
	}
	return 1;
}

int kv_store_init(struct kv_store *s, size_t max_keys)
{
	if (!s || max_keys == 0 || max_keys > KV_KEYS_LIMIT)
		return -EINVAL;
	memset(s, 0, sizeof *s);
	s->max_keys = max_keys;
	return 0;
}

void kv_store_free(struct kv_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->e[i].value);
	free(s->e);
	memset(s, 0, sizeof *s);
}

/* Index of the first entry whose key is >= key (key NUL-terminated). */
static size_t lower_bound(const struct kv_store *s, const char *key)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(s->e[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Validate and copy a key into a terminated buffer. */
static int key_copy(char out[KV_KEY_MAX + 1], const void *key, size_t klen)
{
	if (!kv_key_ok(key, klen))
		return KV_BAD_KEY;
	memcpy(out, key, klen);
	out[klen] = '\0';
	return KV_OK;
}

static long find(const struct kv_store *s, const char *k)
{
	size_t i = lower_bound(s, k);
	return (i < s->n && strcmp(s->e[i].key, k) == 0) ? (long)i : -1;
}

int kv_put(struct kv_store *s, const void *key, size_t klen,
	   const void *value, size_t vlen)
{
	char k[KV_KEY_MAX + 1];
	int st = key_copy(k, key, klen);
	if (st != KV_OK)
		return st;
	if (vlen > KV_VALUE_MAX)
		return KV_TOO_BIG;
	if (vlen > 0 && !value)
		return KV_BAD_REQUEST;
	unsigned char *v = NULL;
	if (vlen > 0) {
		v = malloc(vlen);
		if (!v)
			return KV_FULL;
		memcpy(v, value, vlen);
	}
	size_t i = lower_bound(s, k);
	if (i < s->n && strcmp(s->e[i].key, k) == 0) {
		free(s->e[i].value);
		s->e[i].value = v;
		s->e[i].vlen = vlen;
		return KV_OK;
	}
	if (s->n >= s->max_keys) {
		free(v);
		return KV_FULL;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		if (cap > s->max_keys)
			cap = s->max_keys;
		struct kv_entry *e = realloc(s->e, cap * sizeof *e);
		if (!e) {
			free(v);
			return KV_FULL;
		}
		s->e = e;
		s->cap = cap;
	}
	memmove(&s->e[i + 1], &s->e[i], (s->n - i) * sizeof *s->e);
	memcpy(s->e[i].key, k, klen + 1);
	s->e[i].value = v;
	s->e[i].vlen = vlen;
	s->n++;
	return KV_OK;
}

int kv_get(const struct kv_store *s, const void *key, size_t klen,
	   const unsigned char **value, size_t *vlen)
{
	char k[KV_KEY_MAX + 1];
	int st = key_copy(k, key, klen);
	if (st != KV_OK)
		return st;
	long i = find(s, k);
	if (i < 0)
		return KV_NOT_FOUND;
	*value = s->e[i].value;
	*vlen = s->e[i].vlen;
	return KV_OK;
}

int kv_del(struct kv_store *s, const void *key, size_t klen)
{
	char k[KV_KEY_MAX + 1];
	int st = key_copy(k, key, klen);
	if (st != KV_OK)
		return st;
	long i = find(s, k);
	if (i < 0)
		return KV_NOT_FOUND;
	free(s->e[i].value);
	memmove(&s->e[i], &s->e[i + 1], (s->n - (size_t)i - 1) * sizeof *s->e);
	s->n--;
	return KV_OK;
}

int kv_list(const struct kv_store *s, const void *after, size_t alen,
	    const char **keys, size_t max, bool *more)
{
	char k[KV_KEY_MAX + 1] = "";
	if (alen > 0 && key_copy(k, after, alen) != KV_OK)
		return -KV_BAD_KEY;
	if (max == 0 || max > KV_LIST_PAGE)
		max = KV_LIST_PAGE;
	size_t i = lower_bound(s, k);
	if (alen > 0 && i < s->n && strcmp(s->e[i].key, k) == 0)
		i++; /* strictly after */
	size_t n = 0;
	for (; i < s->n && n < max; i++)
		keys[n++] = s->e[i].key;
	*more = i < s->n;
	return (int)n;
}

const char *kv_status_text(int status)
{
	switch (status) {
	case KV_OK:
		return "ok";
	case KV_NOT_FOUND:
		return "no such key";
	case KV_BAD_KEY:
		return "bad key (1..64 bytes of A-Z a-z 0-9 . _ : / @ -)";
	case KV_TOO_BIG:
		return "value too large (at most 1024 bytes)";
	case KV_FULL:
		return "store full";
	case KV_BAD_REQUEST:
		return "bad request";
	default:
		return "unknown status";
	}
}
