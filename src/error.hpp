// The one place adapool raises an error. Every check in the library calls
// fail(); messages name the bad value and what was expected.
#pragma once

#include <adapool/adapool.hpp>

#include <span>
#include <sstream>
#include <string>

namespace adapool::detail {

template <class... Parts>
[[noreturn]] void fail(ErrorCode code, const Parts&... parts) {
  std::ostringstream message;
  (message << ... << parts);
  throw Error(code, message.str());
}

// "[2, 3, 4]"
std::string format_list(std::span<const int64_t> values);

}  // namespace adapool::detail
