/* vmsg/host.h - the host backend: channels between Linux processes with no
 * hypervisor.
 *
 * Error contract: >= 0 success, negative errno on failure.
 *
 * The server listens on a UNIX socket path (the analogue of the xenstore
 * directory). Its one client connects there and sends its event port (an
 * eventfd) with SCM_RIGHTS at once; the server admits it on that message
 * and passes the shared pages (a memfd) and its own eventfd, so a setup is
 * two hand-overs between the processes. The shared memory holds exactly the
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
 *
 * Who may be the peer (the access model). The socket is a file, and a file
 * is a weak gate: its mode follows the umask, and in a folder others may
 * write to, another user can take the path first. So each end also asks
 * the kernel who is at the other end of the connection (SO_PEERCRED, the
 * effective uid the peer had when it connected or listened):
 * - The server creates the socket file with an explicit mode (0600 by
 *   default: its own user only), whatever the umask, and sets it before
 *   it listens, so there is no moment when a wider mode lets anyone in.
 * - The server reads each client's uid before it passes anything: a
 *   client whose uid it does not accept gets a refusal and no memfd, no
 *   eventfd; its connect returns -EACCES.
 * - The client reads the server's uid as soon as it is connected, before
 *   it sends or reads anything: a server whose uid it does not accept (a
 *   squatter of the path, say) is left at once, -EACCES.
 * Each end accepts one uid, struct vmsg_host_opts's peer_uid, by default
 * its own effective uid: processes of one user talk, and a root process
 * talks only to root. root is no exception on either side. To talk across
 * users, say so on both ends: the server names the client's uid (or
 * VMSG_HOST_ANY_UID) and gives the socket a mode that lets it connect
 * (0666, or 0660 and a shared group; the folder must let it search, too),
 * and the client names the server's uid. The uid is all that is checked.
 */
#ifndef VMSG_HOST_H
#define VMSG_HOST_H

#include <stdbool.h>
#include <sys/types.h>

#include <vmsg/chan.h>
#include <vmsg/platform.h>

#ifdef __cplusplus
extern "C" {
#endif

/* peer_uid: accept a peer of any uid. */
#define VMSG_HOST_ANY_UID ((uid_t)-1)

/* Who may be the peer, and the socket file's mode (see the top). */
struct vmsg_host_opts {
	/* The effective uid the peer must have (SO_PEERCRED), or
	 * VMSG_HOST_ANY_UID. Default: our own effective uid. */
	uid_t peer_uid;
	/* Server: the socket file's permission bits, 0 to 0777 (more is
	 * -EINVAL). Default 0600. */
	mode_t mode;
};

/* Fill *o with the defaults: peer_uid = geteuid(), mode 0600. */
void vmsg_host_opts_init(struct vmsg_host_opts *o);

/* Create a host platform for one channel end at `path` (a filesystem path
 * of at most 107 bytes; a server creates the socket there and removes it
 * when its client has arrived or at close), with the access rules of
 * `ho` (NULL: the defaults of vmsg_host_opts_init(), taken now). Freed
 * through its destroy op, which vmsg_chan_close() calls. Errors: -EINVAL,
 * -ENAMETOOLONG, -ENOMEM. */
int vmsg_host_platform_new_opts(struct vmsg_platform **out, const char *path,
				bool server, const struct vmsg_host_opts *ho);

/* vmsg_host_platform_new_opts() with the defaults. */
int vmsg_host_platform_new(struct vmsg_platform **out, const char *path,
			   bool server);

/* Convenience: vmsg_host_platform_new_opts() + vmsg_chan_serve(). Errors
 * also -EADDRINUSE when another live server owns `path` (a stale socket
 * file left by a dead server is replaced), and the file system's (-EACCES:
 * we may not create the socket there; -EPERM, -EROFS, ...). A client
 * refused for its uid does not count as our client: we go on waiting. */
int vmsg_host_serve_opts(vmsg_chan **out, const char *path,
			 const struct vmsg_chan_opts *o,
			 const struct vmsg_host_opts *ho);

/* vmsg_host_serve_opts() with the default access rules. */
int vmsg_host_serve(vmsg_chan **out, const char *path,
		    const struct vmsg_chan_opts *o);

/* Convenience: vmsg_host_platform_new_opts() + vmsg_chan_connect().
 * Errors also -EACCES: the socket file's mode (or its folder's) keeps us
 * out, the server runs as a uid we do not accept, or the server refused
 * our uid; all three at once, without waiting for the timeout. */
int vmsg_host_connect_opts(vmsg_chan **out, const char *path,
			   const struct vmsg_chan_opts *o, int timeout_ms,
			   const struct vmsg_host_opts *ho);

/* vmsg_host_connect_opts() with the default access rules. */
int vmsg_host_connect(vmsg_chan **out, const char *path,
		      const struct vmsg_chan_opts *o, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
