// Size lists as typed on the command line: "10x10", "224", "8x9x10", and for
// --size also "5x-" ("-" keeps that axis, PyTorch's None).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace adapool::tools {

// The largest size accepted anywhere: beyond it no real tensor fits in memory,
// and products of two sizes stay far from int64 overflow.
inline constexpr int64_t kMaxSize = (int64_t{1} << 31) - 1;

struct SizeListRules {
  std::string_view argument;  // names the argument in messages: "IN", "--size"
  int64_t minimum = 0;        // 1 for input sizes, 0 for output sizes
  bool allow_keep = false;    // accept "-" for "keep this axis"
};

// 1 to 3 entries separated by 'x'; std::nullopt only for "-" when allowed.
// Throws ToolError naming the argument and the bad token.
std::vector<std::optional<int64_t>> parse_size_list(std::string_view text,
                                                    const SizeListRules& rules);

// The same, for lists where "-" is not allowed.
std::vector<int64_t> parse_sizes(std::string_view text, std::string_view argument, int64_t minimum);

}  // namespace adapool::tools

namespace adapool::tools {

// "I,J" (row, column) or, for one-dimensional pictures, "J" (row 0).
// Throws ToolError naming `argument` and the text.
std::array<int64_t, 2> parse_cell(std::string_view text, std::string_view argument);

}  // namespace adapool::tools
