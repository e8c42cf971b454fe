/* vmsg/host.h - the host backend: channels between Linux processes with no
 * hypervisor.
 *
 * Error contract: >= 0 success, negative errno on failure.
 *
 * The server listens on a UNIX socket path (the analogue of the xenstore
 * directory). Its one client connects there; the server passes the shared
 * pages (a memfd) and its event port (an eventfd) with SCM_RIGHTS, and the
 * client answers with its own eventfd. The shared memory holds exactly the
 * libxenvchan page and rings. The connected socket stays open for the
 * channel's life: when a peer dies, even by kill -9, the kernel hangs it up
 * and the survivor clears the peer's live byte at once, as Xen's unmap
 * notification would. docs/architecture.md has the details.
 */
#ifndef VMSG_HOST_H
#define VMSG_HOST_H

#include <stdbool.h>

#include <vmsg/chan.h>
#include <vmsg/platform.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Create a host platform for one channel end at `path` (a filesystem path
 * of at most 107 bytes; a server creates the socket there and removes it
 * when its client has arrived or at close). Freed through its destroy op,
 * which vmsg_chan_close() calls. Errors: -EINVAL, -ENAMETOOLONG, -ENOMEM. */
int vmsg_host_platform_new(struct vmsg_platform **out, const char *path,
			   bool server);

/* Convenience: vmsg_host_platform_new() + vmsg_chan_serve(). Errors also
 * -EADDRINUSE when another live server owns `path` (a stale socket file
 * left by a dead server is replaced). */
int vmsg_host_serve(vmsg_chan **out, const char *path,
		    const struct vmsg_chan_opts *o);

/* Convenience: vmsg_host_platform_new() + vmsg_chan_connect(). */
int vmsg_host_connect(vmsg_chan **out, const char *path,
		      const struct vmsg_chan_opts *o, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
