// float16 / bfloat16 conversions: exhaustive round trips and, where the
// compiler has _Float16, agreement with its correctly rounded conversion.
#include "cpu/half.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>

namespace adapool {
namespace {

TEST(Half, EveryBitPatternRoundTripsThroughFloat) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const Half h{static_cast<uint16_t>(bits)};
    const float f = to_float(h);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(to_float(to_half(f))));
      continue;
    }
    ASSERT_EQ(to_half(f).bits, h.bits) << std::hex << bits;
  }
}

TEST(Half, KnownValues) {
  EXPECT_EQ(to_float(Half{0x3c00}), 1.0f);
  EXPECT_EQ(to_float(Half{0x0001}), 0x1p-24f);
  EXPECT_EQ(to_float(Half{0x7bff}), 65504.0f);
  EXPECT_EQ(to_half(65519.0f).bits, 0x7bff);             // rounds down to the largest finite
  EXPECT_EQ(to_half(65520.0f).bits, 0x7c00);             // ties to even: infinity
  EXPECT_EQ(to_half(1.0f + 0x1p-11f).bits, 0x3c00);      // tie to even (down)
  EXPECT_EQ(to_half(1.0f + 3 * 0x1p-11f).bits, 0x3c02);  // tie to even (up)
  EXPECT_EQ(to_half(0x1p-25f).bits, 0x0000);             // tie between 0 and the smallest subnormal
  EXPECT_EQ(to_half(-0.0f).bits, 0x8000);
}

#ifdef __FLT16_MAX__
TEST(Half, MatchesCompilerConversionOnSampledFloats) {
  for (uint64_t bits = 0; bits <= 0xffffffffu; bits += 251) {
    const float f = std::bit_cast<float>(static_cast<uint32_t>(bits));
    if (std::isnan(f)) continue;
    const auto expected = std::bit_cast<uint16_t>(static_cast<_Float16>(f));
    ASSERT_EQ(to_half(f).bits, expected) << std::hexfloat << f;
  }
}
#endif

TEST(BFloat16, RoundTripsAndRoundsToNearestEven) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const BFloat16 b{static_cast<uint16_t>(bits)};
    const float f = to_float(b);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(to_float(to_bfloat16(f))));
      continue;
    }
    ASSERT_EQ(to_bfloat16(f).bits, b.bits) << std::hex << bits;
  }
  EXPECT_EQ(to_bfloat16(1.0f + 0x1p-8f).bits, 0x3f80);      // tie, even is down
  EXPECT_EQ(to_bfloat16(1.0f + 3 * 0x1p-8f).bits, 0x3f82);  // tie, even is up
  EXPECT_EQ(to_bfloat16(1.0f + 0x1p-8f + 0x1p-20f).bits, 0x3f81);
  EXPECT_EQ(to_bfloat16(std::bit_cast<float>(0x7f7fffffu)).bits, 0x7f80);  // overflow to Inf
}

}  // namespace
}  // namespace adapool
