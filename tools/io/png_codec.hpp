// PNG files through libpng: 8- and 16-bit gray, gray+alpha, RGB and RGBA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace adapool::tools {

// libpng's own default limit on either side, applied to reading and writing.
inline constexpr int64_t kMaxPngSide = 1'000'000;

struct Image {
  int64_t width = 0;
  int64_t height = 0;
  int channels = 0;   // 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
  int bit_depth = 8;  // 8 or 16
  // height x width x channels, row-major, channels interleaved.
  std::vector<uint16_t> samples;
};

// Decodes a whole PNG file. Palette images come back as RGB (RGBA with a tRNS
// chunk), gray images below 8 bits as 8-bit gray, and a colour-key tRNS chunk
// as an alpha channel; gamma and colour profiles are ignored (samples are
// returned as stored). Throws ToolError starting with `name` when libpng
// rejects the file.
Image decode_png(std::span<const std::byte> bytes, std::string_view name);

// Encodes `image` with its channels and bit depth; throws ToolError starting
// with `name` when the image cannot be a PNG (empty, too large).
std::vector<std::byte> encode_png(const Image& image, std::string_view name);

}  // namespace adapool::tools
