// Every compiled SIMD target, not only the best one this CPU has: the
// microkernels against their scalar definitions, bit for bit, and whole
// pooling runs against the reference and against each other.
#include <hwy/highway.h>
#include <hwy/targets.h>

#include <gtest/gtest.h>
#include <cmath>
#include <cstring>
#include <limits>

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
        std::vector<double> tile(static_cast<size_t>(n) + 1, -1.0);
        load_scaled_row(dtype)(tile.data(), source.data(), n, 3.0);
        for (int64_t i = 0; i < n; ++i) {
          const double expected = source.get(i) / 3.0;
          const double got = tile[static_cast<size_t>(i)];
          ASSERT_TRUE(std::memcmp(&expected, &got, sizeof got) == 0 ||
                      (std::isnan(expected) && std::isnan(got)))
              << dtype_name(dtype) << " load n=" << n << " i=" << i;
        }
        EXPECT_EQ(tile[static_cast<size_t>(n)], -1.0) << "wrote past the row";

        Strided destination({1, n}, LayoutKind::contiguous, 1, dtype);
        store_scaled_row(dtype)(destination.data(), values.data(), n, 7.0);
        Strided expected({1, n}, LayoutKind::contiguous, 1, dtype);
        for (int64_t i = 0; i < n; ++i) expected.set(i, values[static_cast<size_t>(i)] / 7.0);
        for (int64_t i = 0; i < n; ++i) {
          const double want = expected.get(i);
          const double got = destination.get(i);
          ASSERT_TRUE(want == got || (std::isnan(want) && std::isnan(got)))
              << dtype_name(dtype) << " store n=" << n << " i=" << i << ": " << got << " vs "
              << want;
        }
        EXPECT_TRUE(destination.outside_untouched());
      }
    }
    // Gathered tiles equal loads of the same values; window sums add in order.
    for (DType dtype : kDTypes) {
      for (int64_t planes : {1, 3, 8, 17, 64}) {
        const int64_t columns = 5;
        Strided source({planes, columns}, LayoutKind::contiguous, 1, dtype);
        source.fill_random(rng);
        std::vector<double> tile(static_cast<size_t>(planes * columns));
        gather_tile(dtype)(tile.data(), source.data(), columns, 1, planes, columns, 2.0);
        for (int64_t j = 0; j < planes; ++j) {
          for (int64_t k = 0; k < columns; ++k) {
            ASSERT_EQ(tile[static_cast<size_t>(k * planes + j)], source.get(j * columns + k) / 2.0)
                << dtype_name(dtype) << " gather planes=" << planes;
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

}  // namespace
}  // namespace adapool::testing
