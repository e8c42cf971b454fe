/* Injected errors: a test makes this xenstored answer chosen requests of
 * one domain with an error, as Xen's xenstored can (EAGAIN for a
 * transaction that must be retried, ENOSPC or EQUOTA past a quota,
 * EACCES, EIO), to see how the callers cope. dom0 sets the rule by
 * writing the node XSD_FAIL_NODE (docs/sim.md):
 *
 *   DOMID NTH ERR [COUNT [TYPE]]
 *
 * counting from the write, the requests of domain DOMID (of request type
 * TYPE, a name such as WRITE or TRANSACTION_END, or any type) numbered
 * NTH to NTH+COUNT-1 (COUNT default 1; 0: every one from NTH on) get the
 * error ERR (an xs_wire.h error name: EIO, EACCES, EAGAIN, ENOSPC, ...)
 * instead of being handled. "off" (or any other value) clears it. Each
 * error given is logged to stderr, verbose or not:
 *   vmsg-xenstored: injected ERR into domD request K (TYPE)
 * The node itself is stored as any other (its value can be read back). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsd.h"

static int err_of(const char *name)
{
	for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (!strcmp(xsd_errors[i].errstring, name))
			return -xsd_errors[i].errnum;
	return 0;
}

void xsd_fail_set(struct xsd_server *s, const char *val, uint32_t len)
{
	char buf[128], err[32] = "", type[32] = "";
	unsigned domid, nth, count = 1;
	memset(&s->fail, 0, sizeof s->fail);
	if (len >= sizeof buf)
		return;
	memcpy(buf, val, len);
	buf[len] = '\0';
	int n = sscanf(buf, "%u %u %31s %u %31s", &domid, &nth, err, &count,
		       type);
	if (n < 3 || nth == 0 || !err_of(err))
		return;
	s->fail.type = -1;
	if (n == 5) {
		s->fail.type = xsd_type_of(type);
		if (s->fail.type < 0)
			return;
	}
	s->fail.on = true;
	s->fail.domid = domid;
	s->fail.nth = nth;
	s->fail.count = count;
	s->fail.err = err_of(err);
	s->fail.seen = 0;
}

int xsd_fail_check(struct xsd_server *s, unsigned domid, uint32_t type)
{
	struct xsd_fail *f = &s->fail;
	if (!f->on || domid != f->domid ||
	    (f->type >= 0 && (uint32_t)f->type != type))
		return 0;
	f->seen++;
	if (f->seen < f->nth || (f->count && f->seen >= f->nth + f->count))
		return 0;
	const char *e = "?";
	for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (xsd_errors[i].errnum == -f->err)
			e = xsd_errors[i].errstring;
	fprintf(stderr, "vmsg-xenstored: injected %s into dom%u request %u (%s)\n",
		e, domid, f->seen, xsd_type_name(type));
	return f->err;
}
