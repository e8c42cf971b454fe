# The appliance SDK's build: vmsg_add_unikernel(NAME SOURCES src...
#     [MEMORY MiB] [CMDLINE "k=v ..."] [KERNEL_PATH /path/in/dom0])
# makes NAME.elf (a bootable PVH ELF: the appliance, the guest platform and
# lib/ring, lib/frame, lib/chan, lib/xenplat) and NAME.cfg (an xl config from
# xl.cfg.in) in the current binary directory, and prints the image
# size when it links. The target is NAME; the ELF's path is its property
# VMSG_ELF.
#
# One file for two places. In the tree, guest/CMakeLists.txt includes it
# and the headers are the tree's. Installed (<libdir>/vmsg-guest/, with
# libvmsg_guest.a, boot.o, arch/link.ld, xl.cfg.in and image_size.cmake
# beside it), `find_package(vmsg)` includes it for an appliance built
# outside the tree, after setting VMSG_GUEST_INCLUDE_DIRS to the installed
# include directory and the global properties VMSG_GUEST_ARCHIVE and
# VMSG_GUEST_BOOT_OBJ to the installed files (tests/install/uk_sdk.sh).
# x86-64 GCC only.

# Global (CACHE INTERNAL), so that vmsg_add_unikernel() works from any
# directory of the project, not only below guest/.
set(VMSG_GUEST_SOURCE_DIR ${CMAKE_CURRENT_LIST_DIR} CACHE INTERNAL "")
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=include
                OUTPUT_VARIABLE VMSG_GUEST_GCC_INCLUDE
                OUTPUT_STRIP_TRAILING_WHITESPACE)

# No libc headers at all: GCC's own directory gives stdint.h, stddef.h,
# stdbool.h (freestanding versions), nothing else is included.
if(NOT VMSG_GUEST_INCLUDE_DIRS)
  # In the tree: the public headers, and the private ones the platform's
  # own sources use.
  set(VMSG_GUEST_INCLUDE_DIRS ${PROJECT_SOURCE_DIR}/lib/include
      ${PROJECT_SOURCE_DIR}/lib/internal ${PROJECT_SOURCE_DIR}/lib/xenplat
      ${VMSG_GUEST_SOURCE_DIR}/include)
endif()
list(TRANSFORM VMSG_GUEST_INCLUDE_DIRS PREPEND "-I" OUTPUT_VARIABLE _vmsg_guest_incs)
set(VMSG_GUEST_CFLAGS
    -std=gnu11 -O2 -ffreestanding -nostdinc -isystem ${VMSG_GUEST_GCC_INCLUDE}
    -fno-builtin -fno-pic -fno-pie -fno-stack-protector -fno-strict-aliasing
    -fno-asynchronous-unwind-tables -fno-omit-frame-pointer
    -mno-red-zone -mgeneral-regs-only -mcmodel=small
    -ffunction-sections -fdata-sections
    -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wno-unused-parameter
    ${_vmsg_guest_incs})
if(VMSG_WERROR)
  list(APPEND VMSG_GUEST_CFLAGS -Werror)
endif()
set(VMSG_GUEST_CFLAGS "${VMSG_GUEST_CFLAGS}" CACHE INTERNAL "")

# vmsg_guest_compile(OUTVAR TAG src...): one object per source under
# <binary dir>/TAG/, with header dependencies through -MD depfiles.
function(vmsg_guest_compile outvar tag)
  set(objs)
  file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/${tag})
  foreach(src ${ARGN})
    get_filename_component(base ${src} NAME)
    set(obj ${CMAKE_CURRENT_BINARY_DIR}/${tag}/${base}.o)
    add_custom_command(OUTPUT ${obj}
                       COMMAND ${CMAKE_C_COMPILER} ${VMSG_GUEST_CFLAGS}
                               -MD -MF ${obj}.d -c ${src} -o ${obj}
                       DEPENDS ${src}
                       DEPFILE ${obj}.d
                       COMMENT "Compiling (guest) ${base}"
                       COMMAND_EXPAND_LISTS VERBATIM)
    list(APPEND objs ${obj})
  endforeach()
  set(${outvar} ${objs} PARENT_SCOPE)
endfunction()

function(vmsg_add_unikernel name)
  cmake_parse_arguments(U "" "MEMORY;CMDLINE;KERNEL_PATH" "SOURCES" ${ARGN})
  if(NOT U_SOURCES)
    message(FATAL_ERROR "vmsg_add_unikernel(${name}): SOURCES required")
  endif()
  if(NOT U_MEMORY)
    set(U_MEMORY 32)
  endif()
  if(NOT U_KERNEL_PATH)
    set(U_KERNEL_PATH /boot/${name}.elf)
  endif()
  get_property(archive GLOBAL PROPERTY VMSG_GUEST_ARCHIVE)
  get_property(boot GLOBAL PROPERTY VMSG_GUEST_BOOT_OBJ)
  vmsg_guest_compile(app_objs ${name}.dir ${U_SOURCES})
  set(elf ${CMAKE_CURRENT_BINARY_DIR}/${name}.elf)
  set(lds ${VMSG_GUEST_SOURCE_DIR}/arch/link.ld)
  # --no-undefined is ld's default for a static link: an undefined symbol
  # fails here, not at boot.
  add_custom_command(OUTPUT ${elf}
                     COMMAND ${CMAKE_LINKER} -nostdlib -static -no-pie
                             --build-id=none --no-warn-rwx-segments
                             -z max-page-size=4096 --gc-sections -T ${lds}
                             -o ${elf} ${boot} ${app_objs} ${archive}
                     COMMAND ${CMAKE_COMMAND} -DELF=${elf}
                             -P ${VMSG_GUEST_SOURCE_DIR}/image_size.cmake
                     DEPENDS ${boot} ${app_objs} ${archive} ${lds}
                             ${VMSG_GUEST_SOURCE_DIR}/image_size.cmake
                     COMMENT "Linking unikernel ${name}.elf"
                     VERBATIM)
  add_custom_target(${name} ALL DEPENDS ${elf})
  if(TARGET vmsg_guest_core) # in the tree: the archive is built here
    add_dependencies(${name} vmsg_guest_core)
  endif()
  set_target_properties(${name} PROPERTIES VMSG_ELF ${elf})
  set(VMSG_UK_NAME ${name})
  set(VMSG_UK_KERNEL ${U_KERNEL_PATH})
  set(VMSG_UK_MEMORY ${U_MEMORY})
  set(VMSG_UK_CMDLINE "${U_CMDLINE}")
  configure_file(${VMSG_GUEST_SOURCE_DIR}/xl.cfg.in
                 ${CMAKE_CURRENT_BINARY_DIR}/${name}.cfg @ONLY)
endfunction()
