/* net_flood: a hostile port for the network appliance tests. Connects to
 * a port at PATH with a raw channel and, for SECONDS, sends as fast as the
 * ring takes them frames that break the rules:
 *   mode link: a frame before its HELLO, then runts (0..13 bytes), frames
 *     over the MTU (1515..9014), unknown message types, repeated HELLOs,
 *     and well-formed frames addressed to its own MAC (a switch filters
 *     them: they must not reach the other ports);
 *   mode ip: well-formed Ethernet frames with broken contents for a
 *     firewall: IPv4 runts, bad versions and header lengths, total lengths
 *     past the frame, bad header checksums, fragments, TCP with a bad data
 *     offset or checksum, UDP with a bad length, malformed ARP, IPv6.
 * Prints what it sent; exits 0. Never reads (its own ring may fill: the
 * appliance must drop and count, not wait). */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmsg/host.h>
#include <vmsg/net.h>

#include "net_csum.h"

static const uint8_t me[6] = {0x02, 0xba, 0xd0, 0, 0, 1};
static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t eth(uint8_t *f, const uint8_t *dst, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, me, 6);
	f[12] = (uint8_t)(type >> 8);
	f[13] = (uint8_t)type;
	return 14;
}

/* An IPv4 header at f+14 for a packet of `total` bytes, protocol proto,
 * 198.18.0.66 -> 198.18.0.2, with a good checksum. */
static void ipv4(uint8_t *f, uint16_t total, uint8_t proto)
{
	uint8_t *ip = f + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(total >> 8);
	ip[3] = (uint8_t)total;
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, (uint8_t[]){198, 18, 0, 66}, 4);
	memcpy(ip + 16, (uint8_t[]){198, 18, 0, 2}, 4);
	uint16_t c = net_csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
}

static void refix(uint8_t *f)
{
	uint8_t *ip = f + 14;
	size_t ihl = (size_t)(ip[0] & 15) * 4;
	if (ihl < 20)
		ihl = 20;
	ip[10] = ip[11] = 0;
	uint16_t c = net_csum(ip, ihl);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
}

/* The i-th broken frame of mode ip into f; returns its length. */
static size_t ip_case(uint8_t *f, unsigned i)
{
	memset(f, 0, 200);
	eth(f, bcast, 0x0800);
	switch (i % 10) {
	case 0: /* IPv4 runt: 10 bytes of header */
		return 24;
	case 1: /* version 6 in an IPv4 frame */
		ipv4(f, 40, 6);
		f[14] = 0x65;
		refix(f);
		return 54;
	case 2: /* header length 4 words */
		ipv4(f, 40, 6);
		f[14] = 0x44;
		refix(f);
		return 54;
	case 3: /* total length past the frame */
		ipv4(f, 1000, 6);
		return 54;
	case 4: /* bad header checksum */
		ipv4(f, 40, 6);
		f[24] ^= 0x55;
		return 54;
	case 5: /* a fragment (more-fragments set) */
		ipv4(f, 40, 17);
		f[20] = 0x20;
		refix(f);
		return 54;
	case 6: /* TCP with data offset 15 words in 20 bytes */
		ipv4(f, 40, 6);
		f[34 + 12] = 0xf0;
		return 54;
	case 7: /* TCP with a bad checksum (all zero) to an allowed port */
		ipv4(f, 40, 6);
		f[34 + 2] = 0x14; /* 5201 */
		f[34 + 3] = 0x51;
		f[34 + 12] = 0x50;
		f[34 + 13] = 0x02;
		f[34 + 16] = 0x12;
		return 54;
	case 8: /* ARP with a bad hardware type */
		eth(f, bcast, 0x0806);
		f[14] = 0;
		f[15] = 9;
		return 42;
	default: /* IPv6 */
		eth(f, bcast, 0x86dd);
		return 60;
	}
}

int main(int argc, char **argv)
{
	static uint8_t f[10000];
	uint8_t hello[VMSG_NET_HELLO_SIZE];
	struct vmsg_net_config cfg = {.mtu = 1500};
	unsigned long sent = 0, full = 0;
	vmsg_chan *c;
	int r;

	if (argc != 4 || (strcmp(argv[2], "link") && strcmp(argv[2], "ip"))) {
		fprintf(stderr, "usage: net_flood PATH link|ip SECONDS\n");
		return 2;
	}
	bool link = !strcmp(argv[2], "link");
	double end = now_s() + atof(argv[3]);
	if ((r = vmsg_host_connect(&c, argv[1], NULL, 10000)) < 0) {
		fprintf(stderr, "net_flood: %s: %s\n", argv[1], vmsg_strerror(r));
		return 1;
	}
	memcpy(cfg.mac, me, 6);
	memset(f, 0x5a, sizeof f);
	eth(f, me, 0x88b5);
	if (link) /* a frame before the HELLO */
		vmsg_chan_send(c, VMSG_NET_TYPE_FRAME, f, 64, 0, 10000);
	vmsg_net_hello_write(hello, &cfg);
	vmsg_chan_send(c, VMSG_NET_TYPE_HELLO, hello, sizeof hello, 0, 10000);
	for (unsigned i = 0; now_s() < end; i++) {
		uint16_t type = VMSG_NET_TYPE_FRAME;
		const void *msg = f;
		size_t len;
		if (link) {
			eth(f, me, 0x88b5); /* to itself: filtered */
			switch (i % 5) {
			case 0: len = i % 14; break;            /* runt */
			case 1: len = 1515 + i % 7500; break;   /* too big */
			case 2: type = 0x4e00 + 2 + i % 200;    /* unknown */
				len = 64; break;
			case 3: type = VMSG_NET_TYPE_HELLO;     /* again */
				msg = hello; len = sizeof hello; break;
			default: len = 60 + i % 1400; break;    /* filtered */
			}
		} else {
			len = ip_case(f, i);
		}
		r = vmsg_chan_send(c, type, msg, len, VMSG_SEND_MORE, 0);
		if (r == -EAGAIN) {
			full++;
			vmsg_chan_flush(c);
			struct pollfd p = {.fd = vmsg_chan_fd(c), .events = POLLIN};
			poll(&p, 1, 10);
			vmsg_chan_ack(c);
			continue;
		}
		if (r < 0) {
			fprintf(stderr, "net_flood: send: %s\n", vmsg_strerror(r));
			return 1;
		}
		sent++;
		if (sent % 32 == 0)
			vmsg_chan_flush(c);
	}
	vmsg_chan_flush(c);
	printf("net_flood: sent %lu hostile frames (%lu times the ring was "
	       "full)\n", sent, full);
	vmsg_chan_close(c);
	return 0;
}
