// Bitwise identical results for every thread count, forward and backward,
// and for every layout of the same logical tensors.
#include "support.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace adapool::testing {
namespace {

std::vector<double> run(int spatial, const std::vector<int64_t>& in_shape,
                        const std::vector<int64_t>& out_shape, DType dtype, Direction direction,
                        LayoutKind layout, int threads) {
  std::mt19937_64 rng(42);  // same logical values for every run
  const auto& source_shape = direction == Direction::forward ? in_shape : out_shape;
  const auto& destination_shape = direction == Direction::forward ? out_shape : in_shape;
  Strided logical(source_shape, LayoutKind::contiguous, spatial, dtype);
  logical.fill_random(rng);
  Strided source(source_shape, layout, spatial, dtype);
  source.write(logical.read());
  Strided destination(destination_shape, layout, spatial, dtype);
  Options options;
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

}  // namespace
}  // namespace adapool::testing
