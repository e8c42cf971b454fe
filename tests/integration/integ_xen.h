/* The Xen side of the integration tests' backend switch (integ.h): the
 * simulator driver, the domain-1 anchor and the xen serve/connect. Only
 * built with INTEG_HAVE_XEN (and XENSIM_BIN, for sim_harness.h). */
#ifndef VMSG_INTEG_XEN_H
#define VMSG_INTEG_XEN_H

#include <stdbool.h>

#include <vmsg/chan.h>

#define INTEG_XEN_BODY "--xen-body"       /* argv[1] of the body */
#define INTEG_XEN_ANCHOR "--integ-anchor" /* argv[1] of the anchor */

/* Driver: run the sim, the anchor and the body; exit with the body's
 * status (77 when the sim is not built). */
_Noreturn void integ__xen_drive(int argc, char **argv);
/* Anchor: keep domain 1 alive until the driver closes our pipe. */
_Noreturn void integ__xen_anchor(int argc, char **argv);
/* In a forked child, before any handle is opened: become domain `domid`
 * (XENSIM_DOMID and XENSTORED_PATH). Returns domid. */
int integ__xen_become(int domid);

int integ__xen_serve(vmsg_chan **c, int self, const char *port,
		     const struct vmsg_chan_opts *o);
int integ__xen_connect(vmsg_chan **c, int self, const char *port,
		       const struct vmsg_chan_opts *o, int timeout_ms);
bool integ__xen_gone(int self, const char *port);

#endif
