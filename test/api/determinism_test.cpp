// Bitwise identical results for every thread count, forward and backward,
// and for every layout of the same logical tensors.
#include "support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <mutex>
#include <numeric>
#include <thread>

namespace adapool::testing {
namespace {

std::vector<double> run(int spatial, const std::vector<int64_t>& in_shape,
                        const std::vector<int64_t>& out_shape, DType dtype, Direction direction,
                        LayoutKind layout, int threads, Options options = {}) {
  std::mt19937_64 rng(42);  // same logical values for every run
  const auto& source_shape = direction == Direction::forward ? in_shape : out_shape;
  const auto& destination_shape = direction == Direction::forward ? out_shape : in_shape;
  Strided logical(source_shape, LayoutKind::contiguous, spatial, dtype);
  logical.fill_random(rng);
  Strided source(source_shape, layout, spatial, dtype);
  source.write(logical.read());
  Strided destination(destination_shape, layout, spatial, dtype);
  options.threads = threads;
  const Plan plan =
      direction == Direction::forward
          ? Plan::forward(dtype, spatial, source.layout(), destination.layout(), options)
          : Plan::backward(dtype, spatial, source.layout(), destination.layout(), options);
  EXPECT_EQ(plan.threads(), threads) << "the case is too small to use " << threads << " threads";
  plan.run(source.data(), destination.data());
  return destination.read().values;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

TEST(Determinism, EveryThreadCountAndLayoutGivesTheSameBits) {
  struct Shape {
    int spatial;
    std::vector<int64_t> in, out;
  };
  const Shape shapes[] = {
      {2, {2, 16, 97, 61}, {2, 16, 7, 13}},
      {2, {4, 32, 37, 39}, {4, 32, 40, 33}},
      {3, {2, 8, 21, 22, 23}, {2, 8, 5, 6, 7}},
      {1, {8, 32, 3001}, {8, 32, 129}},
  };
  for (const Shape& shape : shapes) {
    for (DType dtype : kDTypes) {
      for (Direction direction : {Direction::forward, Direction::backward}) {
        const std::vector<double> first =
            run(shape.spatial, shape.in, shape.out, dtype, direction, LayoutKind::contiguous, 1);
        for (LayoutKind layout :
             {LayoutKind::contiguous, LayoutKind::channels_last, LayoutKind::sliced}) {
          for (int threads : {1, 2, 3, 5}) {
            const std::vector<double> again =
                run(shape.spatial, shape.in, shape.out, dtype, direction, layout, threads);
            EXPECT_TRUE(same_bits(first, again))
                << describe(shape.in) << " -> " << describe(shape.out) << " " << dtype_name(dtype)
                << (direction == Direction::forward ? " forward " : " backward ") << name(layout)
                << " threads " << threads;
          }
        }
      }
    }
  }
}

// Average pooling's backward into a grad_input over Options::stream_bytes
// writes channels-last cells with non-temporal stores (PlanData::stream) and
// works out again the rows and cells it would otherwise copy: the bits must
// not change. Every channels-last path: exact shares (power-of-two counts),
// the cells in registers, the tile (1024 planes, 20 outputs a row), global
// pooling (NCHW: each plane one streamed value), upsampling, a second group past 1024 planes, plane
// counts that leave vector tails, and layouts that do not stream.
TEST(Determinism, StreamedBackwardGivesTheSameBits) {
  struct Shape {
    int spatial;
    std::vector<int64_t> in, out;
  };
  const Shape shapes[] = {
      {2, {2, 24, 16, 16}, {2, 24, 4, 4}},     {2, {2, 40, 13, 11}, {2, 40, 5, 4}},
      {2, {1, 1024, 3, 40}, {1, 1024, 2, 20}}, {2, {2, 37, 7, 7}, {2, 37, 1, 1}},
      {2, {2, 16, 5, 5}, {2, 16, 13, 13}},     {3, {2, 16, 5, 6, 7}, {2, 16, 2, 3, 3}},
      {1, {4, 1030, 50}, {4, 1030, 7}},
  };
  for (const Shape& shape : shapes) {
    for (DType dtype : kDTypes) {
      for (LayoutKind layout :
           {LayoutKind::channels_last, LayoutKind::contiguous, LayoutKind::sliced}) {
        Options plain;
        plain.stream_bytes = std::numeric_limits<int64_t>::max();  // never streams
        const std::vector<double> cached =
            run(shape.spatial, shape.in, shape.out, dtype, Direction::backward, layout, 1, plain);
        for (int threads : {1, 2}) {
          Options options;
          options.stream_bytes = 0;
          options.min_work_per_thread = 1;  // two threads even for the small shapes
          const std::vector<double> streamed = run(shape.spatial, shape.in, shape.out, dtype,
                                                   Direction::backward, layout, threads, options);
          EXPECT_TRUE(same_bits(cached, streamed))
              << describe(shape.in) << " -> " << describe(shape.out) << " " << dtype_name(dtype)
              << " " << name(layout) << " threads " << threads;
        }
      }
    }
  }
}

// A caller's executor: each share on a thread of its own, started in reverse
// order, and the calls it sees counted.
struct ReverseExecutor {
  int calls = 0;
  std::vector<int> shares_run;
  std::mutex mutex;

  Options options() {
    Options options;
    options.executor = [this](int shares, const std::function<void(int)>& share) {
      ++calls;
      std::vector<std::thread> threads;
      for (int t = shares - 1; t >= 0; --t) {
        threads.emplace_back([&, t] {
          share(t);
          std::lock_guard<std::mutex> lock(mutex);
          shares_run.push_back(t);
        });
      }
      for (std::thread& thread : threads) thread.join();
    };
    return options;
  }
};

TEST(Determinism, ACallersExecutorRunsEveryShareOnceAndGivesTheSameBits) {
  const std::vector<int64_t> in{2, 16, 97, 61}, out{2, 16, 7, 13};
  for (Direction direction : {Direction::forward, Direction::backward}) {
    const std::vector<double> first =
        run(2, in, out, DType::f32, direction, LayoutKind::channels_last, 1);
    for (int threads : {1, 3}) {
      ReverseExecutor executor;
      const std::vector<double> again = run(2, in, out, DType::f32, direction,
                                            LayoutKind::channels_last, threads, executor.options());
      EXPECT_TRUE(same_bits(first, again)) << "threads " << threads;
      // One thread runs in the caller, without the executor.
      EXPECT_EQ(executor.calls, threads > 1 ? 1 : 0);
      std::sort(executor.shares_run.begin(), executor.shares_run.end());
      std::vector<int> every(threads > 1 ? threads : 0);
      std::iota(every.begin(), every.end(), 0);
      EXPECT_EQ(executor.shares_run, every) << "threads " << threads;
    }
  }
}

}  // namespace
}  // namespace adapool::testing
