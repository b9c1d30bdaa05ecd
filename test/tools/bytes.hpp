// Test helper: a string's characters as the bytes the readers take.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace adapool::tools {

inline std::vector<std::byte> bytes_of(std::string_view text) {
  const auto* begin = reinterpret_cast<const std::byte*>(text.data());
  return {begin, begin + text.size()};
}

}  // namespace adapool::tools
