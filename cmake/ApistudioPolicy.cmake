# Small INTERFACE targets that carry build policy; link them PRIVATE to our own targets only, so
# third-party headers and out-of-tree plugins never inherit our warning flags.

add_library(apistudio_warnings INTERFACE)
target_compile_options(apistudio_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Werror -Wnon-virtual-dtor>
  # GCC's local-only shadow warning; clang has no such flag (and would fail on it with -Werror).
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>>:-Wshadow=local>
  $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra -Werror>
  # GCC 12 at -O2/-O3 reports these on std::string / std::vector code inlined from libstdc++
  # (GCC bugs 105329, 105545, 106199): false positives, not findings in our code.
  $<$<CXX_COMPILER_ID:GNU>:-Wno-stringop-overflow -Wno-stringop-overread -Wno-restrict -Wno-array-bounds
    -Wno-error=maybe-uninitialized>)

add_library(apistudio_options INTERFACE)
# std::filesystem instead of Boost.Filesystem for Boost.DLL: one library fewer to link.
target_compile_definitions(apistudio_options INTERFACE BOOST_DLL_USE_STD_FS BOOST_ASIO_NO_DEPRECATED
  BOOST_BEAST_USE_STD_STRING_VIEW
  # Asio/Beast non-template code is compiled once, in host/src/base/asio_separate_compilation.cpp.
  BOOST_ASIO_SEPARATE_COMPILATION BOOST_BEAST_SEPARATE_COMPILATION
  # Asio recycles the memory of finished operations per thread, two blocks by default; a proxied
  # round trip has more operations alive at once (reads, sends, posted write completions), so
  # with two the rest went to malloc, twice per round trip (docs/performance.md). It changes a
  # struct layout: everything linking Asio must agree, hence here.
  BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE=8)

if(APISTUDIO_SANITIZE)
  # Beast/Asio assertions stay on (no NDEBUG) so misuse such as overlapping writes aborts.
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  # libstdc++ tells ASan which part of a vector's storage holds elements, so a read through a
  # pointer kept across clear() or erase() is reported (container-overflow). Without it such a
  # read hits memory the vector still owns, and nothing is reported.
  add_compile_definitions(_GLIBCXX_SANITIZE_VECTOR)
endif()

if(APISTUDIO_FUZZ)
  # libFuzzer builds (tests/fuzz): coverage instrumentation and ASan + UBSan on everything the
  # targets link, so the fuzzer sees the host's own branches. The targets add -fsanitize=fuzzer.
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "APISTUDIO_FUZZ=ON needs clang: configure with "
                        "-DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
