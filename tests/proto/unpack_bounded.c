/* proto_unpack_bounded: protobuf-c decoding through the arena stays inside
 * it. A valid Hello decodes with every pointer in the arena; with too small
 * an arena it fails cleanly at every size; seeded random garbage and
 * mutated valid messages never crash and never allocate anywhere else (the
 * allocator checks each block, the heap must not grow); a length prefix
 * larger than the data fails without allocating. Run it under ASan too. */
#include <malloc.h>
#include <stdint.h>

#include <vmsg/proto.h>

#include "vmsg_test.h"

_Alignas(8) static unsigned char arena_buf[64 * 1024];

/* An allocator over the arena that checks what the arena returns and what
 * protobuf-c gives back. */
struct checked {
	ProtobufCAllocator pa;
	struct vmsg_arena *a;
	unsigned long allocs, frees;
};

#define IN_ARENA(p, n)                                                         \
	((unsigned char *)(p) >= arena_buf &&                                  \
	 (size_t)(n) <= sizeof arena_buf &&                                    \
	 (unsigned char *)(p) + (n) <= arena_buf + sizeof arena_buf)

static void *checked_alloc(void *data, size_t size)
{
	struct checked *c = data;
	void *p = vmsg_arena_alloc(c->a, size);
	if (p) {
		ASSERT_TRUE(IN_ARENA(p, size));
		ASSERT_EQ((uintptr_t)p % 8, 0);
	}
	c->allocs++;
	return p;
}

static void checked_free(void *data, void *p)
{
	struct checked *c = data;
	ASSERT_TRUE(p == NULL || IN_ARENA(p, 0));
	c->frees++;
}

static void checked_init(struct checked *c, struct vmsg_arena *a)
{
	c->pa.alloc = checked_alloc;
	c->pa.free = checked_free;
	c->pa.allocator_data = c;
	c->a = a;
	c->allocs = c->frees = 0;
}

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static size_t pack_hello(uint8_t *out, size_t cap, const char *name)
{
	Vmsg__Control__Hello h = VMSG__CONTROL__HELLO__INIT;
	h.version = VMSG_PROTO_VERSION;
	h.features = VMSG_FEATURES_SUPPORTED | (1ull << 63);
	h.max_msg = 1ull << 40;
	h.name = (char *)name;
	size_t n = vmsg__control__hello__get_packed_size(&h);
	ASSERT_LE(n, cap);
	ASSERT_EQ(vmsg__control__hello__pack(&h, out), n);
	return n;
}

static void test_valid_hello(void)
{
	uint8_t wire[256];
	size_t n = pack_hello(wire, sizeof wire, "unit-test-peer");
	struct vmsg_arena a;
	ASSERT_EQ(vmsg_arena_init(&a, arena_buf, 1024), 0);
	Vmsg__Control__Hello *h =
		vmsg__control__hello__unpack(vmsg_arena_allocator(&a), n, wire);
	ASSERT_TRUE(h != NULL);
	ASSERT_TRUE(IN_ARENA(h, sizeof *h));
	ASSERT_TRUE(IN_ARENA(h->name, strlen(h->name) + 1));
	ASSERT_EQ(h->version, VMSG_PROTO_VERSION);
	ASSERT_EQ(h->features, VMSG_FEATURES_SUPPORTED | (1ull << 63));
	ASSERT_EQ(h->max_msg, 1ull << 40);
	ASSERT_TRUE(strcmp(h->name, "unit-test-peer") == 0);
	ASSERT_GT(vmsg_arena_used(&a), 0);
	/* The decoded message owns copies: the input can go. vmsg_proto_recv
	 * relies on this to reuse the payload copy's room. */
	memset(wire, 0xff, sizeof wire);
	ASSERT_TRUE(strcmp(h->name, "unit-test-peer") == 0);
}

static void test_too_small(void)
{
	uint8_t wire[256];
	size_t n = pack_hello(wire, sizeof wire, "a name of some length");
	struct vmsg_arena a;
	ASSERT_EQ(vmsg_arena_init(&a, arena_buf, sizeof arena_buf), 0);
	ASSERT_TRUE(vmsg__control__hello__unpack(vmsg_arena_allocator(&a), n,
						 wire) != NULL);
	size_t need = vmsg_arena_used(&a);

	/* Every smaller arena fails, cleanly, and only with arena memory. */
	size_t heap0 = heap_in_use();
	for (size_t cap = 0; cap < need; cap++) {
		struct checked c;
		ASSERT_EQ(vmsg_arena_init(&a, arena_buf, cap), 0);
		checked_init(&c, &a);
		ASSERT_TRUE(vmsg__control__hello__unpack(&c.pa, n, wire) ==
			    NULL);
		ASSERT_GT(c.allocs, 0);
	}
	ASSERT_EQ(heap_in_use(), heap0);
	/* And exactly enough succeeds. */
	ASSERT_EQ(vmsg_arena_init(&a, arena_buf, need), 0);
	ASSERT_TRUE(vmsg__control__hello__unpack(vmsg_arena_allocator(&a), n,
						 wire) != NULL);
}

static void test_huge_length(void)
{
	/* Field 4 (name, length-delimited), length 2^62, then 8 bytes. */
	static const uint8_t huge_name[] = {
		0x08, 0x80, 0x80, 0x04, /* version = 1 << 16 */
		0x22, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40,
		'a',  'b',  'c',  'd',  'e',  'f',  'g',  'h',
	};
	/* The same with length 0xffffffff and with 1000 over 3 bytes. */
	static const uint8_t big_name[] = { 0x22, 0xff, 0xff, 0xff, 0xff,
					    0x0f, 'x',  'y',  'z' };
	static const uint8_t short_name[] = { 0x22, 0xe8, 0x07, 'x', 'y', 'z' };
	/* Error.text (field 2) claiming 2^63 - 1 bytes. */
	static const uint8_t huge_text[] = { 0x08, 0x01, 0x12, 0xff, 0xff,
					     0xff, 0xff, 0xff, 0xff, 0xff,
					     0xff, 0x7f, 'q' };
	/* An unknown length-delimited field 15 claiming 2^32 bytes. */
	static const uint8_t huge_unknown[] = { 0x7a, 0x80, 0x80, 0x80,
						0x80, 0x10, 0x00 };
	struct {
		const ProtobufCMessageDescriptor *d;
		const uint8_t *p;
		size_t n;
	} cases[] = {
		{ &vmsg__control__hello__descriptor, huge_name, sizeof huge_name },
		{ &vmsg__control__hello__descriptor, big_name, sizeof big_name },
		{ &vmsg__control__hello__descriptor, short_name,
		  sizeof short_name },
		{ &vmsg__control__error__descriptor, huge_text, sizeof huge_text },
		{ &vmsg__control__hello__descriptor, huge_unknown,
		  sizeof huge_unknown },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct vmsg_arena a;
		struct checked c;
		/* A big arena: the failure must be the parser's, not ours. */
		ASSERT_EQ(vmsg_arena_init(&a, arena_buf, sizeof arena_buf), 0);
		checked_init(&c, &a);
		size_t heap0 = heap_in_use();
		ASSERT_TRUE(protobuf_c_message_unpack(cases[i].d, &c.pa,
						      cases[i].n,
						      cases[i].p) == NULL);
		ASSERT_EQ(heap_in_use(), heap0);
		/* Whatever it allocated before giving up is small. */
		ASSERT_LE(vmsg_arena_used(&a), 256);
	}
}

static void fuzz(uint64_t seed, unsigned iters)
{
	static const ProtobufCMessageDescriptor *const descs[] = {
		&vmsg__control__hello__descriptor,
		&vmsg__control__error__descriptor,
	};
	uint8_t valid[256], in[512];
	size_t nvalid = pack_hello(valid, sizeof valid, "fuzz-seed-message");
	size_t heap0 = heap_in_use();
	unsigned parsed = 0;

	for (unsigned it = 0; it < iters; it++) {
		uint64_t r = vmsg_test_rand(&seed);
		size_t n;
		if (r & 1) {
			/* Pure garbage, 0..511 bytes. */
			n = (size_t)(vmsg_test_rand(&seed) % sizeof in);
			for (size_t i = 0; i < n; i++)
				in[i] = (uint8_t)vmsg_test_rand(&seed);
		} else {
			/* A valid Hello with a few bytes changed, maybe cut
			 * short or extended: reaches deeper parser paths. */
			memcpy(in, valid, nvalid);
			n = nvalid;
			unsigned flips = 1 + (unsigned)(vmsg_test_rand(&seed) % 4);
			for (unsigned f = 0; f < flips; f++)
				in[vmsg_test_rand(&seed) % n] =
					(uint8_t)vmsg_test_rand(&seed);
			if (r & 2)
				n = (size_t)(vmsg_test_rand(&seed) % (n + 1));
			else if (r & 4)
				for (; n < nvalid + 32; n++)
					in[n] = (uint8_t)vmsg_test_rand(&seed);
		}
		/* Arena sizes from nothing to plenty. */
		size_t cap = (size_t)(vmsg_test_rand(&seed) % 4096);
		struct vmsg_arena a;
		struct checked c;
		ASSERT_EQ(vmsg_arena_init(&a, arena_buf, cap), 0);
		checked_init(&c, &a);
		ProtobufCMessage *m =
			protobuf_c_message_unpack(descs[(r >> 3) & 1], &c.pa, n, in);
		if (m) {
			ASSERT_TRUE(IN_ARENA(m, 1));
			parsed++;
		}
		ASSERT_LE(vmsg_arena_used(&a), cap);
	}
	/* Nothing escaped to the heap. */
	ASSERT_EQ(heap_in_use(), heap0);
	printf("fuzz: %u of %u inputs parsed\n", parsed, iters);
}

int main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 0x5eed1234abcdull;
	printf("proto_unpack_bounded: seed 0x%" PRIx64 "\n", seed);
	test_valid_hello();
	test_too_small();
	test_huge_length();
	fuzz(seed, 200000);
	printf("proto_unpack_bounded: ok\n");
	return 0;
}
