/* Zeroed memory for a channel's platform on Linux (its ops->alloc/free;
 * free is always given the size alloc was). Blocks of VMSG__MMAP_MIN and
 * more come straight from mmap: freeing one gives its pages back to the
 * system at once, and pages never written cost nothing. malloc would keep
 * a freed block of a size it has seen freed before in its heap, so a
 * broker trimming its reassembly buffers (vmsg_chan_rx_kept) would free
 * nothing. */
#ifndef VMSG_LINUX_ALLOC_H
#define VMSG_LINUX_ALLOC_H

#include <stdlib.h>
#include <sys/mman.h>

#define VMSG__MMAP_MIN (128u * 1024u)

static inline void *vmsg__linux_alloc(size_t size)
{
	if (size < VMSG__MMAP_MIN)
		return calloc(1, size ? size : 1);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static inline void vmsg__linux_free(void *p, size_t size)
{
	if (!p)
		return;
	if (size < VMSG__MMAP_MIN)
		free(p);
	else
		munmap(p, size);
}

#endif
