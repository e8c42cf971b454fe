/* What nbdkit gives a plugin, for tests that load nbdkit-vmsg-plugin
 * with dlopen and call it as nbdkit would: the plugin's calls into nbdkit
 * (exported to it, and nothing else: nbdkit_calls.list) and the loader.
 * The last error a thread set stays in its nbdkit_last_error. */
#ifndef NBDKIT_STUBS_H
#define NBDKIT_STUBS_H

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "vmsg_test.h"

static __thread int nbdkit_last_error;

void nbdkit_error(const char *fs, ...)
{
	va_list ap;
	va_start(ap, fs);
	vfprintf(stderr, fs, ap);
	va_end(ap);
	fputc('\n', stderr);
}
void nbdkit_debug(const char *fs, ...) { (void)fs; }
void nbdkit_set_error(int err) { nbdkit_last_error = err; }

/* dlopen the plugin at `so` and return its description (*handle_out: the
 * library, for dlclose). */
static inline struct nbdkit_plugin *nbdkit_stub_load(const char *so,
						     void **lib_out)
{
	void *lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		VMSG_TEST_FAIL("dlopen %s: %s", so, dlerror());
	struct nbdkit_plugin *(*init)(void) =
		(struct nbdkit_plugin *(*)(void))dlsym(lib, "plugin_init");
	ASSERT_TRUE(init != NULL);
	*lib_out = lib;
	return init();
}

#endif
