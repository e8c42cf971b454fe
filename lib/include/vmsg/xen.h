/* vmsg/xen.h - the Xen backend: channels between domains through Xen's own
 * libraries (libxengnttab, libxenevtchn, libxenstore).
 *
 * Error contract: >= 0 success, negative errno on failure.
 *
 * The handshake is libxenvchan's, byte for byte: the server grants the
 * control page (with unmap notification on its live byte) and any ring
 * pages to the client's domain, allocates an unbound event port for that
 * domain, and writes `<path>/ring-ref` and `<path>/event-channel` (decimal)
 * in one xenstore transaction, owned by the server's domain and readable by
 * the client's domain only. The client reads both, binds the port, maps the
 * page with unmap notification on its own live byte, then the ring pages.
 * A vmsg end therefore talks to any libxenvchan peer (in raw byte-stream
 * mode) as well as to another vmsg end. docs/protocol.md, "The Xen
 * handshake", has the details.
 *
 * The same calls work in a Linux domain (dom0 or a guest, over libxengnttab,
 * libxenevtchn and libxenstore; on the simulator: `xensim run --domid N`)
 * and in a unikernel built with guest/ (over its hypercalls and the
 * xenstore ring): one implementation, lib/xenplat/, over a small layer per
 * OS (docs/architecture.md). Every call runs in the caller's domain.
 */
#ifndef VMSG_XEN_H
#define VMSG_XEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmsg/chan.h>
#include <vmsg/platform.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest xenstore path a platform accepts (Xen's absolute path limit). */
#define VMSG_XEN_PATH_MAX 3072

/* Domain ids at and above this are not domains: Xen reserves them
 * (DOMID_FIRST_RESERVED: DOMID_SELF, DOMID_IO, ...). A valid domid is
 * below it. */
#define VMSG_DOMID_LIMIT 0x7ff0u

/* Our own domain id, from xenstore (the key "domid" of our home,
 * /local/domain/<us>). Errors: xenstore's (-ENOENT or -EACCES without
 * Xen, -ESRCH outside a simulated domain), -EIO when the value is not a
 * domid below VMSG_DOMID_LIMIT. */
int vmsg_xen_own_domid(uint16_t *out);

/* Create a Xen platform for one channel end. `peer_domid` is the other
 * end's domain; `path` the xenstore directory of the channel (conventionally
 * vmsg_xen_path()), copied. On Linux a server opens a grant-share handle, a
 * client a grant-map handle, both an event-channel handle at once
 * (xenstore is opened only while publishing, withdrawing or looking up).
 * Nothing blocks. Freed through its destroy op, which vmsg_chan_close()
 * calls. Its wait_any op makes its channels members of a vmsg_waitset.
 * Errors: -EINVAL (NULL, empty or relative path, peer_domid >=
 * VMSG_DOMID_LIMIT), -ENAMETOOLONG, -ENOMEM, and on Linux the libraries'
 * errno when a handle cannot be opened (-ENOENT or -EACCES without Xen
 * devices, -ESRCH in a simulated domain that is not running). */
int vmsg_xen_platform_new(struct vmsg_platform **out, uint16_t peer_domid,
			  const char *path, bool server);

/* Convenience: vmsg_xen_platform_new(server) + vmsg_chan_serve(). Returns
 * once the channel is published; vmsg_chan_accept() waits for the client.
 * On success *out is freed by vmsg_chan_close(). Errors also those of
 * vmsg_chan_serve() and of xenstore (-EACCES: `path` is not writable by
 * this domain). */
int vmsg_xen_serve(vmsg_chan **out, uint16_t client_domid, const char *path,
		   const struct vmsg_chan_opts *o);

/* Convenience: vmsg_xen_platform_new(client) + vmsg_chan_connect(). Waits up
 * to timeout_ms (-1 forever) for the server's keys to appear (a xenstore
 * watch, re-checked at least every 200 ms). Errors: -ENOENT no server at
 * `path` by the deadline, -EACCES its keys are not readable by this domain,
 * -EBUSY its event port is not free for us (it has its client), -EPROTO
 * the keys or the page are malformed or name grants we cannot map. A
 * server that withdraws its channel (closes, or serves a new one at the
 * path) between our look at the keys and our map also reads as -EBUSY or
 * -EPROTO: a client that expects its server to come and go retries
 * those until its own deadline, as the library's control channel does. */
int vmsg_xen_connect(vmsg_chan **out, uint16_t server_domid, const char *path,
		     const struct vmsg_chan_opts *o, int timeout_ms);

/* Format the conventional channel path
 * "/local/domain/<server>/data/vchan/<client>/<port>" into buf (cap bytes,
 * NUL-terminated). `port` is a name of the caller's choosing: non-empty,
 * with no '/'. Returns the length written (without the NUL). Errors:
 * -EINVAL (NULL or bad port name), -ENAMETOOLONG (does not fit in cap). */
int vmsg_xen_path(char *buf, size_t cap, uint16_t server_domid,
		  uint16_t client_domid, const char *port);

#ifdef __cplusplus
}
#endif
#endif
