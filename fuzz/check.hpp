// The fuzz targets' one assertion: a broken invariant aborts, which libFuzzer
// reports as a crash with the input that caused it.
#pragma once

#include <cstdlib>

namespace adapool::fuzz {

inline void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace adapool::fuzz
