// Forward and backward against the plain reference: the exhaustive 1-d sweep,
// dense random samples in 2-d and 3-d, every layout, dtype and thread count.
#include "support.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace adapool::testing {
namespace {

std::vector<int64_t> shape_of(bool batched, int64_t n, int64_t c,
                              const std::vector<int64_t>& spatial) {
  std::vector<int64_t> shape;
  if (batched) shape.push_back(n);
  shape.push_back(c);
  shape.insert(shape.end(), spatial.begin(), spatial.end());
  return shape;
}

// Every (in, out) with in in 1..33 and out in 0..40, batched, in float64
// (where the reference and the library must agree to the last bit or so).
TEST(Pooling1d, EveryInAndOutSize) {
  std::mt19937_64 rng(1);
  int cases = 0;
  for (int64_t in = 1; in <= 33; ++in) {
    for (int64_t out = 0; out <= 40; ++out) {
      Case c;
      c.spatial_dims = 1;
      c.in_shape = {2, 3, in};
      c.out_shape = {2, 3, out};
      c.dtype = DType::f64;
      c.threads = 1 + static_cast<int>((in + out) % 3);
      const std::string problem = check(c, rng);
      ASSERT_EQ(problem, "") << c.label();
      ++cases;
    }
  }
  EXPECT_EQ(cases, 33 * 41);
}

// The same sweep, unbatched, in the other dtypes and layouts.
TEST(Pooling1d, EverySizeUnbatchedAllDTypesAndLayouts) {
  std::mt19937_64 rng(2);
  int index = 0;
  for (int64_t in = 1; in <= 33; ++in) {
    for (int64_t out = 0; out <= 40; ++out, ++index) {
      Case c;
      c.spatial_dims = 1;
      c.in_shape = {5, in};
      c.out_shape = {5, out};
      c.dtype = kDTypes[index % 4];
      c.in_layout = kInputLayouts[index % 6];
      c.out_layout = kOutputLayouts[(index / 6) % 5];
      c.threads = 1 + index % 5;
      ASSERT_EQ(check(c, rng), "") << c.label();
    }
  }
}

Case random_case(int spatial_dims, int64_t max_in, int64_t max_out, std::mt19937_64& rng) {
  auto pick = [&](int64_t low, int64_t high) {
    return std::uniform_int_distribution<int64_t>(low, high)(rng);
  };
  Case c;
  c.spatial_dims = spatial_dims;
  std::vector<int64_t> in(static_cast<size_t>(spatial_dims));
  std::vector<int64_t> out(static_cast<size_t>(spatial_dims));
  for (int d = 0; d < spatial_dims; ++d) {
    in[d] = pick(1, max_in);
    // A third of the outputs larger than the input, some empty.
    out[d] = pick(0, 6) == 0 ? pick(0, 1) : pick(1, max_out);
  }
  const bool batched = pick(0, 1) == 1;
  const int64_t n = pick(0, 9) == 0 ? 0 : pick(1, 3);
  const int64_t channels = pick(1, 5);
  c.in_shape = shape_of(batched, n, channels, in);
  c.out_shape = shape_of(batched, n, channels, out);
  c.dtype = kDTypes[pick(0, 3)];
  c.in_layout = kInputLayouts[pick(0, 5)];
  c.out_layout = kOutputLayouts[pick(0, 4)];
  const int thread_counts[] = {1, 2, 3, 5};
  c.threads = thread_counts[pick(0, 3)];
  return c;
}

TEST(Pooling2d, DenseRandomSample) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 600; ++i) {
    const Case c = random_case(2, 24, 30, rng);
    ASSERT_EQ(check(c, rng), "") << c.label();
  }
}

TEST(Pooling3d, DenseRandomSample) {
  std::mt19937_64 rng(4);
  for (int i = 0; i < 300; ++i) {
    const Case c = random_case(3, 11, 13, rng);
    ASSERT_EQ(check(c, rng), "") << c.label();
  }
}

// Shapes from real networks, every dtype x layout x thread count.
TEST(Pooling2d, NetworkHeadsEveryLayoutDTypeAndThreadCount) {
  std::mt19937_64 rng(5);
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> shapes = {
      {{2, 9, 7, 7}, {2, 9, 1, 1}},    // ResNet head
      {{1, 8, 14, 14}, {1, 8, 7, 7}},  // VGG head
      {{1, 8, 15, 15}, {1, 8, 7, 7}},  // odd size
      {{2, 3, 13, 13}, {2, 3, 6, 6}},  // PSPNet pyramid level
      {{2, 4, 5, 5}, {2, 4, 13, 13}},  // output larger than input
      {{3, 10, 10}, {3, 5, 7}},        // unbatched, the 10x10 -> 5x7 example
      // Short rows of many planes: backward has the planes as lanes in NCHW too.
      {{2, 19, 15, 15}, {2, 19, 7, 7}},
      {{1, 17, 5, 5}, {1, 17, 13, 13}},
  };
  for (const auto& [in_shape, out_shape] : shapes) {
    for (DType dtype : kDTypes) {
      for (LayoutKind in_layout : kInputLayouts) {
        for (LayoutKind out_layout : kOutputLayouts) {
          for (int threads : {1, 2, 3, 5}) {
            Case c{2, in_shape, out_shape, dtype, in_layout, out_layout, threads};
            ASSERT_EQ(check(c, rng), "") << c.label();
          }
        }
      }
    }
  }
}

// Rows longer than a thread's workspace are cut into chunks; these shapes
// make every kernel path (plane groups, gathered planes, backward along rows)
// take several chunks, downsampling and upsampling.
TEST(Pooling, LongRowsSpanSeveralWorkspaceChunks) {
  std::mt19937_64 rng(8);
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> shapes = {
      {{2, 40, 1000}, {2, 40, 37}},    // channels-last: 40 planes, 204 columns a chunk
      {{1, 2, 20000}, {1, 2, 7}},      // NCHW backward along rows: 8192 columns a chunk
      {{1, 3, 5000}, {1, 3, 9001}},    // output longer than input
      {{1, 20, 3001}, {1, 20, 3001}},  // identity, 16 gathered planes
      // Backward keeps window tables for dimensions up to 2^20 cells and
      // computes longer ones from the rule: both sides of that line.
      {{1, 1, (1 << 20) + 5}, {1, 1, 3}},
      {{1, 1, 3}, {1, 1, (1 << 20) + 7}},
  };
  for (const auto& [in_shape, out_shape] : shapes) {
    for (LayoutKind layout : {LayoutKind::contiguous, LayoutKind::channels_last}) {
      for (DType dtype : {DType::f32, DType::f64}) {
        Case c{1, in_shape, out_shape, dtype, layout, layout, 2};
        ASSERT_EQ(check(c, rng), "") << c.label();
      }
    }
  }
}

TEST(Pooling, EmptyBatchWritesNothingAndSucceeds) {
  for (int spatial = 1; spatial <= 3; ++spatial) {
    std::vector<int64_t> in_shape{0, 3}, out_shape{0, 3};
    for (int d = 0; d < spatial; ++d) {
      in_shape.push_back(4);
      out_shape.push_back(2);
    }
    Strided x(in_shape, LayoutKind::contiguous, spatial, DType::f32);
    Strided y(out_shape, LayoutKind::contiguous, spatial, DType::f32);
    adaptive_avg_pool(DType::f32, spatial, x.layout(), x.data(), y.layout(), y.data());
    EXPECT_TRUE(y.outside_untouched());
    // Empty views accept null pointers: there is nothing to read or write.
    adaptive_avg_pool(DType::f32, spatial, x.layout(), nullptr, y.layout(), nullptr);
    adaptive_avg_pool_backward(DType::f32, spatial, y.layout(), nullptr, x.layout(), nullptr);
  }
}

TEST(Pooling, BackwardOfEmptyOutputIsZero) {
  Strided dy({2, 3, 0, 5}, LayoutKind::contiguous, 2, DType::f32);
  Strided dx({2, 3, 4, 4}, LayoutKind::contiguous, 2, DType::f32);
  adaptive_avg_pool_backward(DType::f32, 2, dy.layout(), dy.data(), dx.layout(), dx.data());
  for (double v : dx.read().values) EXPECT_EQ(v, 0.0);
}

// Global pooling of NCHW-like planes runs as one flat row per plane (the
// plan merges the pooled dimensions when their cells lie at equal steps);
// other strides keep the rows. Both reductions, every dimension count,
// dtype, layout and a few thread counts, planes long and short.
TEST(Pooling, GlobalPoolingFlatOrByRows) {
  std::mt19937_64 rng(17);
  const std::vector<std::vector<int64_t>> planes = {{49},   {7, 7},    {2, 7, 7},
                                                    {1, 9}, {3, 1, 5}, {65, 65}};
  int index = 0;
  for (const auto& plane : planes) {
    const int spatial = static_cast<int>(plane.size());
    for (LayoutKind layout : kInputLayouts) {
      for (DType dtype : kDTypes) {
        Case c;
        c.spatial_dims = spatial;
        c.in_shape = shape_of(index % 3 != 0, 2, 19, plane);
        c.out_shape = shape_of(index % 3 != 0, 2, 19, std::vector<int64_t>(plane.size(), 1));
        c.dtype = dtype;
        c.in_layout = layout;
        c.out_layout = kOutputLayouts[index % 5];
        c.threads = 1 + index % 3;
        ++index;
        ASSERT_EQ(check(c, rng), "") << c.label();
        ASSERT_EQ(check_max(c, rng), "") << c.label();
      }
    }
  }
}

TEST(Pooling, IdentityGlobalMeanAndDivisibleCases) {
  std::mt19937_64 rng(6);
  Strided x({2, 3, 12, 8}, LayoutKind::contiguous, 2, DType::f64);
  x.fill_random(rng);
  const Dense input = x.read();
  // out == in is the identity, bit for bit.
  Strided same({2, 3, 12, 8}, LayoutKind::channels_last, 2, DType::f64);
  adaptive_avg_pool(DType::f64, 2, x.layout(), x.data(), same.layout(), same.data());
  EXPECT_EQ(same.read().values, input.values);
  // out == 1 is the mean of each plane.
  Strided mean({2, 3, 1, 1}, LayoutKind::contiguous, 2, DType::f64);
  adaptive_avg_pool(DType::f64, 2, x.layout(), x.data(), mean.layout(), mean.data());
  for (int64_t plane = 0; plane < 6; ++plane) {
    double sum = 0.0;
    for (int64_t i = 0; i < 96; ++i) sum += input.values[static_cast<size_t>(plane * 96 + i)];
    EXPECT_NEAR(mean.get(plane), sum / 96.0, 1e-15);
  }
  // in % out == 0: a plain 3x2 average pool.
  Strided pooled({2, 3, 4, 4}, LayoutKind::contiguous, 2, DType::f64);
  adaptive_avg_pool(DType::f64, 2, x.layout(), x.data(), pooled.layout(), pooled.data());
  for (int64_t oh = 0; oh < 4; ++oh) {
    for (int64_t ow = 0; ow < 4; ++ow) {
      double sum = 0.0;
      for (int64_t h = 3 * oh; h < 3 * oh + 3; ++h) {
        for (int64_t w = 2 * ow; w < 2 * ow + 2; ++w)
          sum += input.values[static_cast<size_t>(h * 8 + w)];
      }
      EXPECT_NEAR(pooled.get(oh * 4 + ow), sum / 6.0, 1e-15);
    }
  }
}

// Backward against central finite differences of L = sum(y * g), in float64.
TEST(Pooling, BackwardMatchesFiniteDifferences) {
  std::mt19937_64 rng(7);
  const std::vector<std::tuple<int, std::vector<int64_t>, std::vector<int64_t>>> cases = {
      {1, {2, 3, 10}, {2, 3, 7}},
      {2, {1, 2, 10, 10}, {1, 2, 5, 7}},
      {2, {2, 5, 5}, {2, 13, 13}},
      {3, {1, 2, 5, 6, 7}, {1, 2, 3, 4, 3}},
  };
  for (const auto& [spatial, in_shape, out_shape] : cases) {
    Strided x(in_shape, LayoutKind::contiguous, spatial, DType::f64);
    x.fill_random(rng);
    Strided g(out_shape, LayoutKind::contiguous, spatial, DType::f64);
    g.fill_random(rng);
    Strided y(out_shape, LayoutKind::contiguous, spatial, DType::f64);
    Strided dx(in_shape, LayoutKind::channels_last, spatial, DType::f64);
    adaptive_avg_pool_backward(DType::f64, spatial, g.layout(), g.data(), dx.layout(), dx.data());
    const Dense gradient = g.read();
    auto loss = [&] {
      adaptive_avg_pool(DType::f64, spatial, x.layout(), x.data(), y.layout(), y.data());
      const Dense out = y.read();
      double sum = 0.0;
      for (size_t i = 0; i < out.values.size(); ++i) sum += out.values[i] * gradient.values[i];
      return sum;
    };
    const Dense input = x.read();
    constexpr double step = 1e-6;
    for (size_t i = 0; i < input.values.size(); ++i) {
      x.set(static_cast<int64_t>(i), input.values[i] + step);
      const double up = loss();
      x.set(static_cast<int64_t>(i), input.values[i] - step);
      const double down = loss();
      x.set(static_cast<int64_t>(i), input.values[i]);
      EXPECT_NEAR(dx.get(static_cast<int64_t>(i)), (up - down) / (2 * step), 1e-8)
          << "element " << i << " of " << describe(in_shape);
    }
  }
}

TEST(Pooling, NonFiniteValuesPropagate) {
  // 1 x 1 x 6 -> 4 windows: [0,2) [1,3) [3,5) [4,6)
  const double inf = std::numeric_limits<double>::infinity();
  for (DType dtype : kDTypes) {
    Strided x({1, 1, 6}, LayoutKind::contiguous, 1, dtype);
    x.write(Dense({1, 1, 6}));
    x.set(1, std::nan(""));
    x.set(3, inf);
    x.set(4, -inf);
    Strided y({1, 1, 4}, LayoutKind::contiguous, 1, dtype);
    adaptive_avg_pool(dtype, 1, x.layout(), x.data(), y.layout(), y.data());
    EXPECT_TRUE(std::isnan(y.get(0))) << dtype_name(dtype);
    EXPECT_TRUE(std::isnan(y.get(1))) << dtype_name(dtype);
    EXPECT_TRUE(std::isnan(y.get(2))) << dtype_name(dtype);  // inf + -inf
    EXPECT_EQ(y.get(3), -inf) << dtype_name(dtype);
  }
}

TEST(Pooling, HalfTypesRoundOnceFromWideSums) {
  // 4096 copies of 1 + 2^-10 (exact in float16): a float16 running sum would
  // stall, a wide sum keeps the mean exact.
  for (DType dtype : {DType::f16, DType::bf16}) {
    const double value = dtype == DType::f16 ? 1.0 + 0x1p-10 : 1.0 + 0x1p-7;
    Strided x({1, 1, 4096}, LayoutKind::contiguous, 1, dtype);
    for (int64_t i = 0; i < 4096; ++i) x.set(i, value);
    Strided y({1, 1, 1}, LayoutKind::contiguous, 1, dtype);
    adaptive_avg_pool(dtype, 1, x.layout(), x.data(), y.layout(), y.data());
    EXPECT_EQ(y.get(0), value) << dtype_name(dtype);
  }
}

}  // namespace
}  // namespace adapool::testing
