/* vmsg/guest.h - the unikernel appliance SDK (guest/, docs/unikernel.md).
 *
 * An appliance is one C file (or a few) with an app_main(); the
 * vmsg_add_unikernel() CMake function links it with the guest platform and
 * lib/ring, lib/frame, lib/chan into a bootable PVH ELF. There is no libc:
 * what an appliance gets from the world is declared here and in the vmsg
 * headers (chan.h, service.h, waitset.h and xen.h work unchanged); the
 * xenstore client is vmsg/guest_xs.h. One vCPU, no threads, no
 * interrupts: every wait blocks the domain in Xen (SCHEDOP_poll) until an
 * event or a deadline.
 *
 * The same SDK has a Linux target (guest/linux/, the library
 * vmsg_sdk_linux): every call here and in guest_xs.h, over libvmsg and
 * Xen's libraries, so the same app_main() runs as a Linux program
 * (docs/unikernel.md, "The same source on Linux").
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
/* Whether the appliance has been asked to stop: on Linux, SIGTERM or
 * SIGINT has come since the first call (which installs the SDK's handler
 * for them: until an appliance asks, they keep their default action and
 * kill the program). A loop that asks between its waits (a bounded
 * timeout each) ends in order: it closes its channels and returns from
 * app_main. A unikernel has no signals: always false there (the domain
 * is shut down or destroyed from outside). */
bool guest_stop_requested(void);
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

/* ---- named services through vmsgd: vmsg/service.h, the same client as
 * libvmsg's on Linux (lib/service): vmsg_ctl_open(), vmsg_service_offer(),
 * _accept(), _open(), _close(), with the same reconnect after a vmsgd
 * restart. vmsg_ctl_fd() is -ENOTSUP here. */

#ifdef __cplusplus
}
#endif
#endif
