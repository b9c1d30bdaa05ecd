// Strided row kernels for every layout and dtype.
//
// The summation order is the contract that makes results identical for
// every layout and thread count (and close to PyTorch's NCHW kernel):
//   forward   y = (sum over d, then h, then w of the window, left to right) / count
//   backward  dx[i] = sum over od, then oh, then ow holding i of dy[o] / count(o)
// Every dtype accumulates in double and rounds once at the end (float16 and
// bfloat16 through float, as PyTorch does). Any faster kernel must keep this
// order so that its bits match.
#include "cpu/kernels.hpp"

#include "cpu/half.hpp"

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

template <class T>
void forward_rows(const PlanData& plan, const void* source, void* destination, int64_t first,
                  int64_t last) {
  const T* x = static_cast<const T*>(source);
  T* y = static_cast<T*>(destination);
  const auto& [xn, xc, xd, xh, xw] = plan.source_strides;
  const auto& [yn, yc, yd, yh, yw] = plan.destination_strides;
  const int64_t out_d = plan.out_sizes[0];
  const int64_t out_h = plan.out_sizes[1];
  const int64_t out_w = plan.out_sizes[2];
  for (int64_t row = first; row < last; ++row) {
    const int64_t oh = row % out_h;
    const int64_t od = (row / out_h) % out_d;
    const int64_t plane = row / out_h / out_d;
    const int64_t c = plane % plan.channels;
    const int64_t n = plane / plan.channels;
    const T* x_plane = x + n * xn + c * xc;
    T* y_row = y + n * yn + c * yc + od * yd + oh * yh;
    const Window wd = plan.windows[0][od];
    const Window wh = plan.windows[1][oh];
    const int64_t count_dh = wd.count() * wh.count();
    for (int64_t ow = 0; ow < out_w; ++ow) {
      const Window ww = plan.windows[2][ow];
      double sum = 0.0;
      for (int64_t d = wd.begin; d < wd.end; ++d) {
        for (int64_t h = wh.begin; h < wh.end; ++h) {
          const T* x_line = x_plane + d * xd + h * xh;
          for (int64_t w = ww.begin; w < ww.end; ++w) sum += Element<T>::load(x_line[w * xw]);
        }
      }
      y_row[ow * yw] = Element<T>::store(sum / static_cast<double>(count_dh * ww.count()));
    }
  }
}

template <class T>
void backward_rows(const PlanData& plan, const void* source, void* destination, int64_t first,
                   int64_t last) {
  const T* dy = static_cast<const T*>(source);
  T* dx = static_cast<T*>(destination);
  const auto& [gn, gc, gd, gh, gw] = plan.source_strides;
  const auto& [xn, xc, xd, xh, xw] = plan.destination_strides;
  const int64_t in_d = plan.in_sizes[0];
  const int64_t in_h = plan.in_sizes[1];
  const int64_t in_w = plan.in_sizes[2];
  for (int64_t row = first; row < last; ++row) {
    const int64_t h = row % in_h;
    const int64_t d = (row / in_h) % in_d;
    const int64_t plane = row / in_h / in_d;
    const int64_t c = plane % plan.channels;
    const int64_t n = plane / plan.channels;
    const T* dy_plane = dy + n * gn + c * gc;
    T* dx_row = dx + n * xn + c * xc + d * xd + h * xh;
    const Window od_range = plan.inverse[0][d];
    const Window oh_range = plan.inverse[1][h];
    for (int64_t w = 0; w < in_w; ++w) {
      const Window ow_range = plan.inverse[2][w];
      double sum = 0.0;
      for (int64_t od = od_range.begin; od < od_range.end; ++od) {
        const int64_t count_d = plan.windows[0][od].count();
        for (int64_t oh = oh_range.begin; oh < oh_range.end; ++oh) {
          const int64_t count_dh = count_d * plan.windows[1][oh].count();
          const T* dy_line = dy_plane + od * gd + oh * gh;
          for (int64_t ow = ow_range.begin; ow < ow_range.end; ++ow) {
            const auto count = static_cast<double>(count_dh * plan.windows[2][ow].count());
            sum += Element<T>::load(dy_line[ow * gw]) / count;
          }
        }
      }
      dx_row[w * xw] = Element<T>::store(sum);
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
