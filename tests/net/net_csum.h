/* The Internet checksum (RFC 1071) of n bytes, for the network tests
 * that craft IPv4 and ICMP headers. */
#ifndef NET_CSUM_H
#define NET_CSUM_H

#include <stddef.h>
#include <stdint.h>

static inline uint16_t net_csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (; n > 1; p += 2, n -= 2)
		s += (uint32_t)(p[0] << 8 | p[1]);
	if (n)
		s += (uint32_t)p[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

#endif
