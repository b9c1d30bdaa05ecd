// Splits a plan's rows across threads. The split is fixed by the plan; a
// thread that cannot be started leaves its rows to the calling thread, which
// changes timing, never results.
#include "cpu/kernels.hpp"

#include <system_error>
#include <thread>
#include <vector>

namespace adapool {

void run_rows(const PlanData& plan, const void* source, void* destination) {
  if (plan.rows == 0) return;
  if (plan.threads == 1) {
    plan.kernel(plan, source, destination, 0, plan.rows);
    return;
  }
  std::vector<std::jthread> workers;
  workers.reserve(static_cast<size_t>(plan.threads) - 1);
  int started = 1;
  try {
    for (; started < plan.threads; ++started) {
      workers.emplace_back(plan.kernel, std::cref(plan), source, destination, plan.split[started],
                           plan.split[started + 1]);
    }
  } catch (const std::system_error&) {
    // Out of threads: fall through and do the rest here.
  }
  plan.kernel(plan, source, destination, plan.split[0], plan.split[1]);
  for (int t = started; t < plan.threads; ++t) {
    plan.kernel(plan, source, destination, plan.split[t], plan.split[t + 1]);
  }
}

}  // namespace adapool
