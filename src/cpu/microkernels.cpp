// Highway implementations of the row microkernels (see microkernels.hpp),
// compiled once per target by foreach_target.h. Names follow the XNNPACK
// habit: what they read, what they compute, and the element type.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/microkernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "cpu/half.hpp"
#include "cpu/microkernels.hpp"

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
      const hn::Rebind<T, decltype(d32)> d16;
      return hn::PromoteTo(d64, hn::PromoteTo(d32, hn::LoadU(d16, x)));
    }
  }
}

template <class T>
HWY_INLINE double LoadScalar(const T* x) {
  if constexpr (std::is_same_v<T, hwy::float16_t> || std::is_same_v<T, hwy::bfloat16_t>) {
    uint16_t bits;
    std::memcpy(&bits, x, sizeof bits);
    if constexpr (std::is_same_v<T, hwy::float16_t>) return to_float(Half{bits});
    return to_float(BFloat16{bits});
  } else {
    return static_cast<double>(*x);
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

template <class T>
void LoadScaled(double* HWY_RESTRICT tile, const void* source, int64_t n, double divisor) {
  const T* HWY_RESTRICT x = static_cast<const T*>(source);
  const D64 d64;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d64));
  const auto scale = hn::Set(d64, divisor);
  int64_t i = 0;
  if constexpr (kVectorFloat16 || !std::is_same_v<T, hwy::float16_t>) {
    if (divisor == 1.0) {
      for (; i + lanes <= n; i += lanes) hn::StoreU(LoadWide(d64, x + i), d64, tile + i);
    } else {
      for (; i + lanes <= n; i += lanes) {
        hn::StoreU(hn::Div(LoadWide(d64, x + i), scale), d64, tile + i);
      }
    }
  }
  for (; i < n; ++i) tile[i] = LoadScalar(x + i) / divisor;
}

void LoadScaledF32(double* tile, const void* x, int64_t n, double divisor) {
  LoadScaled<float>(tile, x, n, divisor);
}
void LoadScaledF64(double* tile, const void* x, int64_t n, double divisor) {
  LoadScaled<double>(tile, x, n, divisor);
}
void LoadScaledF16(double* tile, const void* x, int64_t n, double divisor) {
  LoadScaled<hwy::float16_t>(tile, x, n, divisor);
}
void LoadScaledBF16(double* tile, const void* x, int64_t n, double divisor) {
  LoadScaled<hwy::bfloat16_t>(tile, x, n, divisor);
}

// float and double store vectors; the 16-bit types round the float result
// with the scalar round-to-nearest-even of half.hpp, the one definition of
// that rounding in the project.
template <class T>
void StoreScaled(void* destination, const double* HWY_RESTRICT acc, int64_t n, double divisor) {
  T* HWY_RESTRICT y = static_cast<T*>(destination);
  const D64 d64;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d64));
  const auto scale = hn::Set(d64, divisor);
  int64_t i = 0;
  if constexpr (std::is_same_v<T, double>) {
    for (; i + lanes <= n; i += lanes)
      hn::StoreU(hn::Div(hn::LoadU(d64, acc + i), scale), d64, y + i);
    for (; i < n; ++i) y[i] = acc[i] / divisor;
  } else if constexpr (kVectorDemote) {
    const hn::Rebind<float, D64> d32;
    HWY_ALIGN float narrow[hn::MaxLanes(d32)];
    for (; i + lanes <= n; i += lanes) {
      const auto wide = hn::LoadU(d64, acc + i);
      const auto v = hn::DemoteTo(d32, divisor == 1.0 ? wide : hn::Div(wide, scale));
      if constexpr (std::is_same_v<T, float>) {
        hn::StoreU(v, d32, y + i);
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

void StoreScaledF32(void* y, const double* acc, int64_t n, double divisor) {
  StoreScaled<float>(y, acc, n, divisor);
}
void StoreScaledF64(void* y, const double* acc, int64_t n, double divisor) {
  StoreScaled<double>(y, acc, n, divisor);
}
void StoreScaledF16(void* y, const double* acc, int64_t n, double divisor) {
  StoreScaled<Half>(y, acc, n, divisor);
}
void StoreScaledBF16(void* y, const double* acc, int64_t n, double divisor) {
  StoreScaled<BFloat16>(y, acc, n, divisor);
}

// Planes N at a time with hardware gathers (32- and 64-bit lanes only; the
// 16-bit types and offsets beyond int32 go one by one).
template <class T>
void Gather(double* HWY_RESTRICT tile, const void* source, int64_t columns, int64_t column_stride,
            int64_t planes, int64_t plane_stride, double divisor) {
  const T* x = static_cast<const T*>(source);
  const D64 d64;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d64));
  int64_t vector_planes = 0;
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    using Index = std::conditional_t<std::is_same_v<T, float>, int32_t, int64_t>;
    const hn::Rebind<T, D64> dt;
    const hn::Rebind<Index, D64> di;
    const int64_t reach = std::abs(plane_stride) * lanes;
    if (kVectorDemote && reach <= INT32_MAX) {
      vector_planes = planes - planes % lanes;
      const auto index = hn::Mul(hn::Iota(di, 0), hn::Set(di, static_cast<Index>(plane_stride)));
      const auto scale = hn::Set(d64, divisor);
      for (int64_t k = 0; k < columns; ++k) {
        const T* column = x + k * column_stride;
        double* out = tile + k * planes;
        for (int64_t j = 0; j < vector_planes; j += lanes) {
          auto v = hn::GatherIndex(dt, column + j * plane_stride, index);
          hn::Vec<D64> wide;
          if constexpr (std::is_same_v<T, float>) {
            wide = hn::PromoteTo(d64, v);
          } else {
            wide = v;
          }
          hn::StoreU(divisor == 1.0 ? wide : hn::Div(wide, scale), d64, out + j);
        }
      }
    }
  }
  if (vector_planes == planes) return;
  using Storage =
      std::conditional_t<std::is_same_v<T, Half>, hwy::float16_t,
                         std::conditional_t<std::is_same_v<T, BFloat16>, hwy::bfloat16_t, T>>;
  const Storage* data = static_cast<const Storage*>(source);
  for (int64_t j = vector_planes; j < planes; ++j) {
    const Storage* plane = data + j * plane_stride;
    for (int64_t k = 0; k < columns; ++k) {
      tile[k * planes + j] = LoadScalar(plane + k * column_stride) / divisor;
    }
  }
}

void GatherF32(double* t, const void* x, int64_t c, int64_t cs, int64_t p, int64_t ps, double s) {
  Gather<float>(t, x, c, cs, p, ps, s);
}
void GatherF64(double* t, const void* x, int64_t c, int64_t cs, int64_t p, int64_t ps, double s) {
  Gather<double>(t, x, c, cs, p, ps, s);
}
void GatherF16(double* t, const void* x, int64_t c, int64_t cs, int64_t p, int64_t ps, double s) {
  Gather<Half>(t, x, c, cs, p, ps, s);
}
void GatherBF16(double* t, const void* x, int64_t c, int64_t cs, int64_t p, int64_t ps, double s) {
  Gather<BFloat16>(t, x, c, cs, p, ps, s);
}

// Up to four vectors of sums stay in registers while a window's columns are
// added, one column after another: the order of the sums is the contract.
template <int kVectors>
HWY_INLINE void SumBlock(double* HWY_RESTRICT sums, const double* HWY_RESTRICT column,
                         int64_t count, int64_t planes) {
  const D64 d64;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d64));
  auto a0 = hn::LoadU(d64, sums);
  auto a1 = kVectors > 1 ? hn::LoadU(d64, sums + lanes) : a0;
  auto a2 = kVectors > 2 ? hn::LoadU(d64, sums + 2 * lanes) : a0;
  auto a3 = kVectors > 3 ? hn::LoadU(d64, sums + 3 * lanes) : a0;
  for (int64_t w = 0; w < count; ++w, column += planes) {
    a0 = hn::Add(a0, hn::LoadU(d64, column));
    if (kVectors > 1) a1 = hn::Add(a1, hn::LoadU(d64, column + lanes));
    if (kVectors > 2) a2 = hn::Add(a2, hn::LoadU(d64, column + 2 * lanes));
    if (kVectors > 3) a3 = hn::Add(a3, hn::LoadU(d64, column + 3 * lanes));
  }
  hn::StoreU(a0, d64, sums);
  if (kVectors > 1) hn::StoreU(a1, d64, sums + lanes);
  if (kVectors > 2) hn::StoreU(a2, d64, sums + 2 * lanes);
  if (kVectors > 3) hn::StoreU(a3, d64, sums + 3 * lanes);
}

void SumWindows(double* HWY_RESTRICT sums, const double* HWY_RESTRICT tile,
                const Window* HWY_RESTRICT windows, int64_t cells, int64_t tile_begin,
                int64_t tile_end, int64_t planes) {
  const D64 d64;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d64));
  for (int64_t i = 0; i < cells; ++i) {
    const int64_t begin = std::max(windows[i].begin, tile_begin);
    const int64_t end = std::min(windows[i].end, tile_end);
    if (begin >= end) continue;
    double* cell = sums + i * planes;
    const double* first = tile + (begin - tile_begin) * planes;
    int64_t j = 0;
    for (; j + 4 * lanes <= planes; j += 4 * lanes)
      SumBlock<4>(cell + j, first + j, end - begin, planes);
    for (; j + lanes <= planes; j += lanes) SumBlock<1>(cell + j, first + j, end - begin, planes);
    for (; j < planes; ++j) {
      double a = cell[j];
      for (int64_t w = 0; w < end - begin; ++w) a += first[w * planes + j];
      cell[j] = a;
    }
  }
}

const char* TargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace adapool
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace adapool {

HWY_EXPORT(LoadScaledF32);
HWY_EXPORT(LoadScaledF64);
HWY_EXPORT(LoadScaledF16);
HWY_EXPORT(LoadScaledBF16);
HWY_EXPORT(StoreScaledF32);
HWY_EXPORT(StoreScaledF64);
HWY_EXPORT(StoreScaledF16);
HWY_EXPORT(StoreScaledBF16);
HWY_EXPORT(GatherF32);
HWY_EXPORT(GatherF64);
HWY_EXPORT(GatherF16);
HWY_EXPORT(GatherBF16);
HWY_EXPORT(SumWindows);
HWY_EXPORT(TargetName);

// Each call goes through the dispatch table, so a change of target (tests
// force each one in turn) takes effect at once.
LoadScaledRow load_scaled_row(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return [](double* t, const void* x, int64_t n, double s) {
        HWY_DYNAMIC_DISPATCH(LoadScaledF32)(t, x, n, s);
      };
    case DType::f64:
      return [](double* t, const void* x, int64_t n, double s) {
        HWY_DYNAMIC_DISPATCH(LoadScaledF64)(t, x, n, s);
      };
    case DType::f16:
      return [](double* t, const void* x, int64_t n, double s) {
        HWY_DYNAMIC_DISPATCH(LoadScaledF16)(t, x, n, s);
      };
    case DType::bf16:
      return [](double* t, const void* x, int64_t n, double s) {
        HWY_DYNAMIC_DISPATCH(LoadScaledBF16)(t, x, n, s);
      };
  }
  return nullptr;
}

StoreScaledRow store_scaled_row(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return [](void* y, const double* a, int64_t n, double s) {
        HWY_DYNAMIC_DISPATCH(StoreScaledF32)(y, a, n, s);
      };
    case DType::f64:
      return [](void* y, const double* a, int64_t n, double s) {
        HWY_DYNAMIC_DISPATCH(StoreScaledF64)(y, a, n, s);
      };
    case DType::f16:
      return [](void* y, const double* a, int64_t n, double s) {
        HWY_DYNAMIC_DISPATCH(StoreScaledF16)(y, a, n, s);
      };
    case DType::bf16:
      return [](void* y, const double* a, int64_t n, double s) {
        HWY_DYNAMIC_DISPATCH(StoreScaledBF16)(y, a, n, s);
      };
  }
  return nullptr;
}

GatherTile gather_tile(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return [](double* t, const void* x, int64_t c, int64_t cs, int64_t p, int64_t ps, double s) {
        HWY_DYNAMIC_DISPATCH(GatherF32)(t, x, c, cs, p, ps, s);
      };
    case DType::f64:
      return [](double* t, const void* x, int64_t c, int64_t cs, int64_t p, int64_t ps, double s) {
        HWY_DYNAMIC_DISPATCH(GatherF64)(t, x, c, cs, p, ps, s);
      };
    case DType::f16:
      return [](double* t, const void* x, int64_t c, int64_t cs, int64_t p, int64_t ps, double s) {
        HWY_DYNAMIC_DISPATCH(GatherF16)(t, x, c, cs, p, ps, s);
      };
    case DType::bf16:
      return [](double* t, const void* x, int64_t c, int64_t cs, int64_t p, int64_t ps, double s) {
        HWY_DYNAMIC_DISPATCH(GatherBF16)(t, x, c, cs, p, ps, s);
      };
  }
  return nullptr;
}

void sum_windows(double* sums, const double* tile, const Window* windows, int64_t cells,
                 int64_t tile_begin, int64_t tile_end, int64_t planes) {
  HWY_DYNAMIC_DISPATCH(SumWindows)(sums, tile, windows, cells, tile_begin, tile_end, planes);
}

const char* microkernel_target() { return HWY_DYNAMIC_DISPATCH(TargetName)(); }

}  // namespace adapool
#endif  // HWY_ONCE
