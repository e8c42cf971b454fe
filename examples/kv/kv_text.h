/* kv_text.h - the store as text lines (service kv.text), for plain byte
 * streams such as `socat` through a vmsgd listen bridge.
 *
 *   put KEY VALUE   -> ok            VALUE: the rest of the line, printable
 *   get KEY         -> ok VALUE      ASCII, 0..KV_VALUE_MAX bytes
 *   del KEY         -> ok
 *   list [AFTER]    -> ok KEY KEY ... [+]   (+: more remain; ask again
 *                                            with AFTER = the last key)
 *   help            -> ok put KEY VALUE | get KEY | del KEY | list [AFTER]
 *   anything wrong  -> error TEXT
 *
 * Lines end with "\n" ("\r\n" too). Empty lines are ignored. A line over
 * KV_TEXT_LINE_MAX bytes is answered with one `error line too long` and
 * skipped up to its newline. Input is untrusted: any byte outside printable
 * ASCII (a NUL, a control character, 8-bit) makes the line an error. */
#ifndef KV_TEXT_H
#define KV_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "kv_store.h"

#define KV_TEXT_LINE_MAX (8 + KV_KEY_MAX + KV_VALUE_MAX)
/* The longest answer line, "\n" included (a full list page). */
#define KV_TEXT_REPLY_MAX (16 + KV_LIST_PAGE * (KV_KEY_MAX + 1))

/* One connection's partial line. */
struct kv_text {
	char line[KV_TEXT_LINE_MAX + 1];
	size_t len;
	bool skipping; /* inside an overlong line: drop up to its newline */
	unsigned long lines; /* lines answered */
};

void kv_text_init(struct kv_text *t);

/* Execute one line (without its "\n"; line[len] need not be anything) and
 * write the answer, "\n"-terminated, into out (cap >= KV_TEXT_REPLY_MAX).
 * Returns the answer's length; 0 for an empty line (no answer). */
size_t kv_text_exec(struct kv_store *s, const char *line, size_t len,
		    char *out, size_t cap);

/* Feed received bytes: complete lines are executed and their answers
 * appended to out[*out_len..cap). Stops before a line whose answer might
 * not fit (cap - *out_len < KV_TEXT_REPLY_MAX), so the caller sends what
 * is in out and feeds the rest later. Returns the bytes consumed. */
size_t kv_text_feed(struct kv_text *t, struct kv_store *s, const char *in,
		    size_t n, char *out, size_t cap, size_t *out_len);

#endif
