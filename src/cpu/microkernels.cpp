// Exported entry points of the row microkernels (see microkernels.hpp and
// microkernels-inl.h): one dispatch per call to the best target the CPU
// has, or the one a test forces.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/microkernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "cpu/microkernels-inl.h"
#include "cpu/microkernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace adapool {
namespace HWY_NAMESPACE {

// One function per element type, the shape HWY_EXPORT needs.
#define ADAPOOL_PER_TYPE(Name, Type)                                                               \
  void Load##Name(double* t, const void* x, int64_t n, double s) { LoadScaled<Type>(t, x, n, s); } \
  void Store##Name(void* y, const double* a, int64_t n, double s) {                                \
    StoreScaled<Type>(y, a, n, s);                                                                 \
  }                                                                                                \
  void Gather##Name(double* t, const void* x, int64_t c, int64_t cs, int64_t p, int64_t ps,        \
                    double s) {                                                                    \
    Gather<Type>(t, x, c, cs, p, ps, s);                                                           \
  }
ADAPOOL_PER_TYPE(F32, float)
ADAPOOL_PER_TYPE(F64, double)
ADAPOOL_PER_TYPE(F16, Half)
ADAPOOL_PER_TYPE(BF16, BFloat16)
#undef ADAPOOL_PER_TYPE

void SumWindowsAll(double* sums, const double* tile, const Window* windows, int64_t cells,
                   int64_t tile_begin, int64_t tile_end, int64_t planes) {
  SumWindows(
      sums, tile, [&](int64_t i) { return windows[i]; }, cells, tile_begin, tile_end, planes);
}
const char* TargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace adapool
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace adapool {

HWY_EXPORT(LoadF32);
HWY_EXPORT(LoadF64);
HWY_EXPORT(LoadF16);
HWY_EXPORT(LoadBF16);
HWY_EXPORT(StoreF32);
HWY_EXPORT(StoreF64);
HWY_EXPORT(StoreF16);
HWY_EXPORT(StoreBF16);
HWY_EXPORT(GatherF32);
HWY_EXPORT(GatherF64);
HWY_EXPORT(GatherF16);
HWY_EXPORT(GatherBF16);
HWY_EXPORT(SumWindowsAll);
HWY_EXPORT(TargetName);

// Each call goes through the dispatch table, so a change of target (tests
// force each one in turn) takes effect at once.
LoadScaledRow load_scaled_row(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return [](double* t, const void* x, int64_t n, double s) {
        HWY_DYNAMIC_DISPATCH(LoadF32)(t, x, n, s);
      };
    case DType::f64:
      return [](double* t, const void* x, int64_t n, double s) {
        HWY_DYNAMIC_DISPATCH(LoadF64)(t, x, n, s);
      };
    case DType::f16:
      return [](double* t, const void* x, int64_t n, double s) {
        HWY_DYNAMIC_DISPATCH(LoadF16)(t, x, n, s);
      };
    case DType::bf16:
      return [](double* t, const void* x, int64_t n, double s) {
        HWY_DYNAMIC_DISPATCH(LoadBF16)(t, x, n, s);
      };
  }
  return nullptr;
}

StoreScaledRow store_scaled_row(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return [](void* y, const double* a, int64_t n, double s) {
        HWY_DYNAMIC_DISPATCH(StoreF32)(y, a, n, s);
      };
    case DType::f64:
      return [](void* y, const double* a, int64_t n, double s) {
        HWY_DYNAMIC_DISPATCH(StoreF64)(y, a, n, s);
      };
    case DType::f16:
      return [](void* y, const double* a, int64_t n, double s) {
        HWY_DYNAMIC_DISPATCH(StoreF16)(y, a, n, s);
      };
    case DType::bf16:
      return [](void* y, const double* a, int64_t n, double s) {
        HWY_DYNAMIC_DISPATCH(StoreBF16)(y, a, n, s);
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
  HWY_DYNAMIC_DISPATCH(SumWindowsAll)(sums, tile, windows, cells, tile_begin, tile_end, planes);
}

const char* microkernel_target() { return HWY_DYNAMIC_DISPATCH(TargetName)(); }

}  // namespace adapool
#endif  // HWY_ONCE
