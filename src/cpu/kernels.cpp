// Row kernels for every layout and dtype.
//
// The summation order is the contract that makes results identical for
// every layout and thread count (and close to PyTorch's NCHW kernel):
//   forward   y = (sum over d, then h, then w of the window, left to right) / count
//   backward  dx[i] = sum over od, then oh, then ow holding i of dy[o] / count(o)
// Every dtype accumulates in double and rounds once at the end (float16 and
// bfloat16 through float, as PyTorch does).
//
// Speed comes from working on a group of planes (consecutive channels) at a
// time with the planes as vector lanes: each input row of the group is
// widened into a tile of doubles, tile[w][plane], and the window sums become
// vector additions of whole tile columns (sum_windows) in the order above.
// Channels-last data fills and drains the tile with contiguous vector loads
// and stores; other layouts (NCHW, transposed, sliced) are gathered into it
// element by element. Rows are chunked so that any row length fits the
// plan's fixed workspace, which keeps the order: chunks run left to right.
#include "cpu/kernels.hpp"

#include <algorithm>

#include "cpu/half.hpp"
#include "cpu/microkernels.hpp"

namespace adapool {

namespace {

template <class T>
struct Element;

template <>
struct Element<float> {
  static double load(float v) { return v; }
  static float store(double v) { return static_cast<float>(v); }
};
template <>
struct Element<double> {
  static double load(double v) { return v; }
  static double store(double v) { return v; }
};
template <>
struct Element<Half> {
  static double load(Half v) { return to_float(v); }
  static Half store(double v) { return to_half(static_cast<float>(v)); }
};
template <>
struct Element<BFloat16> {
  static double load(BFloat16 v) { return to_float(v); }
  static BFloat16 store(double v) { return to_bfloat16(static_cast<float>(v)); }
};

// One group of planes: which, and where its data starts.
struct Group {
  int64_t planes;
  int64_t source_offset;
  int64_t destination_offset;
};

Group group_of(const PlanData& plan, int64_t group) {
  const int64_t n = group / plan.groups_per_batch;
  const int64_t c = (group % plan.groups_per_batch) * plan.group_planes;
  const auto& s = plan.source_strides;
  const auto& t = plan.destination_strides;
  return {std::min(plan.group_planes, plan.channels - c), n * s[0] + c * s[1], n * t[0] + c * t[1]};
}

// The microkernels a plan's dtype uses.
struct RowOps {
  LoadScaledRow load_row;
  GatherTile gather;
  StoreScaledRow store_row;
};

RowOps row_ops(DType dtype) {
  return {load_scaled_row(dtype), gather_tile(dtype), store_scaled_row(dtype)};
}

// tile[k][plane] = data[k * column_stride + plane * plane_stride] / divisor
// for k < columns: contiguous planes (channels-last) as vector loads, others
// gathered.
template <class T>
void fill_tile(double* tile, const T* data, int64_t columns, int64_t column_stride, int64_t planes,
               int64_t plane_stride, double divisor, const RowOps& ops) {
  if (plane_stride != 1) {
    ops.gather(tile, data, columns, column_stride, planes, plane_stride, divisor);
    return;
  }
  for (int64_t k = 0; k < columns; ++k) {
    ops.load_row(tile + k * planes, data + k * column_stride, planes, divisor);
  }
}

// data[k * column_stride + plane * plane_stride] = tile[k][plane] / divisor(k).
template <class T, class Divisor>
void drain_tile(T* data, const double* tile, int64_t columns, int64_t column_stride, int64_t planes,
                int64_t plane_stride, Divisor divisor, const RowOps& ops) {
  for (int64_t k = 0; k < columns; ++k) {
    const double d = divisor(k);
    T* cell = data + k * column_stride;
    if (plane_stride == 1) {
      ops.store_row(cell, tile + k * planes, planes, d);
    } else {
      for (int64_t j = 0; j < planes; ++j) {
        cell[j * plane_stride] = Element<T>::store(tile[k * planes + j] / d);
      }
    }
  }
}

template <class T>
void forward_rows(const PlanData& plan, const void* source, void* destination, int64_t first,
                  int64_t last, double* workspace) {
  const T* x = static_cast<const T*>(source);
  T* y = static_cast<T*>(destination);
  const auto& xs = plan.source_strides;
  const auto& ys = plan.destination_strides;
  const int64_t out_d = plan.out_sizes[0];
  const int64_t out_h = plan.out_sizes[1];
  const int64_t out_w = plan.out_sizes[2];
  const std::vector<Window>& windows_w = plan.windows[2];
  const RowOps ops = row_ops(plan.dtype);
  for (int64_t row = first; row < last; ++row) {
    const int64_t oh = row % out_h;
    const int64_t od = (row / out_h) % out_d;
    const Group group = group_of(plan, row / out_h / out_d);
    const int64_t planes = group.planes;
    const int64_t chunk = plan.chunk_columns * plan.group_planes / planes;
    double* tile = workspace;
    double* sums = workspace + chunk * planes;
    const Window wd = plan.windows[0][od];
    const Window wh = plan.windows[1][oh];
    const int64_t count_dh = wd.count() * wh.count();
    for (int64_t o0 = 0; o0 < out_w; o0 += chunk) {
      const int64_t o1 = std::min(out_w, o0 + chunk);
      std::fill(sums, sums + (o1 - o0) * planes, 0.0);
      const int64_t w_begin = windows_w[o0].begin;
      const int64_t w_end = windows_w[o1 - 1].end;
      for (int64_t d = wd.begin; d < wd.end; ++d) {
        for (int64_t h = wh.begin; h < wh.end; ++h) {
          const T* line = x + group.source_offset + d * xs[2] + h * xs[3];
          for (int64_t c0 = w_begin; c0 < w_end; c0 += chunk) {
            const int64_t c1 = std::min(w_end, c0 + chunk);
            fill_tile(tile, line + c0 * xs[4], c1 - c0, xs[4], planes, xs[1], 1.0, ops);
            sum_windows(sums, tile, windows_w.data() + o0, o1 - o0, c0, c1, planes);
          }
        }
      }
      T* out = y + group.destination_offset + od * ys[2] + oh * ys[3] + o0 * ys[4];
      drain_tile(
          out, sums, o1 - o0, ys[4], planes, ys[1],
          [&](int64_t k) { return static_cast<double>(count_dh * windows_w[o0 + k].count()); },
          ops);
    }
  }
}

template <class T>
void backward_rows(const PlanData& plan, const void* source, void* destination, int64_t first,
                   int64_t last, double* workspace) {
  const T* dy = static_cast<const T*>(source);
  T* dx = static_cast<T*>(destination);
  const auto& gs = plan.source_strides;
  const auto& xs = plan.destination_strides;
  const int64_t in_d = plan.in_sizes[0];
  const int64_t in_h = plan.in_sizes[1];
  const int64_t in_w = plan.in_sizes[2];
  const std::vector<Window>& inverse_w = plan.inverse[2];
  const RowOps ops = row_ops(plan.dtype);
  for (int64_t row = first; row < last; ++row) {
    const int64_t h = row % in_h;
    const int64_t d = (row / in_h) % in_d;
    const Group group = group_of(plan, row / in_h / in_d);
    const int64_t planes = group.planes;
    const int64_t chunk = plan.chunk_columns * plan.group_planes / planes;
    double* shares = workspace;  // dy[o] / count(o) for a chunk of outputs
    double* sums = workspace + chunk * planes;
    const Window od_range = plan.inverse[0][d];
    const Window oh_range = plan.inverse[1][h];
    for (int64_t w0 = 0; w0 < in_w; w0 += chunk) {
      const int64_t w1 = std::min(in_w, w0 + chunk);
      std::fill(sums, sums + (w1 - w0) * planes, 0.0);
      const int64_t o_begin = inverse_w[w0].begin;
      const int64_t o_end = inverse_w[w1 - 1].end;
      for (int64_t od = od_range.begin; od < od_range.end; ++od) {
        for (int64_t oh = oh_range.begin; oh < oh_range.end; ++oh) {
          const int64_t count_dh = plan.windows[0][od].count() * plan.windows[1][oh].count();
          const T* line = dy + group.source_offset + od * gs[2] + oh * gs[3];
          for (int64_t o0 = o_begin; o0 < o_end; o0 += chunk) {
            const int64_t o1 = std::min(o_end, o0 + chunk);
            for (int64_t ow = o0; ow < o1; ++ow) {
              const auto count = static_cast<double>(count_dh * plan.windows[2][ow].count());
              fill_tile(shares + (ow - o0) * planes, line + ow * gs[4], 1, gs[4], planes, gs[1],
                        count, ops);
            }
            sum_windows(sums, shares, inverse_w.data() + w0, w1 - w0, o0, o1, planes);
          }
        }
      }
      T* out = dx + group.destination_offset + d * xs[2] + h * xs[3] + w0 * xs[4];
      drain_tile(
          out, sums, w1 - w0, xs[4], planes, xs[1], [](int64_t) { return 1.0; }, ops);
    }
  }
}

template <class T>
RowKernel kernel_for(Direction direction) {
  return direction == Direction::forward ? &forward_rows<T> : &backward_rows<T>;
}

}  // namespace

RowKernel select_kernel(Direction direction, DType dtype) {
  switch (dtype) {
    case DType::f32:
      return kernel_for<float>(direction);
    case DType::f64:
      return kernel_for<double>(direction);
    case DType::f16:
      return kernel_for<Half>(direction);
    case DType::bf16:
      return kernel_for<BFloat16>(direction);
  }
  return nullptr;  // unreachable: make_plan validated the dtype
}

}  // namespace adapool
