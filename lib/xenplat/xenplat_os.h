/* Private to the Xen platform: the core (lib/xenplat/, freestanding) and
 * the OS layer under it, as Xen's own tools/libs split them (core.c over
 * osdep hooks in private.h, one linux.c or minios.c linked in).
 *
 *   lib/xenplat/xenplat.c        the platform ops: grant regions and the
 *                                notify rule, ports, waiting (one port or
 *                                many), the peer's death, life cycle
 *   lib/xenplat/xenplat_store.c  the xenstore handshake (publish,
 *                                unpublish, lookup) and our own domid
 *   lib/xenplat/xenplat_chan.c   vmsg_xen_serve/connect/path
 *   lib/xen/xen_linux.c          the hooks over libxengnttab,
 *                                libxenevtchn, libxenstore (+ xen_death.c)
 *   guest/xen_pvh.c              the hooks over the unikernel's hypercall
 *                                layer (gnttab.c, evtchn.c, xenstore.c)
 *
 * Exactly one OS layer is linked with the core, and it defines
 * `vmsg__xen_os`; the core calls nothing else of the world. Every hook
 * returns >= 0 or a negative errno, like the rest of vmsg. The core only
 * includes <stdint.h> <stddef.h> <stdbool.h> and lib/internal headers.
 */
#ifndef VMSG_XENPLAT_OS_H
#define VMSG_XENPLAT_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmsg/platform.h>
#include <vmsg/waitset.h>
#include <vmsg/xen.h>

#define VMSG_XEN_PAGE 4096u
/* chan maps or shares at most two regions (the control page and the ring
 * pages); a few spare slots cost nothing. */
#define VMSG_XEN_MAX_REGIONS 4
/* Upper bound on pages per share/map call: two order-20 rings need 512;
 * this refuses nonsense before it reaches Xen. */
#define VMSG_XEN_MAX_PAGES 1024u
/* Largest event port we accept from xenstore: Xen's FIFO ABI limit. */
#define VMSG_XEN_PORT_MAX ((1u << 17) - 1)
/* A deadline that never comes. */
#define VMSG_XEN_FOREVER UINT64_MAX

/* One shared or mapped run of pages. */
struct vmsg__xen_region {
	void *addr;    /* NULL: slot free */
	uint32_t pages;
	bool shared;   /* ours, granted to the peer (server) vs the peer's */
	bool notify;   /* carries our live byte (the unmap notification) */
	void *os;      /* the OS layer's bookkeeping for it, or NULL */
};

/* One channel end's platform. */
struct vmsg__xenplat {
	struct vmsg_platform base; /* first: the ops table */
	bool server;
	uint16_t peer;             /* the other end's domain */
	char *path;                /* the channel's xenstore directory */
	size_t path_size;          /* bytes allocated for it */

	bool has_port;
	uint32_t port;             /* our local event port */

	bool notify_set;           /* the one unmap-notify region exists */
	int notify_off;            /* our live byte in it */
	uint8_t *ctl_page;         /* that region: the control page */
	struct vmsg__xen_region reg[VMSG_XEN_MAX_REGIONS];

	/* Set up by message (xenplat_msg.c): publish keeps the reference
	 * and port here instead of writing xenstore (server); lookup gives
	 * the ones vmsgd carried (client). */
	bool by_msg;
	uint32_t msg_ref, msg_port;

	/* Server: what publish wrote, for unpublish. */
	bool published;
	bool made_dir;             /* publish created <path> itself */
	uint32_t pub_ref, pub_port; /* what the keys hold while published */
	bool withdraw;             /* unpublish asked: done at the next
				      kick, wait, ack or destroy */

	/* pend(): an event of our own, not yet reported by wait/ack. */
	bool pended;

	/* The peer's death seen through evt_status (when the OS has it). */
	bool bound_seen;           /* our port was seen bound to the peer */
	uint64_t status_next;      /* when to ask again (ns) */

	void *os;                  /* the OS layer's per-platform state */
};

/* xenstore permissions, as Xen spells them in the protocol (and as
 * vmsg/guest_xs.h's GUEST_XS_PERM_* do); at most VMSG_XS_PERMS_MAX in one
 * xs_set_perms. */
#define VMSG_XS_PERM_NONE 'n'
#define VMSG_XS_PERM_READ 'r'
#define VMSG_XS_PERM_WRITE 'w'
#define VMSG_XS_PERM_BOTH 'b'
#define VMSG_XS_PERMS_MAX 16
struct vmsg__xs_perm {
	uint16_t domid;
	char perm; /* VMSG_XS_PERM_* */
};

struct vmsg__xen_os {
	const char *name;
	/* true: the OS itself clears our live byte and signals the port when
	 * the page carrying the unmap notification is unshared or unmapped,
	 * also when we die (Linux's gntalloc/gntdev). false: the core does it
	 * when the channel unmaps that page (a unikernel that is destroyed
	 * does nothing; the peer's evt_status check covers that). */
	bool unmap_notifies;

	/* Per-platform OS state (x->os) for a new platform, whose server,
	 * peer and path are set; close undoes it. */
	int (*open)(struct vmsg__xenplat *x);
	void (*close)(struct vmsg__xenplat *x);

	/* ---- grants. r->pages and r->notify are set. share: fresh zeroed
	 * pages granted to x->peer read-write, refs out; map: the peer's
	 * refs, contiguous, read-write. notify_off >= 0 (one page, x->port
	 * exists): the OS's unmap notification on that byte, if it has one.
	 * Both set r->addr (and r->os). A grant we may not map: -EPROTO. */
	int (*share)(struct vmsg__xenplat *x, struct vmsg__xen_region *r,
		     uint32_t *refs, int notify_off);
	int (*map)(struct vmsg__xenplat *x, struct vmsg__xen_region *r,
		   const uint32_t *refs, int notify_off);
	/* Undo share or map (the OS decides what a page still mapped by the
	 * peer becomes: never reused). */
	void (*unmap)(struct vmsg__xenplat *x, struct vmsg__xen_region *r);

	/* ---- event channels. bind: -EINVAL when Xen refuses the remote
	 * port (not unbound for us). status (optional, NULL if the OS cannot
	 * ask): 1 while our port is bound to a remote one, 0 once it is not
	 * (the remote end was closed: its domain is gone). */
	int (*evt_alloc_unbound)(struct vmsg__xenplat *x, uint32_t *port);
	int (*evt_bind)(struct vmsg__xenplat *x, uint32_t remote_port,
			uint32_t *port);
	void (*evt_close)(struct vmsg__xenplat *x, uint32_t port);
	int (*evt_notify)(struct vmsg__xenplat *x, uint32_t port);
	int (*evt_status)(struct vmsg__xenplat *x, uint32_t port);
	/* Consume x's pending event without blocking: 1 there was one, 0
	 * not. Also the OS's own housekeeping (Linux dom0: a destroyed peer,
	 * reported as an event after vmsg__xenplat_peer_gone()). */
	int (*evt_take)(struct vmsg__xenplat *x);
	/* Block until the event of at least one of xs[0..n-1] fires or the
	 * clock reaches deadline_ns (VMSG_XEN_FOREVER: never). Consumes the
	 * events it reports: fired[i] = 1 for each (the caller zeroed
	 * fired). Returns how many fired, 0 at the deadline. n <= 128;
	 * a platform without a port never fires. */
	int (*evt_wait)(struct vmsg__xenplat *const *xs, unsigned n,
			uint64_t deadline_ns, uint8_t *fired);
	/* Optional: block until x's event fires and consume it, in one
	 * system call where evt_wait takes two (poll, then the read). 1 when
	 * it fired, -EINTR on a signal, -EAGAIN when x's port is not all
	 * that can wake it (Linux dom0: the @releaseDomain watch shares its
	 * fd), which evt_wait must then do. */
	int (*evt_sleep)(struct vmsg__xenplat *x);
	/* A pollable fd for vmsg_chan_fd(), or NULL (none: -ENOTSUP). Once
	 * handed out, the same fd for the platform's life. */
	int (*evt_fd)(struct vmsg__xenplat *x);
	/* With evt_fd: make that fd poll readable, apart from the port's
	 * events (raise, for the platform's pend), or consume that (lower).
	 * The core keeps the pending event itself and reports it from wait,
	 * wait_any and ack; this is only for a caller polling the fd. */
	int (*evt_pend)(struct vmsg__xenplat *x, bool raise);

	/* ---- xenstore, in sessions: open one, make requests, close it.
	 * tx 0 is outside any transaction. read: the value into buf
	 * (NUL-terminated), its length; -ENAMETOOLONG if cap is too short.
	 * dir_empty: 1 no children, 0 some, -ENOENT no such node.
	 * txn_end: -EAGAIN when another writer won (start over).
	 * wait_watch: 1 the watch fired (or may have), 0 deadline; without
	 * a watch it just waits. */
	int (*xs_open)(void **s);
	void (*xs_close)(void *s);
	int (*xs_read)(void *s, uint32_t tx, const char *path, char *buf,
		       size_t cap);
	int (*xs_write)(void *s, uint32_t tx, const char *path,
			const char *val, size_t len);
	int (*xs_rm)(void *s, uint32_t tx, const char *path);
	int (*xs_dir_empty)(void *s, uint32_t tx, const char *path);
	int (*xs_set_perms)(void *s, uint32_t tx, const char *path,
			    const struct vmsg__xs_perm *perms, unsigned n);
	int (*xs_txn_start)(void *s, uint32_t *tx);
	int (*xs_txn_end)(void *s, uint32_t tx, bool commit);
	int (*xs_watch)(void *s, const char *path);
	void (*xs_unwatch)(void *s, const char *path);
	int (*xs_wait_watch)(void *s, uint64_t deadline_ns);

	/* ---- the machine: a monotonic clock (ns), zeroed memory. */
	uint64_t (*now_ns)(void);
	void *(*alloc)(size_t size);
	void (*free)(void *ptr, size_t size);
};

/* The one OS layer linked in. */
extern const struct vmsg__xen_os vmsg__xen_os;

/* The core's services to the OS layer. */
static inline struct vmsg__xenplat *vmsg__xenplat_of(struct vmsg_platform *p)
{
	return (struct vmsg__xenplat *)p;
}
/* The peer is gone without its unmap notification: clear its live byte
 * as the notification would have. 1 if done (a control page exists). */
int vmsg__xenplat_peer_gone(struct vmsg__xenplat *x);
/* Server: the broker has given our channel to its client (docs/protocol.md,
 * "Spare channels"): move the client's live byte from WAITING to ADMITTED
 * for it, so that accept returns while the client maps. 1 if done. */
int vmsg__xenplat_admit(struct vmsg__xenplat *x);
/* Server: the broker says the client we admitted is gone: if it never came
 * (its live byte still ADMITTED), clear it. 1 if done. */
int vmsg__xenplat_unadmit(struct vmsg__xenplat *x);
/* Is the peer's live byte up: it connected and has not closed (or has
 * died without its unmap notification)? */
bool vmsg__xenplat_peer_up(const struct vmsg__xenplat *x);
/* Is p a platform of this core (not the host backend's, nor a test's)? */
bool vmsg__xenplat_is(const struct vmsg_platform *p);
/* For the drop-in libxenvchan's wait: sleep until p's next event, in the
 * OS's one-call wait (evt_sleep), and consume it. 1 when it fired (or an
 * event of our own was pending), -EINTR on a signal, -EAGAIN when p cannot
 * sleep that way (then poll its fd and ack). */
int vmsg__xenplat_sleep(struct vmsg_platform *p);

/* xenplat_store.c */
int vmsg__xenplat_publish(struct vmsg_platform *p, uint32_t ring_ref,
			  uint32_t port);
void vmsg__xenplat_unpublish(struct vmsg_platform *p);
/* Take the keys down if unpublish asked for it (a no-op otherwise): a
 * flag test inline, since the kick and the waits call it every time. */
void vmsg__xenplat_withdraw_keys(struct vmsg__xenplat *x);
static inline void vmsg__xenplat_withdraw(struct vmsg__xenplat *x)
{
	if (x->withdraw)
		vmsg__xenplat_withdraw_keys(x);
}
int vmsg__xenplat_lookup(struct vmsg_platform *p, uint32_t *ring_ref,
			 uint32_t *port, int timeout_ms);

#endif
