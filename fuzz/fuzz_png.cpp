// decode_png on arbitrary bytes. The only acceptable failure is ToolError; a
// decoded image must be consistent, and encoding it again must succeed and
// decode to the same samples.
#include "io/png_codec.hpp"
#include "io/tool_error.hpp"

#include "check.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

using adapool::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  adapool::tools::Image image;
  try {
    image = adapool::tools::decode_png(bytes, "fuzz.png");
  } catch (const adapool::tools::ToolError&) {
    return 0;
  }
  check(image.width >= 1 && image.height >= 1);
  check(image.channels >= 1 && image.channels <= 4);
  check(image.bit_depth == 8 || image.bit_depth == 16);
  check(image.samples.size() == static_cast<size_t>(image.width * image.height * image.channels));
  // Small images only: the round trip is about correctness, not throughput.
  if (image.samples.size() <= (1 << 16)) {
    const auto encoded = adapool::tools::encode_png(image, "fuzz.png");
    const auto decoded = adapool::tools::decode_png(encoded, "fuzz.png");
    check(decoded.samples == image.samples && decoded.channels == image.channels &&
          decoded.bit_depth == image.bit_depth);
  }
  return 0;
}
