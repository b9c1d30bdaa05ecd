// Row kernels and their selection. A kernel knows nothing of threads: it
// computes rows [first, last) of a plan.
#pragma once

#include "plan/plan.hpp"

namespace adapool {

RowKernel select_kernel(Direction direction, Reduction reduction, DType dtype);
// A RowKernel calling the best target's HWY_EXPORTed `Name` (in the file
// that exports it). The target is chosen once per call of a thread's share
// of rows, so the microkernels inside inline into the row loops.
#define ADAPOOL_ROW_DISPATCH(Name)                                              \
  [](const PlanData& plan, const Buffers& buffers, int64_t first, int64_t last, \
     double* workspace) {                                                       \
    HWY_DYNAMIC_DISPATCH(Name)                                                  \
    (plan, buffers, first, last, workspace);                                    \
  }

// Max pooling's kernels (max_kernels.cpp).
RowKernel select_max_kernel(Direction direction, DType dtype);

// Runs a plan's kernel over its rows on plan.threads threads. Each row is
// written by exactly one thread, so the split never changes a result bit.
void run_rows(const PlanData& plan, const Buffers& buffers);

}  // namespace adapool
