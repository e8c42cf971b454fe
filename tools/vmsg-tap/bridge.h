/* vmsg-tap: shared declarations of its options and loop. */
#ifndef VMSG_TAP_BRIDGE_H
#define VMSG_TAP_BRIDGE_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

struct tap_opts {
	const char *path;   /* host-backend channel address */
	const char *service; /* or: a service opened through vmsgd */
	const char *port;   /* or: a direct Xen channel's name (--port) */
	int xen_domid;      /* its server's domain (--xen), or -1 */
	bool listen;        /* serve it (else connect to it) */
	char dev[IFNAMSIZ]; /* TAP device name or template */
	const char *netns;  /* network namespace, or NULL */
	uint32_t mtu;       /* 68..9000 */
	uint8_t mac[6];
	bool have_mac;
	uint32_t ring_size; /* server: both rings, bytes */
	unsigned batch;     /* frames per batch, each way */
	unsigned retry_ms;  /* client: between connection attempts */
	bool quiet;
};

/* Parse argv. Returns 0 to run, 1 when --help/--version printed (exit 0),
 * -1 on a usage error (printed; exit 2). */
int tap_parse_opts(struct tap_opts *o, int argc, char **argv);

#endif
