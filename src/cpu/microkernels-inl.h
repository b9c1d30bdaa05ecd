// Row microkernels, written once against Highway's portable vectors and
// compiled for every target by the translation units that include this
// header after hwy/foreach_target.h (microkernels.cpp for the exported
// entry points, kernels.cpp for the row kernels that inline them).
// Element types are float, double, Half and BFloat16 (half.hpp).

// Per-target include guard, as Highway's -inl.h headers do.
#if defined(ADAPOOL_CPU_MICROKERNELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ADAPOOL_CPU_MICROKERNELS_INL_H_
#undef ADAPOOL_CPU_MICROKERNELS_INL_H_
#else
#define ADAPOOL_CPU_MICROKERNELS_INL_H_
#endif

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <adapool/windows.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "cpu/half.hpp"

HWY_BEFORE_NAMESPACE();
namespace adapool {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D64 = hn::ScalableTag<double>;

// Highway 1.0's emulated targets clamp infinities to the largest float when
// demoting double to float, and its float16 conversions without F16C
// (SSSE3, SSE4) mishandle Inf and NaN: those take the scalar path, which the
// tests hold every target to, bit for bit.
#if HWY_TARGET == HWY_SCALAR || HWY_TARGET == HWY_EMU128
constexpr bool kVectorDemote = false;
#else
constexpr bool kVectorDemote = true;
#endif
#if HWY_ARCH_X86 && HWY_TARGET > HWY_AVX2
constexpr bool kVectorFloat16 = false;
#else
constexpr bool kVectorFloat16 = kVectorDemote;
#endif

// Highway's names for the 16-bit storage types.
template <class T>
struct HwyType {
  using type = T;
};
template <>
struct HwyType<Half> {
  using type = hwy::float16_t;
};
template <>
struct HwyType<BFloat16> {
  using type = hwy::bfloat16_t;
};

// N values of T widened to doubles: float and the 16-bit floats go through
// float, which represents them exactly.
template <class T>
HWY_INLINE hn::Vec<D64> LoadWide(D64 d64, const T* HWY_RESTRICT x) {
  if constexpr (std::is_same_v<T, double>) {
    return hn::LoadU(d64, x);
  } else {
    const hn::Rebind<float, D64> d32;
    if constexpr (std::is_same_v<T, float>) {
      return hn::PromoteTo(d64, hn::LoadU(d32, x));
    } else {
      using Narrow = typename HwyType<T>::type;
      const hn::Rebind<Narrow, decltype(d32)> d16;
      return hn::PromoteTo(d64,
                           hn::PromoteTo(d32, hn::LoadU(d16, reinterpret_cast<const Narrow*>(x))));
    }
  }
}

template <class T>
HWY_INLINE double LoadScalar(const T* x) {
  return static_cast<double>(to_float(*x));
}
template <>
HWY_INLINE double LoadScalar(const double* x) {
  return *x;
}
template <>
HWY_INLINE double LoadScalar(const float* x) {
  return *x;
}

template <class T>
HWY_INLINE T NarrowTo(float value);

// One value rounded to T: double as is, the others through float.
template <class T>
HWY_INLINE T StoreScalar(double value) {
  if constexpr (std::is_same_v<T, double>) {
    return value;
  } else {
    return NarrowTo<T>(static_cast<float>(value));
  }
}

template <class T>
HWY_INLINE T NarrowTo(float value) {
  if constexpr (std::is_same_v<T, Half>) {
    return to_half(value);
  } else if constexpr (std::is_same_v<T, BFloat16>) {
    return to_bfloat16(value);
  } else {
    return value;
  }
}

// Division by a window's cell count, in vectors. Where the count is a power
// of two its reciprocal is exact, and x * (1 / c) rounds the same exact
// quotient as x / c: the same bits, subnormal results included. Divisions
// take several cycles a vector where multiplications pipeline: they were
// about half the time of a 5x5 -> 13x13 channels-last backward (counts 1,
// 2 and 4). `by` holds 1 / c where `exact`, else c (see DivisorVector).
// A power of two has no mantissa bits; its reciprocal negates the unbiased
// exponent, and is normal too for biased exponents 1..2045 (2^-1022 to
// 2^1022; counts are at most 2^63). Bit tests, not frexp and a division:
// the forward asks once per block of planes of each output cell.
constexpr uint64_t kMantissaBits = (uint64_t{1} << 52) - 1;
constexpr uint64_t kExponentBits = uint64_t{0x7FF} << 52;

HWY_INLINE bool ExactReciprocal(double divisor) {
  const auto bits = std::bit_cast<uint64_t>(divisor);
  const uint64_t exponent = (bits & kExponentBits) >> 52;
  return (bits & kMantissaBits) == 0 && exponent >= 1 && exponent <= 2045;
}

HWY_INLINE hn::Vec<D64> DivisorVector(double divisor, bool exact) {
  if (!exact) return hn::Set(D64(), divisor);
  // 2^e with biased exponent b = e + 1023 -> 2^-e, biased 2046 - b.
  const auto bits = std::bit_cast<uint64_t>(divisor);
  const uint64_t exponent = (bits & kExponentBits) >> 52;
  const uint64_t inverse = (bits & ~kExponentBits) | ((2046 - exponent) << 52);
  return hn::Set(D64(), std::bit_cast<double>(inverse));
}

HWY_INLINE hn::Vec<D64> Divide(hn::Vec<D64> v, hn::Vec<D64> by, bool exact) {
  return exact ? hn::Mul(v, by) : hn::Div(v, by);
}

// Division of values widened from float, float16 or bfloat16 by a count c
// that is not a power of two, in fused multiply-adds instead of a division
// (VGG's 15x15 -> 7x7 channels-last backward, counts 9, spent a third of
// its time dividing: 2.05-2.19 -> 1.31 ms at one thread): with
// y = RN(1 / c) and q = RN(v y), r = v - q c is exact in one fused
// multiply-add, and RN(q + r y) is RN(v / c) (Markstein's correction). Such
// v have at most 24 significant bits and float's exponents, so no step
// underflows or overflows and v / c rounds alike at every exponent: every
// float significand in [1, 2) gave the division's bits for every count up
// to kCorrectedCounts (checked once outside the suite; the tests check
// samples of it on every target). q may be more than an ulp off, outside
// Markstein's theorem, so larger counts divide. Where r is 0 (q exact) or
// NaN (v infinite or NaN), q is the quotient, with the sign of a zero v,
// which q + r y would lose. Targets without a fused multiply-add (SSE4, the
// emulated ones) divide.
template <class T>
constexpr bool kCorrectedDivision = HWY_NATIVE_FMA && !std::is_same_v<T, double>;
constexpr double kCorrectedCounts = 12000;

HWY_INLINE hn::Vec<D64> CorrectedQuotient(hn::Vec<D64> v, hn::Vec<D64> reciprocal,
                                          hn::Vec<D64> count) {
  const auto q = hn::Mul(v, reciprocal);
  const auto r = hn::NegMulAdd(q, count, v);
  return hn::IfThenElse(hn::Gt(hn::Abs(r), hn::Zero(D64())), hn::MulAdd(r, reciprocal, q), q);
}

template <class T>
HWY_INLINE void LoadScaled(double* HWY_RESTRICT tile, const void* source, int64_t n,
                           double divisor) {
  const T* HWY_RESTRICT x = static_cast<const T*>(source);
  const D64 d64;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d64));
  const bool exact = ExactReciprocal(divisor);
  const auto by = DivisorVector(divisor, exact);
  int64_t i = 0;
  if constexpr (kVectorFloat16 || !std::is_same_v<T, Half>) {
    if (divisor == 1.0) {
      for (; i + lanes <= n; i += lanes) hn::StoreU(LoadWide(d64, x + i), d64, tile + i);
    } else if (kCorrectedDivision<T> && !exact && divisor <= kCorrectedCounts) {
      const auto reciprocal = hn::Set(d64, 1.0 / divisor);
      for (; i + lanes <= n; i += lanes) {
        hn::StoreU(CorrectedQuotient(LoadWide(d64, x + i), reciprocal, by), d64, tile + i);
      }
    } else {
      for (; i + lanes <= n; i += lanes) {
        hn::StoreU(Divide(LoadWide(d64, x + i), by, exact), d64, tile + i);
      }
    }
  }
  for (; i < n; ++i) tile[i] = LoadScalar(x + i) / divisor;
}

// float and double store vectors; the 16-bit types round the float result
// with the scalar round-to-nearest-even of half.hpp, the one definition of
// that rounding in the project. `stream`: float and double vectors bypass
// the caches (non-temporal stores) where y is aligned to a vector, for
// destinations too large to stay cached (PlanData::stream); the caller
// fences them (hwy::FlushStream) before its results are read.
template <class T>
HWY_INLINE void StoreScaled(void* destination, const double* HWY_RESTRICT acc, int64_t n,
                            double divisor, bool stream = false) {
  T* HWY_RESTRICT y = static_cast<T*>(destination);
  const D64 d64;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d64));
  const bool exact = ExactReciprocal(divisor);
  const auto by = DivisorVector(divisor, exact);
  // Non-temporal only where y is aligned to a whole vector of at least 16
  // bytes: Stream stores a narrower one (SSE4's 2 floats) as 16.
  const auto vector_bytes = static_cast<uintptr_t>(lanes) * sizeof(T);
  const bool streams =
      stream && vector_bytes >= 16 && reinterpret_cast<uintptr_t>(y) % vector_bytes == 0;
  int64_t i = 0;
  if constexpr (std::is_same_v<T, double>) {
    for (; i + lanes <= n; i += lanes) {
      const auto v = Divide(hn::LoadU(d64, acc + i), by, exact);
      if (streams) {
        hn::Stream(v, d64, y + i);
      } else {
        hn::StoreU(v, d64, y + i);
      }
    }
    for (; i < n; ++i) y[i] = acc[i] / divisor;
  } else if constexpr (kVectorDemote) {
    const hn::Rebind<float, D64> d32;
    HWY_ALIGN float narrow[hn::MaxLanes(d32)];
    for (; i + lanes <= n; i += lanes) {
      const auto wide = hn::LoadU(d64, acc + i);
      const auto v = hn::DemoteTo(d32, divisor == 1.0 ? wide : Divide(wide, by, exact));
      if constexpr (std::is_same_v<T, float>) {
        if (streams) {
          hn::Stream(v, d32, y + i);
        } else {
          hn::StoreU(v, d32, y + i);
        }
      } else {
        hn::Store(v, d32, narrow);
        for (int64_t k = 0; k < lanes; ++k) y[i + k] = NarrowTo<T>(narrow[k]);
      }
    }
  }
  if constexpr (!std::is_same_v<T, double>) {
    for (; i < n; ++i) y[i] = NarrowTo<T>(static_cast<float>(acc[i] / divisor));
  }
}

// y[0, n) = value, with non-temporal stores from the first aligned vector
// on where `stream` (PlanData::stream); the caller fences them
// (hwy::FlushStream) before anyone reads or adds to them.
template <class T>
HWY_INLINE void FillRun(T* y, int64_t n, T value, bool stream) {
  if (!stream) {
    std::fill_n(y, n, value);
    return;
  }
  using Bits = hwy::UnsignedFromSize<sizeof(T)>;
  Bits bits;
  std::memcpy(&bits, &value, sizeof(T));
  const hn::ScalableTag<Bits> d;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d));
  const auto vector_bytes = static_cast<uintptr_t>(lanes) * sizeof(T);
  const auto gap = (vector_bytes - reinterpret_cast<uintptr_t>(y) % vector_bytes) % vector_bytes;
  int64_t i = std::min(n, static_cast<int64_t>(gap / sizeof(T)));
  std::fill_n(y, i, value);
  const auto v = hn::Set(d, bits);
  for (; i + lanes <= n; i += lanes) hn::Stream(v, d, reinterpret_cast<Bits*>(y + i));
  std::fill_n(y + i, n - i, value);
}

// FillRun with +0.0, all bits zero in every T.
template <class T>
HWY_INLINE void ZeroRun(T* y, int64_t n, bool stream) {
  FillRun(y, n, T{}, stream);
}

// Planes of float and double move as vectors through hardware gathers and
// scatters when their offsets fit int32 (on targets with exact demotion);
// the 16-bit types go one by one.
template <class T>
constexpr bool kGatherable = std::is_same_v<T, float> || std::is_same_v<T, double>;

template <class T>
HWY_INLINE bool CanGather(int64_t plane_stride) {
  const auto lanes = static_cast<int64_t>(hn::Lanes(D64()));
  // Divided, not multiplied: the stride of a size-1 channel dimension may be
  // anything up to INT64_MAX (found by fuzz_plan).
  const int64_t limit = INT32_MAX / lanes;
  return kGatherable<T> && kVectorDemote && plane_stride >= -limit && plane_stride <= limit;
}

// Offsets of N consecutive planes, in the index type GatherIndex takes for T.
template <class T>
HWY_INLINE auto PlaneOffsets(int64_t plane_stride) {
  using Index = std::conditional_t<std::is_same_v<T, float>, int32_t, int64_t>;
  const hn::Rebind<Index, D64> di;
  return hn::Mul(hn::Iota(di, 0), hn::Set(di, static_cast<Index>(plane_stride)));
}

// N planes from base at the given offsets, widened to doubles.
template <class T, class Offsets>
HWY_INLINE hn::Vec<D64> GatherWide(const T* base, Offsets offsets) {
  const hn::Rebind<T, D64> dt;
  const auto v = hn::GatherIndex(dt, base, offsets);
  if constexpr (std::is_same_v<T, float>) {
    return hn::PromoteTo(D64(), v);
  } else {
    return v;
  }
}

// Planes N at a time with hardware gathers (32- and 64-bit lanes only; the
// 16-bit types and offsets beyond int32 go one by one).
template <class T>
HWY_INLINE void Gather(double* HWY_RESTRICT tile, const void* source, int64_t columns,
                       int64_t column_stride, int64_t planes, int64_t plane_stride,
                       double divisor) {
  const T* x = static_cast<const T*>(source);
  const D64 d64;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d64));
  int64_t vector_planes = 0;
  if constexpr (kGatherable<T>) {
    if (CanGather<T>(plane_stride)) {
      vector_planes = planes - planes % lanes;
      const auto offsets = PlaneOffsets<T>(plane_stride);
      const bool exact = ExactReciprocal(divisor);
      const auto by = DivisorVector(divisor, exact);
      for (int64_t k = 0; k < columns; ++k) {
        const T* column = x + k * column_stride;
        double* out = tile + k * planes;
        for (int64_t j = 0; j < vector_planes; j += lanes) {
          const auto wide = GatherWide(column + j * plane_stride, offsets);
          hn::StoreU(divisor == 1.0 ? wide : Divide(wide, by, exact), d64, out + j);
        }
      }
    }
  }
  if (vector_planes == planes) return;
  const T* data = static_cast<const T*>(source);
  for (int64_t j = vector_planes; j < planes; ++j) {
    const T* plane = data + j * plane_stride;
    for (int64_t k = 0; k < columns; ++k) {
      tile[k * planes + j] = LoadScalar(plane + k * column_stride) / divisor;
    }
  }
}

// Up to four vectors of sums stay in registers while a window's columns are
// added, one column after another: the order of the sums is the contract.
// load(w, offset) gives the vector of column w at plane offset.
template <int kVectors, class Load>
HWY_INLINE void SumBlock(double* HWY_RESTRICT sums, int64_t count, const Load& load) {
  const D64 d64;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d64));
  auto a0 = hn::LoadU(d64, sums);
  auto a1 = kVectors > 1 ? hn::LoadU(d64, sums + lanes) : a0;
  auto a2 = kVectors > 2 ? hn::LoadU(d64, sums + 2 * lanes) : a0;
  auto a3 = kVectors > 3 ? hn::LoadU(d64, sums + 3 * lanes) : a0;
  for (int64_t w = 0; w < count; ++w) {
    a0 = hn::Add(a0, load(w, 0));
    if (kVectors > 1) a1 = hn::Add(a1, load(w, lanes));
    if (kVectors > 2) a2 = hn::Add(a2, load(w, 2 * lanes));
    if (kVectors > 3) a3 = hn::Add(a3, load(w, 3 * lanes));
  }
  hn::StoreU(a0, d64, sums);
  if (kVectors > 1) hn::StoreU(a1, d64, sums + lanes);
  if (kVectors > 2) hn::StoreU(a2, d64, sums + 2 * lanes);
  if (kVectors > 3) hn::StoreU(a3, d64, sums + 3 * lanes);
}

// A channels-last window's columns are summed this many at a time for all the
// planes, then the next ones: a few streams along the columns, not one for
// each column. Each block of planes walking a whole wide window instead read
// columns a row's stride apart (8 KiB for 2048 float channels), which the
// stride prefetchers do not follow. Measured in C++ at one thread, PSPNet's
// channels-last forwards (reading their 277 MB alone takes 20 ms): 65 -> 1
// 48 -> 24.5 ms, 65 -> 2 29 -> 24 ms, 65 -> 6 26 -> 25.5 ms (max pooling:
// 36-41 -> 25-29 ms). 8 columns were as fast for 65 -> 1 but took 26-43 ms
// for 65 -> 6 from one run to the next; 4 did not vary.
constexpr int64_t kColumnsPerPass = 4;

// For each cell, its window's columns clipped to [column_begin, column_end)
// summed into sums[cell][0..planes): vector_load(w, j) loads the vector of
// column w at plane j; scalar_load(w, j) one value. Planes that do not fill
// a vector go one by one. window_of(i) is asked once per cell, in
// increasing i. `passes`: kColumnsPerPass columns at a time for all planes
// (channels-last input), else each block of planes through the whole
// window. Every sum adds its columns in order either way.
template <class WindowOf, class VectorLoad, class ScalarLoad>
HWY_INLINE void SumCells(double* HWY_RESTRICT sums, const WindowOf& window_of, int64_t cells,
                         int64_t column_begin, int64_t column_end, int64_t planes,
                         int64_t vector_planes, bool passes, const VectorLoad& vector_load,
                         const ScalarLoad& scalar_load) {
  const D64 d64;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d64));
  for (int64_t i = 0; i < cells; ++i) {
    const Window window = window_of(i);
    const int64_t begin = std::max(window.begin, column_begin);
    const int64_t end = std::min(window.end, column_end);
    if (begin >= end) continue;
    double* cell = sums + i * planes;
    const int64_t per_pass = passes ? kColumnsPerPass : end - begin;
    for (int64_t w0 = begin; w0 < end; w0 += per_pass) {
      const int64_t count = std::min(end - w0, per_pass);
      int64_t j = 0;
      for (; j + 4 * lanes <= vector_planes; j += 4 * lanes) {
        SumBlock<4>(cell + j, count,
                    [&](int64_t w, int64_t offset) { return vector_load(w0 + w, j + offset); });
      }
      for (; j + lanes <= vector_planes; j += lanes) {
        SumBlock<1>(cell + j, count,
                    [&](int64_t w, int64_t offset) { return vector_load(w0 + w, j + offset); });
      }
    }
    for (int64_t j = vector_planes - vector_planes % lanes; j < planes; ++j) {
      double a = cell[j];
      for (int64_t w = begin; w < end; ++w) a += scalar_load(w, j);
      cell[j] = a;
    }
  }
}

template <class WindowOf>
HWY_INLINE void SumWindows(double* HWY_RESTRICT sums, const double* HWY_RESTRICT tile,
                           const WindowOf& window_of, int64_t cells, int64_t tile_begin,
                           int64_t tile_end, int64_t planes) {
  const D64 d64;
  const double* origin = tile - tile_begin * planes;
  SumCells(
      sums, window_of, cells, tile_begin, tile_end, planes, planes, false,
      [&](int64_t w, int64_t j) { return hn::LoadU(d64, origin + w * planes + j); },
      [&](int64_t w, int64_t j) { return origin[w * planes + j]; });
}

// The forward sums straight from the input, without a tile: contiguous
// planes (channels-last) as vector loads, others as hardware gathers.
template <class T, class WindowOf>
HWY_INLINE void SumInput(double* HWY_RESTRICT sums, const void* source, const WindowOf& window_of,
                         int64_t cells, int64_t column_begin, int64_t column_end, int64_t planes,
                         int64_t column_stride, int64_t plane_stride) {
  const T* x = static_cast<const T*>(source);
  const D64 d64;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d64));
  const auto scalar = [&](int64_t w, int64_t j) {
    return LoadScalar(x + w * column_stride + j * plane_stride);
  };
  const int64_t whole = planes - planes % lanes;
  if constexpr (kVectorFloat16 || !std::is_same_v<T, Half>) {
    if (plane_stride == 1) {
      SumCells(
          sums, window_of, cells, column_begin, column_end, planes, whole, true,
          [&](int64_t w, int64_t j) { return LoadWide(d64, x + w * column_stride + j); }, scalar);
      return;
    }
  }
  if constexpr (kGatherable<T>) {
    if (CanGather<T>(plane_stride)) {
      const auto offsets = PlaneOffsets<T>(plane_stride);
      SumCells(
          sums, window_of, cells, column_begin, column_end, planes, whole, false,
          [&](int64_t w, int64_t j) {
            return GatherWide(x + w * column_stride + j * plane_stride, offsets);
          },
          scalar);
      return;
    }
  }
  SumCells(
      sums, window_of, cells, column_begin, column_end, planes, 0, false,
      [&](int64_t, int64_t) { return hn::Zero(d64); }, scalar);
}

// One cell of channels-last data (planes contiguous in the source and the
// destination): the window's cells of x, d then h then w, summed from 0.0
// in registers for kVectors vectors of planes at a time, divided by count
// and stored. Every plane's sum is in SumInput's order, without the workspace
// between window rows. `strides` are x's d, h, w strides. The forward sums
// the input (In = Out = T); the backward, shares already divided (In = double).
template <int kVectors, class In, class Out>
HWY_INLINE int64_t PoolCellBlocks(Out* HWY_RESTRICT out, const In* HWY_RESTRICT x, int64_t j,
                                  int64_t planes, const Window (&window)[3],
                                  const int64_t (&strides)[3], double count, bool stream) {
  const D64 d64;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d64));
  HWY_ALIGN double block[kVectors * hn::MaxLanes(d64)];
  for (; j + kVectors * lanes <= planes; j += kVectors * lanes) {
    auto a0 = hn::Zero(d64);
    auto a1 = a0;
    auto a2 = a0;
    auto a3 = a0;
    for (int64_t d = window[0].begin; d < window[0].end; ++d) {
      for (int64_t h = window[1].begin; h < window[1].end; ++h) {
        const In* line = x + d * strides[0] + h * strides[1] + j;
        for (int64_t w = window[2].begin; w < window[2].end; ++w) {
          const In* cell = line + w * strides[2];
          a0 = hn::Add(a0, LoadWide(d64, cell));
          if (kVectors > 1) a1 = hn::Add(a1, LoadWide(d64, cell + lanes));
          if (kVectors > 2) a2 = hn::Add(a2, LoadWide(d64, cell + 2 * lanes));
          if (kVectors > 3) a3 = hn::Add(a3, LoadWide(d64, cell + 3 * lanes));
        }
      }
    }
    hn::Store(a0, d64, block);
    if (kVectors > 1) hn::Store(a1, d64, block + lanes);
    if (kVectors > 2) hn::Store(a2, d64, block + 2 * lanes);
    if (kVectors > 3) hn::Store(a3, d64, block + 3 * lanes);
    StoreScaled<Out>(out + j, block, kVectors * lanes, count, stream);
  }
  return j;
}

template <class In, class Out>
HWY_INLINE void PoolCellChannelsLast(Out* HWY_RESTRICT out, const In* HWY_RESTRICT x,
                                     int64_t planes, const Window (&window)[3],
                                     const int64_t (&strides)[3], double count,
                                     bool stream = false) {
  int64_t j = 0;
  if constexpr (kVectorFloat16 || !std::is_same_v<In, Half>) {
    j = PoolCellBlocks<4>(out, x, j, planes, window, strides, count, stream);
    j = PoolCellBlocks<1>(out, x, j, planes, window, strides, count, stream);
  }
  for (; j < planes; ++j) {
    double sum = 0.0;
    for (int64_t d = window[0].begin; d < window[0].end; ++d) {
      for (int64_t h = window[1].begin; h < window[1].end; ++h) {
        for (int64_t w = window[2].begin; w < window[2].end; ++w) {
          sum += LoadScalar(x + d * strides[0] + h * strides[1] + w * strides[2] + j);
        }
      }
    }
    StoreScaled<Out>(out + j, &sum, 1, count);
  }
}

// One dx cell of channels-last planes from the outputs that feed it when
// every one of their counts is a power of two: each share dy[o] / count(o)
// is then the exact product dy[o] * (1 / count(o)), so a multiply-add of
// the gradient as loaded rounds the same sum as adding a share widened
// beforehand (backward_cells_channels_last's tile), without the tile. The
// outputs go line by line (lines[l], in od, then oh order), then along the
// line's outputs [feeding.begin, feeding.end) at step `step`, whose
// reciprocals are reciprocals[l * line_stride + ow - first]. kVectors
// vectors of planes at a time from plane j; returns the planes done.
struct ExactShares {
  const void* const* lines;
  int64_t line_count;
  Window feeding;
  int64_t step;
  const double* reciprocals;
  int64_t line_stride;
  int64_t first;
};

template <int kVectors, class T>
HWY_INLINE int64_t SumExactShareBlocks(T* HWY_RESTRICT out, const ExactShares& shares, int64_t j,
                                       int64_t planes, bool stream) {
  const D64 d64;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d64));
  HWY_ALIGN double block[kVectors * hn::MaxLanes(d64)];
  for (; j + kVectors * lanes <= planes; j += kVectors * lanes) {
    auto a0 = hn::Zero(d64);
    auto a1 = a0;
    auto a2 = a0;
    auto a3 = a0;
    for (int64_t l = 0; l < shares.line_count; ++l) {
      const T* line = static_cast<const T*>(shares.lines[l]) + j;
      const double* reciprocal = shares.reciprocals + l * shares.line_stride - shares.first;
      for (int64_t o = shares.feeding.begin; o < shares.feeding.end; ++o) {
        const T* cell = line + o * shares.step;
        const auto r = hn::Set(d64, reciprocal[o]);
        a0 = hn::MulAdd(LoadWide(d64, cell), r, a0);
        if (kVectors > 1) a1 = hn::MulAdd(LoadWide(d64, cell + lanes), r, a1);
        if (kVectors > 2) a2 = hn::MulAdd(LoadWide(d64, cell + 2 * lanes), r, a2);
        if (kVectors > 3) a3 = hn::MulAdd(LoadWide(d64, cell + 3 * lanes), r, a3);
      }
    }
    hn::Store(a0, d64, block);
    if (kVectors > 1) hn::Store(a1, d64, block + lanes);
    if (kVectors > 2) hn::Store(a2, d64, block + 2 * lanes);
    if (kVectors > 3) hn::Store(a3, d64, block + 3 * lanes);
    StoreScaled<T>(out + j, block, kVectors * lanes, 1.0, stream);
  }
  return j;
}

template <class T>
HWY_INLINE void SumExactShares(T* HWY_RESTRICT out, const ExactShares& shares, int64_t planes,
                               bool stream) {
  int64_t j = 0;
  if constexpr (kVectorFloat16 || !std::is_same_v<T, Half>) {
    j = SumExactShareBlocks<4>(out, shares, j, planes, stream);
    j = SumExactShareBlocks<1>(out, shares, j, planes, stream);
  }
  for (; j < planes; ++j) {
    double sum = 0.0;
    for (int64_t l = 0; l < shares.line_count; ++l) {
      const T* line = static_cast<const T*>(shares.lines[l]) + j;
      const double* reciprocal = shares.reciprocals + l * shares.line_stride - shares.first;
      for (int64_t o = shares.feeding.begin; o < shares.feeding.end; ++o) {
        sum += LoadScalar(line + o * shares.step) * reciprocal[o];  // an exact product
      }
    }
    StoreScaled<T>(out + j, &sum, 1, 1.0);
  }
}

// Where the lines of one row of windows lie in a plane: line (d, h) at
// d * d_stride + h * h_stride, for d in wd, then h in wh.
struct WindowLines {
  Window wd;
  Window wh;
  int64_t d_stride;
  int64_t h_stride;
};

// a + the cells of window (along each line) of every line, in order.
template <class T>
HWY_INLINE double SumAlongLines(double a, const T* plane, const WindowLines& lines, Window window) {
  for (int64_t d = lines.wd.begin; d < lines.wd.end; ++d) {
    for (int64_t h = lines.wh.begin; h < lines.wh.end; ++h) {
      const T* line = plane + d * lines.d_stride + h * lines.h_stride;
      for (int64_t w = window.begin; w < window.end; ++w) a += LoadScalar(line + w);
    }
  }
  return a;
}

// The most columns SumTransposedLine transposes at once: a tile of 8 KiB of
// doubles on AVX-512, in L1 with the lines it comes from.
constexpr int64_t kTileColumns = 128;

// Runs: for planes whose windows are contiguous in memory (NCHW), each
// plane's run arrives as contiguous vectors, one per plane, transposed in
// registers so that the planes are the lanes again: N planes by N columns
// at a time, the N transposed vectors added in column order. Each lane
// still adds its own plane's elements one after another, so the sums are
// those of SumInput, bit for bit. float16 needs the vector conversions
// SumInput's loads need (kVectorFloat16). Arrays of vectors need a lane
// count known at compile time: scalable targets (SVE, RVV) keep SumInput.
#if HWY_HAVE_SCALABLE
template <class T>
constexpr bool kTransposedRuns = false;

// Never called (kTransposedRuns is false); defined so that callers compile.
template <class T>
HWY_INLINE void SumRuns(double* HWY_RESTRICT sums, const void* source, int64_t length,
                        int64_t planes, int64_t plane_stride) {
  const T* x = static_cast<const T*>(source);
  for (int64_t j = 0; j < planes; ++j) {
    double a = sums[j];
    for (int64_t t = 0; t < length; ++t) a += LoadScalar(x + j * plane_stride + t);
    sums[j] = a;
  }
}

// Never called (CellLanesPay is false); defined, one by one, so that
// callers compile.
template <class T>
HWY_INLINE void SumCellLanes(double* HWY_RESTRICT sums, const void* source,
                             const WindowLines& lines, int64_t o0, int64_t o1, int64_t in,
                             int64_t out, int64_t planes, int64_t plane_stride) {
  for (int64_t j = 0; j < planes; ++j) {
    const T* plane = static_cast<const T*>(source) + j * plane_stride;
    WindowWalker walker(o0, in, out);
    for (int64_t o = o0; o < o1; ++o, walker.next()) {
      double& sum = sums[(o - o0) * planes + j];
      sum = SumAlongLines(sum, plane, lines, walker.window());
    }
  }
}

// Never called (kTransposedRuns is false); defined so that callers compile.
template <class T>
HWY_INLINE void SumTransposedLine(double* HWY_RESTRICT sums, const void* source, int64_t o0,
                                  int64_t o1, int64_t in, int64_t out, int64_t planes,
                                  int64_t plane_stride) {
  const T* x = static_cast<const T*>(source);
  for (int64_t j = 0; j < planes; ++j) {
    for (int64_t o = o0; o < o1; ++o) {
      double& sum = sums[(o - o0) * planes + j];
      for (int64_t w = window_begin(o, in, out); w < window_end(o, in, out); ++w) {
        sum += LoadScalar(x + j * plane_stride + w);
      }
    }
  }
}
#else
template <class T>
constexpr bool kTransposedRuns = kVectorFloat16 || !std::is_same_v<T, Half>;
#endif

// Whether SumCellLanes beats SumInput along rows of `in` columns (step
// column_stride) pooled to `out`: fewer planes than SumInput's lanes, which
// it would add one by one, contiguous rows, at least one vector of output
// cells, and windows of at least 4 columns (a transposed load brings N of
// each: 8 on AVX-512, 4 on AVX2). 1080p -> 224x224, 3 planes, windows of
// 9-10 columns: see SumCellLanes.
template <class T>
HWY_INLINE bool CellLanesPay(int64_t planes, int64_t in, int64_t out, int64_t column_stride) {
  const auto lanes = static_cast<int64_t>(hn::Lanes(D64()));
  return kTransposedRuns<T> && lanes >= 4 && planes < lanes && column_stride == 1 && out >= lanes &&
         in / out >= 4;
}

#if !HWY_HAVE_SCALABLE
constexpr size_t kRunLanes = hn::MaxLanes(D64());
using VecD64 = hn::Vec<D64>;

// rows[i][k] becomes rows[k][i] for N x N doubles. Four lanes (AVX2) swap
// pairs within 128-bit blocks, then halves: two instructions a vector. Other
// widths shuffle the N * N values perfectly, log2(N) times, which is one
// instruction a vector a round on AVX-512 (vpermt2pd), NEON (uzp) and SSE
// (unpck).
template <size_t N>
HWY_INLINE void TransposeRuns(VecD64 (&rows)[N]) {
#if HWY_TARGET == HWY_SCALAR
  (void)rows;  // one lane: nothing moves
#else
  const D64 d64;
  if constexpr (N == 4) {
    const VecD64 t0 = hn::InterleaveLower(d64, rows[0], rows[1]);
    const VecD64 t1 = hn::InterleaveUpper(d64, rows[0], rows[1]);
    const VecD64 t2 = hn::InterleaveLower(d64, rows[2], rows[3]);
    const VecD64 t3 = hn::InterleaveUpper(d64, rows[2], rows[3]);
    rows[0] = hn::ConcatLowerLower(d64, t2, t0);
    rows[1] = hn::ConcatLowerLower(d64, t3, t1);
    rows[2] = hn::ConcatUpperUpper(d64, t2, t0);
    rows[3] = hn::ConcatUpperUpper(d64, t3, t1);
  } else {
    // Taking the even values of all N * N, then the odd ones, rotates the
    // bits of each value's index by one; log2(N) rotations swap row and column.
    for (size_t round = 1; round < N; round *= 2) {
      VecD64 next[N];
      for (size_t i = 0; i < N / 2; ++i) {
        next[i] = hn::ConcatEven(d64, rows[2 * i + 1], rows[2 * i]);
        next[N / 2 + i] = hn::ConcatOdd(d64, rows[2 * i + 1], rows[2 * i]);
      }
      for (size_t i = 0; i < N; ++i) rows[i] = next[i];
    }
  }
#endif
}

// Four values of T from x as floats (exact for every T but double).
template <class T, class DF4>
HWY_INLINE hn::Vec<DF4> LoadFloats(DF4 df4, const T* HWY_RESTRICT x) {
  if constexpr (std::is_same_v<T, float>) {
    return hn::LoadU(df4, x);
  } else {
    using Narrow = typename HwyType<T>::type;
    const hn::Rebind<Narrow, DF4> d16;
    return hn::PromoteTo(df4, hn::LoadU(d16, reinterpret_cast<const Narrow*>(x)));
  }
}

#if HWY_TARGET != HWY_SCALAR
// columns[k][i] = planes[i][t + k] for 8 planes and columns, from float,
// float16 or bfloat16, on targets with 8 doubles (AVX-512). The 4 x 4
// transposes run on floats within 128-bit blocks (in-block shuffles, which
// Intel cores issue on two ports at 256 bits, where 512-bit shuffles have
// one), the block swap happens in the loads (planes i and i + 4 share a
// vector), and widening to doubles comes last.
template <class DF, class T>
HWY_INLINE void LoadTransposedFloats(DF df, VecD64 (&columns)[kRunLanes],
                                     const T* const (&planes)[kRunLanes], int64_t t) {
  const D64 d64;
  const hn::Half<DF> df4;
  const hn::Repartition<double, DF> dd;
  for (int64_t k = 0; k < 8; k += 4) {
    hn::Vec<DF> v[4];
    for (size_t q = 0; q < 4; ++q) {
      v[q] = hn::Combine(df, LoadFloats(df4, planes[q + 4] + t + k),
                         LoadFloats(df4, planes[q] + t + k));
    }
    const auto a = hn::BitCast(dd, hn::InterleaveLower(df, v[0], v[1]));
    const auto b = hn::BitCast(dd, hn::InterleaveLower(df, v[2], v[3]));
    const auto c = hn::BitCast(dd, hn::InterleaveUpper(df, v[0], v[1]));
    const auto e = hn::BitCast(dd, hn::InterleaveUpper(df, v[2], v[3]));
    columns[k + 0] = hn::PromoteTo(d64, hn::BitCast(df, hn::InterleaveLower(dd, a, b)));
    columns[k + 1] = hn::PromoteTo(d64, hn::BitCast(df, hn::InterleaveUpper(dd, a, b)));
    columns[k + 2] = hn::PromoteTo(d64, hn::BitCast(df, hn::InterleaveLower(dd, c, e)));
    columns[k + 3] = hn::PromoteTo(d64, hn::BitCast(df, hn::InterleaveUpper(dd, c, e)));
  }
}
#endif

// columns[k][i] = planes[i][t + k] widened to doubles, for N planes and columns.
template <class T>
HWY_INLINE void LoadTransposed(VecD64 (&columns)[kRunLanes], const T* const (&planes)[kRunLanes],
                               int64_t t) {
#if HWY_TARGET != HWY_SCALAR
  if constexpr (kRunLanes == 8 && !std::is_same_v<T, double>) {
    LoadTransposedFloats(hn::Rebind<float, D64>(), columns, planes, t);
    return;
  }
#endif
  {
    const D64 d64;
    for (size_t i = 0; i < kRunLanes; ++i) columns[i] = LoadWide(d64, planes[i] + t);
    TransposeRuns(columns);
  }
}

// a + x[0] + ... + x[length - 1], stopping at the first NaN. x86 keeps the
// first operand's NaN when both are NaN, and a compiler may swap the
// operands of an addition: the sums along the planes (SumBlock) happen to
// keep their first NaN, and so does this, by construction, for the rare
// sums that end in NaN.
template <class T>
HWY_INLINE double SumUntilNaN(double a, const T* x, int64_t length) {
  for (int64_t t = 0; t < length && !std::isnan(a); ++t) a += LoadScalar(x + t);
  return a;
}

// sums[j] += x[j * plane_stride + t] for t < length in order, for j < planes
// (at most kSets * N), the planes in kSets vectors of sums whose additions
// interleave. A set that is not full repeats its last plane and drops the
// copies' sums. The columns past the last whole N go one by one.
template <int kSets, class T>
HWY_INLINE void SumRunSets(double* HWY_RESTRICT sums, const T* x, int64_t length, int64_t planes,
                           int64_t plane_stride) {
  constexpr auto lanes = static_cast<int64_t>(kRunLanes);
  const D64 d64;
  HWY_ALIGN double lane_sums[kRunLanes];
  const T* rows[kSets][kRunLanes];
  VecD64 acc[kSets];
  for (int s = 0; s < kSets; ++s) {
    for (int64_t i = 0; i < lanes; ++i) {
      const int64_t j = s * lanes + i;
      rows[s][i] = x + std::min(j, planes - 1) * plane_stride;
      lane_sums[i] = j < planes ? sums[j] : 0.0;
    }
    acc[s] = hn::Load(d64, lane_sums);
  }
  const int64_t whole = length - length % lanes;
  // The hardware prefetchers lose track of this many interleaved streams:
  // each 64-byte line of the planes kSets * N further on (the next call's,
  // the next group's in global pooling) is asked for while this call runs.
  // Prefetches never fault, so the address may lie past the data.
  constexpr int64_t kPrefetchEvery = std::max<int64_t>(lanes, 64 / sizeof(T));
  // Unsigned: the stride of a single plane may be anything (see CanGather).
  const uintptr_t ahead = static_cast<uintptr_t>(plane_stride) * (kSets * kRunLanes * sizeof(T));
  for (int64_t t = 0; t < whole; t += lanes) {
    for (int s = 0; s < kSets; ++s) {
      if (t % kPrefetchEvery == 0) {
        for (size_t i = 0; i < kRunLanes; ++i) {
          hwy::Prefetch(
              reinterpret_cast<const T*>(reinterpret_cast<uintptr_t>(rows[s][i] + t) + ahead));
        }
      }
      VecD64 columns[kRunLanes];
      LoadTransposed(columns, rows[s], t);
      for (size_t i = 0; i < kRunLanes; ++i) acc[s] = hn::Add(acc[s], columns[i]);
    }
  }
  for (int s = 0; s < kSets; ++s) {
    hn::Store(acc[s], d64, lane_sums);
    for (int64_t i = 0; i < lanes && s * lanes + i < planes; ++i) {
      double a = lane_sums[i];
      for (int64_t t = whole; t < length; ++t) a += LoadScalar(rows[s][i] + t);
      double& sum = sums[s * lanes + i];
      sum = std::isnan(a) ? SumUntilNaN(sum, rows[s][i], length) : a;
    }
  }
}

// sums[j] += x[j * plane_stride + t] for t < length in order, for j < planes:
// two vectors of planes at a time, so two chains of additions overlap.
template <class T>
HWY_INLINE void SumRuns(double* HWY_RESTRICT sums, const void* source, int64_t length,
                        int64_t planes, int64_t plane_stride) {
  const T* x = static_cast<const T*>(source);
  constexpr auto lanes = static_cast<int64_t>(kRunLanes);
  int64_t j = 0;
  for (; planes - j > lanes; j += 2 * lanes) {
    SumRunSets<2>(sums + j, x + j * plane_stride, length, std::min(planes - j, 2 * lanes),
                  plane_stride);
  }
  if (j < planes) SumRunSets<1>(sums + j, x + j * plane_stride, length, planes - j, plane_stride);
}

// sums[(o - o0) * planes + j] += the cells of window(o) of every line of
// `lines` (contiguous), for output cells o in [o0, o1) of a dimension pooled
// from `in` to `out` cells and planes j < planes (plane j at j *
// plane_stride): N cells as the lanes, each adding its own window's columns
// in order from transposed loads of N runs, line after line, so every sum is
// SumInput's, bit for bit (NaN or not; which NaN, SumInput does not fix
// either). For planes too few to fill SumInput's lanes, which it adds one
// by one (CellLanesPay; planes < N, which the arrays below rely on): 1080p -> 224x224 NCHW, 3
// planes, windows of 9-10 columns, took 5.1-5.5 ms that way and 2.65 ms this way (C++, one thread).
// Cells whose loads would pass the line's end go one by one.
template <class T>
HWY_INLINE void SumCellLanes(double* HWY_RESTRICT sums, const void* source,
                             const WindowLines& lines, int64_t o0, int64_t o1, int64_t in,
                             int64_t out, int64_t planes, int64_t plane_stride) {
  constexpr auto lanes = static_cast<int64_t>(kRunLanes);
  const D64 d64;
  const T* x = static_cast<const T*>(source);
  WindowWalker walker(o0, in, out);
  int64_t o = o0;
  for (; o1 - o >= lanes; o += lanes) {
    int64_t begins[kRunLanes];
    HWY_ALIGN double counts[kRunLanes];
    int64_t shortest = in;
    int64_t longest = 0;
    WindowWalker ahead = walker;
    for (int64_t i = 0; i < lanes; ++i, ahead.next()) {
      const Window window = ahead.window();
      begins[i] = window.begin;
      counts[i] = static_cast<double>(window.count());
      shortest = std::min(shortest, window.count());
      longest = std::max(longest, window.count());
    }
    // Each run loads whole vectors of columns; the last one reaches furthest.
    if (begins[lanes - 1] + (longest + lanes - 1) / lanes * lanes > in) break;
    walker = ahead;
    const auto count = hn::Load(d64, counts);
    // The planes' sums are independent chains of additions, which overlap.
    HWY_ALIGN double lane_sums[kRunLanes][kRunLanes];
    VecD64 acc[kRunLanes];
    for (int64_t j = 0; j < planes; ++j) {
      for (int64_t i = 0; i < lanes; ++i) lane_sums[j][i] = sums[(o - o0 + i) * planes + j];
      acc[j] = hn::Load(d64, lane_sums[j]);
    }
    for (int64_t d = lines.wd.begin; d < lines.wd.end; ++d) {
      for (int64_t h = lines.wh.begin; h < lines.wh.end; ++h) {
        for (int64_t j = 0; j < planes; ++j) {
          const T* line = x + j * plane_stride + d * lines.d_stride + h * lines.h_stride;
          const T* runs[kRunLanes];
          for (int64_t i = 0; i < lanes; ++i) runs[i] = line + begins[i];
          for (int64_t t = 0; t < longest; t += lanes) {
            VecD64 columns[kRunLanes];
            LoadTransposed(columns, runs, t);
            if (t + lanes <= shortest) {
              for (int64_t k = 0; k < lanes; ++k) acc[j] = hn::Add(acc[j], columns[k]);
              continue;
            }
            // Lanes whose window ends before column t + k keep their sum.
            for (int64_t k = 0; k < std::min(lanes, longest - t); ++k) {
              const auto inside = hn::Lt(hn::Set(d64, static_cast<double>(t + k)), count);
              acc[j] = hn::IfThenElse(inside, hn::Add(acc[j], columns[k]), acc[j]);
            }
          }
        }
      }
    }
    for (int64_t j = 0; j < planes; ++j) {
      hn::Store(acc[j], d64, lane_sums[j]);
      for (int64_t i = 0; i < lanes; ++i) sums[(o - o0 + i) * planes + j] = lane_sums[j][i];
    }
  }
  for (; o < o1; ++o, walker.next()) {
    for (int64_t j = 0; j < planes; ++j) {
      double& sum = sums[(o - o0) * planes + j];
      sum = SumAlongLines(sum, x + j * plane_stride, lines, walker.window());
    }
  }
}

// tile[t][i] = rows[i][t] widened to double for t < span, N lines at once,
// each with `before` readable cells in front of it and at least N from its
// first readable cell to its span's end (a row of at least N columns from
// column `before`, or a dense plane): whole vectors of columns transposed
// in registers, and the columns past the last whole N from one more
// transposed load of N cells, those that end at the span's end, or the
// first N readable ones where the span ends before them.
template <class T>
HWY_INLINE void TransposeLines(double* HWY_RESTRICT tile, const T* const (&rows)[kRunLanes],
                               int64_t span, int64_t before) {
  constexpr auto n = static_cast<int64_t>(kRunLanes);
  const D64 d64;
  const int64_t whole = span - span % n;
  VecD64 columns[kRunLanes];
  for (int64_t t = 0; t < whole; t += n) {
    LoadTransposed(columns, rows, t);
    for (int64_t k = 0; k < n; ++k) hn::Store(columns[k], d64, tile + (t + k) * n);
  }
  if (whole < span) {
    const int64_t from = std::max<int64_t>(span - n, -before);
    LoadTransposed(columns, rows, from);
    for (int64_t t = whole; t < span; ++t) hn::Store(columns[t - from], d64, tile + t * n);
  }
}

// sums[(o - o0) * planes + j] += the cells of window(o) of one line, in
// order, for output cells o in [o0, o1) of a dimension pooled from `in` to
// `out` cells and planes j < planes (plane j's line at j * plane_stride, its
// cells contiguous: NCHW rows). N planes at a time, the columns under a run
// of cells are transposed in registers into a tile of doubles, the planes
// as lanes, and each cell adds its window's columns from the tile one after
// another: SumInput's sums, bit for bit, without its hardware gathers (AMD
// Zen 4 gathers 8 floats in about 30 cycles; 64x256x56x56 -> 7x7 took 63 ms
// that way, about 3 GB/s). Windows of at most kTileColumns columns, rows of
// at least N (forward_transposed_lines; TransposeLines fills the tile). A
// last block of fewer than N planes repeats its last plane and keeps the
// real planes' sums.
template <class T>
HWY_INLINE void SumTransposedLine(double* HWY_RESTRICT sums, const void* source, int64_t o0,
                                  int64_t o1, int64_t in, int64_t out, int64_t planes,
                                  int64_t plane_stride) {
  constexpr auto n = static_cast<int64_t>(kRunLanes);
  const D64 d64;
  const T* x = static_cast<const T*>(source);
  HWY_ALIGN double tile[kTileColumns * kRunLanes];
  HWY_ALIGN double partial[kRunLanes];
  for (int64_t first = o0; first < o1;) {
    // The cells [first, last) whose columns fit the tile.
    const int64_t c0 = window_begin(first, in, out);
    int64_t last = first + 1;
    while (last < o1 && window_end(last, in, out) - c0 <= kTileColumns) ++last;
    const int64_t span = window_end(last - 1, in, out) - c0;
    for (int64_t j0 = 0; j0 < planes; j0 += n) {
      const int64_t real = std::min(n, planes - j0);
      const T* rows[kRunLanes];
      for (int64_t i = 0; i < n; ++i)
        rows[i] = x + (j0 + std::min(i, real - 1)) * plane_stride + c0;
      TransposeLines(tile, rows, span, c0);
      WindowWalker walker(first, in, out);
      for (int64_t o = first; o < last; ++o, walker.next()) {
        const Window window = walker.window();
        double* cell = sums + (o - o0) * planes + j0;
        double* at = cell;
        if (real < n) {
          for (int64_t i = 0; i < n; ++i) partial[i] = i < real ? cell[i] : 0.0;
          at = partial;
        }
        auto a = hn::LoadU(d64, at);
        for (int64_t w = window.begin; w < window.end; ++w) {
          a = hn::Add(a, hn::Load(d64, tile + (w - c0) * n));
        }
        hn::StoreU(a, d64, at);
        if (real < n) std::copy(partial, partial + real, cell);
      }
    }
    first = last;
  }
}

// y[k + j * plane_stride] = T(tile[k][j] / divisor(k)) for blocks of N
// columns (a last one at least half full: VGG's rows of 7 on AVX-512) and
// every plane, where a plane's columns lie next to each other (NCHW rows):
// each N x N block of the tile is divided column by column, as Scatter
// divides, transposed in registers, and stored a plane's columns at a time,
// one contiguous store instead of N scattered lanes (AMD Zen 4 scatters 8
// floats in about as long as it gathers them). The planes past the last
// whole N go one by one. Asks divisor once per column, in order; returns the
// columns done.
template <class T, class Divisor>
HWY_INLINE int64_t StoreTransposed(T* HWY_RESTRICT y, const double* HWY_RESTRICT tile,
                                   int64_t columns, int64_t planes, int64_t plane_stride,
                                   Divisor& divisor) {
  constexpr auto n = static_cast<int64_t>(kRunLanes);
  if (n < 2 || planes < n) return 0;
  const D64 d64;
  const int64_t whole = planes - planes % n;
  HWY_ALIGN double row[kRunLanes];
  int64_t k0 = 0;
  for (; columns - k0 >= (k0 + n <= columns ? n : n / 2); k0 += n) {
    const int64_t count = std::min(n, columns - k0);  // a last block at least half full
    double by[kRunLanes];
    for (int64_t i = 0; i < count; ++i) by[i] = divisor(k0 + i);
    for (int64_t j0 = 0; j0 < whole; j0 += n) {
      VecD64 rows[kRunLanes];
      for (int64_t i = 0; i < n; ++i) {
        if (i >= count) {
          rows[i] = hn::Zero(d64);
          continue;
        }
        rows[i] = hn::LoadU(d64, tile + (k0 + i) * planes + j0);
        if (by[i] != 1.0) {
          const bool exact = ExactReciprocal(by[i]);
          rows[i] = Divide(rows[i], DivisorVector(by[i], exact), exact);
        }
      }
      TransposeRuns(rows);
      for (int64_t p = 0; p < n; ++p) {
        hn::Store(rows[p], d64, row);
        StoreScaled<T>(y + (j0 + p) * plane_stride + k0, row, count, 1.0);
      }
    }
    for (int64_t j = whole; j < planes; ++j) {
      for (int64_t i = 0; i < count; ++i) {
        y[j * plane_stride + k0 + i] = StoreScalar<T>(tile[(k0 + i) * planes + j] / by[i]);
      }
    }
  }
  return std::min(k0, columns);
}
#endif  // !HWY_HAVE_SCALABLE

// y[k * column_stride + j * plane_stride] = T(tile[k][j] / divisor): float
// and double scatter N planes at a time, the 16-bit types go one by one.
template <class T>
HWY_INLINE void Scatter(void* destination, const double* HWY_RESTRICT tile, int64_t columns,
                        int64_t column_stride, int64_t planes, int64_t plane_stride,
                        double divisor) {
  T* y = static_cast<T*>(destination);
  const D64 d64;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d64));
  int64_t vector_planes = 0;
  if constexpr (kGatherable<T>) {
    if (CanGather<T>(plane_stride)) {
      const hn::Rebind<T, D64> dt;
      const auto offsets = PlaneOffsets<T>(plane_stride);
      const bool exact = ExactReciprocal(divisor);
      const auto by = DivisorVector(divisor, exact);
      vector_planes = planes - planes % lanes;
      for (int64_t k = 0; k < columns; ++k) {
        for (int64_t j = 0; j < vector_planes; j += lanes) {
          auto v = hn::LoadU(d64, tile + k * planes + j);
          if (divisor != 1.0) v = Divide(v, by, exact);
          T* at = y + k * column_stride + j * plane_stride;
          if constexpr (std::is_same_v<T, float>) {
            hn::ScatterIndex(hn::DemoteTo(dt, v), dt, at, offsets);
          } else {
            hn::ScatterIndex(v, dt, at, offsets);
          }
        }
      }
    }
  }
  for (int64_t k = 0; k < columns; ++k) {
    for (int64_t j = vector_planes; j < planes; ++j) {
      y[k * column_stride + j * plane_stride] = StoreScalar<T>(tile[k * planes + j] / divisor);
    }
  }
}

// Backward along a contiguous row of sums, the input columns as lanes: each
// output cell o in [o0, o1) of a dimension pooled from `in` to `out` cells
// adds its share to every column of its window clipped to
// [column_begin, column_end):
//   sums[w - column_begin] += shares[o - o0]   for w in window(o)
// Cells run in increasing order, so every sum receives its shares in the
// order of the contract; the columns of one window are independent. The
// windows come from the rule itself, so a backward plan keeps no table the
// size of its (possibly broadcast) grad_output.
HWY_INLINE void SpreadShares(double* HWY_RESTRICT sums, const double* HWY_RESTRICT shares,
                             int64_t o0, int64_t o1, int64_t in, int64_t out, int64_t column_begin,
                             int64_t column_end) {
  const D64 d64;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d64));
  WindowWalker walker(o0, in, out);
  for (int64_t o = o0; o < o1; ++o, walker.next()) {
    const Window window = walker.window();
    const int64_t begin = std::max(window.begin, column_begin) - column_begin;
    const int64_t end = std::min(window.end, column_end) - column_begin;
    const double value = shares[o - o0];
    const auto share = hn::Set(d64, value);
    int64_t w = begin;
    for (; w + lanes <= end; w += lanes) {
      hn::StoreU(hn::Add(hn::LoadU(d64, sums + w), share), d64, sums + w);
    }
    for (; w < end; ++w) sums[w] += value;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace adapool
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
