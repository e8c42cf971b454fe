/* Private to lib/xen: the Linux layer under the Xen platform core
 * (lib/xenplat/xenplat_os.h): its per-platform state and the split between
 * xen_linux.c (the hooks over libxengnttab, libxenevtchn, libxenstore) and
 * xen_death.c (dom0 sees a destroyed peer through @releaseDomain).
 *
 * A server shares pages through a xengntshr handle, a client maps through
 * a xengnttab handle; both have one xenevtchn handle with their one port.
 */
#ifndef VMSG_XEN_INTERNAL_H
#define VMSG_XEN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <xenevtchn.h>
#include <xengnttab.h>
#include <xentoollog.h>

#include "xenplat_os.h"

struct xs_handle;

struct vmsg__xen_linux {
	struct xentoollog_logger log; /* the handles keep a pointer to it */
	xenevtchn_handle *evt;
	int evfd;                  /* xenevtchn_fd(evt), non-blocking but
				      while evt_sleep reads it */
	int evfl;                  /* its status flags, O_NONBLOCK set */
	bool evblock;              /* O_NONBLOCK is clear (evt_sleep) */
	xengntshr_handle *shr;     /* server */
	xengnttab_handle *tab;     /* client */

	/* A destroyed peer domain (xen_death.c): in dom0, one of the
	 * channels of the process's shared @releaseDomain watch. */
	bool watching;             /* in that list */
	struct vmsg__xen_linux *next; /* the list's next, under its lock */
	bool news;                 /* watch events came since we looked
				      (__atomic: read without the lock) */
	int newsfd;                /* eventfd raised with news, or -1 */
	int epfd;                  /* evfd (+ watch fd, newsfd, pendfd) for
				      fd(), or -1 */
	bool peer_seen;            /* its domain was seen alive */

	/* evt_pend(): an eventfd in epfd, made on first use, or -1. */
	int pendfd;
};

static inline struct vmsg__xen_linux *vmsg__xen_linux_of(struct vmsg__xenplat *x)
{
	return (struct vmsg__xen_linux *)x->os;
}

/* A negative errno from the errno a Xen library left (never 0). */
int vmsg__xen_err(void);

/* xen_death.c: a destroyed peer domain runs no unmap notification; dom0
 * watches @releaseDomain instead. death_check returns 1 when it found the
 * peer gone and cleared its live byte. */
void vmsg__xen_death_open(struct vmsg__xenplat *x);
int vmsg__xen_death_check(struct vmsg__xenplat *x);
void vmsg__xen_death_close(struct vmsg__xenplat *x);

#endif
