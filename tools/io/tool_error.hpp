// The one error type of the command-line program and its readers, and the one
// place that raises it. main() turns it into "adapool: <message>" and exit
// code 2; messages name the file or argument and the bad value.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace adapool::tools {

class ToolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream message;
  (message << ... << parts);
  throw ToolError(message.str());
}

}  // namespace adapool::tools
