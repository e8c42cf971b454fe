/* Shared by the drop-in libxenvchan tests: which library a domain program
 * runs on, and proving it (the program's own memory map). */
#ifndef DROPIN_UTIL_H
#define DROPIN_UTIL_H

#include "sim_harness.h"

enum lib { LIB_DEBIAN, LIB_DROPIN };

static const char *const lib_name[] = { "debian", "drop-in" };

/* Select the library for the programs sim_spawn() starts next: `xensim
 * run` puts the simulator's Xen libraries in front of LD_LIBRARY_PATH, and
 * the drop-in's directory behind them holds only libxenvchan. */
static inline void use_lib(enum lib l)
{
	if (l == LIB_DROPIN)
		setenv("LD_LIBRARY_PATH", DROPIN_LIB_DIR, 1);
	else
		unsetenv("LD_LIBRARY_PATH");
}

/* The pid of the program `xensim run` (pid `run`) started. */
static inline pid_t domain_child(pid_t run)
{
	for (int tries = 0; tries < SIM_WAIT_MS / 10; tries++) {
		DIR *d = opendir("/proc");
		struct dirent *e;
		pid_t found = 0;
		while (d && (e = readdir(d))) {
			int pid = atoi(e->d_name), ppid = 0;
			char path[300], st[512];
			if (pid <= 0)
				continue;
			snprintf(path, sizeof(path), "/proc/%d/stat", pid);
			FILE *f = fopen(path, "r");
			if (!f)
				continue;
			if (fgets(st, sizeof(st), f)) {
				char *rp = strrchr(st, ')');
				if (rp)
					sscanf(rp + 2, "%*c %d", &ppid);
			}
			fclose(f);
			if (ppid == run)
				found = pid;
		}
		if (d)
			closedir(d);
		if (found)
			return found;
		usleep(10000);
	}
	VMSG_TEST_FAIL("no program under xensim run %d", (int)run);
	return -1;
}

/* Fail unless the program under `xensim run` pid `run` has mapped the
 * libxenvchan it was meant to run on. */
static inline void check_lib(pid_t run, enum lib l)
{
	char path[64], line[1024];
	pid_t pid = 0;
	int dropin = 0, debian = 0;
	/* `xensim run` forks its guard through a short-lived child, and the
	 * command maps its libraries only once it has exec'd: look again
	 * until some libxenvchan is mapped (or the wait is over). */
	for (int tries = 0; tries < SIM_WAIT_MS / 10 && !dropin && !debian;
	     tries++) {
		if (tries)
			usleep(10000);
		pid = domain_child(run);
		snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			if (!strstr(line, "libxenvchan.so"))
				continue;
			if (strstr(line, DROPIN_LIB_DIR))
				dropin = 1;
			else
				debian = 1;
		}
		fclose(f);
	}
	if (l == LIB_DROPIN ? !(dropin && !debian) : !(debian && !dropin))
		VMSG_TEST_FAIL("pid %d: libxenvchan is not the %s one", (int)pid,
			       lib_name[l]);
}

/* FNV-1a, 64 bits: the streams' checksums. */
static inline uint64_t fnv64(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

#endif
