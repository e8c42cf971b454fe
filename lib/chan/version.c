/* vmsg_version(): the library's own version, for --version and bug
 * reports (freestanding: a constant string). */
#include <vmsg/version.h>

const char *vmsg_version(void)
{
	return VMSG_VERSION_STRING;
}
