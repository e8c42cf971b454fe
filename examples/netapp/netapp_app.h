/* What an appliance source gives its drivers: its name, the help for its
 * configuration, and configure(), which reads KEY=VALUE arguments (a
 * unikernel's command line, a Linux program's argv) and calls
 * netapp_init(). */
#ifndef NETAPP_APP_H
#define NETAPP_APP_H

#include "netapp.h"

struct netapp_app {
	const char *name;
	const char *usage; /* lines describing its KEY=VALUE options */
	/* Returns 0, or -1 with a reason in err (cap bytes). */
	int (*configure)(struct netapp *a, int argc, char **argv, char *err,
			 size_t cap);
};

extern const struct netapp_app netapp_app;

/* Freestanding helpers for configure(). */
bool netapp_key(const char *arg, const char *key, const char **val);
bool netapp_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *v);
void netapp_err(char *err, size_t cap, const char *a, const char *b);

#endif
