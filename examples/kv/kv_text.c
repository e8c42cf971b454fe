/* The text line protocol of kv.text: parsing and execution. */
#include "kv_text.h"

#include <stdio.h>
#include <string.h>

void kv_text_init(struct kv_text *t)
{
	memset(t, 0, sizeof *t);
}

static size_t say(char *out, size_t cap, const char *fmt, const char *arg)
{
	int n = snprintf(out, cap, fmt, arg);
	return (n < 0 || (size_t)n >= cap) ? 0 : (size_t)n;
}

static size_t error(char *out, size_t cap, int status)
{
	return say(out, cap, "error %s\n", kv_status_text(status));
}

static int printable(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e)
			return 0;
	return 1;
}

/* Split off the next space-separated word of line[*pos..len). */
static size_t word(const char *line, size_t len, size_t *pos,
		   const char **w)
{
	while (*pos < len && line[*pos] == ' ')
		(*pos)++;
	*w = line + *pos;
	size_t start = *pos;
	while (*pos < len && line[*pos] != ' ')
		(*pos)++;
	return *pos - start;
}

static size_t do_list(struct kv_store *s, const char *after, size_t alen,
		      char *out, size_t cap)
{
	const char *keys[KV_LIST_PAGE];
	bool more;
	int n = kv_list(s, after, alen, keys, KV_LIST_PAGE, &more);
	if (n < 0)
		return error(out, cap, -n);
	size_t o = say(out, cap, "%s", "ok");
	for (int i = 0; i < n; i++)
		o += say(out + o, cap - o, " %s", keys[i]);
	if (more)
		o += say(out + o, cap - o, "%s", " +");
	o += say(out + o, cap - o, "%s", "\n");
	return o;
}

size_t kv_text_exec(struct kv_store *s, const char *line, size_t len,
		    char *out, size_t cap)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return 0;
	if (!printable(line, len))
		return say(out, cap, "%s", "error bad characters in line\n");
	size_t pos = 0;
	const char *cmd, *key;
	size_t clen = word(line, len, &pos, &cmd);
	if (clen == 0)
		return 0; /* only spaces */
	size_t klen = word(line, len, &pos, &key);
	/* put's value is the rest of the line after one space, verbatim. */
	const char *val = line + pos + (pos < len);
	size_t vlen = len - pos - (pos < len);
	size_t extra_pos = pos;
	const char *extra;
	size_t xlen = word(line, len, &extra_pos, &extra);

#define IS(w) (clen == sizeof(w) - 1 && memcmp(cmd, w, clen) == 0)
	if (IS("put")) {
		if (klen == 0)
			return say(out, cap, "%s", "error usage: put KEY VALUE\n");
		int st = kv_put(s, key, klen, val, vlen);
		return st ? error(out, cap, st) : say(out, cap, "%s", "ok\n");
	}
	if (IS("get") || IS("del")) {
		if (klen == 0 || xlen > 0)
			return say(out, cap, "%s", IS("get") ?
				   "error usage: get KEY\n" :
				   "error usage: del KEY\n");
		if (IS("del")) {
			int st = kv_del(s, key, klen);
			return st ? error(out, cap, st) :
				    say(out, cap, "%s", "ok\n");
		}
		const unsigned char *v;
		size_t n;
		int st = kv_get(s, key, klen, &v, &n);
		if (st)
			return error(out, cap, st);
		/* Values put over kv may hold any byte; a text line cannot. */
		if (!printable((const char *)v, n))
			return say(out, cap, "%s",
				   "error value is not printable text "
				   "(read it with vmsg-kv)\n");
		if (n + 5 > cap)
			return error(out, cap, KV_TOO_BIG);
		memcpy(out, "ok ", 3);
		if (n > 0)
			memcpy(out + 3, v, n);
		out[3 + n] = '\n';
		return n + 4;
	}
	if (IS("list")) {
		if (xlen > 0)
			return say(out, cap, "%s", "error usage: list [AFTER]\n");
		return do_list(s, key, klen, out, cap);
	}
	if (IS("help"))
		return say(out, cap, "%s",
			   "ok put KEY VALUE | get KEY | del KEY | "
			   "list [AFTER]\n");
#undef IS
	return say(out, cap, "%s",
		   "error unknown command (try: help)\n");
}

size_t kv_text_feed(struct kv_text *t, struct kv_store *s, const char *in,
		    size_t n, char *out, size_t cap, size_t *out_len)
{
	size_t used = 0;
	while (used < n && cap - *out_len >= KV_TEXT_REPLY_MAX) {
		const char *nl = memchr(in + used, '\n', n - used);
		size_t chunk = nl ? (size_t)(nl - (in + used)) : n - used;
		if (t->skipping) {
			/* Rest of an overlong line: already answered. */
		} else if (t->len + chunk > KV_TEXT_LINE_MAX) {
			*out_len += say(out + *out_len, cap - *out_len, "%s",
					"error line too long\n");
			t->skipping = true;
			t->len = 0;
			t->lines++;
		} else {
			memcpy(t->line + t->len, in + used, chunk);
			t->len += chunk;
		}
		used += chunk;
		if (!nl)
			break; /* wait for the rest of the line */
		used++; /* the newline */
		if (!t->skipping) {
			size_t a = kv_text_exec(s, t->line, t->len,
						out + *out_len, cap - *out_len);
			*out_len += a;
			t->lines += a > 0;
		}
		t->len = 0;
		t->skipping = false;
	}
	return used;
}
