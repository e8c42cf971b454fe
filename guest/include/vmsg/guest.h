/* vmsg/guest.h - the unikernel appliance SDK (guest/, docs/unikernel.md).
 *
 * An appliance is one C file (or a few) with an app_main(); the
 * vmsg_add_unikernel() CMake function links it with the guest platform and
 * lib/ring, lib/frame, lib/chan into a bootable PVH ELF. There is no libc:
 * what an appliance gets from the world is declared here and in the vmsg
 * headers (chan.h works unchanged). One vCPU, no threads, no interrupts:
 * every wait blocks the domain in Xen (SCHEDOP_poll) until an event or a
 * deadline.
 *
 * Error contract as in the rest of vmsg: >= 0 success, negative errno.
 */
#ifndef VMSG_GUEST_H
#define VMSG_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmsg/chan.h>
#include <vmsg/platform.h>
#include <vmsg/service.h>
#include <vmsg/waitset.h>
#include <vmsg/xen.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The appliance's entry, called once the platform is up (console, clock,
 * memory, grants, xenstore). cmdline is the xl config's `cmdline`. The
 * domain powers off when it returns (its return value is printed); a
 * negative return crashes it instead, so `on_crash` applies. */
int app_main(const char *cmdline);

/* ---- console: the PV console (xl console, xenconsoled's log) and port
 * 0xe9 (Xen's own log with guest_loglvl=all). */
void guest_puts(const char *s);
/* %s %c %d %i %u %x %p %%, with l/ll/z sizes, width and '0'. */
void guest_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- the machine */
uint16_t guest_domid(void);
/* Xen's monotonic system time (ns since the host booted). */
uint64_t guest_now_ns(void);
/* Nanoseconds since this domain entered its boot code. */
uint64_t guest_uptime_ns(void);
/* Block for `ms` milliseconds, the vCPU given back to Xen. */
void guest_sleep_ms(unsigned ms);
/* The value of `key=value` in the cmdline into buf (NUL-terminated).
 * Returns its length, -ENOENT when absent, -ENAMETOOLONG if cap is short. */
int guest_cmdline_get(const char *key, char *buf, size_t cap);
/* Power off (or crash when crash is true). Flushes the console first. */
__attribute__((noreturn)) void guest_shutdown(bool crash);

/* Counters of the platform's blocking, for an appliance to report. */
struct guest_stats {
	uint64_t polls;      /* SCHEDOP_poll calls */
	uint64_t blocked_ns; /* time spent in them */
	uint64_t kicks;      /* EVTCHNOP_send calls */
};
void guest_get_stats(struct guest_stats *s);

/* ---- memory: whole zeroed pages; size is rounded up to pages. */
void *guest_alloc(size_t size);
void guest_free(void *ptr, size_t size);

/* ---- channels: vmsg/xen.h is the unikernel's as much as Linux's
 * (vmsg_xen_serve, vmsg_xen_connect, vmsg_xen_platform_new,
 * vmsg_xen_path, vmsg_xen_own_domid: one implementation, lib/xenplat). A
 * server grants its pages and allocates an unbound port, its keys written
 * with permissions [us: none, peer: read]; a client maps the server's
 * grants into free guest-physical space. Waiting is SCHEDOP_poll;
 * vmsg_chan_fd() is -ENOTSUP. Many channels: vmsg/waitset.h.
 *
 * guest_serve/guest_connect: a channel on the platform the appliance runs
 * on. In a unikernel, vmsg_xen_serve/connect; the Linux build of the SDK
 * may put them on the host backend (docs/unikernel.md, host=DIR). */
int guest_serve(vmsg_chan **out, uint16_t client_domid, const char *path,
		const struct vmsg_chan_opts *o);
int guest_connect(vmsg_chan **out, uint16_t server_domid, const char *path,
		  const struct vmsg_chan_opts *o, int timeout_ms);

/* ---- named services through vmsgd (guest/service.c), the counterparts of
 * vmsg/service.h's calls and with the same protocol (docs/protocol.md,
 * "Service control protocol"), over a freestanding wire codec. Direct
 * mode: a provider serves each channel itself for the consumer vmsgd
 * names; a consumer connects to the provider's grants. Unlike the Linux
 * library there is no reconnect: when vmsgd goes away the handle's calls
 * fail (-EPIPE and the like) and the appliance decides what to do. Serve
 * requests are answered whenever the control channel is read (offer, open,
 * accept). vmsgd's error text for the last refused call is
 * guest_ctl_error(). */
typedef struct guest_ctl guest_ctl;

struct guest_service_peer {
	uint16_t domid;                          /* the consumer */
	char service[VMSG_SERVICE_NAME_MAX + 1]; /* the service opened */
	uint32_t channel_id;
};

/* Connect to vmsgd's control channel for our domain
 * (/local/domain/0/data/vmsgd/<us>), waiting up to timeout_ms for it to be
 * served, and exchange Hellos. If vmsgd goes away later (a restart), the
 * calls below connect to the next one within their own timeout, offer
 * again what was offered and send a request in flight again; one that
 * finds no vmsgd by its deadline returns -ENOTCONN. Channels already open
 * stay open. */
int guest_ctl_open(guest_ctl **out, int timeout_ms);
/* Close the control channel (vmsgd drops our offers and forgets our
 * channels) and the channels served but not yet accepted. */
void guest_ctl_close(guest_ctl *ctl);
const char *guest_ctl_error(guest_ctl *ctl);
/* Offer `name` ([A-Za-z0-9._-], 1..64 bytes). vmsgd's code on refusal. */
int guest_service_offer(guest_ctl *ctl, const char *name, int timeout_ms);
/* Provider: the next channel vmsgd had us serve (published; the consumer
 * is connecting: vmsg_chan_accept() waits for it). -ETIMEDOUT. */
int guest_service_accept(guest_ctl *ctl, vmsg_chan **out,
			 struct guest_service_peer *peer, int timeout_ms);
/* Consumer: open a channel to `name` and connect to its provider. */
int guest_service_open(guest_ctl *ctl, const char *name, vmsg_chan **out,
		       int timeout_ms);
/* Close a channel from open or accept and tell vmsgd. */
void guest_service_close(guest_ctl *ctl, vmsg_chan *c);

/* ---- xenstore (relative paths are below /local/domain/<us>). tx 0 is
 * outside any transaction. */
#define GUEST_XS_PERM_NONE 'n'
#define GUEST_XS_PERM_READ 'r'
#define GUEST_XS_PERM_WRITE 'w'
#define GUEST_XS_PERM_BOTH 'b'
struct guest_xs_perm {
	uint16_t domid;
	char perm; /* GUEST_XS_PERM_* */
};
/* Read a value into buf (NUL-terminated); returns its length. */
int guest_xs_read(uint32_t tx, const char *path, char *buf, size_t cap);
int guest_xs_write(uint32_t tx, const char *path, const void *val,
		   size_t len);
int guest_xs_rm(uint32_t tx, const char *path);
/* The children's names, each NUL-terminated, into buf; returns how many. */
int guest_xs_directory(uint32_t tx, const char *path, char *buf,
		       size_t cap);
/* perms[0] names the owner and what everyone not listed gets. */
int guest_xs_set_perms(uint32_t tx, const char *path,
		       const struct guest_xs_perm *perms, unsigned n);
int guest_xs_txn_start(uint32_t *tx);
/* commit false aborts. -EAGAIN: another writer won; start over. */
int guest_xs_txn_end(uint32_t tx, bool commit);
/* One watch at a time is enough for vmsg; the token is ours. */
int guest_xs_watch(const char *path);
int guest_xs_unwatch(const char *path);
/* Wait for the watch to fire: 1 fired, 0 timeout (-1: forever). */
int guest_xs_wait_watch(int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
