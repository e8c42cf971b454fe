/* A bounded bump allocator over caller memory, and its ProtobufCAllocator
 * face. Decoding a peer's message allocates only from here, so a hostile
 * payload can cost at most the arena's size. */
#include <errno.h>
#include <stdint.h>

#include <vmsg/proto.h>

#include "arena_private.h"

#define ARENA_ALIGN ((size_t)8)

/* Round n up to ARENA_ALIGN; SIZE_MAX signals that it cannot be done
 * without wrapping (every caller treats that as "does not fit"). */
static size_t align_up(size_t n)
{
	if (n > SIZE_MAX - (ARENA_ALIGN - 1))
		return SIZE_MAX;
	return (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
}

static void *pb_alloc(void *data, size_t size)
{
	return vmsg_arena_alloc(data, size);
}

/* protobuf-c frees what it allocated when an unpack fails halfway; the
 * arena gets everything back at reset (or at the caller's rollback). */
static void pb_free(void *data, void *p)
{
	(void)data;
	(void)p;
}

int vmsg_arena_init(struct vmsg_arena *a, void *buf, size_t cap)
{
	if (!a || (!buf && cap))
		return -EINVAL;
	size_t skip = 0;
	if (buf) {
		uintptr_t addr = (uintptr_t)buf;
		skip = (size_t)(-addr & (ARENA_ALIGN - 1));
	}
	if (skip > cap)
		skip = cap;
	a->base = buf ? (unsigned char *)buf + skip : NULL;
	/* Keep cap a multiple of the alignment, so that scratch blocks taken
	 * from the end are aligned too. */
	a->cap = (cap - skip) & ~(ARENA_ALIGN - 1);
	a->used = 0;
	a->top = a->cap;
	a->failed = 0;
	a->allocator.alloc = pb_alloc;
	a->allocator.free = pb_free;
	a->allocator.allocator_data = a;
	return 0;
}

void *vmsg_arena_alloc(struct vmsg_arena *a, size_t size)
{
	if (!a)
		return NULL;
	/* used and top are multiples of 8 with used <= top, so top - used
	 * cannot wrap and an aligned size that fits keeps used aligned. */
	size_t need = align_up(size);
	if (need > a->top - a->used || !a->base) {
		a->failed = 1;
		return NULL;
	}
	void *p = a->base + a->used;
	a->used += need;
	return p;
}

void vmsg_arena_reset(struct vmsg_arena *a)
{
	if (!a)
		return;
	a->used = 0;
	a->top = a->cap;
	a->failed = 0;
}

size_t vmsg_arena_used(const struct vmsg_arena *a)
{
	return a ? a->used : 0;
}

ProtobufCAllocator *vmsg_arena_allocator(struct vmsg_arena *a)
{
	return a ? &a->allocator : NULL;
}

void *vmsg__arena_scratch_take(struct vmsg_arena *a, size_t size)
{
	size_t need = align_up(size);
	if (!a->base || need > a->top - a->used)
		return NULL;
	a->top -= need;
	return a->base + a->top;
}

void vmsg__arena_scratch_put(struct vmsg_arena *a)
{
	a->top = a->cap;
}

size_t vmsg__arena_mark(struct vmsg_arena *a)
{
	a->failed = 0;
	return a->used;
}

void vmsg__arena_rollback(struct vmsg_arena *a, size_t mark)
{
	if (mark <= a->used)
		a->used = mark;
}

int vmsg__arena_failed(const struct vmsg_arena *a)
{
	return a->failed;
}
