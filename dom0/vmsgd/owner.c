/* One vmsgd per xenstore, and only in dom0.
 *
 * A second vmsgd on the same xenstore would take over the control
 * channels of new guests and remove the first one's keys as "stale", with
 * nothing in either log to say why guests fail. So a vmsgd claims the
 * store: it writes its pid and process start time under OWNER_KEY in a
 * transaction, after checking that no live vmsgd holds the claim. The
 * start time tells a live owner from a dead one whose pid was reused
 * (a claim left by a vmsgd killed with SIGKILL is taken over). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenstore.h>

#include "vmsgd.h"

#define OWNER_KEY "/local/domain/0/data/vmsgd-owner"

/* Field 22 of /proc/PID/stat (start time in clock ticks since boot), and
 * whether the process is a vmsgd; false if there is no such process or
 * only its zombie. */
static bool proc_info(long pid, uint64_t *start, bool *is_vmsgd)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) state ..." where comm may hold spaces and ')' */
	char *open = strchr(buf, '('), *close = strrchr(buf, ')');
	if (!open || !close || close < open)
		return false;
	*is_vmsgd = (size_t)(close - open - 1) == strlen("vmsgd") &&
		    !strncmp(open + 1, "vmsgd", 5);
	char *p = close + 2;
	/* A zombie (killed, not yet reaped) serves nobody. */
	if (*p == 'Z' || *p == 'X')
		return false;
	for (int field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p)
		return false;
	*start = strtoull(p, NULL, 10);
	return true;
}

/* Our own domain id from the relative key "domid"; -1 if the store does
 * not say (then we cannot tell, and go on). */
static long own_domid(struct xs_handle *xs)
{
	unsigned len = 0;
	char *s = xs_read(xs, XBT_NULL, "domid", &len);
	if (!s)
		return -1;
	char *end;
	long v = strtol(s, &end, 10);
	long r = (end != s && !*end) ? v : -1;
	free(s);
	return r;
}

int owner_claim(struct vmsgd *d)
{
	long dom = own_domid(d->xs);
	if (dom > 0) {
		vmsgd_log(LOG_ERROR, "this is domain %ld, not dom0: vmsgd runs "
				     "in dom0 only (a guest reaches the dom0 "
				     "vmsgd through its control channel)",
			  dom);
		return -1;
	}
	uint64_t my_start = 0;
	bool me = false;
	if (!proc_info((long)getpid(), &my_start, &me)) {
		vmsgd_log(LOG_ERROR, "cannot read /proc/self/stat");
		return -1;
	}
	for (int tries = 0; tries < 20; tries++) {
		xs_transaction_t t = xs_transaction_start(d->xs);
		if (t == XBT_NULL) {
			vmsgd_log(LOG_ERROR, "xenstore transaction: %s",
				  strerror(errno));
			return -1;
		}
		unsigned len = 0;
		char *v = xs_read(d->xs, t, OWNER_KEY, &len);
		long pid = 0;
		uint64_t start = 0, now_start = 0;
		bool is_vmsgd = false;
		if (v && sscanf(v, "%ld %" SCNu64, &pid, &start) == 2 &&
		    pid > 0 && pid != (long)getpid() &&
		    proc_info(pid, &now_start, &is_vmsgd) &&
		    now_start == start && is_vmsgd) {
			free(v);
			xs_transaction_end(d->xs, t, true);
			vmsgd_log(LOG_ERROR, "another vmsgd (pid %ld) already "
					     "serves this xenstore: stop it "
					     "first (one vmsgd per host)",
				  pid);
			return -1;
		}
		free(v);
		char mine[64];
		int n = snprintf(mine, sizeof mine, "%ld %" PRIu64,
				 (long)getpid(), my_start);
		if (!xs_write(d->xs, t, OWNER_KEY, mine, (unsigned)n)) {
			int e = errno;
			xs_transaction_end(d->xs, t, true);
			vmsgd_log(LOG_ERROR, "cannot write %s: %s", OWNER_KEY,
				  strerror(e));
			return -1;
		}
		if (xs_transaction_end(d->xs, t, false)) {
			d->owner_claimed = true;
			return 0;
		}
		if (errno != EAGAIN)
			break;
	}
	vmsgd_log(LOG_ERROR, "cannot claim %s: %s", OWNER_KEY, strerror(errno));
	return -1;
}

void owner_release(struct vmsgd *d)
{
	if (!d->owner_claimed || !d->xs)
		return;
	d->owner_claimed = false;
	/* Only our own claim: a successor may already hold the key. */
	unsigned len = 0;
	char *v = xs_read(d->xs, XBT_NULL, OWNER_KEY, &len);
	long pid = 0;
	if (v && sscanf(v, "%ld", &pid) == 1 && pid == (long)getpid())
		(void)xs_rm(d->xs, XBT_NULL, OWNER_KEY);
	free(v);
}
