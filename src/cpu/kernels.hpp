// Row kernels and their selection. A kernel knows nothing of threads: it
// computes rows [first, last) of a plan.
#pragma once

#include "plan/plan.hpp"

namespace adapool {

RowKernel select_kernel(Direction direction, DType dtype);

// Runs a plan's kernel over its rows on plan.threads threads. Each row is
// written by exactly one thread, so the split never changes a result bit.
void run_rows(const PlanData& plan, const void* source, void* destination);

}  // namespace adapool
