/* Private: the arena operations vmsg_proto_recv() needs beyond the public
 * ones: scratch space taken from the arena's far end (the payload copy, given
 * back after unpacking), and a mark to roll a failed unpack back to. */
#ifndef VMSG_ARENA_PRIVATE_H
#define VMSG_ARENA_PRIVATE_H

#include <stddef.h>

#include <vmsg/proto.h>

/* Take `size` bytes from the arena's end, 8-byte aligned, or NULL when they
 * do not fit between the bump pointer and the end. Only one scratch block is
 * live at a time: vmsg__arena_scratch_put() gives it back. */
void *vmsg__arena_scratch_take(struct vmsg_arena *a, size_t size);
void vmsg__arena_scratch_put(struct vmsg_arena *a);

/* The bump pointer, and clears the failure flag, so that a later rollback
 * frees everything allocated since and vmsg__arena_failed() reports only
 * allocations made since. */
size_t vmsg__arena_mark(struct vmsg_arena *a);
void vmsg__arena_rollback(struct vmsg_arena *a, size_t mark);
/* Whether an allocation has failed since the last mark. */
int vmsg__arena_failed(const struct vmsg_arena *a);

#endif
