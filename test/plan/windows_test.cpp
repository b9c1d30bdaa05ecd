// The window rule against SEMANTICS.md's worked examples and against the
// textbook floor/ceil definition, and the introspection built on it.
#include <adapool/windows.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace adapool {
namespace {

__extension__ typedef __int128 Int128;

std::vector<int64_t> begins(int64_t in, int64_t out) {
  std::vector<int64_t> result;
  for (const Window& w : windows(in, out)) result.push_back(w.begin);
  return result;
}

std::vector<int64_t> counts(int64_t in, int64_t out) {
  std::vector<int64_t> result;
  for (const Window& w : windows(in, out)) result.push_back(w.count());
  return result;
}

TEST(Windows, TenToSevenOverlapAndVary) {
  EXPECT_EQ(begins(10, 7), (std::vector<int64_t>{0, 1, 2, 4, 5, 7, 8}));
  EXPECT_EQ(counts(10, 7), (std::vector<int64_t>{2, 2, 3, 2, 3, 2, 2}));
}

TEST(Windows, FiveToThirteenOutputLargerThanInput) {
  EXPECT_EQ(begins(5, 13), (std::vector<int64_t>{0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 4, 4}));
  EXPECT_EQ(counts(5, 13), (std::vector<int64_t>{1, 1, 2, 1, 1, 2, 1, 2, 1, 1, 2, 1, 1}));
}

TEST(Windows, MatchTextbookDefinitionAndCoverTheInput) {
  for (int64_t in = 1; in <= 80; ++in) {
    for (int64_t out = 1; out <= 90; ++out) {
      const std::vector<Window> cells = windows(in, out);
      ASSERT_EQ(cells.size(), static_cast<size_t>(out));
      for (int64_t o = 0; o < out; ++o) {
        // floor / ceil of exact rationals (values here are small enough for double)
        const auto begin = static_cast<int64_t>(
            std::floor(static_cast<double>(o * in) / static_cast<double>(out)));
        const auto end = static_cast<int64_t>(
            std::ceil(static_cast<double>((o + 1) * in) / static_cast<double>(out)));
        ASSERT_EQ(cells[o].begin, begin) << in << " -> " << out << " cell " << o;
        ASSERT_EQ(cells[o].end, end) << in << " -> " << out << " cell " << o;
        ASSERT_GE(cells[o].count(), 1);
      }
      EXPECT_EQ(cells.front().begin, 0);
      EXPECT_EQ(cells.back().end, in);
    }
  }
}

TEST(Windows, CountBoundHoldsEveryWindowAndIsExactWhereOutDividesIn) {
  for (int64_t in = 1; in <= 70; ++in) {
    for (int64_t out = 1; out <= 70; ++out) {
      const std::vector<int64_t> all = counts(in, out);
      const int64_t largest = *std::max_element(all.begin(), all.end());
      SCOPED_TRACE(testing::Message() << in << " -> " << out);
      EXPECT_LE(largest, window_count_bound(in, out));
      if (in % out == 0) {
        EXPECT_EQ(largest, window_count_bound(in, out));
      }
      if (in < out) {
        EXPECT_LE(window_count_bound(in, out), 2);
      }
    }
  }
  EXPECT_EQ(window_count_bound(5, 13), 2);
  EXPECT_EQ(window_count_bound(14, 7), 2);
  EXPECT_EQ(window_count_bound(15, 7), 4);
}

TEST(Windows, HugeSizesStayExactWithoutOverflow) {
  // o * in alone would overflow for o near out; the split form does not.
  const int64_t in = (int64_t{1} << 31) + 11;
  const int64_t out = (int64_t{1} << 31) - 1;
  ASSERT_TRUE(window_arithmetic_fits(in, out));
  const int64_t o = out - 1;
  EXPECT_EQ(window_end(o, in, out), in);
  EXPECT_EQ(window_begin(0, in, out), 0);
  // begin(o) = floor(o * in / out) with 128-bit arithmetic as the judge.
  for (int64_t probe : {int64_t{1}, int64_t{12345}, out / 2, out - 2, out - 1}) {
    const Int128 exact = static_cast<Int128>(probe) * in / out;
    EXPECT_EQ(window_begin(probe, in, out), static_cast<int64_t>(exact));
    const Int128 exact_end = (static_cast<Int128>(probe + 1) * in + out - 1) / out;
    EXPECT_EQ(window_end(probe, in, out), static_cast<int64_t>(exact_end));
  }
  EXPECT_FALSE(window_arithmetic_fits(int64_t{1} << 32, int64_t{1} << 31));
}

TEST(Windows, InverseWindowsListExactlyTheOutputsHoldingEachInput) {
  for (int64_t in = 1; in <= 40; ++in) {
    for (int64_t out = 0; out <= 45; ++out) {
      const std::vector<Window> cells = windows(in, out);
      const std::vector<Window> inverse = inverse_windows(in, out);
      ASSERT_EQ(inverse.size(), static_cast<size_t>(in));
      for (int64_t i = 0; i < in; ++i) {
        for (int64_t o = 0; o < out; ++o) {
          const bool holds = cells[o].begin <= i && i < cells[o].end;
          const bool listed = inverse[i].begin <= o && o < inverse[i].end;
          ASSERT_EQ(holds, listed) << in << " -> " << out << " input " << i << " output " << o;
        }
      }
    }
  }
}

TEST(Windows, WalkerGivesEveryWindowInTurn) {
  const int64_t big = (int64_t{1} << 31) + 11;
  for (const auto& [in, out] : std::vector<std::pair<int64_t, int64_t>>{
           {1, 1}, {10, 7}, {5, 13}, {65, 6}, {7, 1}, {1, 9}, {big, big - 12}, {3, big}}) {
    for (int64_t first : {int64_t{0}, int64_t{1}, out / 2, out - 3}) {
      if (first < 0 || first >= out) continue;
      WindowWalker walker(first, in, out);
      for (int64_t o = first; o < std::min(out, first + 200); ++o, walker.next()) {
        ASSERT_EQ(walker.window(), (Window{window_begin(o, in, out), window_end(o, in, out)}))
            << in << " -> " << out << " cell " << o << " from " << first;
      }
    }
  }
}

// The closed form against the definition: every count equal and begins on a stride.
TEST(Introspection, FixedPoolEquivalentMatchesBruteForce) {
  for (int64_t in = 1; in <= 70; ++in) {
    for (int64_t out = 1; out <= 80; ++out) {
      const std::vector<Window> cells = windows(in, out);
      bool uniform = true;
      const int64_t stride = out > 1 ? cells[1].begin : cells[0].count();
      for (int64_t o = 0; o < out; ++o) {
        uniform = uniform && cells[o].count() == cells[0].count() && cells[o].begin == o * stride;
      }
      uniform = uniform && stride >= 1;
      const std::optional<FixedPool> pool = fixed_pool_equivalent(in, out);
      ASSERT_EQ(pool.has_value(), uniform) << in << " -> " << out;
      if (pool) {
        EXPECT_EQ(pool->kernel, cells[0].count());
        EXPECT_EQ(pool->stride, stride);
      }
    }
  }
  EXPECT_EQ(fixed_pool_equivalent(15, 7), (FixedPool{3, 2}));
  EXPECT_EQ(fixed_pool_equivalent(14, 7), (FixedPool{2, 2}));
  EXPECT_EQ(fixed_pool_equivalent(7, 1), (FixedPool{7, 7}));
  EXPECT_FALSE(fixed_pool_equivalent(10, 7));
  EXPECT_FALSE(fixed_pool_equivalent(5, 13));
  EXPECT_FALSE(fixed_pool_equivalent(0, 3));
}

TEST(Introspection, CeilFloorRuleIsRightOnlyWhereAFixedPoolIs) {
  // 10 -> 7: kernel 2, stride 1 gives 9 outputs (SEMANTICS.md).
  const CeilFloorRule ten_to_seven = ceil_floor_rule(10, 7);
  EXPECT_EQ(ten_to_seven.kernel, 2);
  EXPECT_EQ(ten_to_seven.stride, 1);
  EXPECT_EQ(ten_to_seven.outputs, 9);
  EXPECT_FALSE(ten_to_seven.matches);
  // 5 -> 13: stride 0, meaningless.
  EXPECT_EQ(ceil_floor_rule(5, 13).stride, 0);
  EXPECT_FALSE(ceil_floor_rule(5, 13).matches);
  EXPECT_TRUE(ceil_floor_rule(14, 7).matches);
  EXPECT_TRUE(ceil_floor_rule(15, 7).matches);  // kernel 3, stride 2
  for (int64_t in = 1; in <= 60; ++in) {
    for (int64_t out = 1; out <= 60; ++out) {
      const CeilFloorRule rule = ceil_floor_rule(in, out);
      const std::optional<FixedPool> exact = fixed_pool_equivalent(in, out);
      if (rule.matches) {
        ASSERT_TRUE(exact.has_value());
        EXPECT_EQ(rule.outputs, out);
      }
    }
  }
}

}  // namespace
}  // namespace adapool
