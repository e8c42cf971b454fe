/* vmsg channels as bench transports. The channel code is the same whatever
 * the backend: an entry names a platform constructor (the host backend, or
 * the xen backend on the simulated Xen, whose sides run under `xensim run
 * --domid N` through wrap_side).
 *
 * Copying entries use vmsg_chan_send (VMSG_SEND_MORE when batching) and
 * vmsg_chan_recv; zero-copy entries reserve/fill/commit and peek/copy out/
 * release (messages larger than one frame fall back to send); raw entries
 * use the libxenvchan-compatible byte stream (vmsg_chan_write/read), a
 * message being len bytes of it, coalesced when batching (bytes.c). */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vmsg/chan.h>
#include <vmsg/frame.h>
#include <vmsg/host.h>

#define BENCH_VMSG_TYPE (VMSG_TYPE_APP_MIN + 0xbe)
#define BENCH_CONNECT_MS 30000 /* generous: a loaded machine, the sim */

typedef int (*platform_fn)(struct vmsg_platform **out,
			   const struct bench_link *l, bool server);

enum vm_mode { VM_COPY, VM_ZC, VM_RAW };

struct vm_end {
	vmsg_chan *c;
	bool zc;
	size_t max_frame;
	struct bench_bytes raw; /* VM_RAW */
};

static void chan_opts(const struct bench_params *p, struct vmsg_chan_opts *o)
{
	vmsg_chan_opts_init(o);
	o->rx_ring_size = p->ring;
	o->tx_ring_size = p->ring;
	if (p->size > o->max_msg)
		o->max_msg = p->size;
	/* The receiver keeps the library's default, batched release, in
	 * every mode: batching here is the sender's (VMSG_SEND_MORE). */
	o->spin_ns = p->wait == BENCH_WAIT_SPIN	      ? BENCH_SPIN_FOREVER_NS
		     : p->wait == BENCH_WAIT_ADAPTIVE ? BENCH_ADAPTIVE_SPIN_NS
						      : 0;
}

static int raw_write_some(void *ctx, const void *buf, size_t len)
{
	int n = vmsg_chan_write(ctx, buf, len, -1);

	return n == 0 ? -EIO : n; /* never 0 when waiting forever */
}

static int raw_read_some(void *ctx, void *buf, size_t len)
{
	int n = vmsg_chan_read(ctx, buf, len, -1);

	return n == -EPIPE ? 0 : n; /* orderly close, all delivered */
}

static int end_wrap(void **end, vmsg_chan *c, enum vm_mode mode, bool batch)
{
	struct vm_end *e = calloc(1, sizeof(*e));
	int mf;

	if (!e || (mode == VM_RAW && bench_bytes_init(&e->raw, batch) < 0)) {
		free(e);
		vmsg_chan_close(c);
		return -ENOMEM;
	}
	e->raw.write_some = raw_write_some;
	e->raw.read_some = raw_read_some;
	e->raw.ctx = c;
	e->c = c;
	e->zc = mode == VM_ZC;
	mf = vmsg_chan_max_frame(c);
	e->max_frame = mf > 0 ? (size_t)mf : 0;
	*end = e;
	return 0;
}

static int vm_listen(struct bench_link *l, const struct bench_params *p,
		     void **end, platform_fn mk)
{
	struct vmsg_platform *pf;
	struct vmsg_chan_opts o;
	vmsg_chan *c;
	int r;

	chan_opts(p, &o);
	if ((r = mk(&pf, l, true)) < 0)
		return r;
	if ((r = vmsg_chan_serve(&c, pf, &o)) < 0)
		return r;
	*end = c; /* a bare channel until open() accepts it */
	return 0;
}

static int vm_open(struct bench_link *l, int side, const struct bench_params *p,
		   void **end, platform_fn mk, enum vm_mode mode)
{
	struct vmsg_platform *pf;
	struct vmsg_chan_opts o;
	vmsg_chan *c = NULL;
	int r;

	chan_opts(p, &o);
	if (side == 1) {
		if (!*end && (r = vm_listen(l, p, end, mk)) < 0)
			return r;
		c = *end;
		*end = NULL;
		/* -EPIPE: a short-lived client came, sent and closed before
		 * we looked; what it sent is still to be read. */
		if ((r = vmsg_chan_accept(c, -1)) < 0 && r != -EPIPE) {
			vmsg_chan_close(c);
			return r;
		}
	} else {
		if ((r = mk(&pf, l, false)) < 0)
			return r;
		if ((r = vmsg_chan_connect(&c, pf, &o, BENCH_CONNECT_MS)) < 0)
			return r;
	}
	return end_wrap(end, c, mode, p->batch);
}

static int vm_send(void *end, const void *buf, size_t len, bool more)
{
	struct vm_end *e = end;
	unsigned flags = more ? VMSG_SEND_MORE : 0;
	void *pl;
	int r;

	if (!e->zc || len > e->max_frame)
		return vmsg_chan_send(e->c, BENCH_VMSG_TYPE, buf, len, flags, -1);
	if ((r = vmsg_chan_reserve(e->c, BENCH_VMSG_TYPE, len, &pl, -1)) < 0)
		return r;
	memcpy(pl, buf, len);
	return (r = vmsg_chan_commit(e->c, flags)) < 0 ? r : (int)len;
}

static int vm_flush(void *end)
{
	return vmsg_chan_flush(((struct vm_end *)end)->c);
}

static int vm_recv(void *end, void *buf, size_t len)
{
	struct vm_end *e = end;
	struct vmsg_msg m;
	int r;

	if (!e->zc) {
		r = vmsg_chan_recv(e->c, NULL, buf, len, -1);
	} else if ((r = vmsg_chan_peek(e->c, &m, -1)) >= 0) {
		/* The payload is the peer's to change: copy it out, as a
		 * real consumer would before looking at it. */
		memcpy(buf, m.data, m.len < len ? m.len : len);
		r = m.len == len ? (int)len : -EBADMSG;
		vmsg_chan_release(e->c);
	}
	if (r == -EPIPE)
		return 0; /* orderly close, everything delivered */
	return r >= 0 && (size_t)r != len ? -EBADMSG : r;
}

static int raw_send(void *end, const void *buf, size_t len, bool more)
{
	return bench_bytes_send(&((struct vm_end *)end)->raw, buf, len, more);
}

static int raw_flush(void *end)
{
	return bench_bytes_flush(&((struct vm_end *)end)->raw);
}

static int raw_recv(void *end, void *buf, size_t len)
{
	return bench_bytes_recv(&((struct vm_end *)end)->raw, buf, len);
}

static void vm_close(void *end)
{
	struct vm_end *e = end;

	if (!e)
		return;
	vmsg_chan_close(e->c);
	bench_bytes_free(&e->raw);
	free(e);
}

/* ---- the host backend --------------------------------------------------- */

static int host_platform(struct vmsg_platform **out, const struct bench_link *l,
			 bool server)
{
	return vmsg_host_platform_new(out, l->path, server);
}

static int host_prepare(struct bench_link *l, const struct bench_params *p)
{
	return bench_temp_dir(l, "vmsg");
}

static void host_cleanup(struct bench_link *l)
{
	bench_temp_drop(l);
}

static int host_listen(struct bench_link *l, const struct bench_params *p,
		       void **end)
{
	return vm_listen(l, p, end, host_platform);
}

static int host_open(struct bench_link *l, int side,
		     const struct bench_params *p, void **end)
{
	return vm_open(l, side, p, end, host_platform, VM_COPY);
}

static int host_zc_open(struct bench_link *l, int side,
			const struct bench_params *p, void **end)
{
	return vm_open(l, side, p, end, host_platform, VM_ZC);
}

const struct bench_transport bench_tp_vmsg_host = {
	.name = "vmsg-host",
	.what = "vmsg typed messages, host backend (memfd + eventfd), "
		"send/recv copying",
	.cmds = BENCH_CMD_BIT(BENCH_PINGPONG) | BENCH_CMD_BIT(BENCH_STREAM) |
		BENCH_CMD_BIT(BENCH_SETUP),
	.prepare = host_prepare,
	.listen = host_listen,
	.open = host_open,
	.send = vm_send,
	.flush = vm_flush,
	.recv = vm_recv,
	.close = vm_close,
	.cleanup = host_cleanup,
};

const struct bench_transport bench_tp_vmsg_host_zc = {
	.name = "vmsg-host-zc",
	.what = "vmsg typed messages, host backend, zero-copy "
		"reserve/commit and peek/release",
	.cmds = BENCH_CMD_BIT(BENCH_PINGPONG) | BENCH_CMD_BIT(BENCH_STREAM),
	.prepare = host_prepare,
	.open = host_zc_open,
	.send = vm_send,
	.flush = vm_flush,
	.recv = vm_recv,
	.close = vm_close,
	.cleanup = host_cleanup,
};

/* ---- the xen backend on the simulated Xen --------------------------------- */

#ifdef BENCH_HAVE_XEN
#include <vmsg/xen.h>

static int xen_platform(struct vmsg_platform **out, const struct bench_link *l,
			bool server)
{
	return vmsg_xen_platform_new(out,
				     server ? BENCH_SIM_CLIENT_DOM
					    : BENCH_SIM_SERVER_DOM,
				     l->path, server);
}

static int xen_prepare(struct bench_link *l, const struct bench_params *p)
{
	(void)p;
	return bench_sim_prepare(l, "vmsg");
}

static void xen_cleanup(struct bench_link *l)
{
	(void)l;
}

static int xen_listen(struct bench_link *l, const struct bench_params *p,
		      void **end)
{
	return vm_listen(l, p, end, xen_platform);
}

static int xen_open(struct bench_link *l, int side,
		    const struct bench_params *p, void **end)
{
	return vm_open(l, side, p, end, xen_platform, VM_COPY);
}

static int xen_raw_open(struct bench_link *l, int side,
			const struct bench_params *p, void **end)
{
	return vm_open(l, side, p, end, xen_platform, VM_RAW);
}

const struct bench_transport bench_tp_vmsg_xen_sim = {
	.name = "vmsg-xen-sim",
	.what = "vmsg typed messages, xen backend on the simulated Xen "
		"(dom0 server, dom1 client)",
	.cmds = BENCH_CMD_BIT(BENCH_PINGPONG) | BENCH_CMD_BIT(BENCH_STREAM) |
		BENCH_CMD_BIT(BENCH_SETUP),
	.unavailable = bench_sim_unavailable,
	.prepare = xen_prepare,
	.listen = xen_listen,
	.open = xen_open,
	.send = vm_send,
	.flush = vm_flush,
	.recv = vm_recv,
	.close = vm_close,
	.cleanup = xen_cleanup,
	.wrap_side = bench_sim_wrap,
};

const struct bench_transport bench_tp_vmsg_xen_sim_raw = {
	.name = "vmsg-xen-sim-raw",
	.what = "vmsg raw byte stream (vmsg_chan_write/read), xen backend "
		"on the simulated Xen",
	.cmds = BENCH_CMD_BIT(BENCH_PINGPONG) | BENCH_CMD_BIT(BENCH_STREAM),
	.unavailable = bench_sim_unavailable,
	.prepare = xen_prepare,
	.open = xen_raw_open,
	.send = raw_send,
	.flush = raw_flush,
	.recv = raw_recv,
	.close = vm_close,
	.cleanup = xen_cleanup,
	.wrap_side = bench_sim_wrap,
};

/* ---- channels brokered by vmsgd on the simulated Xen -------------------- */

/* vmsgd runs as dom0 (started once, by the first prepare, with a policy of
 * four services: bench-msg, the policy's defaults (set up by message,
 * spare = auto), bench-spare, the same with spare = yes, bench-nospare
 * with spare = no (the provider serves each channel on demand), and
 * bench-xs with setup = xenstore, the path of earlier versions); the
 * provider is dom2 (side 1),
 * the consumer dom1 (side 0). Each side holds one control channel for its
 * whole life (opened by its first connection, a warmup one). A setup is
 * vmsg_service_open() to the first byte: Open, vmsgd's Serve, the
 * provider's serving, ServeResult, Opened, the consumer's connect, the
 * provider's accept and its byte; a close is vmsg_service_close() at
 * both ends, as an application does. */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vmsg/service.h>

#define SVC_CONSUMER_DOM 1
#define SVC_PROVIDER_DOM 2

static pid_t svc_vmsgd = -1; /* parent: `xensim run` of vmsgd */
static vmsg_ctl *svc_ctl;    /* each side: its control channel */
static bool svc_offered;

static void svc_stop_vmsgd(void)
{
	int st;

	if (svc_vmsgd <= 0)
		return;
	kill(svc_vmsgd, SIGTERM);
	while (waitpid(svc_vmsgd, &st, 0) < 0 && errno == EINTR)
		;
	svc_vmsgd = -1;
}

/* vmsgd next to vmsg-bench (installed: bin/ or ../sbin/), or the build
 * tree's dom0/vmsgd; "" if none. */
static void svc_find_vmsgd(char *out, size_t cap)
{
	static const char *const rel[] = {"vmsgd", "../sbin/vmsgd",
					  "../dom0/vmsgd"};
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *sl;

	out[0] = 0;
	if (n <= 0)
		return;
	self[n] = 0;
	if (!(sl = strrchr(self, '/')))
		return;
	*sl = 0;
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(out, cap, "%.*s/%s", PATH_MAX - 32, self, rel[i]);
		if (access(out, X_OK) == 0)
			return;
	}
	out[0] = 0;
}

static const char *svc_unavailable(void)
{
	static char vmsgd[PATH_MAX];
	const char *why = bench_sim_unavailable();

	if (why)
		return why;
	svc_find_vmsgd(vmsgd, sizeof(vmsgd));
	return vmsgd[0] ? NULL : "no vmsgd next to vmsg-bench";
}

static int svc_start_vmsgd(const struct bench_params *p)
{
	char vmsgd[PATH_MAX], conf[PATH_MAX], sock[PATH_MAX], log[PATH_MAX];
	const char *dir = bench_sim_dir();
	const char *argv[12];
	FILE *f;
	int n, fd;

	if (svc_vmsgd > 0)
		return 0;
	svc_find_vmsgd(vmsgd, sizeof(vmsgd));
	if (!dir || !vmsgd[0])
		return -ENOENT;
	snprintf(conf, sizeof(conf), "%.*s/vmsgd.conf", PATH_MAX - 16, dir);
	snprintf(sock, sizeof(sock), "%.*s/vmsgd.sock", PATH_MAX - 16, dir);
	snprintf(log, sizeof(log), "%.*s/vmsgd.log", PATH_MAX - 16, dir);
	if (!(f = fopen(conf, "w")))
		return -errno;
	/* Opens as fast as the machine allows: over the default rate. */
	fprintf(f, "[daemon]\nlog_level = warn\ncontrol_socket = %s\n"
		"requests_per_s = 1000000\nrequests_burst = 1000000\n", sock);
	static const char *const svc[4][3] = {
		{"msg", "message", "auto"},
		{"spare", "message", "yes"},
		{"nospare", "message", "no"},
		{"xs", "xenstore", "no"},
	};
	for (int i = 0; i < 4; i++)
		fprintf(f, "[service bench-%s]\noffer = %d\nopen = %d\n"
			"mode = direct\nsetup = %s\nspare = %s\n"
			"ring_size = %u\nmax_channels_per_domain = 64\n",
			svc[i][0], SVC_PROVIDER_DOM, SVC_CONSUMER_DOM,
			svc[i][1], svc[i][2], p->ring);
	if (fclose(f) != 0)
		return -EIO;
	n = bench_sim_wrap_dom(0, argv, 8);
	argv[n++] = vmsgd;
	argv[n++] = "--config";
	argv[n++] = conf;
	argv[n++] = "--foreground";
	argv[n] = NULL;
	fflush(NULL);
	if ((svc_vmsgd = fork()) < 0)
		return -errno;
	if (svc_vmsgd == 0) {
		if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	atexit(svc_stop_vmsgd);
	/* Ready once its control socket exists. */
	for (int i = 0; i < 1000; i++) {
		struct stat st;
		if (stat(sock, &st) == 0)
			return 0;
		if (waitpid(svc_vmsgd, NULL, WNOHANG) == svc_vmsgd) {
			svc_vmsgd = -1;
			fprintf(stderr, "vmsg-bench: vmsgd failed (log: %s)\n",
				log);
			return -EIO;
		}
		usleep(10000);
	}
	return -ETIMEDOUT;
}

static int svc_prepare(struct bench_link *l, const struct bench_params *p)
{
	int r = bench_sim_prepare(l, "svc");

	return r < 0 ? r : svc_start_vmsgd(p);
}

static int svc_ctl_ready(void)
{
	return svc_ctl ? 0 : vmsg_ctl_open(&svc_ctl, BENCH_CONNECT_MS);
}

/* Side 1: offer once (the service is the provider's for its life). */
static int svc_listen(const char *name)
{
	int r;

	if ((r = svc_ctl_ready()) < 0 || svc_offered)
		return r;
	/* The provider of the previous measurement (the same domain id)
	 * may still hold the name until vmsgd has seen it go. */
	uint64_t until = bench_now_ns() + BENCH_CONNECT_MS * 1000000ull;
	while ((r = vmsg_service_offer(svc_ctl, name, BENCH_CONNECT_MS)) ==
		       -EEXIST &&
	       bench_now_ns() < until)
		usleep(10000);
	if (r < 0)
		return r;
	svc_offered = true;
	return 0;
}

/* The harness's listen, before the client's clock starts: offer (once),
 * then an accept that finds nothing, as a provider's library runs while
 * its program is idle (a poller's call, or a blocking accept before it
 * sleeps): what the last channel left to do (its close, the next one's
 * handles and warm channel) is done there, not on the next open's time,
 * as libxenvchan's server publishes in its listen. */
static int svc_idle(const char *name)
{
	vmsg_chan *c;
	int r = svc_listen(name);

	if (r < 0)
		return r;
	r = vmsg_service_accept(svc_ctl, &c, NULL, 0);
	if (r == 0) { /* no client has asked for one yet */
		vmsg_service_close(svc_ctl, c);
		return -EPROTO;
	}
	return r == -EAGAIN ? 0 : r;
}

static int svc_open(int side, const struct bench_params *p, void **end,
		    const char *name)
{
	vmsg_chan *c;
	int r;

	(void)p;
	if (side == 1) {
		if ((r = svc_listen(name)) < 0)
			return r;
		r = vmsg_service_accept(svc_ctl, &c, NULL, BENCH_CONNECT_MS);
	} else {
		if ((r = svc_ctl_ready()) < 0)
			return r;
		/* Ping-pong starts both sides at once: the provider may not
		 * have offered yet ("not offered": try again a while). */
		uint64_t until = bench_now_ns() + BENCH_CONNECT_MS * 1000000ull;
		while ((r = vmsg_service_open(svc_ctl, name, &c,
					      BENCH_CONNECT_MS)) == -ENOENT &&
		       bench_now_ns() < until)
			usleep(10000);
	}
	if (r < 0) {
		const char *why = svc_ctl ? vmsg_ctl_error(svc_ctl) : "no vmsgd";
		fprintf(stderr, "vmsg-bench: %s: %s: %s\n", name,
			side ? "accept" : "open", why[0] ? why : vmsg_strerror(r));
		return r;
	}
	if ((r = end_wrap(end, c, VM_COPY, p->batch)) < 0)
		return r;
	/* The ends are the service's: closed with vmsg_service_close. */
	return 0;
}

static void svc_close(void *end)
{
	struct vm_end *e = end;

	if (!e)
		return;
	vmsg_service_close(svc_ctl, e->c);
	bench_bytes_free(&e->raw);
	free(e);
}

static void svc_cleanup(struct bench_link *l)
{
	(void)l;
}

static int svc_wrap(const struct bench_link *l, int side, const char **argv,
		    int max)
{
	(void)l;
	return bench_sim_wrap_dom(side ? SVC_PROVIDER_DOM : SVC_CONSUMER_DOM,
				  argv, max);
}

/* The three transports differ in the service they open (its policy in
 * svc_start_vmsgd) and nothing else. The library's channels: vmsgd and
 * the library choose the options, which sleep at once (spin_ns 0). */
#define SVC_TRANSPORT(var, tname, svc, desc)                                  \
	static int var##_listen(struct bench_link *l,                         \
				const struct bench_params *p, void **end)     \
	{                                                                     \
		(void)l, (void)p, (void)end;                                  \
		return svc_idle(svc);                                         \
	}                                                                     \
	static int var##_open(struct bench_link *l, int side,                 \
			      const struct bench_params *p, void **end)       \
	{                                                                     \
		(void)l;                                                      \
		return svc_open(side, p, end, svc);                           \
	}                                                                     \
	const struct bench_transport var = {                                  \
		.name = tname,                                                \
		.what = desc,                                                 \
		.cmds = BENCH_CMD_BIT(BENCH_PINGPONG) |                       \
			BENCH_CMD_BIT(BENCH_SETUP),                           \
		.flags = BENCH_TP_BLOCK_ONLY,                                 \
		.unavailable = svc_unavailable,                               \
		.prepare = svc_prepare,                                       \
		.listen = var##_listen,                                       \
		.open = var##_open,                                           \
		.send = vm_send,                                              \
		.flush = vm_flush,                                            \
		.recv = vm_recv,                                              \
		.close = svc_close,                                           \
		.cleanup = svc_cleanup,                                       \
		.wrap_side = svc_wrap,                                        \
	}

SVC_TRANSPORT(bench_tp_vmsgd_sim, "vmsgd-sim", "bench-msg",
	      "vmsg typed messages on a channel brokered by vmsgd on the "
	      "simulated Xen, the service's policy at its defaults (set up "
	      "by message, spare = auto; dom2 provider, dom1 consumer, "
	      "vmsgd in dom0)");
SVC_TRANSPORT(bench_tp_vmsgd_sim_spare, "vmsgd-sim-spare", "bench-spare",
	      "the same, the service's policy saying spare = yes (each open "
	      "takes a channel the provider served in advance for the "
	      "consumer, after the first)");
SVC_TRANSPORT(bench_tp_vmsgd_sim_nospare, "vmsgd-sim-nospare",
	      "bench-nospare",
	      "the same, the service's policy saying spare = no (the "
	      "provider serves each channel when its open comes)");
SVC_TRANSPORT(bench_tp_vmsgd_sim_xs, "vmsgd-sim-xs", "bench-xs",
	      "the same, the service's policy saying setup = xenstore (the "
	      "provider publishes at a xenstore path, as before setup by "
	      "message)");
#endif

