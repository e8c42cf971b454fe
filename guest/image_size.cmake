# cmake -DELF=file -P image_size.cmake: report a unikernel image's size.
file(SIZE ${ELF} bytes)
get_filename_component(n ${ELF} NAME)
math(EXPR kib "(${bytes} + 1023) / 1024")
message("unikernel image ${n}: ${bytes} bytes (${kib} KiB)")
