/* Private to guest/: the unikernel's machine state and the split between
 * its files. One file per job:
 *
 *   arch/boot.S   PVH entry, page tables, long mode, stack
 *   start.c       bring-up order, cmdline, app_main, shutdown
 *   hypercall.c   the hypercall page and HVM parameters
 *   console.c     the PV console ring (+ 0xe9 early and when crashing),
 *                 printf
 *   arch/traps.S  exception entry stubs
 *   traps.c       the IDT, and the report of a CPU exception
 *   pages.c       the page allocator
 *   clock.c       Xen system time from the shared_info time record
 *   physmap.c     free guest-physical space for foreign mappings
 *   gnttab.c      granting and mapping grants
 *   evtchn.c      event channels, blocking with SCHEDOP_poll
 *   xs_ring.c     the xenstore ring's byte level (also built hosted)
 *   xenstore.c    xenstore requests: read, write, rm, perms, txn, watch
 *   xen_pvh.c     the hooks of the Xen platform core (lib/xenplat) over
 *                 all of the above
 *   serve.c       guest_serve/guest_connect: vmsg_xen_serve/connect
 *   service_env.c the vmsgd client's table of the world (lib/service)
 *   cmdline.c     the cmdline's key=value words (shared with linux/)
 *   string.c      memcpy, memmove, memset, strlen, ...
 *
 * linux/ is the same SDK as a Linux library (vmsg_sdk_linux).
 *
 * A unikernel is one machine with one vCPU and no threads: the state of
 * the hardware it drives is the one struct guest_machine below (global
 * because the machine is), and nothing here is reentrant.
 */
#ifndef GUEST_INTERNAL_H
#define GUEST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmsg/guest.h>
#include <vmsg/guest_xs.h>

#include "pages.h"
#include "vmsg_errno.h"
#include "xen_abi.h"
#include "xs_ring.h"

#define GUEST_CMDLINE_MAX 1024
/* Grant-table frames we map: 512 v1 entries each. */
#define GUEST_GNT_FRAMES_MAX 8u
#define GUEST_GNT_ENTRIES (GUEST_GNT_FRAMES_MAX * 512u)

struct guest_machine {
	struct xen_shared_info *shared;
	uint8_t cmdline[GUEST_CMDLINE_MAX];
	uint16_t domid;

	/* console */
	struct xen_cons_ring *cons;
	uint32_t cons_port;

	/* memory */
	struct guest_pages pages;
	uint64_t ram_end;       /* highest RAM byte + 1 */
	uint64_t physmap_next;  /* next free guest frame for foreign maps */
	uint64_t physmap_end;

	/* grants */
	struct xen_grant_entry_v1 *gnt;
	uint32_t gnt_entries;
	uint32_t gnt_free_hint;
	uint8_t gnt_used[GUEST_GNT_ENTRIES / 8];

	/* xenstore */
	struct guest_xs_ring xs;
	uint32_t xs_port;
	uint32_t xs_req_id;
	bool xs_watch_fired;
	char xs_buf[XS_PAYLOAD_MAX + 1];

	uint64_t boot_ns; /* system time at entry */
	struct guest_stats stats;
};

extern struct guest_machine guest__m;

/* hypercall.c */
long guest__hypercall(unsigned nr, uint64_t a1, uint64_t a2, uint64_t a3);
int guest__hypercall_init(void);
int guest__hvm_param(uint32_t index, uint64_t *value);

/* console.c */
void guest__console_init(void);
void guest__console_flush(void);
/* From now on output also goes to port 0xe9 (Xen's log): we are crashing. */
void guest__console_panic(void);

/* traps.c: the exception table (guest__trap reports and crashes). */
void guest__traps_init(void);
/* Power off as crashed at once, without flushing the console. */
__attribute__((noreturn)) void guest__crash_now(void);

/* clock.c */
uint64_t guest__now_ns(void);

/* physmap.c: map shared_info / grant frames / peer pages at free gfns. */
int guest__physmap_init(void);
uint64_t guest__physmap_take(uint32_t pages); /* a gpa, 0 if none left */
void guest__physmap_give(uint64_t gpa, uint32_t pages);
int guest__map_space(uint32_t space, uint64_t idx, uint64_t gpa);

/* gnttab.c */
int guest__gnttab_init(void);
int guest__grant(uint16_t domid, uint64_t gpa, bool readonly,
		 uint32_t *ref);
int guest__grant_end(uint32_t ref); /* -EBUSY while the peer maps it */
int guest__grant_map(uint16_t domid, uint32_t ref, uint64_t gpa,
		     uint32_t *handle);
int guest__grant_unmap(uint64_t gpa, uint32_t handle);

/* evtchn.c */
int guest__evtchn_alloc_unbound(uint16_t remote, uint32_t *port);
int guest__evtchn_bind(uint16_t remote, uint32_t remote_port,
		       uint32_t *port);
int guest__evtchn_send(uint32_t port);
void guest__evtchn_close(uint32_t port);
/* Consume the port's pending event: 1 if there was one. */
int guest__evtchn_take(uint32_t port);
/* Block until the port fires (consumed: 1) or deadline_ns (0: never)
 * passes (0). */
int guest__evtchn_wait(uint32_t port, uint64_t deadline_ns);
/* One SCHEDOP_poll: block until the pending bit of one of ports[0..n-1]
 * (n <= 128) goes from clear to set, or deadline_ns (0: never). Returns 0
 * (look at the bits to learn which) or -errno. */
int guest__evtchn_poll(uint32_t *ports, unsigned n, uint64_t deadline_ns);
/* 1: our port is bound to a remote port; 0: it is not (unbound: the
 * remote end closed, e.g. its domain was destroyed); < 0: error. */
int guest__evtchn_bound(uint32_t port);

/* xenstore.c */
int guest__xs_init(void);

#endif
