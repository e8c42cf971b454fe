/* Private: the one place where vmsg touches shared memory ordering.
 *
 * Every access to memory the peer can write goes through these helpers.
 * Each call site says which barrier it pairs with. Freestanding: only
 * compiler builtins (C11 __atomic), no libc.
 */
#ifndef VMSG_BARRIER_H
#define VMSG_BARRIER_H

#include <stdint.h>

#if !defined(__x86_64__) && !defined(__i386__) && !defined(__aarch64__)
#error "vmsg: unsupported architecture (add a cpu_relax and check the barriers)"
#endif

/* Read a shared value exactly once. Relaxed: no ordering, but the compiler
 * may neither re-read it later nor tear it (XSA-155 was a double fetch). */
#define vmsg__read_once(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define vmsg__write_once(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

/* Acquire: later loads and stores are not moved before this load. Used to
 * read the peer's index before touching the bytes it covers. */
#define vmsg__load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)

/* Release: earlier loads and stores are not moved after this store. Used to
 * publish our index after the bytes it covers are written (or read). */
#define vmsg__store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* Full barrier: orders earlier stores against later loads. Needed where a
 * side publishes something and then reads what the peer published (the
 * notify handshake: "set my bit, then re-check the ring" against "publish
 * index, then check the peer's bit"). Acquire/release alone allow both sides
 * to miss each other. */
#if defined(__x86_64__)
/* On x86 a locked read-modify-write of a private, cached line (our own stack
 * top; the value is unchanged) is a full barrier like MFENCE, and cheaper:
 * MFENCE also waits for weakly ordered streaming stores, which we do not
 * use. */
#define vmsg__mb() __asm__ __volatile__("lock orl $0, (%%rsp)" ::: "memory", "cc")
#elif defined(__i386__)
#define vmsg__mb() __asm__ __volatile__("lock orl $0, (%%esp)" ::: "memory", "cc")
#else
#define vmsg__mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif

/* Atomic read-modify-write on notify bytes shared with the peer. */
#define vmsg__fetch_or(p, v) __atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST)
#define vmsg__fetch_and(p, v) __atomic_fetch_and((p), (v), __ATOMIC_SEQ_CST)
#define vmsg__cas(p, expected_ptr, desired)                                    \
	__atomic_compare_exchange_n((p), (expected_ptr), (desired), 0,         \
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)

/* Fetch a line in the state for writing (a hint: never faults). PREFETCHW
 * is a no-op on x86 CPUs that predate it; the builtin would fall back to a
 * read prefetch without -mprfchw. */
static inline void vmsg__prefetch_w(const void *p)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ __volatile__("prefetchw %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1);
#endif
}

/* Tell the CPU we are in a spin-wait loop. */
static inline void vmsg__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

#endif
