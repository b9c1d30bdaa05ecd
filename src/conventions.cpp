// The window conventions of other systems (docs/CONVENTIONS.md has the
// sources), their agreement with PyTorch's rule, and a plain pooling loop to
// measure what a difference does to values.
#include <adapool/conventions.hpp>

#include "error.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <sstream>

namespace adapool {

namespace {

constexpr ConventionInfo kConventions[] = {
    {Convention::pytorch, "pytorch",
     "begin = floor(o*in/out), end = ceil((o+1)*in/out) in exact integer arithmetic",
     "PyTorch (CPU, CUDA and XPU kernels); adapool; the AdaptiveAvgPool-8 definition in "
     "OpenVINO's operation spec"},
    {Convention::float32_bounds, "float32_bounds",
     "begin = floor(float32(o*in) / float32(out)), end = ceil(float32((o+1)*in) / "
     "float32(out)), each step rounded to float32",
     "MXNet contrib AdaptiveAvgPooling2D (START_IND/END_IND); Paddle adaptive pooling "
     "(phi AdaptStartIndex/AdaptEndIndex)"},
    {Convention::float32_end, "float32_end",
     "begin = floor(o*in/out) in integers, end = ceil(float32((o+1)*in) / float32(out))",
     "OpenVINO CPU plugin AdaptivePooling node (setBinBorders)"},
    {Convention::float32_two_sizes, "float32_two_sizes",
     "float32 floor/ceil bounds as float32_bounds, then a window of ceil(in/out)+1 cells "
     "where the bounds are that far apart, else ceil(in/out) cells from the begin",
     "Keras 3 adaptive pooling layers and ops, JAX backend (two-pool gather)"},
    {Convention::equal_kernel_stride, "equal_kernel_stride",
     "AvgPool with kernel = stride = floor(in/out), no padding",
     "torch2trt AdaptiveAvgPool2d converter; PyTorch's fx2trt AdaptiveAvgPool2d converter; "
     "oneDNN's suggested workaround (issue 1775, for sizes that divide)"},
    {Convention::derived_kernel, "derived_kernel",
     "AvgPool with stride = floor(in/out), kernel = in - (out-1)*stride, no padding",
     "Flux AdaptiveMeanPool; Lux AdaptiveMeanPool; PyTorch MPS adaptive max pooling (its "
     "average pooling refuses these sizes: multiple_either_way)"},
    {Convention::partition, "partition",
     "non-overlapping windows: the first in%out hold floor(in/out)+1 cells, the rest "
     "floor(in/out)",
     "Equinox AdaptivePool (AdaptiveAvgPool1d/2d/3d)"},
    {Convention::multiple_only, "multiple_only",
     "PyTorch's windows when out divides in; refuses other sizes",
     "TF-Addons AdaptiveAveragePooling1D/2D/3D (tf.split); Torch-TensorRT FX "
     "adaptive_avg_pool converter"},
    {Convention::multiple_either_way, "multiple_either_way",
     "PyTorch's windows when out divides in, or in divides out; refuses other sizes, and "
     "2-d sizes where one axis shrinks and the other grows",
     "PyTorch MPS (Apple GPU) adaptive_avg_pool1d/2d"},
};

// 2^24: below it every integer is a float32, and quotients of such integers
// round to the right side of every integer (docs/CONVENTIONS.md).
constexpr int64_t kFloat32Exact = int64_t{1} << 24;

// numerator / denominator as those systems write it: the integer product
// converted to float, divided by the size converted to float. volatile keeps
// every step a float32 rounding, whatever the compiler's excess precision.
float float32_quotient(int64_t numerator, int64_t denominator) {
  volatile float top = static_cast<float>(numerator);
  volatile float bottom = static_cast<float>(denominator);
  volatile float quotient = top / bottom;
  return quotient;
}

int64_t float32_floor(int64_t numerator, int64_t denominator) {
  return static_cast<int64_t>(std::floor(float32_quotient(numerator, denominator)));
}

int64_t float32_ceil(int64_t numerator, int64_t denominator) {
  return static_cast<int64_t>(std::ceil(float32_quotient(numerator, denominator)));
}

// What decides the windows of one axis, without the message.
struct AxisShape {
  ConventionAxis::Status status = ConventionAxis::Status::usable;
  int64_t outputs = 0;
  int64_t kernel = 0, stride = 0;
};

AxisShape classify(Convention convention, int64_t in, int64_t out) {
  AxisShape shape;
  shape.outputs = out;
  const auto refuse = [&] {
    shape.status = ConventionAxis::Status::refuses;
    shape.outputs = 0;
  };
  switch (convention) {
    case Convention::pytorch:
    case Convention::float32_bounds:
    case Convention::float32_end:
    case Convention::float32_two_sizes:
      break;
    case Convention::equal_kernel_stride:
      shape.kernel = shape.stride = in / out;
      if (shape.kernel == 0) {
        refuse();
      } else {
        // An AvgPool's output count, floor((in - kernel) / stride) + 1.
        shape.outputs = (in - shape.kernel) / shape.stride + 1;
        if (shape.outputs != out) shape.status = ConventionAxis::Status::other_count;
      }
      break;
    case Convention::derived_kernel:
      shape.stride = in / out;
      if (shape.stride == 0) {
        refuse();
      } else {
        // (in - kernel) / stride + 1 == out by construction.
        shape.kernel = in - (out - 1) * shape.stride;
      }
      break;
    case Convention::partition:
      if (in < out) refuse();
      break;
    case Convention::multiple_only:
      if (in % out != 0) refuse();
      break;
    case Convention::multiple_either_way:
      if (in % out != 0 && out % in != 0) refuse();
      break;
  }
  return shape;
}

std::string refusal_reason(Convention convention, int64_t in, int64_t out, const AxisShape& shape) {
  std::ostringstream reason;
  switch (convention) {
    case Convention::equal_kernel_stride:
      if (shape.status == ConventionAxis::Status::refuses) {
        reason << "kernel = stride = floor(" << in << "/" << out << ") = 0: no window (out > in)";
      } else {
        reason << "kernel = stride = " << shape.kernel << " gives " << shape.outputs
               << " outputs, not " << out;
      }
      break;
    case Convention::derived_kernel:
      reason << "stride = floor(" << in << "/" << out << ") = 0: no pooling (out > in)";
      break;
    case Convention::partition:
      reason << "out > in: splitting " << in << " cells into " << out
             << " parts of floor(in/out) = 0 fails";
      break;
    case Convention::multiple_only:
      reason << "refused: " << out << " does not divide " << in;
      break;
    case Convention::multiple_either_way:
      reason << "refused: neither of " << in << " and " << out << " divides the other";
      break;
    default:
      break;
  }
  return reason.str();
}

Window pytorch_window(int64_t o, int64_t in, int64_t out) {
  return {window_begin(o, in, out), window_end(o, in, out)};
}

Window window_of(Convention convention, int64_t in, int64_t out, const AxisShape& shape,
                 int64_t o) {
  switch (convention) {
    case Convention::pytorch:
    case Convention::multiple_only:
    case Convention::multiple_either_way:
      return pytorch_window(o, in, out);
    case Convention::float32_bounds:
      return {float32_floor(o * in, out), float32_ceil((o + 1) * in, out)};
    case Convention::float32_end:
      // OpenVINO's begin is the integer floor(o*in/out): PyTorch's begin.
      return {window_begin(o, in, out), float32_ceil((o + 1) * in, out)};
    case Convention::float32_two_sizes: {
      const int64_t begin = float32_floor(o * in, out);
      const int64_t end = float32_ceil((o + 1) * in, out);
      const int64_t small = (in + out - 1) / out;  // Keras: math.ceil(in / out)
      return {begin, begin + (end - begin == small + 1 ? small + 1 : small)};
    }
    case Convention::equal_kernel_stride:
    case Convention::derived_kernel:
      return {o * shape.stride, o * shape.stride + shape.kernel};
    case Convention::partition: {
      const int64_t size = in / out, larger = in % out;
      const int64_t begin = o * size + std::min(o, larger);
      return {begin, begin + size + (o < larger ? 1 : 0)};
    }
  }
  return {0, 0};
}

// True when the convention's windows are PyTorch's for every cell without
// looking: the ones defined as PyTorch's, and float32 bounds whose every
// numerator and denominator is at most 2^24 (exact, see kFloat32Exact).
bool agrees_by_construction(Convention convention, int64_t in, int64_t out) {
  switch (convention) {
    case Convention::pytorch:
    case Convention::multiple_only:
    case Convention::multiple_either_way:
      return true;
    case Convention::float32_bounds:
    case Convention::float32_end:
    case Convention::float32_two_sizes:
      return in * out <= kFloat32Exact;
    default:
      return false;
  }
}

void check_sizes(int64_t in, int64_t out, const char* what) {
  if (in < 1 || in > kMaxConventionSize || out < 1 || out > kMaxConventionSize) {
    detail::fail(ErrorCode::invalid_argument, what, " of ", in, " -> ", out, ": sizes must be 1..",
                 kMaxConventionSize, " (2^26)");
  }
}

}  // namespace

std::span<const ConventionInfo> conventions() { return kConventions; }

const ConventionInfo& convention_info(Convention convention) {
  for (const ConventionInfo& info : kConventions) {
    if (info.convention == convention) return info;
  }
  detail::fail(ErrorCode::invalid_argument, "unknown convention ", static_cast<int>(convention));
}

std::optional<Convention> convention_named(std::string_view name) {
  for (const ConventionInfo& info : kConventions) {
    if (name == info.name) return info.convention;
  }
  return std::nullopt;
}

bool computes_in_float32(Convention convention) noexcept {
  return convention == Convention::float32_bounds || convention == Convention::float32_end ||
         convention == Convention::float32_two_sizes;
}

ConventionAxis convention_axis(Convention convention, int64_t in, int64_t out) {
  check_sizes(in, out, "a convention's windows");
  convention_info(convention);  // rejects values outside the enum
  const AxisShape shape = classify(convention, in, out);
  ConventionAxis axis;
  axis.convention = convention;
  axis.in = in;
  axis.out = out;
  axis.status = shape.status;
  axis.outputs = shape.outputs;
  axis.kernel = shape.kernel;
  axis.stride = shape.stride;
  if (!axis.usable()) axis.reason = refusal_reason(convention, in, out, shape);
  return axis;
}

Window ConventionAxis::window(int64_t o) const {
  if (o < 0 || o >= outputs) {
    detail::fail(ErrorCode::invalid_argument, "window ", o, " of ",
                 convention_info(convention).name, " for ", in, " -> ", out, ": it has ", outputs,
                 " windows");
  }
  return window_of(convention, in, out, {status, outputs, kernel, stride}, o);
}

std::vector<Window> ConventionAxis::windows() const {
  std::vector<Window> result;
  result.reserve(static_cast<size_t>(outputs));
  for (int64_t o = 0; o < outputs; ++o) result.push_back(window(o));
  return result;
}

bool window_in_bounds(const Window& window, int64_t in) noexcept {
  return 0 <= window.begin && window.begin < window.end && window.end <= in;
}

std::optional<std::string> convention_refuses_shape(Convention convention,
                                                    std::span<const int64_t> in,
                                                    std::span<const int64_t> out) {
  if (in.size() != out.size() || in.empty() || in.size() > 3) {
    detail::fail(ErrorCode::invalid_argument, "sizes ", detail::format_list(in), " -> ",
                 detail::format_list(out), ": expected 1 to 3 sizes on each side");
  }
  if (convention != Convention::multiple_either_way) return std::nullopt;
  if (in.size() == 3) {
    return std::string("not modelled for 3-d: only MPS's 1-d and 2-d code was read");
  }
  // MPS pools 1-d as 2-d with height 1 -> 1, and decides the direction by the
  // height: both axes must shrink (or stay), or both grow.
  const int64_t in_h = in.size() == 2 ? in[0] : 1, out_h = in.size() == 2 ? out[0] : 1;
  const int64_t in_w = in.back(), out_w = out.back();
  if (!((in_h >= out_h && in_w >= out_w) || (in_h <= out_h && in_w <= out_w))) {
    return std::string("refused: one axis shrinks and the other grows");
  }
  if (in_h >= out_h) {
    if (in_h % out_h != 0 || in_w % out_w != 0) {
      return std::string("refused: the output sizes must divide the input sizes") +
             (in.size() == 1 ? " (1-d pools as 2-d with height 1 -> 1)" : "");
    }
  } else if (out_h % in_h != 0 || out_w % in_w != 0) {
    return std::string("refused: the input sizes must divide the output sizes");
  }
  return std::nullopt;
}

AxisDifference differing_outputs(const ConventionAxis& axis, size_t max_listed) {
  if (!axis.usable()) {
    detail::fail(ErrorCode::invalid_argument, convention_info(axis.convention).name, " for ",
                 axis.in, " -> ", axis.out, " has no comparable windows: ", axis.reason);
  }
  AxisDifference difference;
  if (agrees_by_construction(axis.convention, axis.in, axis.out)) return difference;
  const AxisShape shape{axis.status, axis.outputs, axis.kernel, axis.stride};
  for (int64_t o = 0; o < axis.out; ++o) {
    if (window_of(axis.convention, axis.in, axis.out, shape, o) !=
        pytorch_window(o, axis.in, axis.out)) {
      ++difference.count;
      if (difference.first.size() < max_listed) difference.first.push_back(o);
    }
  }
  return difference;
}

std::vector<double> pool_plane(std::span<const double> plane, std::span<const int64_t> in,
                               std::span<const std::vector<Window>> windows) {
  if (in.empty() || in.size() > 3 || windows.size() != in.size()) {
    detail::fail(ErrorCode::invalid_argument, "pool_plane: ", in.size(), " input sizes and ",
                 windows.size(),
                 " window lists; expected 1 to 3 of each, as many windows as sizes");
  }
  // Padded to three dimensions: a missing leading one has size 1 and one window [0, 1).
  std::array<int64_t, 3> sizes = {1, 1, 1};
  std::array<std::vector<Window>, 3> axes = {
      std::vector<Window>{{0, 1}}, std::vector<Window>{{0, 1}}, {}};
  const size_t offset = 3 - in.size();
  int64_t count = 1;
  for (size_t d = 0; d < in.size(); ++d) {
    sizes[offset + d] = in[d];
    axes[offset + d] = windows[d];
    if (in[d] < 1 || __builtin_mul_overflow(count, in[d], &count)) {
      detail::fail(ErrorCode::invalid_argument, "pool_plane: sizes ", detail::format_list(in),
                   ": expected sizes of at least 1 whose product fits in int64");
    }
    for (size_t o = 0; o < windows[d].size(); ++o) {
      if (!window_in_bounds(windows[d][o], in[d])) {
        detail::fail(ErrorCode::invalid_argument, "pool_plane: window ", o, " of dimension ", d,
                     " is [", windows[d][o].begin, ", ", windows[d][o].end,
                     "), not a non-empty range inside 0..", in[d]);
      }
    }
  }
  if (static_cast<int64_t>(plane.size()) != count) {
    detail::fail(ErrorCode::shape_mismatch, "pool_plane: the plane has ", plane.size(),
                 " values; sizes ", detail::format_list(in), " need ", count);
  }
  std::vector<double> result;
  result.reserve(axes[0].size() * axes[1].size() * axes[2].size());
  for (const Window& depth : axes[0]) {
    for (const Window& row : axes[1]) {
      for (const Window& column : axes[2]) {
        double sum = 0;
        for (int64_t z = depth.begin; z < depth.end; ++z) {
          for (int64_t y = row.begin; y < row.end; ++y) {
            const double* line = plane.data() + (z * sizes[1] + y) * sizes[2];
            for (int64_t x = column.begin; x < column.end; ++x) sum += line[x];
          }
        }
        result.push_back(sum / static_cast<double>(depth.count() * row.count() * column.count()));
      }
    }
  }
  return result;
}

double pool_plane_cost(std::span<const std::vector<Window>> windows) {
  double cost = 1;
  for (const std::vector<Window>& axis : windows) {
    double cells = 0;
    for (const Window& window : axis) cells += static_cast<double>(window.count());
    cost *= cells;
  }
  return cost;
}

Agreement ConventionScan::at(Convention convention, int64_t in, int64_t out) const {
  if (in < 1 || in > in_max || out < 1 || out > out_max) {
    detail::fail(ErrorCode::invalid_argument, "scan cell ", in, " -> ", out,
                 " is outside the scanned 1..", in_max, " x 1..", out_max);
  }
  return states.at(
      static_cast<size_t>(convention))[static_cast<size_t>((in - 1) * out_max + (out - 1))];
}

ConventionScan scan_conventions(int64_t in_max, int64_t out_max) {
  if (in_max < 1 || in_max > kMaxScanSide || out_max < 1 || out_max > kMaxScanSide) {
    detail::fail(ErrorCode::invalid_argument, "a scan of 1..", in_max, " x 1..", out_max,
                 ": each bound must be 1..", kMaxScanSide);
  }
  ConventionScan scan;
  scan.in_max = in_max;
  scan.out_max = out_max;
  scan.states.assign(std::size(kConventions),
                     std::vector<Agreement>(static_cast<size_t>(in_max * out_max)));
  scan.tallies.assign(std::size(kConventions), {});
  for (const ConventionInfo& info : kConventions) {
    const Convention convention = info.convention;
    std::vector<Agreement>& states = scan.states[static_cast<size_t>(convention)];
    ConventionScan::Tally& tally = scan.tallies[static_cast<size_t>(convention)];
    for (int64_t in = 1; in <= in_max; ++in) {
      for (int64_t out = 1; out <= out_max; ++out) {
        const AxisShape shape = classify(convention, in, out);
        Agreement state = Agreement::agrees;
        if (shape.status != ConventionAxis::Status::usable) {
          state = Agreement::undefined;
        } else if (!agrees_by_construction(convention, in, out)) {
          for (int64_t o = 0; o < out; ++o) {
            if (window_of(convention, in, out, shape, o) != pytorch_window(o, in, out)) {
              state = Agreement::differs;
              break;
            }
          }
        }
        states[static_cast<size_t>((in - 1) * out_max + (out - 1))] = state;
        ++(state == Agreement::agrees    ? tally.agrees
           : state == Agreement::differs ? tally.differs
                                         : tally.undefined);
      }
    }
  }
  return scan;
}

std::optional<Float32Disagreement> first_float32_disagreement(Convention convention,
                                                              int64_t max_side) {
  if (!computes_in_float32(convention)) {
    detail::fail(ErrorCode::invalid_argument,
                 "first_float32_disagreement: ", convention_info(convention).name,
                 " does not compute in float32");
  }
  if (max_side < 1 || max_side > kFloat32Exact) {
    detail::fail(ErrorCode::invalid_argument, "first_float32_disagreement: max_side ", max_side,
                 " must be 1..", kFloat32Exact, " (2^24)");
  }
  // Cells o < kFloat32Exact / in have both numerators, o*in and (o+1)*in, at
  // most 2^24; with out <= 2^24 their float32 bounds are exact.
  const auto first_difference = [&](int64_t in, int64_t out) -> std::optional<int64_t> {
    const AxisShape shape = classify(convention, in, out);
    for (int64_t o = kFloat32Exact / in; o < out; ++o) {
      if (window_of(convention, in, out, shape, o) != pytorch_window(o, in, out)) return o;
    }
    return std::nullopt;
  };
  for (int64_t side = 1; side <= max_side; ++side) {
    // Pairs with max(in, out) == side, by in and then out: (in, side) for
    // in < side, then (side, out) for out <= side.
    for (int64_t in = 1; in <= side; ++in) {
      const int64_t first_out = in < side ? side : 1;
      for (int64_t out = first_out; out <= side; ++out) {
        if (in * out <= kFloat32Exact) continue;
        if (const std::optional<int64_t> o = first_difference(in, out)) {
          const AxisShape shape = classify(convention, in, out);
          return Float32Disagreement{in, out, *o, pytorch_window(*o, in, out),
                                     window_of(convention, in, out, shape, *o)};
        }
      }
    }
  }
  return std::nullopt;
}

}  // namespace adapool
