/* firewall_unit: the firewall's verdicts on crafted packets, without
 * channels (firewall.c compiled in, netapp_send() recording). Rules
 * tcp=5201 udp=53 icmp=1: echo passes; a SYN to 5201 passes and opens a
 * flow whose return traffic passes; a SYN to 5202 and a stray segment
 * from an allowed server port are dropped by policy; the return of a UDP
 * query passes; each kind of malformed header is dropped under its own
 * counter; a flow idle past its timeout no longer lets traffic back in;
 * out=open lets the inside open flows. */
#include <stdio.h>
#include <string.h>

#include "vmsg_test.h"

#define netapp_send test_send
#include "../../examples/firewall/firewall.c"
#undef netapp_send

static int sent_to = -1;

int test_send(struct netapp *a, unsigned i, const uint8_t *f, size_t len)
{
	(void)a, (void)f, (void)len;
	sent_to = (int)i;
	return 0;
}

static struct netapp app;

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t sum(uint32_t s, const uint8_t *p, size_t n)
{
	for (; n > 1; p += 2, n -= 2)
		s += (uint32_t)(p[0] << 8 | p[1]);
	if (n)
		s += (uint32_t)p[0] << 8;
	return s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* An Ethernet + IPv4 frame from 198.18.0.<src> to 198.18.0.<dst>, with an
 * L4 payload of l4len bytes (filled by the caller, checksums after). */
static size_t ip_frame(uint8_t *f, uint8_t proto, uint8_t src, uint8_t dst,
		       size_t l4len)
{
	memset(f, 0, 14 + 20 + l4len);
	memset(f, 0xff, 6);
	f[6] = 2;
	f[12] = 0x08;
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + l4len));
	ip[8] = 64;
	ip[9] = proto;
	ip[12] = 198, ip[13] = 18, ip[15] = src;
	ip[16] = 198, ip[17] = 18, ip[19] = dst;
	put16(ip + 10, fold(sum(0, ip, 20)));
	return 14 + 20 + l4len;
}

static void l4_checksum(uint8_t *f, size_t l4len, unsigned off)
{
	uint8_t *ip = f + 14, *l4 = ip + 20;
	l4[off] = l4[off + 1] = 0;
	uint32_t s = sum(0, ip + 12, 8) + ip[9] + (uint32_t)l4len;
	put16(l4 + off, fold(sum(s, l4, l4len)));
}

static size_t tcp(uint8_t *f, uint8_t src, uint16_t sp, uint8_t dst,
		  uint16_t dp, uint8_t flags)
{
	size_t n = ip_frame(f, 6, src, dst, 20);
	uint8_t *t = f + 34;
	put16(t, sp);
	put16(t + 2, dp);
	t[12] = 0x50;
	t[13] = flags;
	l4_checksum(f, 20, 16);
	return n;
}

static size_t udp(uint8_t *f, uint8_t src, uint16_t sp, uint8_t dst,
		  uint16_t dp)
{
	size_t n = ip_frame(f, 17, src, dst, 12);
	uint8_t *u = f + 34;
	put16(u, sp);
	put16(u + 2, dp);
	put16(u + 4, 12);
	l4_checksum(f, 12, 6);
	return n;
}

static size_t echo(uint8_t *f, uint8_t src, uint8_t dst, uint8_t type)
{
	size_t n = ip_frame(f, 1, src, dst, 16);
	f[34] = type;
	put16(f + 36, fold(sum(0, f + 34, 16)));
	return n;
}

/* Where the frame went: 0/1, or -1 dropped. */
static int judge(unsigned in, uint8_t *f, size_t len)
{
	sent_to = -1;
	app.ops->frame(&app, in, f, len);
	return sent_to;
}

#define OUT FW_OUTSIDE
#define IN FW_INSIDE

int main(void)
{
	char *args[] = {"tcp=5201", "udp=53", "icmp=1"};
	char err[128];
	uint8_t f[200];
	size_t n;

	char *bad1[] = {"tcp=0"}, *bad2[] = {"tcp=80,"}, *bad3[] = {"x=1"};
	ASSERT_EQ(netapp_app.configure(&app, 1, bad1, err, sizeof err), -1);
	ASSERT_EQ(netapp_app.configure(&app, 1, bad2, err, sizeof err), -1);
	ASSERT_EQ(netapp_app.configure(&app, 1, bad3, err, sizeof err), -1);
	ASSERT_EQ(netapp_app.configure(&app, 3, args, err, sizeof err), 0);
	app.now_ms = 1000;

	/* ICMP echo both ways. */
	n = echo(f, 1, 2, 8);
	ASSERT_EQ(judge(OUT, f, n), IN);
	n = echo(f, 2, 1, 0);
	ASSERT_EQ(judge(IN, f, n), OUT);
	/* A SYN to 5201 passes and opens a flow; the SYN-ACK comes back. */
	n = tcp(f, 1, 40000, 2, 5201, 0x02);
	ASSERT_EQ(judge(OUT, f, n), IN);
	n = tcp(f, 2, 5201, 1, 40000, 0x12);
	ASSERT_EQ(judge(IN, f, n), OUT);
	ASSERT_EQ(the_fw.c.flows, 1);
	/* A SYN to 5202: policy. A segment from 5201 to a port no flow
	 * knows: policy too (the rules judge the destination port). */
	uint64_t pol = the_fw.c.drop_policy;
	n = tcp(f, 1, 40001, 2, 5202, 0x02);
	ASSERT_EQ(judge(OUT, f, n), -1);
	n = tcp(f, 2, 5201, 1, 40009, 0x12);
	ASSERT_EQ(judge(IN, f, n), -1);
	ASSERT_EQ(the_fw.c.drop_policy, pol + 2);
	/* UDP to 53 and its answer. */
	n = udp(f, 2, 33333, 1, 53);
	ASSERT_EQ(judge(IN, f, n), OUT);
	n = udp(f, 1, 53, 2, 33333);
	ASSERT_EQ(judge(OUT, f, n), IN);
	/* ARP passes; IPv6 does not. */
	uint8_t arp[42] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1,
			   0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1};
	ASSERT_EQ(judge(OUT, arp, sizeof arp), IN);
	arp[15] = 9;
	ASSERT_EQ(judge(OUT, arp, sizeof arp), -1);
	ASSERT_EQ(the_fw.c.drop_bad_arp, 1);
	ASSERT_EQ(judge(OUT, arp, 20), -1);
	ASSERT_EQ(the_fw.c.drop_runt, 1);
	f[12] = 0x86, f[13] = 0xdd;
	ASSERT_EQ(judge(OUT, f, 60), -1);
	ASSERT_EQ(the_fw.c.drop_ethertype, 1);

	/* Malformed headers, each under its counter, even to port 5201. */
	n = tcp(f, 1, 40000, 2, 5201, 0x10);
	ASSERT_EQ(judge(OUT, f, 30), -1); /* 16 bytes of IPv4 */
	ASSERT_EQ(the_fw.c.drop_runt, 2);
	uint64_t hdr = the_fw.c.drop_bad_header;
	f[14] = 0x44; /* header length 16 */
	ASSERT_EQ(judge(OUT, f, n), -1);
	f[14] = 0x4f; /* header length 60 > 40 bytes */
	ASSERT_EQ(judge(OUT, f, n), -1);
	f[14] = 0x55; /* version 5 */
	ASSERT_EQ(judge(OUT, f, n), -1);
	n = tcp(f, 1, 40000, 2, 5201, 0x10);
	ASSERT_EQ(judge(OUT, f, n - 1), -1); /* total length past the frame */
	n = tcp(f, 1, 40000, 2, 5201, 0x10);
	f[34 + 12] = 0x40; /* TCP data offset 16 bytes */
	ASSERT_EQ(judge(OUT, f, n), -1);
	ASSERT_EQ(the_fw.c.drop_bad_header, hdr + 5);
	n = tcp(f, 1, 40000, 2, 5201, 0x10);
	f[14 + 8] ^= 1; /* TTL changed, header checksum not */
	ASSERT_EQ(judge(OUT, f, n), -1);
	n = tcp(f, 1, 40000, 2, 5201, 0x10);
	f[34 + 14] ^= 1; /* window changed, TCP checksum not */
	ASSERT_EQ(judge(OUT, f, n), -1);
	n = echo(f, 1, 2, 8);
	f[40] ^= 1;
	ASSERT_EQ(judge(OUT, f, n), -1);
	ASSERT_EQ(the_fw.c.drop_bad_checksum, 3);
	n = udp(f, 2, 33333, 1, 53);
	f[14 + 6] = 0x20; /* more fragments */
	put16(f + 24, 0);
	put16(f + 24, fold(sum(0, f + 14, 20)));
	ASSERT_EQ(judge(IN, f, n), -1);
	ASSERT_EQ(the_fw.c.drop_fragment, 1);
	/* Ethernet padding past the IPv4 total length is fine. */
	n = echo(f, 1, 2, 8);
	ASSERT_EQ(judge(OUT, f, n + 6), IN);

	/* The TCP flow idles out after 300 s: its return is refused. */
	app.now_ms += 300001;
	n = tcp(f, 2, 5201, 1, 40000, 0x10);
	ASSERT_EQ(judge(IN, f, n), -1);

	/* out=open: the inside opens a flow to any port, the answer passes;
	 * the outside still cannot. */
	char *open_args[] = {"tcp=5201", "out=open"};
	ASSERT_EQ(netapp_app.configure(&app, 2, open_args, err, sizeof err), 0);
	app.now_ms = 1000;
	n = tcp(f, 2, 41000, 1, 8080, 0x02);
	ASSERT_EQ(judge(IN, f, n), OUT);
	n = tcp(f, 1, 8080, 2, 41000, 0x12);
	ASSERT_EQ(judge(OUT, f, n), IN);
	n = tcp(f, 1, 41001, 2, 8080, 0x02);
	ASSERT_EQ(judge(OUT, f, n), -1);
	printf("firewall_unit: ok\n");
	return 0;
}
