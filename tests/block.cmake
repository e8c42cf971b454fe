# The block protocol (lib/block, docs/block.md).
vmsg_add_test(block_basic SOURCES block/block_basic.c LIBS pthread TIMEOUT 120 LABELS block)
vmsg_add_test(block_hostile SOURCES block/block_hostile.c LIBS pthread TIMEOUT 120 LABELS block)
