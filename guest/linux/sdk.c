/* The appliance SDK's Linux target: the machine of vmsg/guest.h as a plain
 * Linux process, over libc and libvmsg, so that the same app_main() source
 * runs in dom0 or a Linux guest, or on the simulator under `xensim run
 * --domid N` (docs/unikernel.md, "The same source on Linux"). Built once
 * as the library vmsg_sdk_linux (with xs.c, the xenstore client, and the
 * cmdline parser the unikernel shares); an appliance links it and gets
 * main().
 *
 * main() joins the arguments with spaces into the "cmdline" (so
 * `prog vmsgd=1 svc=echo` is what an xl config's cmdline says), calls
 * app_main() and exits with its value (a negative one: status 2).
 *
 * host=DIR in the cmdline puts guest_serve/guest_connect on the host
 * backend instead (vmsg/host.h: memfd, eventfd and a UNIX socket in DIR
 * named after the xenstore path), for two plain processes with no Xen and
 * no simulator; guest_domid() is then 0 unless domid=N says otherwise.
 * A DIR that is not a directory ends main() with status 2 and says so
 * (it would otherwise read as "no such channel" much later).
 *
 * guest_stop_requested() installs a handler for SIGTERM and SIGINT at its
 * first call and says whether one has come since.
 *
 * guest_get_stats() reports zeros: a Linux process does not count its
 * blocking. Named services are vmsg/service.h, libvmsg's: the same client
 * core (lib/service) as the unikernel's. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <vmsg/guest.h>
#include <vmsg/host.h>
#include <vmsg/xen.h>

#include "cmdline.h"
#include "vmsg_clock.h"

static const char *g_cmdline = "";
static uint64_t g_start_ns;
static int g_domid = -1;

void guest_puts(const char *s)
{
	fputs(s, stdout);
	fflush(stdout);
}

void guest_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

int guest_cmdline_get(const char *key, char *buf, size_t cap)
{
	return guest__cmdline_find(g_cmdline, key, buf, cap);
}

/* host=DIR: the host backend's socket for xenstore-style `path` (its
 * slashes become underscores) into buf. 1 with host=, 0 without, -errno. */
static int host_path(const char *path, char *buf, size_t cap)
{
	char dir[128];
	if (guest_cmdline_get("host", dir, sizeof dir) <= 0)
		return 0;
	int n = snprintf(buf, cap, "%s/", dir);
	while (*path == '/')
		path++;
	for (; *path && n > 0 && (size_t)n + 1 < cap; path++)
		buf[n++] = *path == '/' ? '_' : *path;
	if (n <= 0 || (size_t)n + 1 >= cap)
		return -ENAMETOOLONG;
	buf[n] = 0;
	return 1;
}

uint16_t guest_domid(void)
{
	if (g_domid >= 0)
		return (uint16_t)g_domid;
	g_domid = 0;
	char arg[128];
	if (guest_cmdline_get("domid", arg, sizeof arg) > 0) {
		unsigned long v = strtoul(arg, NULL, 10);
		g_domid = v < VMSG_DOMID_LIMIT ? (int)v : 0;
		return (uint16_t)g_domid;
	}
	if (guest_cmdline_get("host", arg, sizeof arg) != -ENOENT)
		return 0; /* no xenstore on the host backend */
	uint16_t d;
	if (vmsg_xen_own_domid(&d) == 0)
		g_domid = d;
	return (uint16_t)g_domid;
}

uint64_t guest_now_ns(void)
{
	return vmsg__clock_ns();
}

uint64_t guest_uptime_ns(void)
{
	return guest_now_ns() - g_start_ns;
}

void guest_sleep_ms(unsigned ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static volatile sig_atomic_t g_stop;

static void on_stop_signal(int sig)
{
	g_stop = sig;
}

bool guest_stop_requested(void)
{
	static bool installed;
	if (!installed) {
		/* SA_RESTART: the waits of libvmsg start again after a
		 * signal anyway; the appliance's loop sees the flag when
		 * its wait's timeout ends. */
		struct sigaction sa = {.sa_handler = on_stop_signal,
				       .sa_flags = SA_RESTART};
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		installed = true;
	}
	return g_stop != 0;
}

void guest_shutdown(bool crash)
{
	fflush(stdout);
	if (crash)
		abort();
	exit(0);
}

void guest_get_stats(struct guest_stats *s)
{
	memset(s, 0, sizeof *s);
}

void *guest_alloc(size_t size)
{
	size_t n = (size + 4095) & ~(size_t)4095;
	void *p = aligned_alloc(4096, n ? n : 4096);
	if (p)
		memset(p, 0, n ? n : 4096);
	return p;
}

void guest_free(void *ptr, size_t size)
{
	(void)size;
	free(ptr);
}

int guest_serve(vmsg_chan **out, uint16_t client_domid, const char *path,
		const struct vmsg_chan_opts *o)
{
	char hp[108];
	int h = host_path(path, hp, sizeof hp);
	if (h < 0)
		return h;
	if (h)
		return vmsg_host_serve(out, hp, o);
	return vmsg_xen_serve(out, client_domid, path, o);
}

int guest_connect(vmsg_chan **out, uint16_t server_domid, const char *path,
		  const struct vmsg_chan_opts *o, int timeout_ms)
{
	char hp[108];
	int h = host_path(path, hp, sizeof hp);
	if (h < 0)
		return h;
	if (h)
		return vmsg_host_connect(out, hp, o, timeout_ms);
	return vmsg_xen_connect(out, server_domid, path, o, timeout_ms);
}

int main(int argc, char **argv)
{
	g_start_ns = guest_now_ns();
	size_t n = 1;
	for (int i = 1; i < argc; i++)
		n += strlen(argv[i]) + 1;
	char *cl = calloc(1, n);
	if (!cl) {
		fprintf(stderr, "%s: out of memory\n", argv[0]);
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		if (i > 1)
			strcat(cl, " ");
		strcat(cl, argv[i]);
	}
	g_cmdline = cl;
	char dir[128];
	struct stat sb;
	if (guest_cmdline_get("host", dir, sizeof dir) > 0 &&
	    (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))) {
		fprintf(stderr, "%s: host=%s: not a directory (create it "
			"first: the channels' sockets go there)\n", argv[0], dir);
		free(cl);
		return 2;
	}
	int r = app_main(cl);
	fflush(stdout);
	free(cl);
	return r < 0 ? 2 : r;
}
