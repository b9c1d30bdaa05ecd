// `adapool bench`: the library's forward and backward passes timed on the
// shapes of the project's benchmark suite.
#pragma once

#include <adapool/adapool.hpp>

#include <ostream>

namespace adapool::tools {

struct BenchOptions {
  bool quick = false;  // a smoke test: small tensors, one timed run each
  DType dtype = DType::f32;
};

// Prints a table to `out`; a progress bar goes to stderr when it is a terminal.
void run_bench(const BenchOptions& options, std::ostream& out);

}  // namespace adapool::tools
