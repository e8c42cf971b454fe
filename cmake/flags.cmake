# Warning and sanitizer flags shared by every target.
add_compile_options(-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
                    -Wno-unused-parameter)
if(VMSG_WERROR)
  add_compile_options(-Werror)
endif()
if(VMSG_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
if(VMSG_FUZZ)
  # Coverage feedback for libFuzzer in every object; the fuzz targets
  # themselves link with -fsanitize=fuzzer (fuzz/CMakeLists.txt).
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
if(VMSG_TSAN)
  # ThreadSanitizer: the two ends of a channel in threads of one process
  # (host backend, the bench harness) are where it can see the ring's
  # protocol; across processes it sees nothing.
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()
# What a program linked against this build's libvmsg must add to its own
# compile and link lines (the install test's consumer, for one).
set(VMSG_CONSUMER_FLAGS "")
if(VMSG_SANITIZE)
  set(VMSG_CONSUMER_FLAGS "-fsanitize=address,undefined -fno-sanitize-recover=all")
elseif(VMSG_TSAN)
  set(VMSG_CONSUMER_FLAGS "-fsanitize=thread")
endif()
if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "Build type" FORCE)
endif()
# The optimised flavour is -O2 (CMake's Release default for GCC is -O3).
string(REPLACE "-O3" "-O2" CMAKE_C_FLAGS_RELEASE "${CMAKE_C_FLAGS_RELEASE}")
