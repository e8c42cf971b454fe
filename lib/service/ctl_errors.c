/* Why vmsg_ctl_open() could not attach, and what that means to a person.
 *
 * Seen from a guest, "no vmsgd" and "another process of this domain holds
 * the control channel" look alike at the xenstore level: in both cases no
 * keys can be read (vmsg's server removes them once its client is live).
 * vmsgd therefore keeps a folder per domain it serves,
 * VMSG_CTL_PATH_PREFIX/<domid>, readable by that domain, and publishes the
 * channel's keys inside it (docs/protocol.md, "Service control
 * protocol"). At the deadline:
 *   no folder                  -> -ENOENT    (no vmsgd serves this domain)
 *   the folder, no keys        -> -EBUSY     (another process holds it)
 *   the folder and its keys    -> -ETIMEDOUT (keys we could not use, or a
 *                                 Hello that did not come in time)
 * A vmsgd killed without a restart leaves its folders and keys behind:
 * its guests then read -ETIMEDOUT (or -EBUSY), until a vmsgd starts and
 * clears them. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "service_private.h"

int vmsg__svc_why_not(uint16_t domid)
{
	char path[64];
	snprintf(path, sizeof path, VMSG_CTL_PATH_PREFIX "/%u",
		 (unsigned)domid);
	struct xs_handle *xs = xs_open(0);
	if (!xs)
		return -ENOENT;
	unsigned num = 0;
	char **dir = xs_directory(xs, XBT_NULL, path, &num);
	int r = -ENOENT; /* absent, or not ours to read: not vmsgd's mark */
	if (dir) {
		bool keys = false;
		for (unsigned i = 0; i < num; i++)
			keys |= !strcmp(dir[i], "ring-ref");
		r = keys ? -ETIMEDOUT : -EBUSY;
		free(dir);
	}
	xs_close(xs);
	return r;
}

const char *vmsg_ctl_strerror(int err)
{
	switch (err) {
	case -ENOENT:
		return "no vmsgd serves this domain: is vmsgd running in dom0 "
		       "(and is this a Xen domain, or a process under `xensim "
		       "run --domid N`)?";
	case -EBUSY:
		return "another process of this domain holds vmsgd's control "
		       "channel (one at a time): wait for it to close, or use "
		       "its handle";
	case -ETIMEDOUT:
		return "vmsgd did not answer in time: it may be overloaded, or "
		       "was killed and not restarted; try again, with a "
		       "longer timeout, or restart vmsgd";
	case -ECONNREFUSED:
		return "vmsgd refused this domain's greeting";
	case -EPROTONOSUPPORT:
		return "vmsgd speaks an incompatible protocol version: update "
		       "vmsgd or this program";
	default:
		return vmsg_strerror(err);
	}
}
