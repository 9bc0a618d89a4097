# Warnings are errors, everywhere in our own code (third-party code is built by
# its own build system and never sees these flags).
add_compile_options(
  -Wall -Wextra -Werror
  -Wshadow -Wformat=2 -Wimplicit-fallthrough -Wnon-virtual-dtor
  -fstack-protector-strong -fstack-clash-protection -fcf-protection
  -fno-strict-aliasing)

# glibc only fortifies optimized code, and warns (an error here) otherwise.
if(NOT CMAKE_BUILD_TYPE STREQUAL "Debug" AND NOT RELIANT_FUZZ)
  add_compile_definitions(_FORTIFY_SOURCE=2)
endif()

add_link_options(-Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack)

# Line tables only: file:line in sanitizer reports and backtraces, at two
# thirds of the compile time of full -g (type and variable info, which only an
# interactive debugger uses: configure with -DRELIANT_DEBUG_INFO=-g for that).
set(RELIANT_DEBUG_INFO "-g1" CACHE STRING "Debug-info flag for reliant's own code")
add_compile_options(${RELIANT_DEBUG_INFO})

if(RELIANT_STATIC)
  # Non-PIE: Debian's static archives are not all position independent.
  set(CMAKE_POSITION_INDEPENDENT_CODE OFF)
  add_compile_options(-fno-pie)
  add_link_options(-static -no-pie -Wl,--gc-sections)
  add_compile_options(-ffunction-sections -fdata-sections)
endif()

if(RELIANT_SANITIZE)
  # -Og, not -O1: half the compile time, and the checks are the same (the
  # sanitizers instrument at every level; the tests run a little slower).
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer -Og)
  add_link_options(-fsanitize=address,undefined)
endif()

# libFuzzer targets: coverage instrumentation everywhere, the fuzzer's main
# only in the targets (tests/fuzz). No _FORTIFY_SOURCE: its checked string
# functions would hide accesses from ASan.
if(RELIANT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "RELIANT_FUZZ needs clang (libFuzzer): configure a fresh tree")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer -gline-tables-only)
  add_link_options(-fsanitize=address,undefined)
endif()
