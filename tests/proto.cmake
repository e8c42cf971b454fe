# protobuf-c control messages: the bounded arena, bounded decoding, and
# messages over a real host channel.
vmsg_add_test(proto_arena SOURCES proto/arena.c LABELS proto)
vmsg_add_test(proto_unpack_bounded SOURCES proto/unpack_bounded.c TIMEOUT 120
              LABELS proto)
vmsg_add_test(proto_chan SOURCES proto/chan.c TIMEOUT 180 LABELS proto)
# The bounded wire codec (lib/wire/pbwire.c) against protobuf-c's generated
# code, valid and hostile input (was guest_pbwire).
vmsg_add_test(proto_pbwire SOURCES wire/pbwire_test.c TIMEOUT 300 LABELS proto)
