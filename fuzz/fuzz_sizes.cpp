// The size-list parsers on arbitrary text: every rule combination, and
// parse_cell. The only acceptable failure is ToolError; a parsed list must
// hold 1 to 3 entries within the rules.
#include "io/size_list.hpp"
#include "io/tool_error.hpp"

#include "check.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

using adapool::fuzz::check;

using adapool::tools::kMaxSize;
using adapool::tools::SizeListRules;
using adapool::tools::ToolError;

void check_list(std::string_view text, const SizeListRules& rules) {
  try {
    const auto sizes = adapool::tools::parse_size_list(text, rules);
    check(!sizes.empty() && sizes.size() <= 3);
    for (const auto& size : sizes) {
      check(size.has_value() || rules.allow_keep);
      if (size) check(*size >= rules.minimum && *size <= kMaxSize);
    }
  } catch (const ToolError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const int64_t minimum : {0, 1}) {
    for (const bool allow_keep : {false, true}) {
      check_list(text, {.argument = "--size", .minimum = minimum, .allow_keep = allow_keep});
    }
    try {
      const auto sizes = adapool::tools::parse_sizes(text, "IN", minimum);
      check(!sizes.empty() && sizes.size() <= 3);
    } catch (const ToolError&) {
    }
  }
  try {
    const auto cell = adapool::tools::parse_cell(text, "--cell");
    check(cell[0] >= 0 && cell[1] >= 0 && cell[0] <= kMaxSize && cell[1] <= kMaxSize);
  } catch (const ToolError&) {
  }
  return 0;
}
