/* Private: the core's only libc needs, for code that must build freestanding.
 *
 * The builtins let the compiler inline small fixed-size copies (frame
 * headers) even under -ffreestanding; larger ones become calls to memcpy,
 * memmove and memset, which every platform provides (the unikernel's own
 * tiny versions, libc on Linux). Those three are the only undefined symbols
 * lib/ring and lib/frame may have; tests/freestanding checks it with nm.
 */
#ifndef VMSG_STRING_H
#define VMSG_STRING_H

#define vmsg__memcpy(d, s, n) __builtin_memcpy((d), (s), (n))
#define vmsg__memmove(d, s, n) __builtin_memmove((d), (s), (n))
#define vmsg__memset(d, c, n) __builtin_memset((d), (c), (n))

#endif
