/* Domains: dom0 always exists; domain N lives while at least one
 * `xensim run --domid N` anchors it.  Start and end are mirrored into
 * xenstore as XS_INTRODUCE / XS_RELEASE from dom0 (which fires
 * @introduceDomain / @releaseDomain and gives the domain its socket). */
#include "xsimd.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

struct xsimd_domain *xsimd_dom_get(struct xsimd *d, uint32_t domid)
{
	for (struct xsimd_domain *x = d->doms; x; x = x->next)
		if (x->domid == domid)
			return x;
	return NULL;
}

bool xsimd_dom_alive(struct xsimd *d, uint32_t domid)
{
	struct xsimd_domain *x = xsimd_dom_get(d, domid);
	return x && (domid == 0 || x->anchors > 0);
}

static struct xsimd_domain *dom_create(struct xsimd *d, uint32_t domid)
{
	struct xsimd_domain *x = xsimd_dom_get(d, domid);
	if (x)
		return x;
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->domid = domid;
	x->next = d->doms;
	d->doms = x;
	return x;
}

/* What a toolstack (libxl) writes for a new domain: its home, readable by
 * it and owned by dom0, with `domid`, `name`, and a `data` directory the
 * domain owns. */
static void toolstack_create(struct xsimd *d, uint32_t domid)
{
	char path[64], val[32];
	struct xs_permissions home[2] = { { .id = 0, .perms = XS_PERM_NONE },
					  { .id = domid, .perms = XS_PERM_READ } };
	struct xs_permissions own = { .id = domid, .perms = XS_PERM_NONE };
	bool ok = true;

	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	ok &= xs_mkdir(d->xs, XBT_NULL, path);
	ok &= xs_set_permissions(d->xs, XBT_NULL, path, home, domid ? 2 : 1);
	snprintf(path, sizeof(path), "/local/domain/%u/domid", domid);
	snprintf(val, sizeof(val), "%u", domid);
	ok &= xs_write(d->xs, XBT_NULL, path, val, strlen(val));
	snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
	snprintf(val, sizeof(val), domid ? "dom%u" : "Domain-0", domid);
	ok &= xs_write(d->xs, XBT_NULL, path, val, strlen(val));
	snprintf(path, sizeof(path), "/local/domain/%u/data", domid);
	ok &= xs_mkdir(d->xs, XBT_NULL, path);
	ok &= xs_set_permissions(d->xs, XBT_NULL, path, &own, 1);
	if (!ok)
		xsimd_log("writing /local/domain/%u failed: %s", domid, strerror(errno));
}

int xsimd_dom_anchor(struct xsimd *d, uint32_t domid)
{
	struct xsimd_domain *x;

	if (domid >= XSIM_DOMID_LIMIT)
		return -EINVAL;
	if (!(x = dom_create(d, domid)))
		return -ENOMEM;
	/* As libxl does: the domain's home first, then the introduction, so
	 * that a watcher of @introduceDomain finds /local/domain/N when the
	 * event arrives (vmsgd lists /local/domain on it, once). */
	if (x->anchors == 0 && d->xs)
		toolstack_create(d, domid);
	if (x->anchors++ == 0 && domid != 0 && d->xs) {
		/* The frame number and port are meaningless here; the mfn is
		 * only compared if the domain is introduced twice. */
		if (!xs_introduce_domain(d->xs, domid, 0x100000ul + domid, 0)) {
			int e = errno ? errno : EIO;
			xsimd_log("xs_introduce_domain(%u): %s", domid, strerror(e));
			x->anchors--;
			return -e;
		}
	}
	xsimd_log("domain %u anchored (%u)", domid, x->anchors);
	return 0;
}

void xsimd_dom_release(struct xsimd *d, uint32_t domid, struct xsimd_conn *keep)
{
	struct xsimd_domain *x = xsimd_dom_get(d, domid);

	if (!x || !x->anchors || --x->anchors || domid == 0)
		return;
	xsimd_log("domain %u died", domid);
	/* The domain is gone: every handle it had is closed, which runs its
	 * unmap notifications, revokes its grants and closes its ports. */
	for (;;) {
		struct xsimd_conn *c;
		for (c = d->conns; c; c = c->next)
			if (c != keep && c->hello && c->domid == domid)
				break;
		if (!c)
			break;
		xsimd_conn_drop(d, c);
	}
	if (d->xs) {
		char path[64];
		snprintf(path, sizeof(path), "/local/domain/%u", domid);
		xs_rm(d->xs, XBT_NULL, path); /* as libxl does on destroy */
		if (!xs_release_domain(d->xs, domid))
			xsimd_log("xs_release_domain(%u): %s", domid, strerror(errno));
	}
}

void xsimd_dom_free_all(struct xsimd *d)
{
	while (d->doms) {
		struct xsimd_domain *x = d->doms;
		d->doms = x->next;
		free(x->grants); /* its shares went with their connections */
		free(x);
	}
}

static int find_xenstored(char *buf, size_t len)
{
	const char *env = getenv("XENSIM_XENSTORED");
	char exe[4096];
	ssize_t n;

	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return access(buf, X_OK) == 0 ? 0 : -ENOENT;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -ENOENT;
	exe[n] = 0;
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = 0;
	static const char *const rel[] = { "/../xenstored/vmsg-xenstored",
					   "/vmsg-xenstored" };
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		int w = snprintf(buf, len, "%s%s", exe, rel[i]);
		if (w > 0 && (size_t)w < len && access(buf, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

int xsimd_xenstore_start(struct xsimd *d, const char *dir)
{
	char bin[4096], xsdir[4096], sock[4200];

	if (find_xenstored(bin, sizeof(bin)) < 0) {
		xsimd_log("vmsg-xenstored not found (set XENSIM_XENSTORED, or "
			  "XENSIM_NO_XENSTORE=1 to run without xenstore)");
		return -ENOENT;
	}
	snprintf(xsdir, sizeof(xsdir), "%s/xenstore", dir);
	snprintf(sock, sizeof(sock), "%s/dom0.sock", xsdir);
	if (mkdir(xsdir, 0755) < 0 && errno != EEXIST)
		return -errno;
	unlink(sock);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* XENSIM_XENSTORED_ARGS: more options, split at blanks, as an
		 * operator gives xenstored its own (XENSTORED_ARGS in Xen's
		 * xencommons), e.g. the quotas: "--entry-nb 4000". */
		char *argv[64] = { bin, "--dir", xsdir, "--foreground" };
		size_t n = 4;
		const char *env = getenv("XENSIM_XENSTORED_ARGS");
		char *extra = env ? strdup(env) : NULL, *save = NULL;
		for (char *w = extra ? strtok_r(extra, " \t\n", &save) : NULL;
		     w && n < sizeof(argv) / sizeof(argv[0]) - 1;
		     w = strtok_r(NULL, " \t\n", &save))
			argv[n++] = w;
		argv[n] = NULL;
		execv(bin, argv);
		_exit(127);
	}
	d->xenstored_pid = pid;
	setenv("XENSTORED_PATH", sock, 1);
	for (int i = 0; i < 1000; i++) { /* up to ~20 s on a loaded machine */
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			d->xenstored_pid = 0;
			xsimd_log("vmsg-xenstored exited early (status %d)", st);
			return -ECHILD;
		}
		if (access(sock, F_OK) == 0 &&
		    (d->xs = xs_open(XS_OPEN_SOCKETONLY)))
			break;
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
	if (!d->xs) {
		xsimd_log("vmsg-xenstored did not come up at %s", sock);
		xsimd_xenstore_stop(d);
		return -ETIMEDOUT;
	}
	xsimd_log("vmsg-xenstored running (pid %d)", (int)pid);
	return 0;
}

void xsimd_xenstore_stop(struct xsimd *d)
{
	if (d->xs) {
		xs_close(d->xs);
		d->xs = NULL;
	}
	if (d->xenstored_pid > 0) {
		kill(d->xenstored_pid, SIGTERM);
		for (int i = 0; i < 250; i++) { /* 5 s, then insist */
			if (waitpid(d->xenstored_pid, NULL, WNOHANG) != 0)
				break;
			if (i == 249) {
				kill(d->xenstored_pid, SIGKILL);
				waitpid(d->xenstored_pid, NULL, 0);
			}
			nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
		}
		d->xenstored_pid = 0;
	}
}
