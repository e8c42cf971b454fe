/* kv_store.h - the key-value example's bounded in-memory store.
 *
 * Everything that reaches the store comes from untrusted clients, so every
 * entry point checks its arguments: keys are 1..KV_KEY_MAX bytes of
 * [A-Za-z0-9._:/@-] (safe to print and to split on spaces), values are
 * 0..KV_VALUE_MAX arbitrary bytes, and the store holds at most max_keys
 * entries. The store itself is private memory: no shared ring is ever
 * referenced after a call returns. */
#ifndef KV_STORE_H
#define KV_STORE_H

#include <stdbool.h>
#include <stddef.h>

#define KV_KEY_MAX 64
#define KV_VALUE_MAX 1024
#define KV_KEYS_DEFAULT 1024 /* max_keys when not configured */
#define KV_KEYS_LIMIT 65536  /* the largest max_keys accepted */
#define KV_LIST_PAGE 128     /* keys per List answer at most */

/* Same numbers as enum Status in kv.proto. */
enum kv_status {
	KV_OK = 0,
	KV_NOT_FOUND = 1,
	KV_BAD_KEY = 2,
	KV_TOO_BIG = 3,
	KV_FULL = 4,
	KV_BAD_REQUEST = 5,
};

struct kv_entry {
	char key[KV_KEY_MAX + 1]; /* NUL-terminated copy */
	unsigned char *value;     /* malloc'd, may be NULL when vlen == 0 */
	size_t vlen;
};

struct kv_store {
	struct kv_entry *e; /* sorted by key (strcmp order) */
	size_t n, cap, max_keys;
};

/* 1 if key[0..len) is a valid key, else 0. */
int kv_key_ok(const void *key, size_t len);

/* An empty store of at most max_keys (1..KV_KEYS_LIMIT) entries.
 * Returns 0 or -EINVAL. */
int kv_store_init(struct kv_store *s, size_t max_keys);
void kv_store_free(struct kv_store *s);

/* Each returns an enum kv_status (KV_FULL also when memory runs out). */
int kv_put(struct kv_store *s, const void *key, size_t klen,
	   const void *value, size_t vlen);
/* *value stays valid until the next put/del of that key. */
int kv_get(const struct kv_store *s, const void *key, size_t klen,
	   const unsigned char **value, size_t *vlen);
int kv_del(struct kv_store *s, const void *key, size_t klen);

/* Up to `max` (capped at KV_LIST_PAGE; 0 means KV_LIST_PAGE) keys after
 * after[0..alen) in order (all from the first when alen is 0) into keys[];
 * *more says whether others follow. `after` need not be a stored key, but
 * must be a valid one when alen > 0 (else KV_BAD_KEY). Returns the count
 * (>= 0) or -KV_BAD_KEY. */
int kv_list(const struct kv_store *s, const void *after, size_t alen,
	    const char **keys, size_t max, bool *more);

/* A short, printable description of a status. */
const char *kv_status_text(int status);

#endif
