// Splits a plan's rows across threads. The split is fixed by the plan and
// each thread's share is written by that share's kernel call alone, so who
// runs a share changes timing, never results.
//
// Workers are kept between runs: starting threads costs more than pooling a
// small tensor. One run uses the pool at a time; a caller that finds it busy
// (another thread of the program is pooling) runs its shares itself. A plan
// given an executor (Options::executor) hands its shares to that instead.
#include <unistd.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "cpu/kernels.hpp"

namespace adapool {

namespace {

class WorkerPool {
 public:
  // Runs share(t) for t in [1, shares) on workers and share(0) here, and
  // returns when all are done. False, having run nothing, when the pool is busy.
  bool run(int shares, const std::function<void(int)>& share) {
    std::unique_lock<std::mutex> use(in_use_, std::try_to_lock);
    if (!use.owns_lock()) return false;
    const int helpers = grow(shares - 1);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &share;
      assigned_ = helpers;
      pending_ = helpers;
      ++generation_;
    }
    wake_.notify_all();
    share(0);
    for (int t = helpers + 1; t < shares; ++t) share(t);  // threads that could not start
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
    return true;
  }

  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) {
      if (owner_ == getpid() && worker.joinable()) worker.join();
    }
    if (owner_ != getpid()) {
      for (std::thread& worker : workers_) worker.detach();
    }
  }

 private:
  // Makes sure `wanted` workers exist; returns how many do. A child process
  // after fork() has none of its parent's threads, so it starts its own.
  int grow(int wanted) {
    if (owner_ != getpid()) {
      for (std::thread& worker : workers_) worker.detach();  // they are not in this process
      workers_.clear();
      owner_ = getpid();
    }
    while (static_cast<int>(workers_.size()) < wanted) {
      try {
        const int index = static_cast<int>(workers_.size());
        workers_.emplace_back([this, index] { work(index); });
      } catch (const std::system_error&) {
        break;
      }
    }
    return std::min(wanted, static_cast<int>(workers_.size()));
  }

  void work(int index) {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      if (index >= assigned_) continue;
      const std::function<void(int)>* share = job_;
      lock.unlock();
      (*share)(index + 1);
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::mutex in_use_;  // held by the one run using the pool
  std::mutex mutex_;   // guards everything below
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int)>* job_ = nullptr;
  int assigned_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
  pid_t owner_ = getpid();
  std::vector<std::thread> workers_;
};

WorkerPool& pool() {
  static WorkerPool instance;
  return instance;
}

}  // namespace

void run_rows(const PlanData& plan, const Buffers& buffers) {
  if (plan.rows == 0) return;
  // The plan's workspace, unless another caller is running this plan now.
  std::unique_lock<std::mutex> owner(*plan.workspace.busy, std::try_to_lock);
  std::unique_ptr<double[]> own;
  double* workspace = plan.workspace.values.get();
  if (!owner.owns_lock()) {
    own = scratch(plan.workspace.size);
    workspace = own.get();
  }
  const std::function<void(int)> share = [&](int t) {
    plan.kernel(plan, buffers, plan.split[t], plan.split[t + 1],
                workspace + t * plan.workspace_per_thread);
  };
  if (plan.threads > 1 && plan.executor) return plan.executor(plan.threads, share);
  if (plan.threads > 1 && pool().run(plan.threads, share)) return;
  for (int t = 0; t < plan.threads; ++t) share(t);
}

}  // namespace adapool
