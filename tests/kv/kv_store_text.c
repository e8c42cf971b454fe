/* kv_store_text: the key-value example's store, text protocol and request
 * decoding against hostile input. Keys outside the key set (empty, too
 * long, NUL, space, 8-bit, '+'), values over the limit and a full store
 * are refused with their status and change nothing; the text protocol
 * answers each line exactly once (ok/error), refuses control and 8-bit
 * bytes, answers an overlong line with one error and recovers at its
 * newline, takes lines split anywhere and "\r\n", stops feeding when its
 * output is full (backpressure), pages `list`; ~10000 random lines in
 * random chunks (1 MiB) keep the store within its bounds; garbage request
 * payloads fail to decode within a bounded arena. */
#include <errno.h>

#include <vmsg/proto.h>

#include "kv_codec.h"
#include "kv_store.h"
#include "kv_text.h"
#include "vmsg_test.h"

static char out[4 * KV_TEXT_REPLY_MAX];

/* Execute `line` and compare the answer with `want`. */
static void expect(struct kv_store *s, const char *line, size_t len,
		   const char *want)
{
	size_t n = kv_text_exec(s, line, len, out, sizeof out);
	if (n != strlen(want) || memcmp(out, want, n) != 0)
		VMSG_TEST_FAIL("'%.*s' -> '%.*s', want '%s'", (int)len, line,
			       (int)n, out, want);
}
#define EXPECT(s, line, want) expect(s, line, sizeof(line) - 1, want)

static void test_keys(void)
{
	char k[KV_KEY_MAX + 2];
	memset(k, 'a', sizeof k);
	ASSERT_TRUE(kv_key_ok("a", 1));
	ASSERT_TRUE(kv_key_ok("A.b_c:d/e@f-9", 13));
	ASSERT_TRUE(kv_key_ok(k, KV_KEY_MAX));
	ASSERT_TRUE(!kv_key_ok(k, KV_KEY_MAX + 1));
	ASSERT_TRUE(!kv_key_ok("", 0));
	ASSERT_TRUE(!kv_key_ok(NULL, 3));
	ASSERT_TRUE(!kv_key_ok("a\0b", 3));
	ASSERT_TRUE(!kv_key_ok("a b", 3));
	ASSERT_TRUE(!kv_key_ok("a+", 2));
	ASSERT_TRUE(!kv_key_ok("\xc3\xa9", 2));
	ASSERT_TRUE(!kv_key_ok("a\n", 2));
}

static void test_store(void)
{
	struct kv_store s;
	const unsigned char *v;
	size_t n;
	static char big[KV_VALUE_MAX + 1];
	ASSERT_EQ(kv_store_init(&s, 0), -EINVAL);
	ASSERT_EQ(kv_store_init(&s, KV_KEYS_LIMIT + 1), -EINVAL);
	ASSERT_EQ(kv_store_init(&s, 3), 0);
	ASSERT_EQ(kv_put(&s, "b", 1, "2", 1), KV_OK);
	ASSERT_EQ(kv_put(&s, "a", 1, "1", 1), KV_OK);
	ASSERT_EQ(kv_put(&s, "a", 1, "one", 3), KV_OK); /* replace */
	ASSERT_EQ(kv_get(&s, "a", 1, &v, &n), KV_OK);
	ASSERT_EQ(n, 3);
	ASSERT_MEM_EQ(v, "one", 3);
	ASSERT_EQ(kv_put(&s, "e", 1, "", 0), KV_OK); /* empty value */
	ASSERT_EQ(kv_get(&s, "e", 1, &v, &n), KV_OK);
	ASSERT_EQ(n, 0);
	/* Full: a new key is refused, replacing one is not. */
	ASSERT_EQ(kv_put(&s, "c", 1, "3", 1), KV_FULL);
	ASSERT_EQ(kv_put(&s, "b", 1, "two", 3), KV_OK);
	ASSERT_EQ(kv_get(&s, "c", 1, &v, &n), KV_NOT_FOUND);
	memset(big, 'x', sizeof big);
	ASSERT_EQ(kv_put(&s, "a", 1, big, KV_VALUE_MAX + 1), KV_TOO_BIG);
	ASSERT_EQ(kv_get(&s, "a", 1, &v, &n), KV_OK);
	ASSERT_EQ(n, 3); /* unchanged */
	ASSERT_EQ(kv_put(&s, "bad key", 7, "x", 1), KV_BAD_KEY);
	ASSERT_EQ(kv_put(&s, "k", 1, NULL, 5), KV_BAD_REQUEST);
	ASSERT_EQ(kv_get(&s, "", 0, &v, &n), KV_BAD_KEY);
	ASSERT_EQ(kv_del(&s, "a\0", 2), KV_BAD_KEY);
	ASSERT_EQ(kv_del(&s, "zz", 2), KV_NOT_FOUND);
	ASSERT_EQ(kv_del(&s, "b", 1), KV_OK);
	ASSERT_EQ(kv_put(&s, "c", 1, big, KV_VALUE_MAX), KV_OK); /* room again */
	ASSERT_EQ(s.n, 3);

	/* Listing: ordered, paged, strictly after the cursor. */
	const char *keys[KV_LIST_PAGE];
	bool more;
	ASSERT_EQ(kv_list(&s, NULL, 0, keys, 0, &more), 3);
	ASSERT_TRUE(!strcmp(keys[0], "a") && !strcmp(keys[1], "c") &&
		    !strcmp(keys[2], "e") && !more);
	ASSERT_EQ(kv_list(&s, NULL, 0, keys, 2, &more), 2);
	ASSERT_TRUE(more);
	ASSERT_EQ(kv_list(&s, "c", 1, keys, 2, &more), 1);
	ASSERT_TRUE(!strcmp(keys[0], "e") && !more);
	ASSERT_EQ(kv_list(&s, "b", 1, keys, 2, &more), 2); /* not a key */
	ASSERT_TRUE(!strcmp(keys[0], "c"));
	ASSERT_EQ(kv_list(&s, "b b", 3, keys, 2, &more), -KV_BAD_KEY);
	kv_store_free(&s);

	/* Many keys: sorted whatever the insertion order, list pages. */
	ASSERT_EQ(kv_store_init(&s, 1000), 0);
	uint64_t seed = 42;
	for (int i = 0; i < 2000; i++) {
		char k[16];
		int len = snprintf(k, sizeof k, "k%u",
				   (unsigned)(vmsg_test_rand(&seed) % 1500));
		int st = kv_put(&s, k, (size_t)len, k, (size_t)len);
		ASSERT_TRUE(st == KV_OK || st == KV_FULL);
	}
	ASSERT_LE(s.n, 1000);
	for (size_t i = 1; i < s.n; i++)
		ASSERT_LT(strcmp(s.e[i - 1].key, s.e[i].key), 0);
	size_t seen = 0;
	char after[KV_KEY_MAX + 1] = "";
	do {
		int got = kv_list(&s, after, strlen(after), keys, 0, &more);
		ASSERT_GE(got, 0);
		ASSERT_LE(got, KV_LIST_PAGE);
		seen += (size_t)got;
		if (got)
			snprintf(after, sizeof after, "%s", keys[got - 1]);
	} while (more);
	ASSERT_EQ(seen, s.n);
	kv_store_free(&s);
}

static void test_text(void)
{
	struct kv_store s;
	ASSERT_EQ(kv_store_init(&s, 4), 0);
	EXPECT(&s, "put greeting hello  world ", "ok\n");
	EXPECT(&s, "get greeting", "ok hello  world \n");
	EXPECT(&s, "get greeting\r", "ok hello  world \n");
	EXPECT(&s, "  get   greeting", "ok hello  world \n");
	EXPECT(&s, "put empty", "ok\n");
	EXPECT(&s, "get empty", "ok \n");
	EXPECT(&s, "get nothing", "error no such key\n");
	EXPECT(&s, "get", "error usage: get KEY\n");
	EXPECT(&s, "get a b", "error usage: get KEY\n");
	EXPECT(&s, "put", "error usage: put KEY VALUE\n");
	EXPECT(&s, "del nothing", "error no such key\n");
	EXPECT(&s, "get bad+key", "error bad key (1..64 bytes of A-Z a-z 0-9 . _ : / @ -)\n");
	EXPECT(&s, "GET greeting", "error unknown command (try: help)\n");
	EXPECT(&s, "get greeting\0x", "error bad characters in line\n");
	EXPECT(&s, "put k \x01", "error bad characters in line\n");
	EXPECT(&s, "put k \xff", "error bad characters in line\n");
	EXPECT(&s, "", "");
	EXPECT(&s, "   ", "");
	EXPECT(&s, "list", "ok empty greeting\n");
	EXPECT(&s, "list empty", "ok greeting\n");
	EXPECT(&s, "list a b", "error usage: list [AFTER]\n");
	EXPECT(&s, "help", "ok put KEY VALUE | get KEY | del KEY | list [AFTER]\n");
	/* A value put over kv with bytes a line cannot carry. */
	ASSERT_EQ(kv_put(&s, "bin", 3, "a\nb", 3), KV_OK);
	EXPECT(&s, "get bin", "error value is not printable text (read it with vmsg-kv)\n");
	EXPECT(&s, "put c 3", "ok\n");
	EXPECT(&s, "put d 4", "error store full\n");
	EXPECT(&s, "del empty", "ok\n");
	EXPECT(&s, "put d 4", "ok\n");
	static char line[KV_VALUE_MAX + 16];
	memcpy(line, "put big ", 8);
	memset(line + 8, 'v', KV_VALUE_MAX + 1);
	expect(&s, line, 8 + KV_VALUE_MAX + 1,
	       "error value too large (at most 1024 bytes)\n");
	EXPECT(&s, "del d", "ok\n");
	expect(&s, line, 8 + KV_VALUE_MAX, "ok\n");
	kv_store_free(&s);
}

/* Feed `in` in chunks of `step` bytes; return everything answered. */
static size_t feed_all(struct kv_text *t, struct kv_store *s, const char *in,
		       size_t n, size_t step, char *res, size_t rcap)
{
	size_t r = 0;
	for (size_t off = 0; off < n;) {
		size_t len = n - off < step ? n - off : step;
		size_t ol = 0;
		size_t used = kv_text_feed(t, s, in + off, len, out, sizeof out,
					   &ol);
		ASSERT_TRUE(used > 0 || ol > 0);
		ASSERT_LE(r + ol, rcap);
		memcpy(res + r, out, ol);
		r += ol;
		off += used;
	}
	return r;
}

static void test_feed(void)
{
	struct kv_store s;
	struct kv_text t;
	static char in[8 * KV_TEXT_LINE_MAX], res[64 * KV_TEXT_REPLY_MAX];
	ASSERT_EQ(kv_store_init(&s, 100), 0);
	kv_text_init(&t);
	/* Split at every byte, with CRLF and an overlong line in between. */
	size_t n = (size_t)snprintf(in, sizeof in, "put a 1\r\n\nget a\n");
	memset(in + n, 'z', 3 * KV_TEXT_LINE_MAX);
	n += 3 * KV_TEXT_LINE_MAX;
	n += (size_t)snprintf(in + n, sizeof in - n, "\nget a\nlist\n");
	size_t r = feed_all(&t, &s, in, n, 1, res, sizeof res);
	const char *want = "ok\nok 1\nerror line too long\nok 1\nok a\n";
	ASSERT_EQ(r, strlen(want));
	ASSERT_MEM_EQ(res, want, r);
	/* Same in one go. */
	kv_text_init(&t);
	r = feed_all(&t, &s, in, n, n, res, sizeof res);
	ASSERT_EQ(r, strlen(want));
	ASSERT_MEM_EQ(res, want, r);
	/* An unterminated line waits: no answer until its newline. */
	size_t ol = 0;
	ASSERT_EQ(kv_text_feed(&t, &s, "get a", 5, out, sizeof out, &ol), 5);
	ASSERT_EQ(ol, 0);
	ASSERT_EQ(kv_text_feed(&t, &s, "\n", 1, out, sizeof out, &ol), 1);
	ASSERT_EQ(ol, 5);
	ASSERT_MEM_EQ(out, "ok 1\n", 5);
	/* Backpressure: with room for less than one full answer, nothing is
	 * consumed; with room for one, one line at a time. */
	ol = sizeof out - KV_TEXT_REPLY_MAX + 1;
	ASSERT_EQ(kv_text_feed(&t, &s, "list\nlist\n", 10, out, sizeof out, &ol),
		  0);
	ol = sizeof out - KV_TEXT_REPLY_MAX;
	ASSERT_EQ(kv_text_feed(&t, &s, "list\nlist\n", 10, out, sizeof out, &ol),
		  5);
	/* A full list page ends with "+" and pages on. */
	for (int i = 0; i < 99; i++) {
		char k[16];
		int len = snprintf(k, sizeof k, "key%03d", i);
		ASSERT_EQ(kv_put(&s, k, (size_t)len, "v", 1), KV_OK);
	}
	kv_store_free(&s);
	ASSERT_EQ(kv_store_init(&s, KV_KEYS_DEFAULT), 0);
	for (int i = 0; i < KV_LIST_PAGE + 5; i++) {
		char k[KV_KEY_MAX + 1];
		memset(k, 'k', KV_KEY_MAX);
		snprintf(k + KV_KEY_MAX - 4, 5, "%04d", i);
		ASSERT_EQ(kv_put(&s, k, KV_KEY_MAX, "v", 1), KV_OK);
	}
	size_t a = kv_text_exec(&s, "list", 4, out, sizeof out);
	ASSERT_LE(a, KV_TEXT_REPLY_MAX);
	ASSERT_MEM_EQ(out + a - 3, " +\n", 3);
	kv_store_free(&s);
}

/* Random lines (mostly valid-looking, some garbage), random chunks: every
 * answer is one "ok"/"error" line, the store stays bounded. */
static void test_fuzz(void)
{
	struct kv_store s;
	struct kv_text t;
	static const char *words[] = {"put", "get", "del", "list", "help", "x",
				      "k1", "k2", "bad+", "", "\t", "v a l"};
	static char in[1 << 20], res[8 << 20];
	uint64_t seed = 0xdecafbad;
	ASSERT_EQ(kv_store_init(&s, 8), 0);
	kv_text_init(&t);
	size_t n = 0, lines = 0;
	for (int i = 0; i < 20000 && n < sizeof in - 3000; i++) {
		int kind = (int)(vmsg_test_rand(&seed) % 10);
		int words_n = 1 + (int)(vmsg_test_rand(&seed) % 4);
		if (kind == 0) { /* random bytes, possibly newlines inside */
			int len = (int)(vmsg_test_rand(&seed) % 2000);
			for (int j = 0; j < len; j++)
				in[n++] = (char)vmsg_test_rand(&seed);
		} else {
			for (int j = 0; j < words_n; j++)
				n += (size_t)snprintf(in + n, sizeof in - n,
						      "%s%s", j ? " " : "",
						      words[vmsg_test_rand(&seed) % 12]);
		}
		in[n++] = '\n';
		lines++;
	}
	size_t r = 0;
	for (size_t off = 0; off < n;) {
		size_t step = 1 + vmsg_test_rand(&seed) % 3000;
		size_t len = n - off < step ? n - off : step;
		size_t ol = 0;
		size_t used = kv_text_feed(&t, &s, in + off, len, out,
					   sizeof out, &ol);
		ASSERT_LE(r + ol, sizeof res);
		memcpy(res + r, out, ol);
		r += ol;
		off += used;
		ASSERT_LE(s.n, 8);
	}
	size_t answers = 0;
	for (size_t p = 0; p < r;) {
		const char *nl = memchr(res + p, '\n', r - p);
		ASSERT_TRUE(nl != NULL);
		ASSERT_TRUE(!strncmp(res + p, "ok", 2) ||
			    !strncmp(res + p, "error ", 6));
		p = (size_t)(nl - res) + 1;
		answers++;
	}
	ASSERT_GT(answers, lines / 2);
	printf("fuzz: %zu lines fed (%zu bytes), %zu answers, %zu keys\n",
	       lines, n, answers, s.n);
	kv_store_free(&s);
}

/* Garbage payloads under each request descriptor: decoding fails or
 * yields a message, within the arena, never more. */
static void test_decode(void)
{
	static unsigned char abuf[KV_ARENA_SIZE];
	struct vmsg_arena a;
	unsigned char junk[KV_REQUEST_MAX];
	uint64_t seed = 7;
	ASSERT_TRUE(kv_request_descriptor(KV_TYPE_REPLY) == NULL);
	ASSERT_TRUE(kv_request_descriptor(0x0001) == NULL);
	ASSERT_TRUE(kv_request_descriptor(KV_TYPE_PUT) == &kv__put__descriptor);
	int ok = 0;
	for (int i = 0; i < 20000; i++) {
		uint16_t type = (uint16_t)(KV_TYPE_PUT + i % 4);
		size_t len = vmsg_test_rand(&seed) % sizeof junk;
		for (size_t j = 0; j < len; j++)
			junk[j] = (unsigned char)vmsg_test_rand(&seed);
		if (i % 3 == 0 && len > 2) { /* a plausible field header */
			junk[0] = 0x12;
			junk[1] = (unsigned char)(len - 2);
		}
		ASSERT_EQ(vmsg_arena_init(&a, abuf, sizeof abuf), 0);
		ProtobufCMessage *m = protobuf_c_message_unpack(
			kv_request_descriptor(type), vmsg_arena_allocator(&a),
			len, junk);
		ASSERT_LE(vmsg_arena_used(&a), sizeof abuf);
		if (m) {
			ok++;
			(void)kv_request_id(type, m);
		}
	}
	/* A reply survives the round trip. */
	Kv__Reply rep = KV__REPLY__INIT;
	rep.id = 9;
	rep.status = KV__STATUS__STATUS_NOT_FOUND;
	rep.text = (char *)"no such key";
	struct kv_out o = {0};
	ASSERT_EQ(kv_out_pack(&o, KV_TYPE_REPLY, &rep.base), 0);
	ASSERT_TRUE(o.pending);
	vmsg_arena_init(&a, abuf, sizeof abuf);
	Kv__Reply *back = (Kv__Reply *)protobuf_c_message_unpack(
		&kv__reply__descriptor, vmsg_arena_allocator(&a), o.len, o.buf);
	ASSERT_TRUE(back != NULL);
	ASSERT_EQ(back->id, 9);
	ASSERT_EQ(back->status, KV__STATUS__STATUS_NOT_FOUND);
	ASSERT_TRUE(!strcmp(back->text, "no such key"));
	kv_out_free(&o);
	printf("decode: %d of 20000 garbage payloads parsed\n", ok);
}

int main(void)
{
	test_keys();
	test_store();
	test_text();
	test_feed();
	test_fuzz();
	test_decode();
	printf("kv_store_text: ok\n");
	return 0;
}
