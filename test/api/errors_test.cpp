// One test per bad input of SEMANTICS.md: the error code, and a message that
// names the bad value. Every one is rejected before data is touched (the
// pointers given are never valid to read).
#include <adapool/adapool.hpp>
#include <adapool/windows.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <thread>
#include <tuple>
#include <vector>

namespace adapool {
namespace {

void expect_error(const std::function<void()>& call, ErrorCode code,
                  std::initializer_list<const char*> fragments) {
  try {
    call();
    ADD_FAILURE() << "no error raised";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), code) << error.what();
    for (const char* fragment : fragments) {
      EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos)
          << "message \"" << error.what() << "\" lacks \"" << fragment << "\"";
    }
  }
}

Layout contiguous(std::initializer_list<int64_t> sizes) {
  return Layout::contiguous(std::vector<int64_t>(sizes));
}

// Never dereferenced: every call below must fail first.
const void* const kPoison = reinterpret_cast<const void*>(uintptr_t{0x10});
void* const kPoisonOut = reinterpret_cast<void*>(uintptr_t{0x100});

TEST(Errors, WrongRank) {
  expect_error(
      [] {
        Plan::forward(DType::f32, 2, contiguous({3, 4}), contiguous({3, 2}));
      },
      ErrorCode::rank, {"[3, 4]", "3-d (unbatched) or 4-d (batched)"});
  expect_error(
      [] {
        output_shape(std::vector<int64_t>{1, 2, 3, 4, 5, 6}, 2, {2});
      },
      ErrorCode::rank, {"[1, 2, 3, 4, 5, 6]"});
}

TEST(Errors, LayoutRankOutOfRange) {
  Layout bad;
  bad.rank = 7;
  expect_error([&] { Plan::forward(DType::f32, 2, bad, bad); }, ErrorCode::rank, {"rank 7"});
  bad.rank = 0;
  expect_error([&] { Plan::forward(DType::f32, 1, bad, bad); }, ErrorCode::rank, {"rank 0"});
}

TEST(Errors, WrongSpatialDims) {
  expect_error(
      [] {
        Plan::forward(DType::f32, 4, contiguous({1, 1, 2, 2, 2}), contiguous({1, 1, 1, 1, 1}));
      },
      ErrorCode::rank, {"spatial_dims 4"});
}

TEST(Errors, EmptyNonBatchDimension) {
  expect_error(
      [] {
        Plan::forward(DType::f32, 2, contiguous({2, 3, 0, 4}), contiguous({2, 3, 2, 2}));
      },
      ErrorCode::empty_dimension, {"dimension 2 has size 0", "[2, 3, 0, 4]"});
  // 3-d pooling checks every dimension but the first, as PyTorch does.
  expect_error(
      [] {
        Plan::forward(DType::f32, 3, contiguous({1, 0, 2, 3, 3}), contiguous({1, 0, 2, 2, 2}));
      },
      ErrorCode::empty_dimension, {"dimension 1 has size 0", "[1, 0, 2, 3, 3]"});
  expect_error(
      [] {
        Plan::backward(DType::f32, 1, contiguous({1, 2, 2}), contiguous({1, 2, 0}));
      },
      ErrorCode::empty_dimension, {"grad_input dimension 2"});
}

// PyTorch accepts empty channels in 1-d and 2-d pooling and an empty first
// dimension of any unbatched input; so does adapool, writing nothing.
TEST(Errors, EmptyChannelsAreAcceptedWherePyTorchAcceptsThem) {
  for (const auto& [spatial, in, out] :
       std::vector<std::tuple<int, std::vector<int64_t>, std::vector<int64_t>>>{
           {1, {2, 0, 7}, {2, 0, 3}},
           {2, {2, 0, 10, 10}, {2, 0, 5, 5}},
           {1, {0, 10}, {0, 5}},
           {2, {0, 10, 10}, {0, 5, 5}},
           {3, {0, 4, 4, 4}, {0, 2, 2, 2}}}) {
    adaptive_avg_pool(DType::f32, spatial, Layout::contiguous(in), kPoison, Layout::contiguous(out),
                      kPoisonOut);
    adaptive_avg_pool_backward(DType::f32, spatial, Layout::contiguous(out), kPoison,
                               Layout::contiguous(in), kPoisonOut);
  }
}

// Found by fuzz_plan: an empty batch lets the channel count be anything up to
// INT64_MAX (there are no elements to count), and planning it once overflowed
// while rounding the channels up to whole plane groups.
TEST(Errors, EmptyBatchWithChannelsNearInt64Max) {
  for (const int64_t channels : {INT64_MAX, INT64_MAX - 1, INT64_MAX - 7}) {
    Layout input;
    input.rank = 3;
    input.sizes = {0, channels, 7, 0, 0};
    input.strides = {1, 1, 1, 0, 0};
    Layout output = input;
    output.sizes[2] = 3;
    const Plan forward = Plan::forward(DType::f32, 1, input, output);
    forward.run(kPoison, kPoisonOut);
    const Plan backward = Plan::backward(DType::f32, 1, output, input);
    backward.run(kPoison, kPoisonOut);
  }
}

// Found by fuzz_plan: global pooling of an empty batch may have pooled sizes
// whose product overflows; merging them into one row once multiplied them
// without checking.
TEST(Errors, GlobalPoolingOfPooledSizesWhoseProductOverflows) {
  Layout input;
  input.rank = 4;
  input.sizes = {0, 3, INT64_MAX / 2 - 1, 2147483646, 0};
  input.strides = {0, 2, 2147483646, 1, 0};  // rows that follow each other
  Layout output = input;
  output.sizes[2] = output.sizes[3] = 1;
  for (const Reduction reduction : {Reduction::average, Reduction::max}) {
    const Plan forward = reduction == Reduction::average
                             ? Plan::forward(DType::f32, 2, input, output)
                             : Plan::max_forward(DType::f32, 2, input, output);
    forward.run(kPoison, kPoisonOut);
  }
}

// Found by fuzz_plan: the stride of a size-1 dimension is never multiplied
// by an index, so any value is valid, and the gather check once overflowed
// multiplying it by the vector length.
TEST(Errors, HugeStrideOfASizeOneChannelDimension) {
  for (const int64_t stride : {INT64_MAX, INT64_MIN, INT64_MAX / 2}) {
    Layout input = contiguous({1, 1, 4});
    input.strides[1] = stride;
    const std::vector<double> x = {1, 2, 3, 4};
    std::vector<double> y(2);
    adaptive_avg_pool(DType::f64, 1, input, x.data(), contiguous({1, 1, 2}), y.data());
    EXPECT_EQ(y, (std::vector<double>{1.5, 3.5}));
  }
}

TEST(Errors, OutputSizeOfWrongLength) {
  expect_error(
      [] {
        output_shape(std::vector<int64_t>{1, 3, 8, 8}, 2, {2, 2, 2});
      },
      ErrorCode::output_size, {"3 entries", "expected 1 or 2"});
}

TEST(Errors, NegativeOutputSize) {
  expect_error(
      [] {
        output_shape(std::vector<int64_t>{1, 3, 8, 8}, 2, {4, -2});
      },
      ErrorCode::output_size, {"output_size[1] = -2"});
}

TEST(Errors, NegativeBufferSize) {
  Layout output = contiguous({1, 3, 2, 2});
  output.sizes[3] = -1;
  expect_error(
      [&] {
        Plan::forward(DType::f32, 2, contiguous({1, 3, 8, 8}), output);
      },
      ErrorCode::invalid_argument, {"size -1 at dimension 3"});
}

TEST(Errors, WrongDType) {
  expect_error(
      [] {
        Plan::forward(static_cast<DType>(9), 2, contiguous({1, 3, 8, 8}), contiguous({1, 3, 2, 2}));
      },
      ErrorCode::dtype, {"dtype 9"});
}

TEST(Errors, OutputBufferOfWrongShape) {
  expect_error(
      [] {
        Plan::forward(DType::f32, 2, contiguous({2, 3, 8, 8}), contiguous({2, 4, 2, 2}));
      },
      ErrorCode::shape_mismatch, {"[2, 4, 2, 2]", "[2, 3, 8, 8]", "channel", "4 vs 3"});
  expect_error(
      [] {
        Plan::forward(DType::f32, 2, contiguous({2, 3, 8, 8}), contiguous({3, 2, 2}));
      },
      ErrorCode::shape_mismatch, {"rank 3", "rank 4"});
}

TEST(Errors, BackwardGradientWithOtherBatchOrChannels) {
  expect_error(
      [] {
        Plan::backward(DType::f32, 2, contiguous({3, 3, 2, 2}), contiguous({2, 3, 8, 8}));
      },
      ErrorCode::shape_mismatch, {"grad_output", "batch", "3 vs 2"});
  expect_error(
      [] {
        Plan::backward(DType::f32, 1, contiguous({2, 5, 2}), contiguous({2, 3, 8}));
      },
      ErrorCode::shape_mismatch, {"channel", "5 vs 3"});
}

TEST(Errors, OutputOverlappingInput) {
  std::vector<float> buffer(64 + 12);
  const Plan plan =
      Plan::forward(DType::f32, 2, contiguous({1, 1, 8, 8}), contiguous({1, 1, 2, 2}));
  expect_error([&] { plan.run(buffer.data(), buffer.data() + 60); }, ErrorCode::overlap,
               {"overlaps input"});
  plan.run(buffer.data(), buffer.data() + 64);  // adjacent, not overlapping: fine
}

TEST(Errors, OutputOverlappingItself) {
  Layout output = contiguous({2, 3, 2, 2});
  output.strides[1] = 0;  // every channel writes the same place
  expect_error(
      [&] {
        Plan::forward(DType::f32, 2, contiguous({2, 3, 8, 8}), output);
      },
      ErrorCode::overlap, {"must not overlap itself", "stride 0"});
  output = contiguous({2, 3, 4, 4});
  output.strides[2] = 2;  // rows of 4 at a stride of 2 collide
  expect_error(
      [&] {
        Plan::forward(DType::f32, 2, contiguous({2, 3, 8, 8}), output);
      },
      ErrorCode::overlap, {"[48, 16, 2, 1]"});
}

TEST(Errors, IndexArithmeticOverflow) {
  const int64_t big = int64_t{1} << 33;
  // in * out > 2^63 in the window rule, rejected before any table exists.
  expect_error(
      [&] {
        Plan::forward(DType::f32, 1, contiguous({1, 1, big}), contiguous({1, 1, int64_t{1} << 31}));
      },
      ErrorCode::overflow, {"8589934592", "2147483648"});
  // With nothing to pool no window is computed, and PyTorch accepts it too.
  Plan::forward(DType::f32, 1, contiguous({0, 1, big}), contiguous({0, 1, int64_t{1} << 31}));
  // Element counts whose product overflows: no dense layout can even hold them,
  expect_error(
      [&] {
        contiguous({big, big, 4});
      },
      ErrorCode::overflow, {"[8589934592, 8589934592, 4]"});
  // and a broadcast view of them, which can, is refused by the plan.
  Layout broadcast = contiguous({1, 1, 4});
  broadcast.sizes = {big, big, 4, 0, 0};
  broadcast.strides = {0, 0, 1, 0, 0};
  Layout output = broadcast;
  output.sizes[2] = 2;
  expect_error([&] { Plan::forward(DType::f32, 1, broadcast, output); }, ErrorCode::overflow,
               {"input"});
  // Element count fits, byte size does not (2^61 doubles).
  expect_error(
      [&] {
        Plan::forward(DType::f64, 1, contiguous({1, int64_t{1} << 30, int64_t{1} << 31}),
                      contiguous({1, int64_t{1} << 30, 1}));
      },
      ErrorCode::overflow, {"input"});
  // Strides whose offsets overflow.
  Layout input = contiguous({1, 2, 4});
  input.strides[1] = INT64_MAX / 2;
  expect_error(
      [&] {
        Plan::forward(DType::f32, 1, input, contiguous({1, 2, 2}));
      },
      ErrorCode::overflow, {"input"});
}

TEST(Errors, NullPointer) {
  const Plan plan = Plan::forward(DType::f32, 1, contiguous({1, 2, 4}), contiguous({1, 2, 2}));
  std::vector<float> out(4);
  expect_error([&] { plan.run(nullptr, out.data()); }, ErrorCode::null_pointer,
               {"input data pointer is null"});
  expect_error([&] { plan.run(out.data(), nullptr); }, ErrorCode::null_pointer,
               {"output data pointer is null"});
}

TEST(Errors, MisalignedPointer) {
  const Plan plan = Plan::forward(DType::f64, 1, contiguous({1, 2, 4}), contiguous({1, 2, 2}));
  std::vector<double> in(9), out(4);
  const auto* odd = reinterpret_cast<const unsigned char*>(in.data()) + 4;
  expect_error([&] { plan.run(odd, out.data()); }, ErrorCode::misaligned,
               {"not aligned to 8 bytes", "float64"});
}

TEST(Errors, ThreadCounts) {
  Options options;
  options.threads = -3;
  expect_error(
      [&] {
        Plan::forward(DType::f32, 1, contiguous({1, 2, 4}), contiguous({1, 2, 2}), options);
      },
      ErrorCode::threads, {"threads = -3"});
  options.threads = 1;
  options.min_work_per_thread = 0;
  expect_error(
      [&] {
        Plan::forward(DType::f32, 1, contiguous({1, 2, 4}), contiguous({1, 2, 2}), options);
      },
      ErrorCode::threads, {"min_work_per_thread = 0"});
  options.min_work_per_thread = 1 << 15;
  options.stream_bytes = -2;  // -1 is the default; other negatives are errors
  expect_error(
      [&] {
        Plan::forward(DType::f32, 1, contiguous({1, 2, 4}), contiguous({1, 2, 2}), options);
      },
      ErrorCode::invalid_argument, {"stream_bytes = -2", "-1"});
  options.stream_bytes = -1;
  // Huge counts are clamped to the work there is and to a sane maximum.
  options.min_work_per_thread = 1;
  options.threads = 1 << 30;
  EXPECT_EQ(
      Plan::forward(DType::f32, 1, contiguous({2, 2, 4}), contiguous({2, 2, 2}), options).threads(),
      2);
  EXPECT_LE(
      Plan::forward(DType::f32, 1, contiguous({1, 4096, 4}), contiguous({1, 4096, 2}), options)
          .threads(),
      256);
  // 0 means every hardware thread.
  options.threads = 0;
  const auto hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(
      Plan::forward(DType::f32, 1, contiguous({1, 4096, 4}), contiguous({1, 4096, 2}), options)
          .threads(),
      std::min(hardware, 256));
}

TEST(Errors, RejectedPlansNeverTouchMemory) {
  // The poisoned pointers would crash if read; each call must fail in checks.
  expect_error(
      [] {
        adaptive_avg_pool(DType::f32, 2, contiguous({2, 3, 8, 8}), kPoison,
                          contiguous({2, 4, 2, 2}), kPoisonOut);
      },
      ErrorCode::shape_mismatch, {});
  expect_error(
      [] {
        adaptive_avg_pool(DType::f32, 2, contiguous({2, 3, 8, 8}), kPoison,
                          contiguous({2, 3, 2, 2}), kPoisonOut);
      },
      ErrorCode::overlap, {});
}

}  // namespace
}  // namespace adapool

namespace adapool {
namespace {

// Found by fuzz_plan: forward planning kept a table of every output window,
// 32 GiB for an output width of 2^31; it now steps through windows in order.
TEST(Hostile, ForwardPlanOfAHugeOutputAllocatesNoTable) {
  const Plan plan = Plan::forward(DType::f32, 1, Layout::contiguous(std::vector<int64_t>{2, 2, 1}),
                                  Layout::contiguous(std::vector<int64_t>{2, 2, int64_t{1} << 31}));
  EXPECT_EQ(plan.threads(), 1);
}

// Found by fuzz_plan: backward from an empty grad_output walked its pooled
// sizes (seconds near 2^31) and formed pointers from its unused strides
// (pointer overflow near 2^63). The gradient is zero, written at once.
TEST(Hostile, BackwardFromAnEmptyGradientWritesZerosAndReadsNothing) {
  Layout gradient = Layout::contiguous(std::vector<int64_t>{4, 4, 9, (int64_t{1} << 31) + 1, 0});
  std::vector<float> dx(4 * 4 * 3 * 5 * 3, 1.0f);
  adaptive_avg_pool_backward(DType::f32, 3, gradient, nullptr,
                             Layout::contiguous(std::vector<int64_t>{4, 4, 3, 5, 3}), dx.data());
  for (float v : dx) ASSERT_EQ(v, 0.0f);

  Layout far = Layout::contiguous(std::vector<int64_t>{2, 0});
  far.strides = {INT64_MAX - 1, 0, 0, 0, 0};
  std::vector<double> dx2(10, 1.0);
  adaptive_avg_pool_backward(DType::f64, 1, far, nullptr,
                             Layout::contiguous(std::vector<int64_t>{2, 5}), dx2.data());
  for (double v : dx2) ASSERT_EQ(v, 0.0);
}

// Max pooling: its own checks, and the indices.
TEST(Errors, MaxPoolingNeedsNonEmptyChannels) {
  // Average pooling accepts empty channels in 2-d; max pooling, like
  // PyTorch's, checks every dimension but the first.
  Plan::forward(DType::f32, 2, contiguous({2, 0, 4, 4}), contiguous({2, 0, 2, 2}));
  expect_error(
      [] {
        Plan::max_forward(DType::f32, 2, contiguous({2, 0, 4, 4}), contiguous({2, 0, 2, 2}));
      },
      ErrorCode::empty_dimension, {"dimension 1", "[2, 0, 4, 4]"});
}

TEST(Errors, MaxPoolingIndicesShape) {
  expect_error(
      [] {
        Plan::max_forward(DType::f32, 2, contiguous({1, 2, 4, 4}), contiguous({1, 2, 2, 2}),
                          contiguous({1, 2, 2, 3}));
      },
      ErrorCode::shape_mismatch, {"indices shape [1, 2, 2, 3]", "[1, 2, 2, 2]"});
  expect_error(
      [] {
        Plan::max_backward(DType::f32, 2, contiguous({1, 2, 2, 2}), contiguous({2, 2, 2}),
                           contiguous({1, 2, 4, 4}));
      },
      ErrorCode::shape_mismatch, {"indices shape [2, 2, 2]"});
  Layout overlapping = contiguous({1, 2, 2, 2});
  overlapping.strides[3] = 0;
  expect_error(
      [&] {
        Plan::max_forward(DType::f32, 2, contiguous({1, 2, 4, 4}), contiguous({1, 2, 2, 2}),
                          overlapping);
      },
      ErrorCode::overlap, {"indices"});
}

TEST(Errors, MaxPoolingRunMatchesThePlan) {
  const Layout input = contiguous({1, 1, 4});
  const Layout output = contiguous({1, 1, 2});
  const Plan with_indices = Plan::max_forward(DType::f32, 1, input, output, output);
  float x[4] = {1, 2, 3, 4};
  alignas(8) float y[2];
  int64_t indices[2];
  expect_error([&] { with_indices.run(x, y); }, ErrorCode::invalid_argument, {"indices"});
  const Plan average = Plan::forward(DType::f32, 1, input, output);
  expect_error([&] { average.run(x, y, indices); }, ErrorCode::invalid_argument,
               {"max pooling forward"});
  expect_error([&] { average.run(x, indices, y); }, ErrorCode::invalid_argument,
               {"max pooling backward"});
  expect_error([&] { with_indices.run(x, y, nullptr); }, ErrorCode::null_pointer, {"indices"});
  expect_error([&] { with_indices.run(x, y, reinterpret_cast<int64_t*>(y)); }, ErrorCode::overlap,
               {"indices"});
  auto* misaligned = reinterpret_cast<int64_t*>(reinterpret_cast<char*>(indices) + 4);
  expect_error([&] { with_indices.run(x, y, misaligned); }, ErrorCode::misaligned,
               {"indices", "8 bytes (int64)"});
}

TEST(Errors, MaxBackwardIndicesOutsideThePlane) {
  // 4 -> 2: windows [0, 2) and [2, 4).
  const Layout grad_output = contiguous({1, 1, 2});
  const Layout grad_input = contiguous({1, 1, 4});
  const Plan plan = Plan::max_backward(DType::f32, 1, grad_output, grad_output, grad_input);
  const float dy[2] = {1, 2};
  float dx[4] = {7, 7, 7, 7};
  for (int64_t bad : {int64_t{-1}, int64_t{4}, INT64_MAX, INT64_MIN}) {
    const int64_t indices[2] = {1, bad};
    expect_error([&] { plan.run(dy, indices, dx); }, ErrorCode::invalid_argument,
                 {("indices value " + std::to_string(bad)).c_str(), "channel 0, output cell (1)",
                  "outside the input plane of 4 cells [4]"});
  }
  // Inside the plane but outside its window: PyTorch adds it there, and so
  // does adapool.
  const int64_t elsewhere[2] = {3, 3};
  plan.run(dy, elsewhere, dx);
  const float expected[4] = {0, 0, 0, 3};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(dx[i], expected[i]) << i;
}

TEST(Errors, MaxBackwardNamesTheOutputCellOfABadIndexIn3d) {
  // 2 channels of 4x5x6 -> 2x3x4: NCHW planes scatter as one line each, the
  // cell named from the line's position. The bad index is at channel 1,
  // output cell (1, 1, 2); channel 0 is fine.
  const Layout grad_output = contiguous({2, 2, 3, 4});
  const Layout grad_input = contiguous({2, 4, 5, 6});
  std::vector<float> dy(2 * 24, 1.0f), dx(2 * 120);
  std::vector<int64_t> indices(2 * 24, 0);
  indices[24 + (1 * 3 + 1) * 4 + 2] = 120;
  expect_error(
      [&] {
        Plan::max_backward(DType::f32, 3, grad_output, grad_output, grad_input)
            .run(dy.data(), indices.data(), dx.data());
      },
      ErrorCode::invalid_argument,
      {"indices value 120 at channel 1, output cell (1, 1, 2)",
       "outside the input plane of 120 cells [4, 5, 6]"});
}

TEST(Errors, MaxBackwardNamesABadIndexOfChannelsLastVectors) {
  // 20 channels-last planes of 5x5 -> 13x13 (masked vectors of planes and,
  // past the last whole vector, one plane at a time): a bad index at output
  // cell (2, 9) of a channel in the first vector and of the last channel,
  // negative or 2^32 above the window's first cell (whose low half names it).
  const std::vector<int64_t> out_sizes{1, 20, 13, 13}, in_sizes{1, 20, 5, 5};
  const Layout grad_output = Layout::channels_last(out_sizes, 2);
  const Layout grad_input = Layout::channels_last(in_sizes, 2);
  std::vector<float> dy(20 * 169, 1.0f), dx(20 * 25);
  std::vector<int64_t> indices(20 * 169);
  for (int64_t o = 0; o < 169; ++o) {  // the first cell of each window
    const int64_t first = window_begin(o / 13, 5, 13) * 5 + window_begin(o % 13, 5, 13);
    for (int c = 0; c < 20; ++c) indices[o * 20 + c] = first;
  }
  const Plan plan = Plan::max_backward(DType::f32, 2, grad_output, grad_output, grad_input);
  plan.run(dy.data(), indices.data(), dx.data());  // all good
  const int64_t at = (2 * 13 + 9) * 20;
  for (int channel : {3, 19}) {
    for (int64_t bad : {int64_t{-7}, (int64_t{1} << 32) + indices[at]}) {
      std::vector<int64_t> wrong = indices;
      wrong[at + channel] = bad;
      expect_error([&] { plan.run(dy.data(), wrong.data(), dx.data()); },
                   ErrorCode::invalid_argument,
                   {("indices value " + std::to_string(bad) + " at batch 0, channel " +
                     std::to_string(channel) + ", output cell (2, 9)")
                        .c_str()});
    }
  }
}

TEST(Errors, MaxBackwardInBandsNamesTheScattersBadIndex) {
  // 3 channels-last planes of 250x210 -> 41x37: more threads than plane
  // groups split each plane in bands (every band reads every index). Bad
  // indices at channel 2 of output cell (30, 5) and channel 0 of (35, 2):
  // every thread count names the first in the scatter's order.
  const std::vector<int64_t> out_sizes{1, 3, 41, 37}, in_sizes{1, 3, 250, 210};
  const Layout grad_output = Layout::channels_last(out_sizes, 2);
  const Layout grad_input = Layout::channels_last(in_sizes, 2);
  std::vector<float> dy(3 * 41 * 37, 1.0f), dx(3 * 250 * 210);
  std::vector<int64_t> indices(3 * 41 * 37, 0);
  indices[(35 * 37 + 2) * 3 + 0] = 250 * 210;
  indices[(30 * 37 + 5) * 3 + 2] = -1;
  for (int threads : {1, 2, 3, 4}) {
    Options options;
    options.threads = threads;
    options.min_work_per_thread = 1;
    expect_error(
        [&] {
          Plan::max_backward(DType::f32, 2, grad_output, grad_output, grad_input, options)
              .run(dy.data(), indices.data(), dx.data());
        },
        ErrorCode::invalid_argument,
        {"indices value -1 at batch 0, channel 2, output cell (30, 5)"});
  }
}

TEST(Errors, MaxBackwardReportsTheSameBadIndexForEveryThreadCount) {
  // 64 channels of 8 -> 3, with indices outside the plane in channels 21
  // and 50: every thread count names channel 21.
  const Layout grad_output = contiguous({64, 3});
  const Layout grad_input = contiguous({64, 8});
  std::vector<float> dy(64 * 3, 1.0f), dx(64 * 8);
  std::vector<int64_t> indices;
  for (int c = 0; c < 64; ++c) indices.insert(indices.end(), {0, 2, 5});
  indices[50 * 3 + 1] = 8;
  indices[21 * 3 + 2] = -4;
  for (int threads : {1, 2, 3, 8}) {
    Options options;
    options.threads = threads;
    options.min_work_per_thread = 1;
    expect_error(
        [&] {
          Plan::max_backward(DType::f32, 1, grad_output, grad_output, grad_input, options)
              .run(dy.data(), indices.data(), dx.data());
        },
        ErrorCode::invalid_argument, {"indices value -4 at channel 21, output cell (2)"});
  }
}

}  // namespace
}  // namespace adapool
