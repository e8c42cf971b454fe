/* guest_clock: the unikernel's reading of Xen's time record
 * (guest/time_record.h), hosted, with records seen on real Xen (Xen 4.17
 * in QEMU, tsc_mode "native"):
 *  - the domain's first record has a stamp from before the guest TSC's 0
 *    (0xffffffffa009c493 against a TSC of 0x244a820c): the time must move
 *    on from system_time by the 2.2e9 ticks in between (0.85 s at that
 *    mul/shift), not stand still;
 *  - a later record, TSC ahead: the extrapolation matches the next
 *    record's system_time to within a millisecond;
 *  - a TSC behind its stamp (another pCPU's record) gives system_time;
 *  - a positive shift scales up.
 */
#include <stdint.h>

#include "time_record.h"
#include "vmsg_test.h"

int main(void)
{
	/* First record: stamp "negative", TSC just past 0. */
	uint64_t t = guest__time_at(0x244a820cull, 0xffffffffa009c493ull,
				    9897194822ull, 3303717488u, -1);
	uint64_t ticks = 0x244a820cull + (0ull - 0xffffffffa009c493ull);
	uint64_t want = 9897194822ull +
			(uint64_t)(((unsigned __int128)(ticks >> 1) * 3303717488u) >> 32);
	ASSERT_EQ(t, want);
	ASSERT_TRUE(t > 9897194822ull + 800000000ull); /* it moved 0.85 s */
	ASSERT_TRUE(t < 9897194822ull + 900000000ull);

	/* Record (ts 0x3b0cd02c, sys 10897429203) extrapolated to the TSC
	 * at which Xen wrote the next one (ts 0xd67098f9, sys 11900105900):
	 * the two must agree (mul drifts a little between records). */
	t = guest__time_at(0xd67098f9ull, 0x3b0cd02cull, 10897429203ull,
			   3303588931u, -1);
	ASSERT_TRUE(t > 11900105900ull - 1000000ull);
	ASSERT_TRUE(t < 11900105900ull + 1000000ull);

	/* TSC behind the stamp: no time, not a wrap to 2^64. */
	ASSERT_EQ(guest__time_at(1000, 5000, 777, 3303588931u, -1), 777u);
	ASSERT_EQ(guest__time_at(5000, 5000, 777, 3303588931u, -1), 777u);

	/* shift +1, mul 2^31 (x 0.5): 1000 ticks -> 1000 ns. */
	ASSERT_EQ(guest__time_at(3000, 2000, 10, 0x80000000u, 1), 1010u);
	return 0;
}
