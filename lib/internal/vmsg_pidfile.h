/* Pid files for the daemons that detach (vmsgd --pid-file, the simulator's
 * vmsg-xenstored): written whole once the daemon serves, removed at an
 * orderly exit if they still name us. Hosted code only (stdio, rename). */
#ifndef VMSG_PIDFILE_H
#define VMSG_PIDFILE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Write our pid to `path` through a temporary file and rename(), so a
 * reader never sees a half-written file. 0 or -errno. */
static inline int vmsg_pidfile_write(const char *path)
{
	char tmp[4096];
	int n = snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof tmp)
		return -ENAMETOOLONG;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -errno;
	int ok = fprintf(f, "%ld\n", (long)getpid()) > 0;
	ok &= fclose(f) == 0;
	if (!ok || rename(tmp, path) < 0) {
		int e = errno ? errno : EIO;
		unlink(tmp);
		return -e;
	}
	return 0;
}

/* Remove `path` if it names us (a successor may have written its own). */
static inline void vmsg_pidfile_remove(const char *path)
{
	FILE *f = fopen(path, "r");
	long pid = 0;
	if (!f)
		return;
	if (fscanf(f, "%ld", &pid) == 1 && pid == (long)getpid())
		unlink(path);
	fclose(f);
}

#endif
