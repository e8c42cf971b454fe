/* Reading Xen's per-vCPU time record (pvclock): the system time at the
 * moment `tsc` was read, from the record's (tsc_timestamp, system_time,
 * tsc_to_system_mul, tsc_shift):
 *
 *   now = system_time + ((tsc - tsc_timestamp) << shift) * mul / 2^32
 *
 * (a negative shift shifts right). tsc_timestamp is in the guest's TSC,
 * which Xen starts at 0 when it creates the domain: a record written
 * before that (the first one is) holds a "negative" stamp, e.g.
 * 0xffffffffa009c493 against a TSC of 0x244a820c. So the difference is
 * taken modulo 2^64 and read as signed: compared unsigned, such a record
 * made the clock stand still until Xen's next update (seconds of "uptime
 * 0 us" on real Xen). A TSC a little behind the stamp (a record written
 * on another pCPU) counts as no time. Pure, so tests/guest/clock_test.c
 * checks it hosted. */
#ifndef GUEST_TIME_RECORD_H
#define GUEST_TIME_RECORD_H

#include <stdint.h>

static inline uint64_t guest__time_at(uint64_t tsc, uint64_t tsc_timestamp,
				      uint64_t system_time, uint32_t mul,
				      int8_t shift)
{
	int64_t signed_delta = (int64_t)(tsc - tsc_timestamp);
	if (signed_delta <= 0)
		return system_time;
	uint64_t delta = (uint64_t)signed_delta;
	if (shift < 0)
		delta >>= -shift;
	else
		delta <<= shift;
	/* 64 x 32 -> 96 bits, keep bits 32..95. */
	return system_time + (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

#endif
