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
// Backward is a gather: each thread owns rows of grad_input (group, d, h),
// zeroes them, and adds in the gradients of the output cells whose windows
// hold the row, in output order (od, then oh, then ow), wherever their index
// points into the row. The sums are in the dtype itself, one rounding per
// addition, which is what PyTorch's scatter over outputs in that same order
// computes; the thread count never changes a bit. The indices were checked
// to lie in their windows before the run (check_max_indices), so no output
// cell is missed.
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
  T best_value = StoreScalar<T>(-HUGE_VAL);
  int64_t where = (wd.begin * in_h + wh.begin) * in_w + ww.begin;
  for (int64_t d = wd.begin; d < wd.end; ++d) {
    for (int64_t h = wh.begin; h < wh.end; ++h) {
      const T* line = plane + d * xs[2] + h * xs[3];
      const int64_t first = (d * in_h + h) * in_w;
      for (int64_t w = ww.begin; w < ww.end; ++w) {
        const T raw = line[w * xs[4]];
        const Compared<T> v = Widen(raw);
        if (v > best || std::isnan(v)) {
          best = v;
          best_value = raw;
          where = first + w;
        }
      }
    }
  }
  *value = best_value;
  *index = where;
}

// The same for lanes of planes that lie next to each other (plane stride
// 1), a vector of them at a time; returns how many planes it did (a multiple
// of the vector length).
template <class T>
HWY_INLINE int64_t MaxWindowLanes(const T* HWY_RESTRICT planes_first, int64_t planes,
                                  const std::array<int64_t, 5>& xs, const Window& wd,
                                  const Window& wh, const Window& ww, int64_t in_h, int64_t in_w,
                                  T* y, int64_t y_plane_stride, int64_t* indices,
                                  int64_t indices_plane_stride) {
  using C = Compared<T>;
  const hn::ScalableTag<C> dc;
  const hn::RebindToSigned<decltype(dc)> di;
  using I = hn::TFromD<decltype(di)>;
  const auto lanes = static_cast<int64_t>(hn::Lanes(dc));
  HWY_ALIGN C values[hn::MaxLanes(dc)];
  HWY_ALIGN I wheres[hn::MaxLanes(di)];
  const auto start = static_cast<I>((wd.begin * in_h + wh.begin) * in_w + ww.begin);
  int64_t j = 0;
  for (; j + lanes <= planes; j += lanes) {
    auto best = hn::Set(dc, -std::numeric_limits<C>::infinity());
    auto where = hn::Set(di, start);
    for (int64_t d = wd.begin; d < wd.end; ++d) {
      for (int64_t h = wh.begin; h < wh.end; ++h) {
        const T* line = planes_first + j + d * xs[2] + h * xs[3];
        auto cell = hn::Set(di, static_cast<I>((d * in_h + h) * in_w + ww.begin));
        const auto one = hn::Set(di, I{1});
        for (int64_t w = ww.begin; w < ww.end; ++w, cell = hn::Add(cell, one)) {
          const auto v = LoadCompared(dc, line + w * xs[4]);
          const auto takes = hn::Or(hn::Gt(v, best), hn::IsNaN(v));
          best = hn::IfThenElse(takes, v, best);
          where = hn::IfThenElse(hn::RebindMask(di, takes), cell, where);
        }
      }
    }
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
    if (indices != nullptr) {
      hn::Store(where, di, wheres);
      for (int64_t k = 0; k < lanes; ++k) indices[(j + k) * indices_plane_stride] = wheres[k];
    }
  }
  return j;
}

template <class T>
void max_forward_rows(const PlanData& plan, const Buffers& buffers, int64_t first, int64_t last,
                      double*) {
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
  int64_t scratch = 0;  // where indices go when nobody wants them
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
                           indices_cell, is[1]);
      }
      for (; j < group.planes; ++j) {
        MaxWindow(x_group + j * xs[1], xs, wd, wh, ww, in_h, in_w, y_cell + j * ys[1],
                  indices_cell == nullptr ? &scratch : indices_cell + j * is[1]);
      }
    }
  }
}

// Sets a row of planes x columns to zero.
template <class T>
void zero_row(T* row, int64_t planes, int64_t plane_stride, int64_t columns,
              int64_t column_stride) {
  if (column_stride == 1) {
    for (int64_t j = 0; j < planes; ++j) std::fill_n(row + j * plane_stride, columns, T{});
  } else if (plane_stride == 1) {
    for (int64_t w = 0; w < columns; ++w) std::fill_n(row + w * column_stride, planes, T{});
  } else {
    for (int64_t j = 0; j < planes; ++j) {
      for (int64_t w = 0; w < columns; ++w) row[j * plane_stride + w * column_stride] = T{};
    }
  }
}

template <class T>
void max_backward_rows(const PlanData& plan, const Buffers& buffers, int64_t first, int64_t last,
                       double*) {
  const T* dy = static_cast<const T*>(buffers.source);
  T* dx = static_cast<T*>(buffers.destination);
  const int64_t* indices = buffers.indices;
  const auto& gs = plan.source_strides;
  const auto& xs = plan.destination_strides;
  const auto& is = plan.indices_strides;
  const int64_t in_d = plan.in_sizes[0];
  const int64_t in_h = plan.in_sizes[1];
  const int64_t in_w = plan.in_sizes[2];
  const int64_t out_w = plan.out_sizes[2];
  const bool reads = !plan.source_bytes.empty();
  for (int64_t row = first; row < last; ++row) {
    const int64_t h = row % in_h;
    const int64_t d = (row / in_h) % in_d;
    const Group group = group_of(plan, row / in_h / in_d);
    T* dx_row = dx + group.destination_offset + d * xs[2] + h * xs[3];
    zero_row(dx_row, group.planes, xs[1], in_w, xs[4]);
    // An empty grad_output feeds nothing, and its strides are never used.
    if (!reads) continue;
    const int64_t row_first = (d * in_h + h) * in_w;
    const Window od_range{inverse_begin(d, in_d, plan.out_sizes[0]),
                          inverse_end(d, in_d, plan.out_sizes[0])};
    const Window oh_range{inverse_begin(h, in_h, plan.out_sizes[1]),
                          inverse_end(h, in_h, plan.out_sizes[1])};
    // Each plane's sums are its own: planes may go in either order, which
    // follows the layout (planes innermost when they lie next to each other).
    const auto add_line = [&](const T* dy_line, const int64_t* index_line, int64_t j) {
      for (int64_t ow = 0; ow < out_w; ++ow) {
        // Unsigned: one comparison tells "in this row" for indices below it too.
        const auto w = static_cast<uint64_t>(index_line[ow * is[4]] - row_first);
        if (w < static_cast<uint64_t>(in_w)) {
          T& cell = dx_row[j * xs[1] + static_cast<int64_t>(w) * xs[4]];
          cell = Add(cell, dy_line[ow * gs[4]]);
        }
      }
    };
    for (int64_t od = od_range.begin; od < od_range.end; ++od) {
      for (int64_t oh = oh_range.begin; oh < oh_range.end; ++oh) {
        const T* dy_line = dy + group.source_offset + od * gs[2] + oh * gs[3];
        const int64_t* index_line = indices + group.indices_offset + od * is[2] + oh * is[3];
        if (is[1] == 1 && is[4] != 1) {
          for (int64_t ow = 0; ow < out_w; ++ow) {
            for (int64_t j = 0; j < group.planes; ++j) {
              const auto w = static_cast<uint64_t>(index_line[ow * is[4] + j] - row_first);
              if (w < static_cast<uint64_t>(in_w)) {
                T& cell = dx_row[j * xs[1] + static_cast<int64_t>(w) * xs[4]];
                cell = Add(cell, dy_line[ow * gs[4] + j * gs[1]]);
              }
            }
          }
        } else {
          for (int64_t j = 0; j < group.planes; ++j) {
            add_line(dy_line + j * gs[1], index_line + j * is[1], j);
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
