// The program's commands, independent of the argument parser: main.cpp maps
// the command line onto these structs. Each throws ToolError on bad input.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace adapool::tools {

struct ExplainArguments {
  std::string in, out;  // size lists: "10x10", "5x7"; empty when not given
  bool json = false;
  std::string svg, png;             // picture files; empty: none
  std::optional<std::string> cell;  // "I,J"
  bool compare = false;             // other systems' conventions beside PyTorch's
  std::vector<std::string> scan;    // "IN_MAX", "OUT_MAX"; empty: no scan
};

void explain_command(const ExplainArguments& arguments, std::ostream& out, std::ostream& notes);

struct PoolArguments {
  std::string in, out;
  std::string size;  // "5x7", "5x-"
  bool channels_last = false;
  std::string op = "avg";  // or "max"
  int threads = 1;
};

void pool_command(const PoolArguments& arguments, std::ostream& out);

// The 10x10 -> 5x7 walk-through and the pooled built-in image, written into
// the current directory.
void demo_command(std::ostream& out);

}  // namespace adapool::tools
