// Splits a plan's rows across threads. The split is fixed by the plan; a
// thread that cannot be started leaves its rows to the calling thread, which
// changes timing, never results.
#include <system_error>
#include <thread>
#include <vector>

#include "cpu/kernels.hpp"

namespace adapool {

void run_rows(const PlanData& plan, const void* source, void* destination) {
  if (plan.rows == 0) return;
  // The plan's workspace, unless another caller is running this plan now.
  std::unique_lock<std::mutex> owner(*plan.workspace.busy, std::try_to_lock);
  std::vector<double> own;
  double* workspace = plan.workspace.values.data();
  if (!owner.owns_lock()) {
    own.resize(plan.workspace.values.size());
    workspace = own.data();
  }
  const auto chunk = [&](int t) {
    plan.kernel(plan, source, destination, plan.split[t], plan.split[t + 1],
                workspace + t * plan.workspace_per_thread);
  };
  if (plan.threads == 1) {
    chunk(0);
    return;
  }
  std::vector<std::jthread> workers;
  workers.reserve(static_cast<size_t>(plan.threads) - 1);
  int started = 1;
  try {
    for (; started < plan.threads; ++started) workers.emplace_back(chunk, started);
  } catch (const std::system_error&) {
    // Out of threads: the rest run here.
  }
  chunk(0);
  for (int t = started; t < plan.threads; ++t) chunk(t);
}

}  // namespace adapool
