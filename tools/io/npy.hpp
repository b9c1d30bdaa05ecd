// NumPy .npy files (format versions 1.0, 2.0 and 3.0) of float16, float32 and
// float64, in either byte order and either C or Fortran order.
#pragma once

#include <adapool/adapool.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace adapool::tools {

struct NpyArray {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;  // empty for a 0-d array
  // C order, native byte order, aligned for the element type.
  std::vector<std::byte> data;
};

// Parses a whole .npy file. Big-endian data is byte-swapped and Fortran-order
// data transposed, so the result is always C order and native. Throws
// ToolError starting with `name` for a bad magic, a truncated or malformed
// header, an unsupported dtype, or data that does not match the shape.
NpyArray parse_npy(std::span<const std::byte> bytes, std::string_view name);

// Version 1.0 when the header fits (as NumPy writes), else 2.0; C order,
// little-endian descr on little-endian machines.
std::vector<std::byte> encode_npy(const NpyArray& array);

}  // namespace adapool::tools
