# The block protocol (lib/block, docs/block.md).
vmsg_add_test(block_basic SOURCES block/block_basic.c LIBS pthread TIMEOUT 120 LABELS block)
vmsg_add_test(block_hostile SOURCES block/block_hostile.c LIBS pthread TIMEOUT 120 LABELS block)
if(TARGET vmsg-blockd)
  vmsg_add_test(block_blockd SOURCES block/block_blockd.c LIBS pthread TIMEOUT 180 LABELS block)
  target_compile_definitions(block_blockd PRIVATE BLOCKD_BIN="$<TARGET_FILE:vmsg-blockd>")
  add_dependencies(block_blockd vmsg-blockd)
endif()
