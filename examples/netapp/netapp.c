/* netapp: moving frames between an appliance and its ports (freestanding;
 * netapp.h says what it is for). */
#include "netapp.h"

/* Linux's errno values, spelled out: this file builds freestanding (no
 * <errno.h> in a unikernel); they are what lib/net returns. */
#define NETAPP_EINVAL 22
#define NETAPP_EAGAIN 11
#define NETAPP_ENOTCONN 107

int netapp_init(struct netapp *a, const char *name,
		const struct netapp_ops *ops, void *priv, unsigned nports,
		uint32_t mtu)
{
	if (!a || !ops || !ops->frame || nports == 0 ||
	    nports > NETAPP_MAX_PORTS || mtu < VMSG_NET_MTU_MIN ||
	    mtu > VMSG_NET_MTU_MAX)
		return -NETAPP_EINVAL;
	__builtin_memset(a, 0, sizeof(*a));
	a->name = name;
	a->ops = ops;
	a->priv = priv;
	a->nports = nports;
	a->cfg.mtu = mtu; /* MAC all zero: a port is not an endpoint */
	a->batch = 64;
	return 0;
}

void netapp_attach(struct netapp *a, unsigned i, vmsg_chan *c)
{
	struct netapp_port *p = &a->port[i];
	if (!p->attached || !p->net.chan) {
		struct vmsg_net_stats keep = p->net.st;
		vmsg_net_init(&p->net, c, &a->cfg);
		p->net.st = keep;
	} else {
		vmsg_net_reset(&p->net, c);
	}
	p->attached = true;
}

void netapp_detach(struct netapp *a, unsigned i)
{
	a->port[i].attached = false;
	a->port[i].net.up = false;
	a->port[i].dirty = false;
}

struct rx_ctx {
	struct netapp *a;
	unsigned port;
};

static void take(void *arg, const uint8_t *frame, size_t len)
{
	struct rx_ctx *x = arg;
	struct netapp *a = x->a;
	struct netapp_port *p = &a->port[x->port];

	/* One copy out of the shared ring; from here on the bytes are ours
	 * and stay what the appliance checked. len <= VMSG_NET_MAX_MSG. */
	__builtin_memcpy(a->buf, frame, len);
	p->st.rx_frames++;
	p->st.rx_bytes += len;
	a->ops->frame(a, x->port, a->buf, len);
}

static void follow(struct netapp *a, unsigned i)
{
	struct netapp_port *p = &a->port[i];
	if (p->net.up == p->was_up)
		return;
	p->was_up = p->net.up;
	if (a->ops->link)
		a->ops->link(a, i, p->net.up);
}

int netapp_poll(struct netapp *a, unsigned i)
{
	struct netapp_port *p = &a->port[i];
	struct rx_ctx x = {a, i};
	int r;

	if (i >= a->nports || !p->attached)
		return -NETAPP_EINVAL;
	r = vmsg_net_rx(&p->net, take, &x, a->batch);
	/* The HELLO and released space go out now, even with nothing sent. */
	vmsg_net_flush(&p->net);
	follow(a, i);
	if (r < 0)
		return r;
	return r == (int)a->batch;
}

void netapp_flush(struct netapp *a)
{
	for (unsigned i = 0; i < a->nports; i++) {
		struct netapp_port *p = &a->port[i];
		if (p->dirty) {
			p->dirty = false;
			vmsg_net_flush(&p->net);
		}
	}
}

int netapp_send(struct netapp *a, unsigned i, const uint8_t *frame,
		size_t len)
{
	struct netapp_port *p = &a->port[i];
	int r;

	if (!p->attached || !p->net.up) {
		p->st.tx_drop_down++;
		return -NETAPP_ENOTCONN;
	}
	r = vmsg_net_tx(&p->net, frame, len);
	if (r == 0) {
		p->dirty = true;
		p->st.tx_frames++;
		p->st.tx_bytes += len;
	} else if (r == -NETAPP_EAGAIN) { /* full ring: as a NIC drops */
		p->st.tx_drop_full++;
	}
	return r;
}

char *netapp_put_str(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	*p = 0;
	return p;
}

char *netapp_put_u64(char *p, uint64_t v)
{
	char t[24];
	int n = 0;
	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = t[--n];
	*p = 0;
	return p;
}

static char *field(char *p, const char *name, uint64_t v)
{
	p = netapp_put_str(p, " ");
	p = netapp_put_str(p, name);
	p = netapp_put_str(p, "=");
	return netapp_put_u64(p, v);
}

void netapp_stats(struct netapp *a)
{
	char line[512];

	if (!a->print)
		return;
	for (unsigned i = 0; i < a->nports; i++) {
		const struct netapp_port *pt = &a->port[i];
		const struct vmsg_net_stats *s = &pt->net.st;
		char *p = netapp_put_str(line, a->name);
		p = netapp_put_str(p, " port");
		p = netapp_put_u64(p, i);
		p = netapp_put_str(p, pt->net.up ? " up" : " down");
		p = field(p, "rx", pt->st.rx_frames);
		p = field(p, "rx_bytes", pt->st.rx_bytes);
		p = field(p, "tx", pt->st.tx_frames);
		p = field(p, "tx_bytes", pt->st.tx_bytes);
		p = field(p, "drop_full", pt->st.tx_drop_full);
		p = field(p, "drop_down", pt->st.tx_drop_down);
		p = field(p, "runt", s->rx_runt);
		p = field(p, "big", s->rx_big);
		p = field(p, "early", s->rx_early);
		p = field(p, "bad_hello", s->rx_bad_hello);
		p = field(p, "unknown", s->rx_unknown);
		p = field(p, "ups", s->link_ups);
		field(p, "downs", s->link_downs);
		a->print(line);
	}
	if (a->ops->stats)
		a->ops->stats(a);
}

#include "netapp_app.h"

bool netapp_key(const char *arg, const char *key, const char **val)
{
	while (*key && *arg == *key)
		arg++, key++;
	if (*key || *arg != '=')
		return false;
	*val = arg + 1;
	return true;
}

bool netapp_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *v)
{
	uint64_t x = 0;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		x = x * 10 + (uint64_t)(*s - '0');
		if (x > hi)
			return false;
	}
	if (x < lo)
		return false;
	*v = (uint32_t)x;
	return true;
}

void netapp_err(char *err, size_t cap, const char *a, const char *b)
{
	size_t n = 0;
	for (const char *s = a; *s && n + 1 < cap; s++)
		err[n++] = *s;
	for (const char *s = b; s && *s && n + 1 < cap; s++)
		err[n++] = *s;
	if (cap)
		err[n] = 0;
}
