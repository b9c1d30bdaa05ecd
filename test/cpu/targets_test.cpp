// Every compiled SIMD target, not only the best one this CPU has: the
// microkernels against their scalar definitions, bit for bit, and whole
// pooling runs against the reference and against each other.
#include <hwy/highway.h>
#include <hwy/targets.h>

#include <gtest/gtest.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>

#include "cpu/half.hpp"
#include "cpu/microkernels.hpp"
#include "support.hpp"

namespace adapool::testing {
namespace {

// Runs body once per compiled target the CPU supports, then restores the default.
template <class Body>
void for_each_target(Body&& body) {
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  ASSERT_FALSE(targets.empty());
  for (int64_t target : targets) {
    hwy::SetSupportedTargetsForTest(target);
    ASSERT_STREQ(microkernel_target(), hwy::TargetName(target));
    SCOPED_TRACE(hwy::TargetName(target));
    body();
  }
  hwy::SetSupportedTargetsForTest(0);
}

// Values that exercise rounding: random, tiny, huge, NaN, infinities, zeros.
std::vector<double> awkward_values(std::mt19937_64& rng, size_t count) {
  std::uniform_real_distribution<double> uniform(-4.0, 4.0);
  const double specials[] = {0.0,
                             -0.0,
                             1e-40,
                             3e-310,  // subnormal as a double: its quotients too
                             -1e-8,
                             65504.0,
                             70000.0,
                             3e38,
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(),
                             std::nan("")};
  std::vector<double> values(count);
  for (size_t i = 0; i < count; ++i) {
    values[i] = i % 7 == 3 ? specials[(i / 7) % std::size(specials)] : uniform(rng);
  }
  return values;
}

TEST(Targets, MicrokernelsMatchTheirScalarDefinitionsBitForBit) {
  std::mt19937_64 rng(11);
  for_each_target([&] {
    for (DType dtype : kDTypes) {
      for (int64_t n : {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 67}) {
        // A source row in dtype: the values stored through Strided's scalar conversions.
        Strided source({1, n}, LayoutKind::contiguous, 1, dtype);
        const std::vector<double> values = awkward_values(rng, static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) source.set(i, values[static_cast<size_t>(i)]);
        // Powers of two multiply by their exact reciprocal, others divide;
        // 2^1023's reciprocal is subnormal, so it divides.
        for (double divisor : {3.0, 7.0, 1.0, 2.0, 4.0, 64.0, 0.5, 0x1p1022, 0x1p1023}) {
          std::vector<double> tile(static_cast<size_t>(n) + 1, -1.0);
          load_scaled_row(dtype)(tile.data(), source.data(), n, divisor);
          for (int64_t i = 0; i < n; ++i) {
            const double expected = source.get(i) / divisor;
            const double got = tile[static_cast<size_t>(i)];
            ASSERT_TRUE(std::memcmp(&expected, &got, sizeof got) == 0 ||
                        (std::isnan(expected) && std::isnan(got)))
                << dtype_name(dtype) << " load n=" << n << " i=" << i << " / " << divisor;
          }
          EXPECT_EQ(tile[static_cast<size_t>(n)], -1.0) << "wrote past the row";

          Strided destination({1, n}, LayoutKind::contiguous, 1, dtype);
          store_scaled_row(dtype)(destination.data(), values.data(), n, divisor);
          Strided expected({1, n}, LayoutKind::contiguous, 1, dtype);
          for (int64_t i = 0; i < n; ++i) {
            expected.set(i, values[static_cast<size_t>(i)] / divisor);
          }
          for (int64_t i = 0; i < n; ++i) {
            const double want = expected.get(i);
            const double got = destination.get(i);
            ASSERT_TRUE(std::memcmp(&want, &got, sizeof got) == 0 ||
                        (std::isnan(want) && std::isnan(got)))
                << dtype_name(dtype) << " store n=" << n << " i=" << i << " / " << divisor << ": "
                << got << " vs " << want;
          }
          EXPECT_TRUE(destination.outside_untouched());
        }
      }
    }
    // Gathered tiles equal loads of the same values; window sums add in order.
    for (DType dtype : kDTypes) {
      for (int64_t planes : {1, 3, 8, 17, 64}) {
        const int64_t columns = 5;
        Strided source({planes, columns}, LayoutKind::contiguous, 1, dtype);
        source.fill_random(rng);
        std::vector<double> tile(static_cast<size_t>(planes * columns));
        for (double divisor : {2.0, 3.0}) {
          gather_tile(dtype)(tile.data(), source.data(), columns, 1, planes, columns, divisor);
          for (int64_t j = 0; j < planes; ++j) {
            for (int64_t k = 0; k < columns; ++k) {
              ASSERT_EQ(tile[static_cast<size_t>(k * planes + j)],
                        source.get(j * columns + k) / divisor)
                  << dtype_name(dtype) << " gather planes=" << planes << " / " << divisor;
            }
          }
        }
      }
    }
    for (int64_t planes : {1, 7, 8, 33, 64}) {
      const std::vector<Window> cells = windows(9, 4);
      const std::vector<double> tile = awkward_values(rng, static_cast<size_t>(9 * planes));
      std::vector<double> sums = awkward_values(rng, static_cast<size_t>(4 * planes));
      std::vector<double> expected = sums;
      for (size_t i = 0; i < cells.size(); ++i) {
        for (int64_t w = std::max<int64_t>(cells[i].begin, 2);
             w < std::min<int64_t>(cells[i].end, 8); ++w) {
          for (int64_t j = 0; j < planes; ++j) {
            expected[i * static_cast<size_t>(planes) + static_cast<size_t>(j)] +=
                tile[static_cast<size_t>((w - 2) * planes + j)];
          }
        }
      }
      sum_windows(sums.data(), tile.data(), cells.data(), 4, 2, 8, planes);
      for (size_t i = 0; i < sums.size(); ++i) {
        ASSERT_TRUE(std::memcmp(&sums[i], &expected[i], sizeof(double)) == 0 ||
                    (std::isnan(sums[i]) && std::isnan(expected[i])))
            << "sum_windows planes=" << planes << " element " << i;
      }
    }
  });
}

// Average and max pooling: channels-last lanes (with a remainder), gathered
// and scalar planes, every dtype.
TEST(Targets, PoolingMatchesTheReferenceAndIsIdenticalOnEveryTarget) {
  const std::vector<Case> cases = {
      {2,
       {2, 70, 13, 11},
       {2, 70, 5, 7},
       DType::f32,
       LayoutKind::channels_last,
       LayoutKind::channels_last,
       2},
      {2,
       {2, 70, 13, 11},
       {2, 70, 5, 7},
       DType::f64,
       LayoutKind::contiguous,
       LayoutKind::contiguous,
       1},
      {2,
       {1, 19, 5, 5},
       {1, 19, 13, 13},
       DType::f16,
       LayoutKind::channels_last,
       LayoutKind::sliced,
       3},
      {3,
       {2, 9, 4, 5, 6},
       {2, 9, 3, 2, 4},
       DType::bf16,
       LayoutKind::channels_last,
       LayoutKind::channels_last,
       2},
      {1, {3, 130, 41}, {3, 130, 6}, DType::f32, LayoutKind::expanded, LayoutKind::flipped, 1},
      // Max pooling's backward in masked vectors of planes (windows of 1-4 cells).
      {2,
       {2, 37, 5, 5},
       {2, 37, 13, 11},
       DType::f32,
       LayoutKind::channels_last,
       LayoutKind::channels_last,
       2},
      {3,
       {1, 21, 1, 4, 3},
       {1, 21, 1, 7, 5},
       DType::f64,
       LayoutKind::channels_last,
       LayoutKind::channels_last,
       1},
      {2,
       {2, 3, 9, 45},
       {2, 3, 2, 3},
       DType::f32,
       LayoutKind::contiguous,
       LayoutKind::contiguous,
       2},
  };
  for_each_target([&] {
    for (const Case& c : cases) {
      std::mt19937_64 rng(12);
      ASSERT_EQ(check(c, rng), "") << c.label();
      ASSERT_EQ(check_max(c, rng), "") << "max pooling " << c.label();
    }
  });
}

// LoadScaled divides by counts that are not powers of two in fused
// multiply-adds where the target has them (CorrectedQuotient): the bits of
// the division for every float significand (the quotient of a float's
// double scales with its exponent), here over float's exponents and both
// signs, for counts of windows in real models; a sample for larger ones.
TEST(Targets, LoadScaledDividesEveryFloatSignificandExactly) {
  const int64_t n = int64_t{1} << 23;
  std::vector<float> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float significand = 1.0f + std::ldexp(static_cast<float>(i), -23);
    const int exponent = static_cast<int>(i % 253) - 126;  // float's normal exponents
    values[static_cast<size_t>(i)] = (i % 2 ? -1.0f : 1.0f) * std::ldexp(significand, exponent);
  }
  std::vector<double> tile(static_cast<size_t>(n));
  for_each_target([&] {
    for (double count : {3.0, 9.0, 49.0, 4225.0, 1e9 + 7, 0x1p62 - 1}) {
      // All significands for small counts, every 61st for the others.
      const int64_t step = count < 100 ? 1 : 61;
      load_scaled_row(DType::f32)(tile.data(), values.data(), n, count);
      for (int64_t i = 0; i < n; i += step) {
        const double expected = static_cast<double>(values[static_cast<size_t>(i)]) / count;
        ASSERT_EQ(std::memcmp(&expected, &tile[static_cast<size_t>(i)], sizeof expected), 0)
            << values[static_cast<size_t>(i)] << " / " << count << ": "
            << tile[static_cast<size_t>(i)] << " against " << expected;
      }
    }
  });
}

// The same for every count the fused multiply-adds take (up to 12000): a
// sample of significands, exponents and signs for each of 1..4096, and the
// counts around the limit (above it, the division itself).
TEST(Targets, LoadScaledDividesSampledFloatsExactlyForEveryCount) {
  std::mt19937_64 rng(13);
  std::uniform_int_distribution<uint32_t> bits(0, (1u << 23) - 1);
  std::uniform_int_distribution<int> exponent(-126, 127);
  const int64_t n = 2048;
  std::vector<float> values(static_cast<size_t>(n));
  for (float& v : values) {
    const float significand = 1.0f + std::ldexp(static_cast<float>(bits(rng)), -23);
    v = (bits(rng) % 2 ? -1.0f : 1.0f) * std::ldexp(significand, exponent(rng));
  }
  std::vector<double> counts;
  for (int c = 1; c <= 4096; ++c) counts.push_back(c);
  for (double c : {11999.0, 12000.0, 12001.0}) counts.push_back(c);
  std::vector<double> tile(static_cast<size_t>(n));
  for_each_target([&] {
    for (double count : counts) {
      load_scaled_row(DType::f32)(tile.data(), values.data(), n, count);
      for (int64_t i = 0; i < n; ++i) {
        const double expected = static_cast<double>(values[static_cast<size_t>(i)]) / count;
        ASSERT_EQ(std::memcmp(&expected, &tile[static_cast<size_t>(i)], sizeof expected), 0)
            << values[static_cast<size_t>(i)] << " / " << count;
      }
    }
  });
}

// A double share can be subnormal and inexact (2^-1073 * 1/2): it rounds
// before it is added, as the reference divides, also where every count is a
// power of two (which float data multiply-adds). 3 -> 2 along one
// dimension (counts 2), 40 channels-last planes: dx = [1u, 1u + RN(1.5u),
// RN(1.5u)] for gradients 2u and 3u, u = 2^-1074, RN(1.5u) = 2u.
TEST(Targets, DoubleSharesRoundBeforeTheyAdd) {
  const double u = std::ldexp(1.0, -1074);
  const std::vector<int64_t> out_sizes{1, 40, 2}, in_sizes{1, 40, 3};
  const Layout grad_output = Layout::channels_last(out_sizes, 1);
  const Layout grad_input = Layout::channels_last(in_sizes, 1);
  std::vector<double> dy(80);
  for (int c = 0; c < 40; ++c) {
    dy[static_cast<size_t>(c)] = 2 * u;
    dy[static_cast<size_t>(40 + c)] = 3 * u;
  }
  for_each_target([&] {
    std::vector<double> dx(120, -1.0);
    Plan::backward(DType::f64, 1, grad_output, grad_input).run(dy.data(), dx.data());
    for (int c = 0; c < 40; ++c) {
      EXPECT_EQ(dx[static_cast<size_t>(c)], u) << c;
      EXPECT_EQ(dx[static_cast<size_t>(40 + c)], 3 * u) << c;
      EXPECT_EQ(dx[static_cast<size_t>(80 + c)], 2 * u) << c;
    }
  });
}

struct PoolShape {
  int spatial;
  std::vector<int64_t> in, out;
};

// Contiguous (NCHW) input pooled to either layout, with 1 and 3 threads,
// gives the bits of channels-last input pooled by one thread (which matches
// the reference), also where windows hold NaNs.
void ExpectNchwGivesTheBitsOfChannelsLast(const std::vector<PoolShape>& shapes) {
  const auto forward = [](const PoolShape& shape, DType dtype, const Dense& values,
                          LayoutKind in_layout, LayoutKind out_layout, int threads) {
    Strided input(shape.in, in_layout, shape.spatial, dtype);
    input.write(values);
    Strided output(shape.out, out_layout, shape.spatial, dtype);
    Options options;
    options.threads = threads;
    options.min_work_per_thread = 1;
    adaptive_avg_pool(dtype, shape.spatial, input.layout(), input.data(), output.layout(),
                      output.data(), options);
    EXPECT_TRUE(output.outside_untouched());
    return output.read();
  };
  for_each_target([&] {
    for (const PoolShape& shape : shapes) {
      for (DType dtype : kDTypes) {
        std::mt19937_64 rng(13);
        Strided logical(shape.in, LayoutKind::contiguous, shape.spatial, dtype);
        logical.fill_random(rng);
        const Dense values = logical.read();
        const Dense want =
            forward(shape, dtype, values, LayoutKind::channels_last, LayoutKind::channels_last, 1);
        ASSERT_EQ(compare(want, reference_forward(values, shape.spatial, shape.out), dtype), "")
            << describe(shape.in) << " " << dtype_name(dtype);
        // Windows holding NaNs of both signs: NaN wherever channels-last
        // gives NaN. Which NaN (sign, payload) is not compared: when both
        // operands are NaN, x86 keeps the first, and compilers may swap the
        // operands of an addition, so the existing paths differ there
        // between builds (the scalar target, sanitizer builds). SumRuns
        // keeps the first NaN met.
        Dense with_nan = values;
        for (size_t i = 11; i < with_nan.values.size(); i += 23) {
          with_nan.values[i] = i % 2 == 0 ? std::nan("") : -std::nan("");
        }
        const Dense want_nan = forward(shape, dtype, with_nan, LayoutKind::channels_last,
                                       LayoutKind::channels_last, 1);
        for (LayoutKind out_layout : {LayoutKind::contiguous, LayoutKind::channels_last}) {
          for (int threads : {1, 3}) {
            const Dense got =
                forward(shape, dtype, values, LayoutKind::contiguous, out_layout, threads);
            ASSERT_TRUE(std::memcmp(got.values.data(), want.values.data(),
                                    want.values.size() * sizeof(double)) == 0)
                << describe(shape.in) << " -> " << describe(shape.out) << " " << dtype_name(dtype)
                << " output " << name(out_layout) << " threads " << threads;
            const Dense got_nan =
                forward(shape, dtype, with_nan, LayoutKind::contiguous, out_layout, threads);
            bool same = got_nan.values.size() == want_nan.values.size();
            for (size_t i = 0; same && i < got_nan.values.size(); ++i) {
              const double a = got_nan.values[i];
              const double b = want_nan.values[i];
              same = std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b));
            }
            ASSERT_TRUE(same) << "with NaN: " << describe(shape.in) << " -> " << describe(shape.out)
                              << " " << dtype_name(dtype) << " output " << name(out_layout)
                              << " threads " << threads;
          }
        }
      }
    }
  });
}

// A forward whose windows are long contiguous runs of NCHW planes (global
// pooling above all) sums along the runs, transposing in registers: on
// every target, every dtype and thread count, the bits of channels-last
// input, whose planes are lanes already. Odd channel counts leave sets of
// planes partial; run lengths leave columns past the last whole vector.
TEST(Targets, RunsOfNchwPlanesGiveTheBitsOfChannelsLast) {
  ExpectNchwGivesTheBitsOfChannelsLast({
      {2, {3, 37, 7, 7}, {3, 37, 1, 1}},        // ResNet-50 head: runs of 49
      {2, {1, 19, 65, 65}, {1, 19, 1, 1}},      // PSPNet: runs of 4225
      {1, {2, 21, 49}, {2, 21, 1}},             // Swin-T
      {3, {2, 11, 2, 7, 7}, {2, 11, 1, 1, 1}},  // R3D-18: d slices follow each other too
      {3, {1, 5, 3, 4, 6}, {1, 5, 2, 1, 1}},    // overlapping d windows of whole slices: one run
      {3, {1, 5, 3, 4, 9}, {1, 5, 2, 2, 1}},    // overlapping d and h windows: one run per d
      {2, {1, 7, 3, 17}, {1, 7, 2, 1}},         // overlapping h windows of whole rows
      {2, {2, 9, 5, 200}, {2, 9, 2, 3}},        // windows of 66 or 67 columns
      {1, {1, 3, 16}, {1, 3, 1}},               // the shortest run taken
  });
}

// Few planes with windows of 4 columns or more: output cells as the lanes
// (SumCellLanes; on AVX2, 4 lanes, the shapes of 5 and 7 planes keep
// SumInput).
TEST(Targets, CellLanesOfFewNchwPlanesGiveTheBitsOfChannelsLast) {
  ExpectNchwGivesTheBitsOfChannelsLast({
      {2, {1, 3, 50, 333}, {1, 3, 7, 37}},  // an RGB image: 9-10 columns, cells left over
      {2, {2, 1, 9, 64}, {2, 1, 2, 16}},    // 4 columns; the last 8 cells would read past (AVX-512)
      {1, {1, 3, 2800}, {1, 3, 700}},       // chunks of 680 cells: a chunk starting mid-row
      {1, {2, 7, 200}, {2, 7, 9}},          // 7 planes, 22-23 columns: three loads a run
      {1, {1, 5, 37}, {1, 5, 9}},           // overlapping windows of 4-5 columns
      {3, {1, 2, 3, 5, 90}, {1, 2, 2, 3, 10}},  // overlapping d and h windows: several lines
  });
}

// Other windows of NCHW rows at least a vector of columns long sum from
// transposed lines (SumTransposedLine), not gathers: partial blocks of
// planes, columns past the last whole vector, rows wider than the tile
// (several runs of cells), overlapping windows, several lines per window.
TEST(Targets, TransposedLinesOfNchwPlanesGiveTheBitsOfChannelsLast) {
  ExpectNchwGivesTheBitsOfChannelsLast({
      {2, {2, 19, 56, 56}, {2, 19, 7, 7}},       // 56 -> 7: 8 columns, no overlap
      {2, {1, 13, 65, 65}, {1, 13, 6, 6}},       // PSPNet 65 -> 6: 10-11 columns, overlap
      {2, {2, 11, 14, 14}, {2, 11, 7, 7}},       // VGG 14 -> 7: 2 columns, tail of 6
      {2, {1, 9, 15, 15}, {1, 9, 7, 7}},         // VGG 15 -> 7: 3 columns, overlap
      {1, {2, 5, 300}, {2, 5, 7}},               // 42-43 columns: runs of cells over 128 columns
      {1, {1, 17, 1000}, {1, 17, 111}},          // 9-10 columns, many runs of cells
      {3, {1, 10, 3, 5, 33}, {1, 10, 2, 3, 5}},  // several lines a window
  });
}

// NCHW max pooling whose windows fit max_transposed_row's tile takes the
// planes as lanes from transposed lines: on every target, PyTorch's values
// and indices (NaN, -inf and ties), partial blocks of planes, columns past
// the last whole vector, rows whose windows split into several runs of
// cells, either output layout, one thread and three.
TEST(Targets, MaxPoolingOfTransposedNchwLinesFollowsPyTorch) {
  const std::vector<PoolShape> shapes = {
      {2, {2, 19, 14, 14}, {2, 19, 7, 7}},     // VGG 14 -> 7
      {2, {1, 11, 15, 15}, {1, 11, 7, 7}},     // VGG 15 -> 7: overlap
      {2, {1, 9, 65, 65}, {1, 9, 6, 6}},       // PSPNet 65 -> 6
      {2, {1, 5, 65, 65}, {1, 5, 3, 3}},       // PSPNet 65 -> 3: 22-23 cells a side
      {2, {1, 13, 40, 300}, {1, 13, 9, 20}},   // several runs of cells a row
      {1, {2, 7, 100}, {2, 7, 9}},             // 1-d
      {3, {1, 6, 3, 9, 20}, {1, 6, 2, 4, 6}},  // 3-d: lines of d and h
      {2, {2, 19, 5, 5}, {2, 19, 13, 13}},     // rows narrower than a vector: dense planes
      {2, {1, 9, 3, 4}, {1, 9, 5, 7}},         // a plane of 12 cells
      {3, {1, 6, 2, 2, 3}, {1, 6, 3, 3, 4}},   // a 3-d plane of 12 cells
  };
  for_each_target([&] {
    std::mt19937_64 rng(83);
    for (const PoolShape& shape : shapes) {
      for (DType dtype : kDTypes) {
        for (LayoutKind out_layout : {LayoutKind::contiguous, LayoutKind::channels_last}) {
          for (int threads : {1, 3}) {
            const Case c{shape.spatial,          shape.in,   shape.out, dtype,
                         LayoutKind::contiguous, out_layout, threads};
            ASSERT_EQ(check_max(c, rng), "") << c.label();
          }
        }
      }
    }
  });
}

// Max pooling of dense NCHW planes with rows narrower than a vector loads
// whole vectors of plane cells, never past the plane: here the last plane
// ends the input, stored in a buffer of its exact size, which sanitizer
// builds guard.
TEST(Targets, MaxPoolingOfNarrowRowsReadsNothingPastTheInput) {
  const std::vector<int64_t> in_shape = {1, 9, 5, 5};
  const std::vector<int64_t> out_shape = {1, 9, 13, 13};
  Dense values(in_shape);
  for (size_t i = 0; i < values.values.size(); ++i) {
    values.values[i] = static_cast<double>((i * 7) % 11) - 5.0;  // exact in float, with ties
  }
  const std::vector<float> input(values.values.begin(), values.values.end());
  const MaxResult want = reference_max_forward(values, 2, out_shape);
  const Layout output = Layout::contiguous(out_shape);
  for_each_target([&] {
    std::vector<float> got(want.values.values.size());
    std::vector<int64_t> indices(got.size());
    adaptive_max_pool(DType::f32, 2, Layout::contiguous(in_shape), input.data(), output, got.data(),
                      &output, indices.data());
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i], static_cast<float>(want.values.values[i])) << i;
      ASSERT_EQ(indices[i], static_cast<int64_t>(want.indices.values[i])) << i;
    }
  });
}

// The last cells of a line load whole vectors of columns: where those would
// pass the line's end, the cells go one by one. Here the line ends the input,
// stored in a buffer of its exact size, which sanitizer builds guard.
TEST(Targets, CellLanesReadNothingPastTheInput) {
  const std::vector<int64_t> in_shape = {1, 1, 9, 64};
  const std::vector<int64_t> out_shape = {1, 1, 2, 16};
  Dense values(in_shape);
  for (size_t i = 0; i < values.values.size(); ++i) {
    values.values[i] = static_cast<double>(i % 13) - 6.0;  // exact in float
  }
  const std::vector<float> input(values.values.begin(), values.values.end());
  const Dense want = reference_forward(values, 2, out_shape);
  for_each_target([&] {
    Strided got(out_shape, LayoutKind::contiguous, 2, DType::f32);
    adaptive_avg_pool(DType::f32, 2, Layout::contiguous(in_shape), input.data(), got.layout(),
                      got.data());
    ASSERT_EQ(compare(got.read(), want, DType::f32), "");
  });
}

// Rows that do not follow each other (padded, as in a crop of a wider
// image) are one run each, in order.
TEST(Targets, RunsOfPaddedRowsGiveTheBitsOfChannelsLast) {
  const int64_t batch = 2, channels = 19, height = 5, width = 20, pitch = 23;
  const std::vector<int64_t> in_shape = {batch, channels, height, width};
  const std::vector<int64_t> out_shape = {batch, channels, 1, 1};
  std::mt19937_64 rng(14);
  Strided logical(in_shape, LayoutKind::contiguous, 2, DType::f32);
  logical.fill_random(rng);
  const Dense values = logical.read();
  std::vector<float> padded(static_cast<size_t>(batch * channels * height * pitch), NAN);
  for (size_t i = 0; i < values.values.size(); ++i) {
    const auto w = static_cast<int64_t>(i) % width;
    const auto row = static_cast<int64_t>(i) / width;  // (n, c, h) flattened
    padded[static_cast<size_t>(row * pitch + w)] = static_cast<float>(values.values[i]);
  }
  Layout input;
  input.rank = 4;
  input.sizes = {batch, channels, height, width};
  input.strides = {channels * height * pitch, height * pitch, pitch, 1};
  for_each_target([&] {
    Strided want(out_shape, LayoutKind::contiguous, 2, DType::f32);
    Strided last(in_shape, LayoutKind::channels_last, 2, DType::f32);
    last.write(values);
    adaptive_avg_pool(DType::f32, 2, last.layout(), last.data(), want.layout(), want.data());
    Strided got(out_shape, LayoutKind::contiguous, 2, DType::f32);
    adaptive_avg_pool(DType::f32, 2, input, padded.data(), got.layout(), got.data());
    const Dense a = got.read();
    const Dense b = want.read();
    ASSERT_TRUE(std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(double)) ==
                0);
  });
}

// Backward with every store streamed (Options::stream_bytes = 0) into a
// grad_input on 64-byte aligned memory, so that the vector stores do stream
// on every target, followed by guard bytes: the bits of the plain stores,
// and nothing written past grad_input (SSE4's 2-float vectors once wrote 16
// bytes). Average pooling's channels-last paths and NCHW global fill, and
// max pooling's zeroing, in every dtype.
TEST(Targets, StreamedBackwardGivesTheBitsOfPlainStores) {
  struct Shape {
    std::vector<int64_t> in, out;
  };
  const Shape shapes[] = {{{2, 24, 16, 16}, {2, 24, 4, 4}},
                          {{2, 40, 13, 11}, {2, 40, 5, 4}},
                          {{2, 37, 7, 7}, {2, 37, 1, 1}},
                          {{1, 1030, 3, 4}, {1, 1030, 2, 3}}};
  constexpr size_t kGuard = 256;
  for_each_target([&] {
    for (const Shape& shape : shapes) {
      for (DType dtype : kDTypes) {
        for (LayoutKind layout : {LayoutKind::channels_last, LayoutKind::contiguous}) {
          std::mt19937_64 rng(14);
          Strided x(shape.in, layout, 2, dtype);
          x.fill_random(rng);
          Strided y(shape.out, layout, 2, dtype);
          Strided indices(shape.out, layout, 2, DType::f64);
          Strided dy(shape.out, layout, 2, dtype);
          dy.fill_random(rng);
          adaptive_max_pool(dtype, 2, x.layout(), x.data(), y.layout(), y.data(), &indices.layout(),
                            indices.index_data());
          Layout dx_layout = Layout::contiguous(shape.in);  // dense, in the layout's order
          if (layout == LayoutKind::channels_last) {
            const int64_t c = shape.in[1], h = shape.in[2], w = shape.in[3];
            dx_layout.strides[0] = c * h * w;
            dx_layout.strides[1] = 1;
            dx_layout.strides[2] = w * c;
            dx_layout.strides[3] = c;
          }
          const auto count =
              std::accumulate(shape.in.begin(), shape.in.end(), int64_t{1}, std::multiplies<>());
          const size_t bytes = static_cast<size_t>(count) * dtype_size(dtype);
          const auto backward = [&](bool max, int64_t stream_bytes) {
            std::vector<uint8_t> memory(bytes + kGuard + 64, 0xA5);
            uint8_t* dx = memory.data() + (64 - reinterpret_cast<uintptr_t>(memory.data()) % 64);
            Options options;
            options.stream_bytes = stream_bytes;
            if (max) {
              Plan::max_backward(dtype, 2, dy.layout(), indices.layout(), dx_layout, options)
                  .run(dy.data(), indices.index_data(), dx);
            } else {
              Plan::backward(dtype, 2, dy.layout(), dx_layout, options).run(dy.data(), dx);
            }
            return std::vector<uint8_t>(dx, dx + bytes + kGuard);
          };
          for (bool max : {false, true}) {
            const std::vector<uint8_t> plain = backward(max, std::numeric_limits<int64_t>::max());
            EXPECT_EQ(std::count(plain.end() - kGuard, plain.end(), 0xA5), kGuard);
            EXPECT_TRUE(backward(max, 0) == plain)
                << (max ? "max " : "average ") << describe(shape.in) << " -> "
                << describe(shape.out) << " " << dtype_name(dtype) << " " << name(layout);
          }
        }
      }
    }
  });
}

}  // namespace
}  // namespace adapool::testing
