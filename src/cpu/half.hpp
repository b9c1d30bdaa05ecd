// IEEE binary16 and bfloat16 storage types with round-to-nearest-even
// conversions to and from float. Plain integer code: no ISA assumptions.
#pragma once

#include <bit>
#include <cstdint>

namespace adapool {

struct Half {
  uint16_t bits;
};
struct BFloat16 {
  uint16_t bits;
};

inline float to_float(Half h) {
  const uint32_t sign = static_cast<uint32_t>(h.bits & 0x8000u) << 16;
  const uint32_t exponent = (h.bits >> 10) & 0x1fu;
  const uint32_t mantissa = h.bits & 0x3ffu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24 is exact in float.
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(magnitude));
  }
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

inline Half to_half(float value) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  bits &= 0x7fffffffu;
  uint32_t result;
  if (bits >= 0x47800000u) {  // >= 65536, Inf or NaN
    result = bits > 0x7f800000u ? 0x7e00u : 0x7c00u;
  } else if (bits < 0x38800000u) {  // below the smallest normal half, 2^-14
    // Adding 0.5 shifts the value so float rounding (nearest even) does the
    // half subnormal rounding; the low bits are then the half's mantissa.
    const float shifted = std::bit_cast<float>(bits) + 0.5f;
    result = std::bit_cast<uint32_t>(shifted) - std::bit_cast<uint32_t>(0.5f);
  } else {
    const uint32_t odd = (bits >> 13) & 1u;
    bits += 0xc8000000u + 0xfffu + odd;  // rebias exponent (-112 << 23), round to nearest even
    result = bits >> 13;                 // a carry into exponent 31 gives Inf, as it should
  }
  return Half{static_cast<uint16_t>(result | sign)};
}

inline float to_float(BFloat16 b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b.bits) << 16);
}

inline BFloat16 to_bfloat16(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    return BFloat16{static_cast<uint16_t>((bits >> 16) | 0x40u)};  // quiet NaN, sign kept
  }
  const uint32_t rounded = bits + 0x7fffu + ((bits >> 16) & 1u);
  return BFloat16{static_cast<uint16_t>(rounded >> 16)};
}

}  // namespace adapool
