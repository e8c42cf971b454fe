/* The echo appliance's checked exchange (role=client, open=NAME) and the
 * POSIX cksum of message records that lets a test compare what crossed a
 * channel with an independent source (tests/guest/echo_pattern.c piped
 * into `cksum`). */
#include <vmsg/chan.h>
#include <vmsg/guest.h>

#include "echo.h"

bool echo_cksum;

/* POSIX cksum: CRC-32 with polynomial 0x04c11db7, most significant bit
 * first, starting from 0, over the data and then its length (least
 * significant byte first, as few bytes as it takes), complemented. */

static uint32_t crc_table[256];

void echo_sum_init(struct echo_sum *s)
{
	if (!crc_table[1])
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i << 24;
			for (int b = 0; b < 8; b++)
				c = c & 0x80000000u ? (c << 1) ^ 0x04c11db7u : c << 1;
			crc_table[i] = c;
		}
	s->crc = 0;
	s->len = 0;
}

static uint32_t crc_bytes(uint32_t crc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		crc = (crc << 8) ^ crc_table[(crc >> 24) ^ p[i]];
	return crc;
}

void echo_sum_record(struct echo_sum *s, uint16_t type, const void *p,
		     uint32_t len)
{
	uint8_t h[6] = { (uint8_t)type, (uint8_t)(type >> 8), (uint8_t)len,
			 (uint8_t)(len >> 8), (uint8_t)(len >> 16),
			 (uint8_t)(len >> 24) };
	s->crc = crc_bytes(s->crc, h, sizeof h);
	s->crc = crc_bytes(s->crc, p, len);
	s->len += sizeof h + len;
}

unsigned echo_sum_final(const struct echo_sum *s)
{
	uint32_t crc = s->crc;
	for (unsigned long long n = s->len; n; n >>= 8) {
		uint8_t b = (uint8_t)n;
		crc = crc_bytes(crc, &b, 1);
	}
	return ~crc;
}

/* Send count typed messages of 1..maxlen bytes (type 0x100 + i % 16) on c
 * and check every echo: length, type and bytes; checksum (cksum) the
 * records sent and received. Prints "<label> ok ..." with both checksums
 * or why it stopped; a channel the peer closed (or whose domain died) is
 * reported as "<label> closed". */
int echo_exchange(vmsg_chan *c, const char *label, unsigned count,
		  size_t maxlen)
{
	uint8_t *out = guest_alloc(maxlen), *in = guest_alloc(maxlen);
	if (!out || !in) {
		guest_printf("%s out of memory\n", label);
		if (out)
			guest_free(out, maxlen);
		if (in)
			guest_free(in, maxlen);
		return 1;
	}
	unsigned long long bytes = 0;
	struct echo_sum sum_out, sum_in;
	echo_sum_init(&sum_out);
	echo_sum_init(&sum_in);
	uint64_t t0 = guest_now_ns();
	int rc = 0;
	unsigned i = 0;
	for (; i < count; i++) {
		size_t len = 1 + (size_t)(i * 7919u) % maxlen;
		uint16_t type = (uint16_t)(0x100 + i % 16);
		for (size_t k = 0; k < len; k++)
			out[k] = (uint8_t)(i * 31u + k);
		echo_sum_record(&sum_out, type, out, (uint32_t)len);
		int r = vmsg_chan_send(c, type, out, len, 0, 60000);
		uint16_t got = 0;
		/* The first echo may be held back for long: a provider
		 * with gate= answers nobody until all its consumers have
		 * come, and on real Xen a PV guest's boot takes a minute. */
		if (r >= 0)
			r = vmsg_chan_recv(c, &got, in, maxlen,
					   i == 0 ? 300000 : 60000);
		if (r < 0) {
			bool closed = vmsg_chan_state(c) == VMSG_CHAN_CLOSED;
			guest_printf("%s %s at message %u after %llu bytes: %s "
				     "(uptime %lu us)\n", label,
				     closed ? "closed" : "failed", i, bytes,
				     vmsg_strerror(r),
				     (unsigned long)(guest_uptime_ns() / 1000));
			rc = closed ? 3 : 1;
			break;
		}
		if (i == 0)
			guest_printf("%s first echo at uptime %lu us\n", label,
				     (unsigned long)(guest_uptime_ns() / 1000));
		echo_sum_record(&sum_in, got, in, (uint32_t)r);
		if ((size_t)r != len || got != type ||
		    __builtin_memcmp(in, out, len) != 0) {
			guest_printf("%s message %u: echo differs\n", label, i);
			rc = 1;
			break;
		}
		bytes += len;
	}
	if (rc == 0)
		guest_printf("%s ok %u messages, %llu bytes, sent cksum %u %llu, "
			     "received cksum %u %llu, %lu us per round trip\n",
			     label, count, bytes, echo_sum_final(&sum_out),
			     sum_out.len, echo_sum_final(&sum_in), sum_in.len,
			     (unsigned long)((guest_now_ns() - t0) / 1000 /
					     (count ? count : 1)));
	guest_free(out, maxlen);
	guest_free(in, maxlen);
	return rc;
}
