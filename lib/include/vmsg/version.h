/* vmsg's version: the one place it is written. CMake reads the three
 * numbers from here for project(VERSION), the shared library's version
 * and vmsg.pc, so a release changes this file and nothing else.
 *
 * The macros say which headers a program was compiled against;
 * vmsg_version() says which library it runs with (they differ when a
 * program built against one release runs with a newer libvmsg.so). */
#ifndef VMSG_VERSION_H
#define VMSG_VERSION_H

#define VMSG_VERSION_MAJOR 0
#define VMSG_VERSION_MINOR 1
#define VMSG_VERSION_PATCH 0

#define VMSG__STR2(x) #x
#define VMSG__STR(x) VMSG__STR2(x)
/* "MAJOR.MINOR.PATCH" */
#define VMSG_VERSION_STRING                                                    \
	VMSG__STR(VMSG_VERSION_MAJOR)                                          \
	"." VMSG__STR(VMSG_VERSION_MINOR) "." VMSG__STR(VMSG_VERSION_PATCH)
/* One number that orders versions: MAJOR << 16 | MINOR << 8 | PATCH. */
#define VMSG_VERSION_NUMBER                                                    \
	((VMSG_VERSION_MAJOR << 16) | (VMSG_VERSION_MINOR << 8) |             \
	 VMSG_VERSION_PATCH)

/* The version of the library this program runs with, "MAJOR.MINOR.PATCH":
 * a static string, never freed. Does not block; cannot fail. */
const char *vmsg_version(void);

#endif
