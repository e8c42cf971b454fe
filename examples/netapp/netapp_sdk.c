/* netapp over the unikernel SDK (vmsg/guest.h): one driver, two builds.
 *
 * Built with vmsg_add_unikernel() it is a PVH unikernel (the xl config's
 * cmdline holds the words below); built against vmsg_sdk_linux it is a
 * Linux program (the words are its arguments), in a Linux domain or under
 * `xensim run --domid N`. The appliance source (switch.c, firewall.c) is
 * the same as the host-backend driver's (netapp_host.c).
 *
 * Ports, in the order given (the firewall's port 0 is the outside, port 1
 * the inside):
 *   port=xen:DOMID:NAME[,xen:DOMID:NAME...]   (repeatable)
 *       a direct Xen channel served to domain DOMID at the conventional
 *       path /local/domain/<us>/data/vchan/DOMID/NAME (vmsg_xen_path; a
 *       dom0 `vmsg-tap --xen <us> --port NAME` is its client). When the
 *       client leaves or dies the link goes down and the channel is served
 *       again at the same path for the next one (link up again).
 *   service=NAME
 *       offer NAME through vmsgd: each channel a consumer opens (a
 *       `vmsg-tap --service NAME` in another domain) takes the first free
 *       port while it lasts; closed when there is none.
 * stats=SECONDS (0: never) prints the counters that often when traffic
 * moved since the last print (a unikernel has no signal to ask with).
 * Every other KEY=VALUE word is the appliance's (netapp_app.usage); on
 * Linux the SDK's own host=DIR and domid=N are taken as well. An unknown
 * key or a bad value ends it with a message and status 2; --help prints
 * the usage.
 * On Linux, SIGTERM or SIGINT ends it in order (guest_stop_requested,
 * looked at after each wait): every port's channel closed, so each peer
 * sees its link close, the host backend's socket files removed, status 0.
 *
 * The loop: every channel is in one wait set (vmsg/waitset.h); each wait
 * is followed by round-robin rounds over the ports that have work, a
 * batch each, and one flush per port sent to per round. vmsgd's control
 * channel cannot join the set (it is replaced when vmsgd restarts), so
 * with service= the wait is sliced to NETAPP_ACCEPT_MS and brokered
 * channels are taken between waits (as examples/echo-unikernel does).
 */
#include <vmsg/chan.h>
#include <vmsg/guest.h>
#include <vmsg/guest_args.h>
#include <vmsg/service.h>
#include <vmsg/waitset.h>
#include <vmsg/xen.h>

#include "netapp_app.h"
#include "vmsg_errno.h" /* the errno names in both builds */

#define NETAPP_ACCEPT_MS 20
#define NETAPP_WAIT_MS 1000 /* drives the appliance's ageing */
#define NETAPP_WORDS 64
#define NETAPP_NAME_MAX VMSG_SERVICE_NAME_MAX
#define NETAPP_RING (256u * 1024u)

enum port_kind { PORT_NONE, PORT_XEN, PORT_SVC };

struct drv_port {
	enum port_kind kind;
	vmsg_chan *chan;
	uint16_t domid; /* xen: the client's; svc: the consumer's */
	char name[NETAPP_NAME_MAX + 1]; /* xen: the channel's port name */
	bool up;        /* as last reported */
	bool ready;     /* has work to look at */
	unsigned idx;
};

struct drv {
	struct netapp app;
	struct drv_port port[NETAPP_MAX_PORTS];
	struct vmsg_waitset ws;
	vmsg_ctl *ctl;
	char service[VMSG_SERVICE_NAME_MAX + 1];
	unsigned stats_s;
	uint64_t next_stats_ms, stats_mark;
	char line[2048];
	char *words[NETAPP_WORDS];
};

static bool streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static void print_line(const char *line)
{
	guest_printf("%s\n", line);
}

static int usage(void)
{
	guest_printf(
		"usage: %s-appliance [port=xen:DOMID:NAME[,...]]... "
		"[service=NAME] [stats=S] [KEY=VALUE...]\n"
		"       (the unikernel %s-unikernel: the same words in xl's "
		"cmdline)\n"
		"  port=xen:DOMID:NAME  a port: a direct Xen channel served to "
		"domain DOMID\n"
		"                       at /local/domain/<us>/data/vchan/DOMID/"
		"NAME, served\n"
		"                       again when its client leaves; repeat it "
		"or give a list\n"
		"                       (ports in order: the firewall's port0 is "
		"the outside)\n"
		"  service=NAME         offer NAME through vmsgd: each consumer's "
		"channel takes\n"
		"                       the first free port while it lasts\n"
		"  stats=S              print the counters every S seconds when "
		"traffic moved\n"
		"                       (0: never, the default)\n"
		"the appliance's own:\n%s"
		"the Linux program also takes the SDK's host=DIR and domid=N;\n"
		"SIGTERM or SIGINT ends it: the ports' channels closed, "
		"status 0\n",
		netapp_app.name, netapp_app.name, netapp_app.usage);
	return 0;
}

static int bad(const char *why, const char *word)
{
	guest_printf("%s: %s'%s' (--help lists the arguments)\n",
		     netapp_app.name, why, word);
	return 2;
}

static bool parse_name(const char *s, size_t max, char *out)
{
	size_t n = 0;
	for (; s[n]; n++) {
		if (n >= max || s[n] == '/')
			return false;
		out[n] = s[n];
	}
	out[n] = 0;
	return n > 0;
}

/* One "xen:DOMID:NAME" of a port= list (len bytes at s) into a new port:
 * the SDK's address (vmsg/guest_args.h), of the xen: kind. */
static bool parse_xen_port(struct drv *d, unsigned *np, const char *s,
			   size_t len)
{
	struct guest_addr a;
	struct drv_port *p;

	if (*np >= NETAPP_MAX_PORTS || guest_addr_parse(s, len, &a, NULL) < 0 ||
	    a.kind != GUEST_ADDR_XEN)
		return false;
	for (unsigned i = 0; i < *np; i++) /* one channel per path */
		if (d->port[i].domid == a.domid && streq(d->port[i].name, a.name))
			return false;
	p = &d->port[*np];
	p->kind = PORT_XEN;
	p->domid = a.domid;
	__builtin_memcpy(p->name, a.name, sizeof a.name);
	(*np)++;
	return true;
}

/* Split the cmdline, take the driver's words, give the rest to the
 * appliance. Returns 0 to run, 1 after --help, 2 on a bad word. */
static int configure(struct drv *d, const char *cmdline)
{
	char *rest[NETAPP_WORDS], err[256] = "";
	unsigned nw = 0, nrest = 0, nxen = 0;
	size_t n = 0;
	const char *v;
	uint32_t u;

	while (cmdline[n] && n + 1 < sizeof d->line) {
		d->line[n] = cmdline[n];
		n++;
	}
	if (cmdline[n]) {
		guest_printf("%s: the command line is over %u bytes\n",
			     netapp_app.name, (unsigned)sizeof d->line - 1);
		return 2;
	}
	d->line[n] = 0;
	for (char *p = d->line; *p;) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			*p++ = 0;
		if (!*p)
			break;
		if (nw == NETAPP_WORDS) {
			guest_printf("%s: over %u words\n", netapp_app.name,
				     NETAPP_WORDS);
			return 2;
		}
		d->words[nw++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
	}
	for (unsigned i = 0; i < nw; i++) {
		char *w = d->words[i];
		if (streq(w, "--help") || streq(w, "-h"))
			return usage(), 1;
	}
	for (unsigned i = 0; i < nw; i++) {
		char *w = d->words[i];
		if (netapp_key(w, "port", &v)) {
			const char *s = v;
			for (;;) {
				size_t k = 0;
				while (s[k] && s[k] != ',')
					k++;
				if (!parse_xen_port(d, &nxen, s, k))
					return bad("bad port (xen:DOMID:NAME, "
						   "each path once, at most 16): ",
						   w);
				if (!s[k])
					break;
				s += k + 1;
			}
		} else if (netapp_key(w, "service", &v)) {
			if (d->service[0] ||
			    !parse_name(v, VMSG_SERVICE_NAME_MAX, d->service))
				return bad("bad or repeated service name: ", w);
		} else if (netapp_key(w, "stats", &v)) {
			if (!netapp_parse_u32(v, 0, 3600, &d->stats_s))
				return bad("bad value (0..3600 seconds): ", w);
		} else if (netapp_key(w, "domid", &v)) { /* the Linux SDK's */
			if (!netapp_parse_u32(v, 0, VMSG_DOMID_LIMIT - 1, &u))
				return bad("bad domain number: ", w);
		} else if (netapp_key(w, "host", &v)) { /* the Linux SDK's */
			if (!*v)
				return bad("empty directory: ", w);
		} else {
			rest[nrest++] = w;
		}
	}
	if (!nxen && !d->service[0]) {
		guest_printf("%s: no ports: give port=xen:DOMID:NAME or "
			     "service=NAME (--help lists the arguments)\n",
			     netapp_app.name);
		return 2;
	}
	if (netapp_app.configure(&d->app, (int)nrest, rest, err, sizeof err) < 0) {
		guest_printf("%s: %s (--help lists the arguments)\n",
			     netapp_app.name, err);
		return 2;
	}
	if (nxen > d->app.nports) {
		guest_printf("%s: %u port= channels for %u ports\n",
			     netapp_app.name, nxen, d->app.nports);
		return 2;
	}
	d->app.print = print_line;
	return 0;
}

static void chan_opts(struct vmsg_chan_opts *o)
{
	vmsg_chan_opts_init(o);
	o->max_msg = VMSG_NET_MAX_MSG;
	o->rx_ring_size = o->tx_ring_size = NETAPP_RING;
}

static int serve_xen(struct drv *d, unsigned i)
{
	struct drv_port *p = &d->port[i];
	struct vmsg_chan_opts o;
	char path[160];
	int r = vmsg_xen_path(path, sizeof path, guest_domid(), p->domid,
			      p->name);
	if (r < 0)
		return r;
	chan_opts(&o);
	if ((r = guest_serve(&p->chan, p->domid, path, &o)) < 0) {
		guest_printf("%s: serving port %u at %s: %s\n", d->app.name, i,
			     path, vmsg_strerror(r));
		return r;
	}
	netapp_attach(&d->app, i, p->chan);
	if ((r = vmsg_waitset_add(&d->ws, p->chan, &p->idx)) < 0)
		return r;
	guest_printf("%s: port %u: %s for domain %u\n", d->app.name, i, path,
		     (unsigned)p->domid);
	return 0;
}

/* Take the channels vmsgd has brokered since the last look. */
static int take_new(struct drv *d)
{
	for (;;) {
		struct vmsg_service_peer who;
		vmsg_chan *c;
		unsigned i = 0;
		int r = vmsg_service_accept(d->ctl, &c, &who, 0);
		if (r == -EAGAIN || r == -ETIMEDOUT)
			return 0;
		if (r < 0)
			return r;
		while (i < d->app.nports && d->port[i].kind != PORT_NONE)
			i++;
		if (i == d->app.nports) {
			guest_printf("%s: no free port for domain %u\n",
				     d->app.name, (unsigned)who.domid);
			vmsg_service_close(d->ctl, c);
			continue;
		}
		struct drv_port *p = &d->port[i];
		p->kind = PORT_SVC;
		p->chan = c;
		p->domid = who.domid;
		netapp_attach(&d->app, i, c);
		if ((r = vmsg_waitset_add(&d->ws, c, &p->idx)) < 0)
			return r;
		p->ready = true; /* it may hold frames already: no event says */
		guest_printf("%s: port %u: domain %u\n", d->app.name, i,
			     (unsigned)who.domid);
	}
}

/* Port i's channel ended (its link is down): a direct port is served
 * again at its path, a brokered one closed and the port freed. */
static int port_ended(struct drv *d, unsigned i)
{
	struct drv_port *p = &d->port[i];
	int r;

	if (p->kind == PORT_SVC) {
		(void)vmsg_waitset_remove(&d->ws, p->chan);
		vmsg_service_close(d->ctl, p->chan);
		netapp_detach(&d->app, i);
		p->kind = PORT_NONE;
		p->chan = 0;
		/* (not "domain N": tests count the lines that name a
		 * consumer's domain as the channels it opened) */
		guest_printf("%s: port %u: its consumer left, port free\n",
			     d->app.name, i);
		return 0;
	}
	if ((r = vmsg_chan_reopen(p->chan)) < 0) {
		guest_printf("%s: serving port %u again: %s\n", d->app.name, i,
			     vmsg_strerror(r));
		return r;
	}
	netapp_attach(&d->app, i, p->chan);
	p->ready = true; /* a client may be there already */
	return 0;
}

static void report_link(struct drv *d, unsigned i)
{
	struct drv_port *p = &d->port[i];
	bool up = d->app.port[i].attached && d->app.port[i].net.up;
	if (up == p->up)
		return;
	p->up = up;
	guest_printf("%s: port %u: link %s\n", d->app.name, i,
		     up ? "up" : "down");
}

/* Run the ports that have work, round-robin, a batch each, until none
 * has more (or 1024 rounds: what is left stays ready for the next). */
static int run_ports(struct drv *d)
{
	bool more = true;
	for (unsigned round = 0; more && round < 1024; round++) {
		more = false;
		for (unsigned i = 0; i < d->app.nports; i++) {
			struct drv_port *p = &d->port[i];
			if (!p->ready || p->kind == PORT_NONE)
				continue;
			int r = netapp_poll(&d->app, i);
			report_link(d, i);
			if (r == 1) {
				more = true;
				continue;
			}
			p->ready = false;
			if (r < 0) {
				int e = port_ended(d, i);
				report_link(d, i);
				if (e < 0)
					return e;
				more = more || p->ready;
			}
		}
		netapp_flush(&d->app);
	}
	return 0;
}

static void maybe_stats(struct drv *d)
{
	uint64_t mark = 0;
	if (!d->stats_s || d->app.now_ms < d->next_stats_ms)
		return;
	d->next_stats_ms = d->app.now_ms + (uint64_t)d->stats_s * 1000u;
	for (unsigned i = 0; i < d->app.nports; i++)
		mark += d->app.port[i].st.rx_frames +
			d->app.port[i].net.st.link_ups +
			d->app.port[i].net.st.link_downs;
	if (mark == d->stats_mark)
		return;
	d->stats_mark = mark;
	netapp_stats(&d->app);
}

/* Serve the ports until a failure (1) or, on Linux, SIGTERM or SIGINT
 * (guest_stop_requested, looked at after each wait: 0; app_main then
 * closes every channel, so each port's peer sees its link close, and
 * the host backend's socket files go). A unikernel runs until its domain
 * is destroyed. */
static int run(struct drv *d)
{
	int r;

	vmsg_waitset_init(&d->ws);
	for (unsigned i = 0; i < NETAPP_MAX_PORTS; i++)
		d->port[i].idx = i;
	for (unsigned i = 0; i < d->app.nports; i++)
		if (d->port[i].kind == PORT_XEN && serve_xen(d, i) < 0)
			return 1;
	if (d->service[0]) {
		if ((r = vmsg_ctl_open(&d->ctl, 120000)) < 0) {
			d->ctl = 0;
			guest_printf("%s: vmsgd: %s\n", d->app.name,
				     vmsg_strerror(r));
			return 1;
		}
		if ((r = vmsg_service_offer(d->ctl, d->service, 30000)) < 0) {
			guest_printf("%s: offering %s through vmsgd: %s: %s\n",
				     d->app.name, d->service, vmsg_strerror(r),
				     vmsg_ctl_error(d->ctl));
			return 1;
		}
		guest_printf("%s: offering %s, up to %u ports\n", d->app.name,
			     d->service, d->app.nports);
	}
	(void)guest_stop_requested(); /* from now on, a signal stops us */
	guest_printf("%s: running, %u ports\n", d->app.name, d->app.nports);

	for (;;) {
		struct vmsg_waitset_event ev[NETAPP_MAX_PORTS];
		bool pending = false;
		int n = 0, wait_ms = d->ctl ? NETAPP_ACCEPT_MS : NETAPP_WAIT_MS;

		for (unsigned i = 0; i < d->app.nports; i++)
			pending = pending || d->port[i].ready;
		if (pending)
			wait_ms = 0; /* frames left from the last rounds */
		if (vmsg_waitset_count(&d->ws))
			n = vmsg_waitset_wait(&d->ws, ev, NETAPP_MAX_PORTS,
					      wait_ms);
		else if (wait_ms)
			guest_sleep_ms((unsigned)wait_ms);
		if (guest_stop_requested()) {
			guest_printf("%s: stop signal: closing the ports\n",
				     d->app.name);
			return 0;
		}
		if (n < 0) {
			guest_printf("%s: wait: %s\n", d->app.name,
				     vmsg_strerror(n));
			return 1;
		}
		for (int e = 0; e < n; e++)
			d->port[*(unsigned *)ev[e].data].ready = true;
		d->app.now_ms = guest_now_ns() / 1000000u;
		if (d->ctl && (r = take_new(d)) < 0) {
			guest_printf("%s: taking channels from vmsgd: %s\n",
				     d->app.name, vmsg_strerror(r));
			return 1;
		}
		if (run_ports(d) < 0)
			return 1;
		maybe_stats(d);
	}
}

int app_main(const char *cmdline)
{
	struct drv *d = guest_alloc(sizeof(*d));
	int r;

	if (!d)
		return 1;
	r = configure(d, cmdline);
	if (r == 1) {
		r = 0; /* --help */
	} else if (r == 0) {
		r = run(d);
		/* What it holds goes back (a Linux program's leak checker
		 * looks; a unikernel powers off after this). */
		for (unsigned i = 0; i < d->app.nports; i++) {
			struct drv_port *p = &d->port[i];
			if (p->kind == PORT_SVC)
				vmsg_service_close(d->ctl, p->chan);
			else if (p->kind == PORT_XEN && p->chan)
				vmsg_chan_close(p->chan);
		}
		if (d->ctl)
			vmsg_ctl_close(d->ctl);
	}
	guest_free(d, sizeof(*d));
	return r;
}
