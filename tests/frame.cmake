# lib/frame: typed frames on the byte ring (round trips, pads, batching and
# kicks, fragmentation and reassembly, hostile headers and fragment
# sequences). Optional first argument of each program: the PRNG seed.

vmsg_add_test(frame_basic SOURCES frame/basic.c)
vmsg_add_test(frame_batch SOURCES frame/batch.c)
vmsg_add_test(frame_frag SOURCES frame/frag.c TIMEOUT 300)
vmsg_add_test(frame_hostile SOURCES frame/hostile.c)
