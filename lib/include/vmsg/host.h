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
 * notification would. docs/protocol.md has the details.
 *
 * Two things to know:
 * - A server answers a connecting client from inside its own channel calls
 *   (vmsg_chan_accept, any call that waits, or vmsg_chan_ack after its fd
 *   polls readable). A client's connect waits for that answer (at least a
 *   second, or its timeout if longer), so a server should be in accept or
 *   an event loop while clients come.
 * - The descriptors are close-on-exec, but fork() copies them: a child
 *   forked after a channel exists keeps the connection open, and the peer
 *   sees a death only when both have exited. Fork before you connect, or
 *   close the channel in the child.
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
