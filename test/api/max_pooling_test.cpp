// Adaptive max pooling against the textbook reference: values and indices in
// every layout, dtype and dimension count, NaN and ties as PyTorch resolves
// them, and a backward that is bit-identical to PyTorch's scatter.
#include <adapool/adapool.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "support.hpp"

namespace adapool::testing {
namespace {

struct Shapes {
  int spatial_dims;
  std::vector<int64_t> in_shape;
  std::vector<int64_t> out_shape;
};

const std::vector<Shapes> kShapes = {
    {1, {2, 3, 10}, {2, 3, 7}},
    {1, {3, 5}, {3, 13}},  // unbatched, upsampling
    {2, {2, 3, 10, 9}, {2, 3, 7, 4}},
    {2, {1, 4, 5, 5}, {1, 4, 13, 11}},  // heavy overlap
    {2, {3, 6, 6}, {3, 1, 1}},          // unbatched global
    {2, {1, 2, 7, 8}, {1, 2, 7, 8}},    // identity
    {2, {2, 3, 9, 45}, {2, 3, 2, 3}},   // windows wider than a vector: along rows
    {1, {2, 3, 70}, {2, 3, 1}},         // one 70-wide window
    {3, {1, 2, 4, 5, 6}, {1, 2, 3, 2, 4}},
    {3, {2, 3, 4, 2}, {2, 5, 3, 3}},  // unbatched
};

TEST(MaxPooling, MatchesReferenceInEveryLayoutAndDtype) {
  std::mt19937_64 rng(81);
  for (const Shapes& shapes : kShapes) {
    for (DType dtype : kDTypes) {
      for (LayoutKind in_layout : kInputLayouts) {
        for (LayoutKind out_layout : kOutputLayouts) {
          for (int threads : {1, 3}) {
            const Case c{shapes.spatial_dims, shapes.in_shape, shapes.out_shape, dtype,
                         in_layout,           out_layout,      threads};
            ASSERT_EQ(check_max(c, rng), "") << c.label();
          }
        }
      }
    }
  }
}

// Channels-last planes go through the vector lanes: counts that leave a
// remainder of lanes, and more planes than one group holds.
TEST(MaxPooling, ChannelsLastLanesAndGroups) {
  std::mt19937_64 rng(82);
  for (int64_t channels : {1, 7, 16, 37, 1030}) {
    for (DType dtype : kDTypes) {
      const Case c{2,     {2, channels, 9, 7},       {2, channels, 4, 5},
                   dtype, LayoutKind::channels_last, LayoutKind::channels_last,
                   2};
      ASSERT_EQ(check_max(c, rng), "") << c.label();
    }
  }
  // Windows too large to keep in registers for every plane: streamed once
  // with the running maxima in the workspace.
  for (const auto& out : {std::vector<int64_t>{1, 72, 1, 1}, std::vector<int64_t>{1, 72, 2, 3}}) {
    for (DType dtype : kDTypes) {
      const Case c{
          2, {1, 72, 40, 40}, out, dtype, LayoutKind::channels_last, LayoutKind::channels_last, 2};
      ASSERT_EQ(check_max(c, rng), "") << c.label();
    }
  }
}

TEST(MaxPooling, BackwardIsTheSameForEveryThreadCount) {
  std::mt19937_64 rng(83);
  for (LayoutKind layout : {LayoutKind::contiguous, LayoutKind::channels_last}) {
    Strided x({2, 24, 5, 6}, layout, 2, DType::f32);
    x.fill_random(rng);
    Strided indices({2, 24, 17, 19}, layout, 2, DType::f64);
    Strided y({2, 24, 17, 19}, layout, 2, DType::f32);
    Strided dy({2, 24, 17, 19}, layout, 2, DType::f32);
    dy.fill_random(rng);
    adaptive_max_pool(DType::f32, 2, x.layout(), x.data(), y.layout(), y.data(), &indices.layout(),
                      indices.index_data());
    std::vector<double> first;
    for (int threads : {1, 2, 3, 8}) {
      Options options;
      options.threads = threads;
      options.min_work_per_thread = 1;
      Strided dx({2, 24, 5, 6}, layout, 2, DType::f32);
      adaptive_max_pool_backward(DType::f32, 2, dy.layout(), dy.data(), indices.layout(),
                                 indices.index_data(), dx.layout(), dx.data(), options);
      if (first.empty()) {
        first = dx.read().values;
      } else {
        EXPECT_EQ(dx.read().values, first) << name(layout) << " threads " << threads;
      }
    }
  }
}

// A grad_input over Options::stream_bytes is zeroed with non-temporal
// stores (PlanData::stream) before the scatter adds to it: the same results
// in every path (scatter, NCHW planes 4 at a time, channels-last masked
// windows, bands of few planes at 2 threads, two groups), from a grad_input
// full of NaN.
TEST(MaxPooling, StreamedBackwardGivesTheSameResults) {
  struct Shape {
    std::vector<int64_t> in, out;
  };
  const Shape shapes[] = {{{2, 24, 5, 6}, {2, 24, 17, 19}},
                          {{2, 40, 13, 11}, {2, 40, 5, 4}},
                          {{1, 3, 200, 170}, {1, 3, 7, 9}},
                          {{2, 1030, 7, 7}, {2, 1030, 1, 1}}};
  std::mt19937_64 rng(85);
  for (const Shape& shape : shapes) {
    for (DType dtype : kDTypes) {
      for (LayoutKind layout :
           {LayoutKind::contiguous, LayoutKind::channels_last, LayoutKind::sliced}) {
        Strided x(shape.in, layout, 2, dtype);
        x.fill_random(rng);
        Strided indices(shape.out, layout, 2, DType::f64);
        Strided y(shape.out, layout, 2, dtype);
        Strided dy(shape.out, layout, 2, dtype);
        dy.fill_random(rng);
        adaptive_max_pool(dtype, 2, x.layout(), x.data(), y.layout(), y.data(), &indices.layout(),
                          indices.index_data());
        const int64_t cells =
            std::accumulate(shape.in.begin(), shape.in.end(), int64_t{1}, std::multiplies<>());
        const auto backward = [&](int64_t stream_bytes, int threads) {
          Options options;
          options.stream_bytes = stream_bytes;
          options.threads = threads;
          options.min_work_per_thread = 1;
          Strided dx(shape.in, layout, 2, dtype);
          for (int64_t i = 0; i < cells; ++i) dx.set(i, std::nan(""));
          adaptive_max_pool_backward(dtype, 2, dy.layout(), dy.data(), indices.layout(),
                                     indices.index_data(), dx.layout(), dx.data(), options);
          return dx.read().values;
        };
        const std::vector<double> cached = backward(std::numeric_limits<int64_t>::max(), 1);
        for (int threads : {1, 2}) {
          EXPECT_EQ(backward(0, threads), cached)
              << describe(shape.in) << " -> " << describe(shape.out) << " " << dtype_name(dtype)
              << " " << name(layout) << " threads " << threads;
        }
      }
    }
  }
}

// Options::destination_zeroed: the run adds to what grad_input holds. On
// zeros that is the ordinary backward; on ones, one more in every cell.
TEST(MaxPooling, BackwardIntoAZeroedDestinationOnlyAdds) {
  std::mt19937_64 rng(84);
  for (LayoutKind layout : {LayoutKind::contiguous, LayoutKind::channels_last}) {
    // Windows that do not overlap: a cell gets at most one gradient.
    const std::vector<int64_t> in{2, 24, 8, 6}, out{2, 24, 4, 3};
    Strided x(in, layout, 2, DType::f32);
    x.fill_random(rng);
    Strided indices(out, layout, 2, DType::f64);
    Strided y(out, layout, 2, DType::f32);
    Strided dy(out, layout, 2, DType::f32);
    dy.fill_random(rng);
    adaptive_max_pool(DType::f32, 2, x.layout(), x.data(), y.layout(), y.data(), &indices.layout(),
                      indices.index_data());
    Strided expected(in, layout, 2, DType::f32);
    adaptive_max_pool_backward(DType::f32, 2, dy.layout(), dy.data(), indices.layout(),
                               indices.index_data(), expected.layout(), expected.data());
    const int64_t cells = 2 * 24 * 8 * 6;
    for (double start : {0.0, 1.0}) {
      Options options;
      options.destination_zeroed = true;
      options.threads = 2;
      options.min_work_per_thread = 1;
      Strided dx(in, layout, 2, DType::f32);
      for (int64_t i = 0; i < cells; ++i) dx.set(i, start);
      adaptive_max_pool_backward(DType::f32, 2, dy.layout(), dy.data(), indices.layout(),
                                 indices.index_data(), dx.layout(), dx.data(), options);
      for (int64_t i = 0; i < cells; ++i) {
        const auto want = static_cast<float>(start) + static_cast<float>(expected.get(i));
        ASSERT_EQ(static_cast<float>(dx.get(i)), start == 0.0 ? expected.get(i) : want)
            << name(layout) << " start " << start << " cell " << i;
      }
    }
  }
}

// Max pooling's backward from the forward's indices with some moved to any
// cell of their plane (legal, as in PyTorch): batch item 0 keeps the
// forward's, item 1 has one elsewhere, item 2 one in five (a single item
// keeps them all). Into a fresh dx and, with destination_zeroed, adding to
// ones, against the reference; "" or what differs.
std::string check_indices_anywhere(const Shapes& shape, DType dtype, LayoutKind layout, int threads,
                                   std::mt19937_64& rng) {
  const int dims = shape.spatial_dims;
  Strided x(shape.in_shape, layout, dims, dtype);
  x.fill_random(rng);
  Strided indices(shape.out_shape, layout, dims, DType::f64);
  Strided y(shape.out_shape, layout, dims, dtype);
  adaptive_max_pool(dtype, dims, x.layout(), x.data(), y.layout(), y.data(), &indices.layout(),
                    indices.index_data());
  Dense named(shape.out_shape);
  const auto outputs = static_cast<int64_t>(named.values.size());
  int64_t plane = 1;
  int64_t out_plane = 1;
  for (size_t d = shape.in_shape.size() - static_cast<size_t>(dims); d < shape.in_shape.size();
       ++d) {
    plane *= shape.in_shape[d];
    out_plane *= shape.out_shape[d];
  }
  std::uniform_int_distribution<int64_t> anywhere(0, plane - 1);
  for (int64_t o = 0; o < outputs; ++o) {
    const int64_t item = o * 3 / outputs;
    if ((item == 1 && o == outputs / 2) || (item == 2 && o % 5 == 0)) {
      indices.set_index(o, anywhere(rng));
    }
    named.values[static_cast<size_t>(o)] = static_cast<double>(indices.get_index(o));
  }
  Strided dy(shape.out_shape, layout, dims, dtype);
  dy.fill_random(rng);
  for (double start : {0.0, 1.0}) {
    Strided dx(shape.in_shape, layout, dims, dtype);
    Options options;
    options.threads = threads;
    options.min_work_per_thread = 1;
    if (start != 0.0) {
      for (int64_t i = 0; i < plane * (outputs / out_plane); ++i) dx.set(i, start);
      options.destination_zeroed = true;
    }
    adaptive_max_pool_backward(dtype, dims, dy.layout(), dy.data(), indices.layout(),
                               indices.index_data(), dx.layout(), dx.data(), options);
    const Dense expected =
        reference_max_backward(dy.read(), named, dims, shape.in_shape, dtype, start);
    if (dx.read().values != expected.values || !dx.outside_untouched()) {
      return describe(shape.in_shape) + " -> " + describe(shape.out_shape) + " " + name(layout) +
             " dtype " + std::to_string(static_cast<int>(dtype)) + " threads " +
             std::to_string(threads) + " from " + std::to_string(start);
    }
  }
  return "";
}

// Channels-last groups whose indices all lie in their windows (small
// windows) add masked vectors of planes, and a group with one elsewhere
// starts over in the scatter; NCHW planes scatter a few at a time. Either
// way each cell sums its gradients in output order.
TEST(MaxPooling, BackwardTakesAnIndexAnywhereInItsPlane) {
  std::mt19937_64 rng(85);
  const std::vector<Shapes> shapes = {
      {2, {3, 37, 5, 5}, {3, 37, 13, 11}},      // windows of 1-4 cells
      {2, {3, 21, 14, 14}, {3, 21, 7, 7}},      // 2x2, apart
      {1, {3, 40, 5}, {3, 40, 12}},             // 1-d
      {3, {3, 20, 1, 3, 3}, {3, 20, 1, 5, 4}},  // 3-d
      {2, {3, 19, 15, 15}, {3, 19, 7, 7}},      // 3x3: the scatter alone
  };
  for (const Shapes& shape : shapes) {
    for (DType dtype : {DType::f32, DType::f64, DType::f16}) {
      for (LayoutKind layout : {LayoutKind::contiguous, LayoutKind::channels_last}) {
        EXPECT_EQ(check_indices_anywhere(shape, dtype, layout, 2, rng), "");
      }
    }
  }
}

// Fewer channels-last plane groups than threads: each plane splits in
// bands of cells, a thread each, which read every output and add those in
// their band. Same bits for every thread count, bad indices found alike.
TEST(MaxPooling, BackwardOfFewPlanesSplitsThemInBands) {
  std::mt19937_64 rng(86);
  const std::vector<Shapes> shapes = {
      {2, {1, 3, 250, 210}, {1, 3, 41, 37}},      // 3 bands from 3 threads
      {2, {3, 190, 210}, {3, 41, 37}},            // unbatched
      {2, {2, 2, 150, 230}, {2, 2, 150, 230}},    // identity, two images
      {3, {1, 2, 4, 100, 90}, {1, 2, 3, 7, 50}},  // 3-d
  };
  for (const Shapes& shape : shapes) {
    for (DType dtype : {DType::f32, DType::f64, DType::bf16}) {
      for (int threads : {1, 2, 3, 5}) {
        EXPECT_EQ(check_indices_anywhere(shape, dtype, LayoutKind::channels_last, threads, rng),
                  "");
      }
    }
  }
}

TEST(MaxPooling, NaNAndTiesFollowPyTorch) {
  // Values checked against torch 2.15: [1, nan, 3, nan, 2] -> nan at 3 (the
  // last NaN); [1, 3, 3, 2] -> 3 at 1 (the first maximum); all -inf -> the
  // window's first cell.
  const int64_t in_sizes[] = {1, 5};
  const int64_t out_sizes[] = {1, 1};
  const Layout input = Layout::contiguous(in_sizes);
  const Layout output = Layout::contiguous(out_sizes);
  float y = 0;
  int64_t index = -1;
  const float nan_case[] = {1, NAN, 3, NAN, 2};
  adaptive_max_pool(DType::f32, 1, input, nan_case, output, &y, &output, &index);
  EXPECT_TRUE(std::isnan(y));
  EXPECT_EQ(index, 3);
  const float tie_case[] = {1, 3, 3, 2, -1};
  adaptive_max_pool(DType::f32, 1, input, tie_case, output, &y, &output, &index);
  EXPECT_EQ(y, 3.0f);
  EXPECT_EQ(index, 1);
  const float low_case[] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
  const int64_t two[] = {1, 2};
  float pair[2] = {0, 0};
  int64_t pair_index[2] = {-1, -1};
  const Layout pairs = Layout::contiguous(two);
  adaptive_max_pool(DType::f32, 1, input, low_case, pairs, pair, &pairs, pair_index);
  EXPECT_EQ(pair[0], -INFINITY);
  EXPECT_EQ(pair_index[0], 0);
  EXPECT_EQ(pair_index[1], 2);  // 5 -> 2: windows [0, 3) and [2, 5)
}

TEST(MaxPooling, EmptyBatchAndEmptyOutput) {
  for (int spatial = 1; spatial <= 3; ++spatial) {
    std::vector<int64_t> in_shape{0, 3}, out_shape{0, 3};
    for (int d = 0; d < spatial; ++d) {
      in_shape.push_back(4);
      out_shape.push_back(2);
    }
    const Layout input = Layout::contiguous(in_shape);
    const Layout output = Layout::contiguous(out_shape);
    adaptive_max_pool(DType::f32, spatial, input, nullptr, output, nullptr, &output, nullptr);
    adaptive_max_pool_backward(DType::f32, spatial, output, nullptr, output, nullptr, input,
                               nullptr);
  }
  // Output size 0 is accepted, as in PyTorch; backward of it is zero.
  Strided x({1, 2, 4, 4}, LayoutKind::contiguous, 2, DType::f32);
  const int64_t empty[] = {1, 2, 0, 3};
  const Layout none = Layout::contiguous(empty);
  adaptive_max_pool(DType::f32, 2, x.layout(), x.data(), none, nullptr, &none, nullptr);
  Strided dx({1, 2, 4, 4}, LayoutKind::contiguous, 2, DType::f32);
  adaptive_max_pool_backward(DType::f32, 2, none, nullptr, none, nullptr, dx.layout(), dx.data());
  for (double v : dx.read().values) EXPECT_EQ(v, 0.0);
}

}  // namespace
}  // namespace adapool::testing
