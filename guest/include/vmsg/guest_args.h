/* vmsg/guest_args.h - an appliance's cmdline, checked before anything runs
 * (the unikernel SDK, docs/unikernel.md; both targets: the PVH unikernel's
 * cmdline is the xl config's, the Linux program's its arguments joined
 * with spaces).
 *
 * An appliance declares its keys in a table and calls guest_args_check()
 * first thing in app_main(): an unknown key, a key given twice, a value
 * that is not of its key's kind or a missing required key then ends it
 * with one line saying which word is wrong, instead of a default read in
 * its place (`role=clinet` quietly serving). Values are then read with
 * guest_cmdline_get() (vmsg/guest.h), guest_arg_uint() and
 * guest_addr_parse().
 *
 * Addresses: a value naming a channel, parsed here and nowhere else:
 *   xen:DOMID:PORT  a direct Xen channel at the conventional path
 *                   (vmsg_xen_path) with domain DOMID at the other end
 *   svc:NAME        a service through vmsgd
 * PORT and NAME: 1..64 characters of [A-Za-z0-9._-]
 * (vmsg_service_name_ok). Freestanding. */
#ifndef VMSG_GUEST_ARGS_H
#define VMSG_GUEST_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include <vmsg/service.h>
#include <vmsg/xen.h> /* VMSG_DOMID_LIMIT, in GUEST_ARGS_SDK */

#ifdef __cplusplus
extern "C" {
#endif

enum guest_arg_kind {
	GUEST_ARG_NAME,  /* a string of min..max bytes (min 0 reads as 1) */
	GUEST_ARG_UINT,  /* a decimal number in min..max */
	GUEST_ARG_WORDS, /* one of `words`, "a|b|c" */
	GUEST_ARG_ADDR,  /* an address: xen:DOMID:PORT or svc:NAME */
};

#define GUEST_ARG_REQUIRED 0x1u /* the key must be given */

struct guest_arg {
	const char *name;
	enum guest_arg_kind kind;
	unsigned min, max;
	const char *words; /* GUEST_ARG_WORDS */
	unsigned flags;    /* GUEST_ARG_REQUIRED */
};

/* The keys the SDK's Linux target reads itself (host=DIR, domid=N), which
 * every appliance accepts too: put at the end of its table. */
#define GUEST_ARGS_SDK                                                  \
	{"host", GUEST_ARG_NAME, 1, 100, 0, 0},                          \
	{"domid", GUEST_ARG_UINT, 0, VMSG_DOMID_LIMIT - 1, 0, 0}

/* The most keys one table may have. */
#define GUEST_ARGS_MAX 32u

/* Check every word of cmdline against keys[0..n): KEY=VALUE with a key of
 * the table, given once, with a value of its kind; then every REQUIRED
 * key must have come. The word --help, -h or
 * help prints `usage` instead. Returns 0 (good), 1 (usage printed) or -1
 * (the first problem printed, "PROG: 'WORD': what is wrong (--help lists
 * the arguments)"). Prints with guest_printf. -1 also for a table over
 * GUEST_ARGS_MAX keys. */
int guest_args_check(const char *prog, const char *usage,
		     const struct guest_arg *keys, unsigned n,
		     const char *cmdline);

/* The number a checked UINT key holds, or dflt when it is absent. */
unsigned guest_arg_uint(const char *key, unsigned dflt);

enum guest_addr_kind { GUEST_ADDR_XEN, GUEST_ADDR_SVC };

struct guest_addr {
	enum guest_addr_kind kind;
	uint16_t domid;                       /* GUEST_ADDR_XEN */
	char name[VMSG_SERVICE_NAME_MAX + 1]; /* the port or the service */
};

/* Parse one address (vl bytes at v, not necessarily NUL-terminated).
 * Returns 0, or -EINVAL with *why (may be NULL) set to what is wrong. */
int guest_addr_parse(const char *v, size_t vl, struct guest_addr *a,
		     const char **why);

/* The address a checked ADDR key holds. Returns 0, -ENOENT when the key is
 * absent, or -EINVAL. */
int guest_arg_addr(const char *key, struct guest_addr *a);

#ifdef __cplusplus
}
#endif
#endif
