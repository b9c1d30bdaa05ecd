// Row kernels of adaptive max pooling, for every layout and dtype.
//
// Forward, PyTorch's rule: a window's cells are visited in row-major order
// (d, then h, then w) and a cell takes over when it is larger than the best
// so far or NaN. So the result is the last NaN of the window if it has one,
// else its first maximum; a window of -inf reports its first cell. Values
// are compared in float (double for double), exact for every dtype, so the
// order of the comparisons is all there is to match. Indices are flat
// within the input's pooled plane: (d * H + h) * W + w.
//
// Backward: each thread owns whole plane groups of grad_input, zeroes them
// and adds in every output cell's gradient at its index, in output order
// (od, then oh, then ow) per plane. Nothing is shared between threads (no
// atomics), the sums are in the dtype itself, one rounding per addition,
// exactly as PyTorch's loop, and the thread count never changes a bit. An
// index may point anywhere in its plane, as in PyTorch; one outside the
// plane is reported (IndexFault) instead of written (PyTorch writes it).
// Forward windows of NCHW planes up to 1024 cells take 8 planes (a vector of
// doubles) as lanes from transposed lines (max_transposed_row).
// Channels-last planes with small windows add masked vectors instead of
// scattering (masked_windows), NCHW planes scatter a few at a time
// (scatter_planes): neither changes the order of any cell's additions.
// Plane cells beyond 2^52 (Divider's limit) would take petabytes.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/max_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cmath>
#include <limits>

#include "cpu/kernels.hpp"
#include "cpu/microkernels-inl.h"

HWY_BEFORE_NAMESPACE();
namespace adapool {
namespace HWY_NAMESPACE {
namespace {

// The type values are compared in: exact for every dtype.
template <class T>
using Compared = std::conditional_t<std::is_same_v<T, double>, double, float>;

template <class T>
HWY_INLINE Compared<T> Widen(T value) {
  if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) {
    return value;
  } else {
    return to_float(value);
  }
}

// a + b rounded to T, as PyTorch adds two scalars of T (the 16-bit types
// through float).
template <class T>
HWY_INLINE T Add(T a, T b) {
  if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) {
    return a + b;
  } else {
    return NarrowTo<T>(to_float(a) + to_float(b));
  }
}

// Vector lanes are planes that lie next to each other (channels-last) for
// float and double, and for the 16-bit types where Highway converts them
// exactly; lane indices fit the lane width (int32 for float).
template <class T>
constexpr bool kVectorMax = std::is_same_v<T, double> || std::is_same_v<T, float> ||
                            (std::is_same_v<T, BFloat16> && kVectorDemote) ||
                            (std::is_same_v<T, Half> && kVectorFloat16);

template <class T, class D>
HWY_INLINE hn::Vec<D> LoadCompared(D d, const T* HWY_RESTRICT x) {
  if constexpr (std::is_same_v<T, Compared<T>>) {
    return hn::LoadU(d, x);
  } else {
    using Narrow = typename HwyType<T>::type;
    const hn::Rebind<Narrow, D> d16;
    return hn::PromoteTo(d, hn::LoadU(d16, reinterpret_cast<const Narrow*>(x)));
  }
}

// The maximum of one window of one plane, and its flat index.
template <class T>
HWY_INLINE void MaxWindow(const T* HWY_RESTRICT plane, const std::array<int64_t, 5>& xs,
                          const Window& wd, const Window& wh, const Window& ww, int64_t in_h,
                          int64_t in_w, T* value, int64_t* index) {
  Compared<T> best = -std::numeric_limits<Compared<T>>::infinity();
  int64_t where = (wd.begin * in_h + wh.begin) * in_w + ww.begin;
  const int64_t stride_w = xs[4];
  for (int64_t d = wd.begin; d < wd.end; ++d) {
    for (int64_t h = wh.begin; h < wh.end; ++h) {
      const T* line = plane + d * xs[2] + h * xs[3];
      const int64_t first = (d * in_h + h) * in_w;
      for (int64_t w = ww.begin; w < ww.end; ++w) {
        const Compared<T> v = Widen(line[w * stride_w]);
        if (v > best || std::isnan(v)) {
          best = v;
          where = first + w;
        }
      }
    }
  }
  // Exact: the maximum is one of the window's values (a NaN keeps its sign).
  if constexpr (std::is_same_v<T, double>) {
    *value = best;
  } else {
    *value = NarrowTo<T>(best);
  }
  *index = where;
}

// The maximum of one window of one plane whose rows are contiguous (W
// stride 1), float or double, with the columns as vector lanes: each lane
// keeps PyTorch's result for its own cells (its last NaN, else its first
// maximum), and so does a scalar pass over the cells past the last full
// vector of a row. The window's result is then the candidate of the last
// NaN, or of the first maximum, whatever order the cells were seen in.
// The vectors hold at most kCap lanes, so narrow windows fill them.
template <class T, size_t kCap>
HWY_INLINE void MaxWindowAlongRows(const T* HWY_RESTRICT plane, const std::array<int64_t, 5>& xs,
                                   const Window& wd, const Window& wh, const Window& ww,
                                   int64_t in_h, int64_t in_w, T* value, int64_t* index) {
  const hn::CappedTag<T, kCap> dc;
  const hn::RebindToSigned<decltype(dc)> di;
  using I = hn::TFromD<decltype(di)>;
  const auto lanes = static_cast<int64_t>(hn::Lanes(dc));
  const int64_t start = (wd.begin * in_h + wh.begin) * in_w + ww.begin;
  auto best = hn::Set(dc, -std::numeric_limits<T>::infinity());
  auto where = hn::Set(di, static_cast<I>(start));
  T tail_best = -std::numeric_limits<T>::infinity();
  int64_t tail_where = start;
  const int64_t full = ww.begin + (ww.count() - ww.count() % lanes);
  for (int64_t d = wd.begin; d < wd.end; ++d) {
    for (int64_t h = wh.begin; h < wh.end; ++h) {
      const T* line = plane + d * xs[2] + h * xs[3];
      const int64_t first = (d * in_h + h) * in_w;
      auto cell = hn::Add(hn::Iota(di, 0), hn::Set(di, static_cast<I>(first + ww.begin)));
      for (int64_t w = ww.begin; w < full; w += lanes) {
        const auto v = hn::LoadU(dc, line + w);
        const auto takes = hn::Or(hn::Gt(v, best), hn::IsNaN(v));
        best = hn::IfThenElse(takes, v, best);
        where = hn::IfThenElse(hn::RebindMask(di, takes), cell, where);
        cell = hn::Add(cell, hn::Set(di, static_cast<I>(lanes)));
      }
      for (int64_t w = full; w < ww.end; ++w) {
        const T v = line[w];
        if (v > tail_best || std::isnan(v)) {
          tail_best = v;
          tail_where = first + w;
        }
      }
    }
  }
  HWY_ALIGN T values[hn::MaxLanes(dc)];
  HWY_ALIGN I wheres[hn::MaxLanes(di)];
  hn::Store(best, dc, values);
  hn::Store(where, di, wheres);
  T result = tail_best;
  int64_t at = tail_where;
  for (int64_t k = 0; k < lanes; ++k) {
    const T v = values[k];
    const int64_t w = wheres[k];
    const bool later_nan = std::isnan(v) && (!std::isnan(result) || w > at);
    const bool earlier_max =
        !std::isnan(result) && !std::isnan(v) && (v > result || (v == result && w < at));
    if (later_nan || earlier_max) {
      result = v;
      at = w;
    }
  }
  *value = result;
  *index = at;
}

// Lanes of flat indices stored as int64 at `to`: int32 lanes (float) widened
// in two halves, one by one on the scalar target.
template <class DI>
HWY_INLINE void StoreIndices(DI di, hn::Vec<DI> where, int64_t* HWY_RESTRICT to) {
  using I = hn::TFromD<DI>;
  if constexpr (sizeof(I) == sizeof(int64_t)) {
    hn::StoreU(where, di, reinterpret_cast<I*>(to));
  } else {
#if HWY_TARGET == HWY_SCALAR
    to[0] = hn::GetLane(where);
#else
    const hn::Half<DI> dh;
    const hn::Rebind<int64_t, decltype(dh)> d64;
    hn::StoreU(hn::PromoteTo(d64, hn::LowerHalf(dh, where)), d64, to);
    hn::StoreU(hn::PromoteTo(d64, hn::UpperHalf(dh, where)), d64, to + hn::Lanes(d64));
#endif
  }
}

// Channels-last windows up to this many bytes are walked a vector of planes
// at a time, cell by cell; larger ones stream (MaxWindowLanes). Measured at
// one thread: 56x56 -> 7x7 (64 KiB windows of 256 planes) 28.7 ms walked,
// 22.2 ms streamed; VGG's 15x15 -> 7x7 (18 KiB) is faster walked.
constexpr int64_t kRegisterWindowBytes = 32 << 10;

// The same for lanes of planes that lie next to each other (plane stride
// 1), a vector of them at a time; returns how many planes it did (a multiple
// of the vector length). A small window is done a vector of planes at a
// time with the running maxima in registers; a large one is streamed once,
// kColumnsPerPass cells of a row at a time, with the running maxima of every
// plane in `scratch` (2 * planes doubles).
template <class T>
HWY_INLINE int64_t MaxWindowLanes(const T* HWY_RESTRICT planes_first, int64_t planes,
                                  const std::array<int64_t, 5>& xs, const Window& wd,
                                  const Window& wh, const Window& ww, int64_t in_h, int64_t in_w,
                                  T* y, int64_t y_plane_stride, int64_t* indices,
                                  int64_t indices_plane_stride, double* scratch) {
  using C = Compared<T>;
  const hn::ScalableTag<C> dc;
  const hn::RebindToSigned<decltype(dc)> di;
  using I = hn::TFromD<decltype(di)>;
  const auto lanes = static_cast<int64_t>(hn::Lanes(dc));
  const int64_t vectors = planes - planes % lanes;
  if (vectors == 0) return 0;
  const auto start = static_cast<I>((wd.begin * in_h + wh.begin) * in_w + ww.begin);
  // One step of PyTorch's rule for a vector of planes.
  const auto step = [&](auto& best, auto& where, const T* cell, I cell_index) HWY_ATTR
      __attribute__((always_inline)) {
    const auto v = LoadCompared(dc, cell);
    const auto takes = hn::Or(hn::Gt(v, best), hn::IsNaN(v));
    best = hn::IfThenElse(takes, v, best);
    where = hn::IfThenElse(hn::RebindMask(di, takes), hn::Set(di, cell_index), where);
  };
  // Writes a vector of planes' maximum and index.
  const auto store = [&](int64_t j, const auto& best, const auto& where) HWY_ATTR
      __attribute__((always_inline)) {
    HWY_ALIGN C values[hn::MaxLanes(dc)];
    HWY_ALIGN I wheres[hn::MaxLanes(di)];
    if constexpr (std::is_same_v<T, C>) {
      if (y_plane_stride == 1) {
        hn::StoreU(best, dc, y + j);
      } else {
        hn::Store(best, dc, values);
        for (int64_t k = 0; k < lanes; ++k) y[(j + k) * y_plane_stride] = values[k];
      }
    } else {
      // The 16-bit types: every maximum is one of their values, so the
      // narrowing is exact.
      hn::Store(best, dc, values);
      for (int64_t k = 0; k < lanes; ++k) y[(j + k) * y_plane_stride] = NarrowTo<T>(values[k]);
    }
    if (indices != nullptr && indices_plane_stride == 1) {
      StoreIndices(di, where, indices + j);
    } else if (indices != nullptr) {
      hn::Store(where, di, wheres);
      for (int64_t k = 0; k < lanes; ++k) indices[(j + k) * indices_plane_stride] = wheres[k];
    }
  };
  const int64_t window_bytes =
      wd.count() * wh.count() * ww.count() * planes * static_cast<int64_t>(sizeof(T));
  if (window_bytes <= kRegisterWindowBytes) {
    for (int64_t j = 0; j < vectors; j += lanes) {
      auto best = hn::Set(dc, -std::numeric_limits<C>::infinity());
      auto where = hn::Set(di, start);
      for (int64_t d = wd.begin; d < wd.end; ++d) {
        for (int64_t h = wh.begin; h < wh.end; ++h) {
          const T* line = planes_first + j + d * xs[2] + h * xs[3];
          const auto first = static_cast<I>((d * in_h + h) * in_w);
          for (int64_t w = ww.begin; w < ww.end; ++w) {
            step(best, where, line + w * xs[4], static_cast<I>(first + w));
          }
        }
      }
      store(j, best, where);
    }
    return vectors;
  }
  C* best_all = reinterpret_cast<C*>(scratch);
  I* where_all = reinterpret_cast<I*>(scratch + planes);
  for (int64_t j = 0; j < vectors; j += lanes) {
    hn::StoreU(hn::Set(dc, -std::numeric_limits<C>::infinity()), dc, best_all + j);
    hn::StoreU(hn::Set(di, start), di, where_all + j);
  }
  for (int64_t d = wd.begin; d < wd.end; ++d) {
    for (int64_t h = wh.begin; h < wh.end; ++h) {
      const T* line = planes_first + d * xs[2] + h * xs[3];
      const auto first = static_cast<I>((d * in_h + h) * in_w);
      for (int64_t w0 = ww.begin; w0 < ww.end; w0 += kColumnsPerPass) {
        const int64_t w1 = std::min(ww.end, w0 + kColumnsPerPass);
        for (int64_t j = 0; j < vectors; j += lanes) {
          auto best = hn::LoadU(dc, best_all + j);
          auto where = hn::LoadU(di, where_all + j);
          for (int64_t w = w0; w < w1; ++w) {
            step(best, where, line + w * xs[4] + j, static_cast<I>(first + w));
          }
          hn::StoreU(best, dc, best_all + j);
          hn::StoreU(where, di, where_all + j);
        }
      }
    }
  }
  for (int64_t j = 0; j < vectors; j += lanes) {
    store(j, hn::LoadU(dc, best_all + j), hn::LoadU(di, where_all + j));
  }
  return vectors;
}

#if !HWY_HAVE_SCALABLE && HWY_TARGET != HWY_SCALAR
// Windows of planes apart with contiguous rows (NCHW) holding at most this
// many cells go through max_transposed_row: its tile is 64 KiB on AVX-512.
constexpr int64_t kTransposedWindowCells = 1024;

template <class T>
constexpr bool kTransposedMax = kTransposedRuns<T> &&
                                (std::is_same_v<T, float> || std::is_same_v<T, double>);

// One output row (od, oh) of max pooling for a group of planes apart with
// contiguous rows (NCHW), N planes at a time as lanes: the lines of the
// window rows under a run of cells are transposed in registers into a tile
// of doubles (exact for float and double), then each cell walks its window
// in PyTorch's order with the planes' running maxima and indices in
// registers, as MaxWindowLanes steps. Scalar MaxWindow walked each plane's
// window alone: VGG's 14 -> 7 took 24-30 ms at one thread on AMD Zen 4
// (torch 20 ms). A lane whose maximum is NaN takes MaxWindow's result,
// whose NaN keeps its bits (a double may not). Rows of at least N cells or
// `dense` planes (rows and d slices following each other) of at least N
// cells: 5x5 -> 13x13 took 2.1 ms plane by plane. Windows of at most
// kTransposedWindowCells cells (max_forward_rows).
template <class T>
void max_transposed_row(const T* x_group, int64_t planes, const std::array<int64_t, 5>& xs,
                        bool dense, Window wd, Window wh, int64_t in_h, int64_t in_w, int64_t out_w,
                        T* y_row, const std::array<int64_t, 2>& y_strides, int64_t* indices_row,
                        const std::array<int64_t, 2>& indices_strides) {
  constexpr auto n = static_cast<int64_t>(kRunLanes);
  const D64 d64;
  const hn::Rebind<int64_t, D64> di;
  const int64_t lines = wd.count() * wh.count();
  HWY_ALIGN double tile[kTransposedWindowCells * kRunLanes];
  HWY_ALIGN double values[kRunLanes];
  HWY_ALIGN int64_t wheres[kRunLanes];
  int64_t scratch = 0;  // where a recomputed index goes when nobody wants it
  for (int64_t first = 0; first < out_w;) {
    // The cells [first, last) whose window rows fit the tile.
    const int64_t c0 = window_begin(first, in_w, out_w);
    int64_t last = first + 1;
    while (last < out_w && lines * (window_end(last, in_w, out_w) - c0) <= kTransposedWindowCells) {
      ++last;
    }
    const int64_t span = window_end(last - 1, in_w, out_w) - c0;
    for (int64_t j0 = 0; j0 < planes; j0 += n) {
      const int64_t real = std::min(n, planes - j0);
      double* line_tile = tile;
      for (int64_t d = wd.begin; d < wd.end; ++d) {
        for (int64_t h = wh.begin; h < wh.end; ++h, line_tile += span * n) {
          const T* rows[kRunLanes];
          for (int64_t i = 0; i < n; ++i) {
            rows[i] = x_group + (j0 + std::min(i, real - 1)) * xs[1] + d * xs[2] + h * xs[3] + c0;
          }
          // A dense plane's cells before the line may be read too.
          TransposeLines(line_tile, rows, span, c0 + (dense ? (d * in_h + h) * in_w : 0));
        }
      }
      WindowWalker walker(first, in_w, out_w);
      for (int64_t o = first; o < last; ++o, walker.next()) {
        const Window ww = walker.window();
        auto best = hn::Set(d64, -std::numeric_limits<double>::infinity());
        auto where = hn::Set(di, (wd.begin * in_h + wh.begin) * in_w + ww.begin);
        const double* walk = tile;
        for (int64_t d = wd.begin; d < wd.end; ++d) {
          for (int64_t h = wh.begin; h < wh.end; ++h, walk += span * n) {
            const int64_t line_first = (d * in_h + h) * in_w;
            for (int64_t w = ww.begin; w < ww.end; ++w) {
              const auto v = hn::Load(d64, walk + (w - c0) * n);
              const auto takes = hn::Or(hn::Gt(v, best), hn::IsNaN(v));
              best = hn::IfThenElse(takes, v, best);
              where = hn::IfThenElse(hn::RebindMask(di, takes), hn::Set(di, line_first + w), where);
            }
          }
        }
        hn::Store(best, d64, values);
        hn::Store(where, di, wheres);
        for (int64_t i = 0; i < real; ++i) {
          const int64_t j = j0 + i;
          T* value = y_row + o * y_strides[1] + j * y_strides[0];
          int64_t* index = indices_row == nullptr
                               ? &scratch
                               : indices_row + o * indices_strides[1] + j * indices_strides[0];
          if (std::isnan(values[i])) {
            MaxWindow(x_group + j * xs[1], xs, wd, wh, ww, in_h, in_w, value, index);
            continue;
          }
          *value = static_cast<T>(values[i]);  // exact: one of the window's values
          *index = wheres[i];
        }
      }
    }
    first = last;
  }
}
#endif

template <class T>
void max_forward_rows(const PlanData& plan, const Buffers& buffers, int64_t first, int64_t last,
                      double* workspace) {
  const T* x = static_cast<const T*>(buffers.source);
  T* y = static_cast<T*>(buffers.destination);
  const auto& xs = plan.source_strides;
  const auto& ys = plan.destination_strides;
  const auto& is = plan.indices_strides;
  const int64_t out_d = plan.out_sizes[0];
  const int64_t out_h = plan.out_sizes[1];
  const int64_t out_w = plan.out_sizes[2];
  const int64_t in_h = plan.in_sizes[1];
  const int64_t in_w = plan.in_sizes[2];
  // Lane indices are int32 for float lanes: planes up to 2^31 cells.
  const int64_t plane_cells = plan.in_sizes[0] * in_h * in_w;
  const bool lanes = kVectorMax<T> && xs[1] == 1 &&
                     (std::is_same_v<Compared<T>, double> || plane_cells <= INT32_MAX);
  // Planes apart with contiguous rows (NCHW): windows at least 4 cells
  // wide go along their rows in vectors of 4, 8 or 16 lanes.
  const bool along_rows = (std::is_same_v<T, float> || std::is_same_v<T, double>)&&xs[4] == 1 &&
                          (std::is_same_v<T, double> || plane_cells <= INT32_MAX);
  int64_t scratch = 0;  // where indices go when nobody wants them
#if !HWY_HAVE_SCALABLE && HWY_TARGET != HWY_SCALAR
  if constexpr (kTransposedMax<T>) {
    const int64_t window_cells = window_count_bound(plan.in_sizes[0], out_d) *
                                 window_count_bound(in_h, out_h) * window_count_bound(in_w, out_w);
    const bool dense =
        (in_h == 1 || xs[3] == in_w) && (plan.in_sizes[0] == 1 || xs[2] == in_h * in_w);
    const auto block = static_cast<int64_t>(kRunLanes);  // planes a vector
    if (xs[1] != 1 && xs[4] == 1 && (in_w >= block || (dense && plane_cells >= block)) &&
        window_cells <= kTransposedWindowCells) {
      for (int64_t row = first; row < last; ++row) {
        const int64_t oh = row % out_h;
        const int64_t od = (row / out_h) % out_d;
        const Group group = group_of(plan, row / out_h / out_d);
        int64_t* indices_row = buffers.indices == nullptr ? nullptr
                                                          : buffers.indices + group.indices_offset +
                                                                od * is[2] + oh * is[3];
        const Window wd{window_begin(od, plan.in_sizes[0], out_d),
                        window_end(od, plan.in_sizes[0], out_d)};
        const Window wh{window_begin(oh, in_h, out_h), window_end(oh, in_h, out_h)};
        max_transposed_row(x + group.source_offset, group.planes, xs, dense, wd, wh, in_h, in_w,
                           out_w, y + group.destination_offset + od * ys[2] + oh * ys[3],
                           {ys[1], ys[4]}, indices_row, {is[1], is[4]});
      }
      return;
    }
  }
#endif
  for (int64_t row = first; row < last; ++row) {
    const int64_t oh = row % out_h;
    const int64_t od = (row / out_h) % out_d;
    const Group group = group_of(plan, row / out_h / out_d);
    const Window wd{window_begin(od, plan.in_sizes[0], out_d),
                    window_end(od, plan.in_sizes[0], out_d)};
    const Window wh{window_begin(oh, in_h, out_h), window_end(oh, in_h, out_h)};
    const T* x_group = x + group.source_offset;
    T* y_row = y + group.destination_offset + od * ys[2] + oh * ys[3];
    int64_t* indices_row = buffers.indices == nullptr
                               ? nullptr
                               : buffers.indices + group.indices_offset + od * is[2] + oh * is[3];
    WindowWalker walker(0, in_w, out_w);
    for (int64_t ow = 0; ow < out_w; ++ow, walker.next()) {
      const Window ww = walker.window();
      T* y_cell = y_row + ow * ys[4];
      int64_t* indices_cell = indices_row == nullptr ? nullptr : indices_row + ow * is[4];
      int64_t j = 0;
      if (lanes) {
        j = MaxWindowLanes(x_group, group.planes, xs, wd, wh, ww, in_h, in_w, y_cell, ys[1],
                           indices_cell, is[1], workspace);
      }
      for (; j < group.planes; ++j) {
        int64_t* index = indices_cell == nullptr ? &scratch : indices_cell + j * is[1];
        if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
          if (along_rows && ww.count() >= 4) {
            const T* plane = x_group + j * xs[1];
            T* value = y_cell + j * ys[1];
            if (ww.count() >= 16) {
              MaxWindowAlongRows<T, 16>(plane, xs, wd, wh, ww, in_h, in_w, value, index);
            } else if (ww.count() >= 8) {
              MaxWindowAlongRows<T, 8>(plane, xs, wd, wh, ww, in_h, in_w, value, index);
            } else {
              MaxWindowAlongRows<T, 4>(plane, xs, wd, wh, ww, in_h, in_w, value, index);
            }
            continue;
          }
        }
        MaxWindow(x_group + j * xs[1], xs, wd, wh, ww, in_h, in_w, y_cell + j * ys[1], index);
      }
    }
  }
}

// q = n / divisor for 0 <= n < 2^52 without a division: a multiplication
// by the reciprocal is off by at most one, which one step corrects.
class Divider {
 public:
  explicit Divider(int64_t divisor)
      : divisor_(divisor), inverse_(1.0 / static_cast<double>(divisor)) {}
  HWY_INLINE int64_t quotient(int64_t n) const {
    int64_t q = static_cast<int64_t>(static_cast<double>(n) * inverse_);
    if (q * divisor_ > n) {
      --q;
    } else if ((q + 1) * divisor_ <= n) {
      ++q;
    }
    return q;
  }

 private:
  int64_t divisor_;
  double inverse_;
};

// Sets the cells of a plane group to zero, as few runs as its layout allows:
// dimensions whose strides chain (stride = inner stride * inner size) merge.
// `stream`: runs in non-temporal stores (PlanData::stream), fenced before
// the scatter adds to them.
template <class T>
void zero_group(T* base, int64_t planes, const std::array<int64_t, 5>& xs,
                const std::array<int64_t, 3>& in, bool stream) {
  std::array<std::pair<int64_t, int64_t>, 4> dims{};  // (size, stride)
  int count = 0;
  for (const auto& [size, stride] :
       {std::pair{planes, xs[1]}, {in[0], xs[2]}, {in[1], xs[3]}, {in[2], xs[4]}}) {
    if (size > 1) dims[count++] = {size, stride};
  }
  // Innermost (smallest |stride|) first: an insertion sort of at most four.
  for (int i = 1; i < count; ++i) {
    for (int j = i; j > 0 && std::abs(dims[j].second) < std::abs(dims[j - 1].second); --j) {
      std::swap(dims[j], dims[j - 1]);
    }
  }
  int merged = 0;
  for (int i = 0; i < count; ++i) {
    if (merged > 0 && dims[i].second == dims[merged - 1].first * dims[merged - 1].second) {
      dims[merged - 1].first *= dims[i].first;
    } else {
      dims[merged++] = dims[i];
    }
  }
  for (int i = merged; i < 4; ++i) dims[i] = {1, 0};
  const bool runs = dims[0].second == 1;
  const int64_t run = runs ? dims[0].first : 1;
  const int first_loop = runs ? 1 : 0;
  // Up to three (or four) nested loops over what did not merge.
  std::array<int64_t, 4> size{1, 1, 1, 1};
  std::array<int64_t, 4> stride{0, 0, 0, 0};
  for (int i = first_loop, k = 0; i < 4; ++i, ++k) {
    size[k] = dims[i].first;
    stride[k] = dims[i].second;
  }
  for (int64_t a = 0; a < size[3]; ++a) {
    for (int64_t b = 0; b < size[2]; ++b) {
      for (int64_t c = 0; c < size[1]; ++c) {
        T* line = base + a * stride[3] + b * stride[2] + c * stride[1];
        for (int64_t e = 0; e < size[0]; ++e) ZeroRun(line + e * stride[0], run, stream);
      }
    }
  }
  if (stream) hwy::FlushStream();
}

// Where a flat plane index (d * H + h) * W + w points in a plane of
// grad_input: the element offset from the plane's start. Planes stored
// densely in row-major order of (d, h, w), with any step between cells
// (NCHW, channels-last), need one multiplication; others split the index
// without dividing.
class IndexOffsets {
 public:
  IndexOffsets(const std::array<int64_t, 3>& in, const std::array<int64_t, 5>& xs)
      : in_h_(in[1]),
        in_w_(in[2]),
        depth_(in[0] > 1),
        dense_(chains(xs[3], in[2], xs[4]) && (in[0] == 1 || chains(xs[2], in[1], xs[3]))),
        by_w_(in[2]),
        by_h_(in[1]),
        stride_line_(static_cast<uint64_t>(xs[3])),
        stride_w_(static_cast<uint64_t>(xs[4])),
        // d * xs[2] + h * xs[3] == line * xs[3] + d * (xs[2] - H * xs[3]).
        // Unsigned: the terms may wrap (size-1 dimensions take any stride),
        // the offset they add up to fits.
        stride_extra_d_(static_cast<uint64_t>(xs[2]) -
                        static_cast<uint64_t>(in[1]) * static_cast<uint64_t>(xs[3])) {}

  // Dense planes: the offset is index * step().
  bool dense() const { return dense_; }
  int64_t step() const { return static_cast<int64_t>(stride_w_); }

  HWY_INLINE int64_t operator()(int64_t index) const {
    const auto at = static_cast<uint64_t>(index);
    if (dense_) return static_cast<int64_t>(at * stride_w_);
    const int64_t line = by_w_.quotient(index);
    const int64_t w = index - line * in_w_;
    const int64_t d = depth_ ? by_h_.quotient(line) : 0;
    return static_cast<int64_t>(static_cast<uint64_t>(line) * stride_line_ +
                                static_cast<uint64_t>(w) * stride_w_ +
                                static_cast<uint64_t>(d) * stride_extra_d_);
  }

 private:
  int64_t in_h_;
  int64_t in_w_;
  bool depth_;
  bool dense_;
  Divider by_w_;
  Divider by_h_;
  // outer == size * inner, without overflowing.
  static bool chains(int64_t outer, int64_t size, int64_t inner) {
    int64_t product = 0;
    return !__builtin_mul_overflow(size, inner, &product) && outer == product;
  }

  uint64_t stride_line_;
  uint64_t stride_w_;
  uint64_t stride_extra_d_;
};

// dx[k * dx_step + offset_of(index[k * index_step])] += dy[k * grad_step]
// for k < n, in order: along one plane's line of outputs (dx_step 0), or
// across the planes of one output cell (dx_step the plane stride). Returns
// the first k whose index is not below `cells`, or n. Dense planes (kDense)
// need one multiplication per index. Not inlined: inside max_backward_rows
// the loop's few values were spilled to the stack (20 instructions an
// element, against 13 in a function of its own).
template <bool kDense, class T>
HWY_NOINLINE int64_t scatter_line(T* HWY_RESTRICT dx, int64_t dx_step,
                                  const int64_t* HWY_RESTRICT index, int64_t index_step,
                                  const T* HWY_RESTRICT dy, int64_t grad_step, int64_t n,
                                  uint64_t cells, const IndexOffsets& offset_of) {
  const int64_t step = offset_of.step();
  for (int64_t k = 0; k < n; ++k) {
    const int64_t at = index[k * index_step];
    if (static_cast<uint64_t>(at) >= cells) return k;
    T& cell = dx[k * dx_step + (kDense ? at * step : offset_of(at))];
    cell = Add(cell, dy[k * grad_step]);
  }
  return n;
}

// scatter_line for kScatterPlanes whole planes at once (NCHW), output k of
// each plane in turn, each plane's outputs still in order: plane p's dx,
// indices and gradients lie p * dx_plane, p * index_plane and p * grad_plane
// after the first's. Where windows overlap, consecutive outputs of a plane
// share their maxima, and each addition waits on the one before; the
// planes' chains overlap instead. 5x5 -> 13x13 (1024 planes of 169
// outputs), with the planes' zeroing in one call: 115 -> 99-102 us (8
// planes 103-105 us, 16 165 us). False, part done, at an index not below
// `cells`.
constexpr int64_t kScatterPlanes = 4;

template <bool kDense, class T>
HWY_NOINLINE bool scatter_planes(T* HWY_RESTRICT dx, int64_t dx_plane,
                                 const int64_t* HWY_RESTRICT index, int64_t index_plane,
                                 const T* HWY_RESTRICT dy, int64_t grad_plane, int64_t n,
                                 uint64_t cells, const IndexOffsets& offset_of) {
  const int64_t step = offset_of.step();
  for (int64_t k = 0; k < n; ++k) {
    for (int64_t p = 0; p < kScatterPlanes; ++p) {
      const int64_t at = index[p * index_plane + k];
      if (static_cast<uint64_t>(at) >= cells) return false;
      T& cell = dx[p * dx_plane + (kDense ? at * step : offset_of(at))];
      cell = Add(cell, dy[p * grad_plane + k]);
    }
  }
  return true;
}

// scatter_line with the kDense its IndexOffsets allow.
template <class T>
HWY_INLINE int64_t scatter(T* dx, int64_t dx_step, const int64_t* index, int64_t index_step,
                           const T* dy, int64_t grad_step, int64_t n, uint64_t cells,
                           const IndexOffsets& offset_of) {
  return offset_of.dense() ? scatter_line<true>(dx, dx_step, index, index_step, dy, grad_step, n,
                                                cells, offset_of)
                           : scatter_line<false>(dx, dx_step, index, index_step, dy, grad_step, n,
                                                 cells, offset_of);
}

// Channels-last backward where every window holds at most kMaskedCells
// cells (output larger than input above all): for each output cell in
// order, each cell of its window takes a vector of planes' gradients where
// their indices name it (IfThenElse of the sum and the old value, so a
// lane that does not is left as it was), one vector load and store per
// cell instead of one scalar read, add and write per gradient. Each dx cell
// still takes its gradients in output order, one rounding each: the
// scatter's bits. Measured at one thread: 5x5 -> 13x13 (16 x 64 planes)
// 116 -> 53-57 us, VGG's 14x14 -> 7x7 972 -> 825 us; 15x15 -> 7x7 (3x3
// windows) took 1035 -> 1186 us, hence at most 4 cells (window_count_bound).
constexpr int64_t kMaskedCells = 4;

// The planes of one dx group as masked_windows walks them: dx, the
// indices and grad_output with planes contiguous (stride 1) and cells at
// their d, h, w strides; dx's cells dense (IndexOffsets::dense).
struct MaskedGroup {
  const int64_t* index;
  int64_t planes;
  std::array<int64_t, 3> index_strides;
  std::array<int64_t, 3> grad_strides;
  int64_t dx_step;  // dx's cell stride: flat index k lies at k * dx_step
};

// Whether masked_windows may take a plan's groups: float or double (the
// 16-bit types add through float), vector targets, planes contiguous in
// all three tensors, dx dense, windows of at most kMaskedCells cells,
// planes' indices that fit int32 lanes (float), and a dx that starts from
// zero (a group that goes back to the scatter is zeroed again: not what
// Options::destination_zeroed holds).
template <class T>
constexpr bool kMaskedLanes = HWY_TARGET != HWY_SCALAR &&
                              (std::is_same_v<T, float> || std::is_same_v<T, double>);

template <class T>
bool masked_windows_apply(const PlanData& plan, const IndexOffsets& offset_of) {
  const auto& in = plan.in_sizes;
  const auto& out = plan.out_sizes;
  if (!kMaskedLanes<T> || plan.destination_zeroed || plan.destination_strides[1] != 1 ||
      plan.source_strides[1] != 1 || plan.indices_strides[1] != 1 || !offset_of.dense() ||
      in[0] * in[1] * in[2] > std::numeric_limits<int32_t>::max()) {
    return false;
  }
  int64_t cells = 1;
  for (int d = 0; d < 3; ++d) {
    if (in[d] < 1 || out[d] < 1) return false;  // empty: nothing to add
    cells *= window_count_bound(in[d], out[d]);
  }
  return cells <= kMaskedCells;
}

#if HWY_TARGET != HWY_SCALAR
// The lanes of a vector of planes (j, j + 1, ...) whose index is `cell`,
// for dt's lanes: float lanes compare the indices' low halves as int32, and
// a high half that is not 0 names no cell (`named` stays false for it).
template <class DT>
struct IndexLanes {
  using T = hn::TFromD<DT>;
  using DI = hn::RebindToSigned<DT>;
  hn::Vec<DI> low;
  hn::Mask<DT> clean;  // lanes whose index fits DI

  HWY_INLINE IndexLanes(DT dt, const int64_t* HWY_RESTRICT index) {
    const DI di;
    if constexpr (sizeof(T) == sizeof(int64_t)) {
      low = hn::LoadU(di, index);
      clean = hn::FirstN(dt, hn::Lanes(dt));
    } else {
      const hn::Repartition<int64_t, DI> d64;
      const auto lower = hn::BitCast(di, hn::LoadU(d64, index));
      const auto upper = hn::BitCast(di, hn::LoadU(d64, index + hn::Lanes(d64)));
      low = hn::ConcatEven(di, upper, lower);
      clean = hn::RebindMask(dt, hn::Eq(hn::ConcatOdd(di, upper, lower), hn::Zero(di)));
    }
  }
  HWY_INLINE hn::Mask<DT> name(DT dt, int64_t cell) const {
    return hn::RebindMask(dt, hn::Eq(low, hn::Set(DI(), static_cast<hn::TFromD<DI>>(cell))));
  }
};
#endif

// dx_group += each output cell's gradients at their indices, output by
// output, for a group of channels-last planes (masked_windows_apply), dx
// zeroed. False, part done, where an index does not name a cell of its own
// window: PyTorch allows any index of the plane, which the scatter takes.
template <class T>
bool masked_windows(const PlanData& plan, T* HWY_RESTRICT dx, const T* HWY_RESTRICT dy,
                    const MaskedGroup& group) {
#if HWY_TARGET != HWY_SCALAR
  if constexpr (kMaskedLanes<T>) {
    const hn::ScalableTag<T> dt;
    const auto lanes = static_cast<int64_t>(hn::Lanes(dt));
    const auto& in = plan.in_sizes;
    const auto& out = plan.out_sizes;
    const auto& is = group.index_strides;
    const auto& gs = group.grad_strides;
    const int64_t planes = group.planes;
    const int64_t whole = planes - planes % lanes;
    int64_t cell[kMaskedCells];
    WindowWalker walk_d(0, in[0], out[0]);
    for (int64_t od = 0; od < out[0]; ++od, walk_d.next()) {
      WindowWalker walk_h(0, in[1], out[1]);
      for (int64_t oh = 0; oh < out[1]; ++oh, walk_h.next()) {
        WindowWalker walk_w(0, in[2], out[2]);
        for (int64_t ow = 0; ow < out[2]; ++ow, walk_w.next()) {
          const Window wd = walk_d.window();
          const Window wh = walk_h.window();
          const Window ww = walk_w.window();
          int64_t count = 0;
          for (int64_t d = wd.begin; d < wd.end; ++d) {
            for (int64_t h = wh.begin; h < wh.end; ++h) {
              for (int64_t w = ww.begin; w < ww.end; ++w) {
                cell[count++] = (d * in[1] + h) * in[2] + w;
              }
            }
          }
          const int64_t* index = group.index + od * is[0] + oh * is[1] + ow * is[2];
          const T* grad = dy + od * gs[0] + oh * gs[1] + ow * gs[2];
          for (int64_t j = 0; j < whole; j += lanes) {
            const IndexLanes<decltype(dt)> indices(dt, index + j);
            const auto g = hn::LoadU(dt, grad + j);
            auto named = hn::FirstN(dt, 0);
            for (int64_t k = 0; k < count; ++k) {
              const auto mask = indices.name(dt, cell[k]);
              T* to = dx + cell[k] * group.dx_step + j;
              const auto old = hn::LoadU(dt, to);
              hn::StoreU(hn::IfThenElse(mask, hn::Add(old, g), old), dt, to);
              named = hn::Or(named, mask);
            }
            if (!hn::AllTrue(dt, hn::And(named, indices.clean))) return false;
          }
          for (int64_t j = whole; j < planes; ++j) {  // any index of the plane, in order
            const int64_t at = index[j];
            if (static_cast<uint64_t>(at) >= static_cast<uint64_t>(in[0] * in[1] * in[2])) {
              return false;
            }
            T& to = dx[at * group.dx_step + j];
            to = Add(to, grad[j]);
          }
        }
      }
    }
    return true;
  }
#endif
  (void)plan, (void)dx, (void)dy, (void)group;
  return false;
}

// Rows (group, band) of a banded max backward (PlanData::bands): a band
// zeroes its range [low, high) of flat plane cells, then reads the group's
// outputs in order, a cell's planes one after another, checks every index
// as the scatter does (so every band reports the scatter's first bad
// index) and adds those in its range.
template <class T>
void max_backward_bands(const PlanData& plan, const Buffers& buffers, int64_t first, int64_t last,
                        const IndexOffsets& offset_of) {
  const T* dy = static_cast<const T*>(buffers.source);
  T* dx = static_cast<T*>(buffers.destination);
  const auto& gs = plan.source_strides;
  const auto& xs = plan.destination_strides;
  const auto& is = plan.indices_strides;
  const auto& out = plan.out_sizes;
  const int64_t cells = plan.in_sizes[0] * plan.in_sizes[1] * plan.in_sizes[2];
  for (int64_t row = first; row < last; ++row) {
    const int64_t band = row % plan.bands;
    const int64_t low = (cells / plan.bands) * band + std::min(band, cells % plan.bands);
    const int64_t high = low + cells / plan.bands + (band < cells % plan.bands ? 1 : 0);
    const Group group = group_of(plan, row / plan.bands);
    T* dx_group = dx + group.destination_offset;
    if (!plan.destination_zeroed && offset_of.dense() && xs[1] == 1 &&
        offset_of.step() == group.planes) {
      ZeroRun(dx_group + low * group.planes, (high - low) * group.planes, plan.stream);  // one run
      if (plan.stream) hwy::FlushStream();
    } else if (!plan.destination_zeroed) {
      for (int64_t k = low; k < high; ++k) {
        T* cell = dx_group + offset_of(k);
        for (int64_t j = 0; j < group.planes; ++j) cell[j * xs[1]] = T{};
      }
    }
    if (plan.source_bytes.empty()) continue;
    const int64_t* index_group = buffers.indices + group.indices_offset;
    const T* dy_group = dy + group.source_offset;
    for (int64_t od = 0; od < out[0]; ++od) {
      for (int64_t oh = 0; oh < out[1]; ++oh) {
        for (int64_t ow = 0; ow < out[2]; ++ow) {
          const int64_t* index = index_group + od * is[2] + oh * is[3] + ow * is[4];
          const T* grad = dy_group + od * gs[2] + oh * gs[3] + ow * gs[4];
          for (int64_t j = 0; j < group.planes; ++j) {
            const int64_t at = index[j * is[1]];
            if (static_cast<uint64_t>(at) >= static_cast<uint64_t>(cells)) {
              buffers.fault->record(row / plan.bands, j, {od, oh, ow}, at);
              return;
            }
            if (at < low || at >= high) continue;  // predictable: bands are runs of rows
            T& cell = dx_group[j * xs[1] + offset_of(at)];
            cell = Add(cell, grad[j * gs[1]]);
          }
        }
      }
    }
  }
}

template <class T>
void max_backward_rows(const PlanData& plan, const Buffers& buffers, int64_t first, int64_t last,
                       double*) {
  const T* dy = static_cast<const T*>(buffers.source);
  T* dx = static_cast<T*>(buffers.destination);
  const std::array<int64_t, 5> gs = plan.source_strides;
  const std::array<int64_t, 5> xs = plan.destination_strides;
  const std::array<int64_t, 5> is = plan.indices_strides;
  const std::array<int64_t, 3> in = plan.in_sizes;
  const std::array<int64_t, 3> out = plan.out_sizes;
  const auto cells = static_cast<uint64_t>(in[0] * in[1] * in[2]);
  const IndexOffsets offset_of(in, xs);
  if (plan.bands > 1) {
    max_backward_bands<T>(plan, buffers, first, last, offset_of);
    return;
  }
  // Planes side by side in memory go together, the planes of a cell one
  // after the other; others plane by plane (a few memory streams, not one
  // per plane). Either way each plane's cells come in output order.
  const bool planes_inner = is[1] == 1 || gs[1] == 1;
  // A plane's outputs whose indices and gradients both lie densely in row
  // order (NCHW) go to scatter as one line: 5x5 -> 13x13 took 13 calls of
  // 13 outputs per plane.
  const auto dense_outputs = [&](const std::array<int64_t, 5>& st) {
    return (out[2] == 1 || st[4] == 1) && (out[1] == 1 || st[3] == out[2]) &&
           (out[0] == 1 || st[2] == out[1] * out[2]);
  };
  const bool whole_planes = !planes_inner && dense_outputs(is) && dense_outputs(gs);
  const bool masked = masked_windows_apply<T>(plan, offset_of);
  const int64_t plane_outputs = out[0] * out[1] * out[2];
  for (int64_t row = first; row < last; ++row) {
    const Group group = group_of(plan, row);
    T* dx_group = dx + group.destination_offset;
    // A plane a group (see plan.cpp): kScatterPlanes rows of one image
    // scatter together.
    const bool together = whole_planes && group.planes == 1 && last - row >= kScatterPlanes &&
                          row % plan.groups_per_batch + kScatterPlanes <= plan.groups_per_batch;
    if (!plan.destination_zeroed) {
      zero_group(dx_group, together ? kScatterPlanes : group.planes, xs, in, plan.stream);
    }
    // An empty grad_output feeds nothing, and its strides are never used.
    if (plan.source_bytes.empty()) continue;
    const int64_t* index_group = buffers.indices + group.indices_offset;
    const T* dy_group = dy + group.source_offset;
    if (masked) {
      const MaskedGroup masked_group{index_group,
                                     group.planes,
                                     {is[2], is[3], is[4]},
                                     {gs[2], gs[3], gs[4]},
                                     offset_of.step()};
      if (masked_windows(plan, dx_group, dy_group, masked_group)) continue;
      zero_group(dx_group, group.planes, xs, in, plan.stream);  // the scatter starts over
    }
    if (together) {
      const auto scatter_all =
          offset_of.dense() ? scatter_planes<true, T> : scatter_planes<false, T>;
      if (scatter_all(dx_group, xs[1], index_group, is[1], dy_group, gs[1], plane_outputs, cells,
                      offset_of)) {
        row += kScatterPlanes - 1;
        continue;
      }
      // An index outside its plane: the planes one by one find the first.
    }
    if (whole_planes) {
      for (int64_t j = 0; j < group.planes; ++j) {
        const int64_t* index_plane = index_group + j * is[1];
        const int64_t done = scatter(dx_group + j * xs[1], 0, index_plane, 1, dy_group + j * gs[1],
                                     1, plane_outputs, cells, offset_of);
        if (done < plane_outputs) {
          const std::array<int64_t, 3> cell = {done / (out[1] * out[2]), done / out[2] % out[1],
                                               done % out[2]};
          buffers.fault->record(row, j, cell, index_plane[done]);
          return;
        }
      }
      continue;
    }
    for (int64_t j0 = 0; j0 < group.planes; j0 += planes_inner ? group.planes : 1) {
      for (int64_t od = 0; od < out[0]; ++od) {
        for (int64_t oh = 0; oh < out[1]; ++oh) {
          const int64_t* index_line = index_group + j0 * is[1] + od * is[2] + oh * is[3];
          const T* grad_line = dy_group + j0 * gs[1] + od * gs[2] + oh * gs[3];
          if (!planes_inner) {  // one plane's line
            const int64_t done = scatter(dx_group + j0 * xs[1], 0, index_line, is[4], grad_line,
                                         gs[4], out[2], cells, offset_of);
            if (done < out[2]) {
              buffers.fault->record(row, j0, {od, oh, done}, index_line[done * is[4]]);
              return;
            }
            continue;
          }
          for (int64_t ow = 0; ow < out[2]; ++ow) {  // every plane of one output cell
            const int64_t* index = index_line + ow * is[4];
            const int64_t done = scatter(dx_group, xs[1], index, is[1], grad_line + ow * gs[4],
                                         gs[1], group.planes, cells, offset_of);
            if (done < group.planes) {
              buffers.fault->record(row, done, {od, oh, ow}, index[done * is[1]]);
              return;
            }
          }
        }
      }
    }
  }
}

}  // namespace

#define ADAPOOL_MAX_KERNELS(Name, Type)                                                            \
  void MaxForward##Name(const PlanData& plan, const Buffers& buffers, int64_t first, int64_t last, \
                        double* workspace) {                                                       \
    max_forward_rows<Type>(plan, buffers, first, last, workspace);                                 \
  }                                                                                                \
  void MaxBackward##Name(const PlanData& plan, const Buffers& buffers, int64_t first,              \
                         int64_t last, double* workspace) {                                        \
    max_backward_rows<Type>(plan, buffers, first, last, workspace);                                \
  }
ADAPOOL_MAX_KERNELS(F32, float)
ADAPOOL_MAX_KERNELS(F64, double)
ADAPOOL_MAX_KERNELS(F16, Half)
ADAPOOL_MAX_KERNELS(BF16, BFloat16)
#undef ADAPOOL_MAX_KERNELS

}  // namespace HWY_NAMESPACE
}  // namespace adapool
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace adapool {

HWY_EXPORT(MaxForwardF32);
HWY_EXPORT(MaxForwardF64);
HWY_EXPORT(MaxForwardF16);
HWY_EXPORT(MaxForwardBF16);
HWY_EXPORT(MaxBackwardF32);
HWY_EXPORT(MaxBackwardF64);
HWY_EXPORT(MaxBackwardF16);
HWY_EXPORT(MaxBackwardBF16);

RowKernel select_max_kernel(Direction direction, DType dtype) {
  const bool forward = direction == Direction::forward;
  switch (dtype) {
    case DType::f32:
      return forward ? RowKernel{ADAPOOL_ROW_DISPATCH(MaxForwardF32)}
                     : ADAPOOL_ROW_DISPATCH(MaxBackwardF32);
    case DType::f64:
      return forward ? RowKernel{ADAPOOL_ROW_DISPATCH(MaxForwardF64)}
                     : ADAPOOL_ROW_DISPATCH(MaxBackwardF64);
    case DType::f16:
      return forward ? RowKernel{ADAPOOL_ROW_DISPATCH(MaxForwardF16)}
                     : ADAPOOL_ROW_DISPATCH(MaxBackwardF16);
    case DType::bf16:
      return forward ? RowKernel{ADAPOOL_ROW_DISPATCH(MaxForwardBF16)}
                     : ADAPOOL_ROW_DISPATCH(MaxBackwardBF16);
  }
  return nullptr;  // unreachable: make_plan validated the dtype
}

}  // namespace adapool
#endif  // HWY_ONCE
