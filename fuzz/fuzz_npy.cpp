// parse_npy on arbitrary bytes. The only acceptable failure is ToolError; a
// parsed array must be consistent, and encode_npy must round-trip it.
#include "io/npy.hpp"
#include "io/tool_error.hpp"

#include "check.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

using adapool::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  adapool::tools::NpyArray array;
  try {
    array = adapool::tools::parse_npy(bytes, "fuzz.npy");
  } catch (const adapool::tools::ToolError&) {
    return 0;
  }
  size_t elements = 1;
  for (const int64_t extent : array.shape) {
    check(extent >= 0);
    elements *= static_cast<size_t>(extent);  // the parser checked this product
  }
  check(array.data.size() == elements * adapool::dtype_size(array.dtype));
  const auto encoded = adapool::tools::encode_npy(array);
  const auto again = adapool::tools::parse_npy(encoded, "fuzz.npy");
  check(again.dtype == array.dtype && again.shape == array.shape && again.data == array.data);
  return 0;
}
