#include "support.hpp"

#include "cpu/half.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

namespace adapool::testing {

namespace {

constexpr unsigned char kSentinel = 0xA5;

int64_t product(const std::vector<int64_t>& sizes) {
  int64_t count = 1;
  for (int64_t size : sizes) count *= size;
  return count;
}

}  // namespace

const char* name(LayoutKind kind) {
  switch (kind) {
    case LayoutKind::contiguous:
      return "contiguous";
    case LayoutKind::channels_last:
      return "channels_last";
    case LayoutKind::transposed:
      return "transposed";
    case LayoutKind::sliced:
      return "sliced";
    case LayoutKind::flipped:
      return "flipped";
    case LayoutKind::expanded:
      return "expanded";
  }
  return "?";
}

Dense::Dense(std::vector<int64_t> sizes)
    : shape(std::move(sizes)), values(static_cast<size_t>(product(shape)), 0.0) {}

std::string describe(const std::vector<int64_t>& shape) {
  std::ostringstream text;
  for (size_t i = 0; i < shape.size(); ++i) text << (i ? "x" : "") << shape[i];
  return text.str();
}

Strided::Strided(const std::vector<int64_t>& sizes, LayoutKind kind, int spatial_dims, DType dtype)
    : dtype_(dtype) {
  const int rank = static_cast<int>(sizes.size());
  const int channel = rank - spatial_dims - 1;
  layout_.rank = rank;
  int64_t storage_elements = 1;
  switch (kind) {
    case LayoutKind::contiguous:
    case LayoutKind::flipped:
    case LayoutKind::expanded:
      layout_ = Layout::contiguous(sizes);
      break;
    case LayoutKind::channels_last:
      layout_ = Layout::channels_last(sizes, spatial_dims);
      break;
    case LayoutKind::transposed: {
      int64_t stride = 1;
      for (int d = 0; d < rank; ++d) {
        layout_.sizes[d] = sizes[d];
        layout_.strides[d] = stride;
        stride *= std::max<int64_t>(sizes[d], 1);
      }
      break;
    }
    case LayoutKind::sliced: {
      int64_t stride = 1;
      for (int d = rank - 1; d >= 0; --d) {
        const int64_t underlying = 2 * sizes[d] + 1;
        layout_.sizes[d] = sizes[d];
        layout_.strides[d] = 2 * stride;
        base_ += stride;
        stride *= underlying;
      }
      storage_elements = stride;
      break;
    }
  }
  if (kind == LayoutKind::flipped) {
    for (int d : {channel, rank - 1}) {
      if (layout_.sizes[d] > 0) base_ += layout_.strides[d] * (layout_.sizes[d] - 1);
      layout_.strides[d] = -layout_.strides[d];
    }
  }
  if (kind == LayoutKind::expanded) layout_.strides[channel] = 0;
  if (kind != LayoutKind::sliced) {
    // Room for the farthest element plus a margin of sentinel on both sides.
    int64_t reach = 0;
    for (int d = 0; d < rank; ++d) {
      if (layout_.sizes[d] > 0) reach += std::abs(layout_.strides[d]) * (layout_.sizes[d] - 1);
    }
    storage_elements = reach + 1;
  }
  constexpr int64_t kMargin = 8;
  base_ += kMargin;
  const int64_t bytes = (storage_elements + 2 * kMargin) * static_cast<int64_t>(dtype_size(dtype));
  storage_.resize(static_cast<size_t>(bytes / 8 + 1));
  std::memset(storage_.data(), kSentinel, storage_.size() * 8);
}

void* Strided::data() {
  return reinterpret_cast<unsigned char*>(storage_.data()) +
         base_ * static_cast<int64_t>(dtype_size(dtype_));
}
const void* Strided::data() const { return const_cast<Strided*>(this)->data(); }

int64_t Strided::offset_of(int64_t linear) const {
  int64_t offset = 0;
  for (int d = layout_.rank - 1; d >= 0; --d) {
    offset += (linear % layout_.sizes[d]) * layout_.strides[d];
    linear /= layout_.sizes[d];
  }
  return offset;
}

double Strided::get(int64_t linear) const {
  const auto* base = static_cast<const unsigned char*>(data());
  const int64_t at = offset_of(linear) * static_cast<int64_t>(dtype_size(dtype_));
  switch (dtype_) {
    case DType::f32: {
      float v;
      std::memcpy(&v, base + at, sizeof v);
      return v;
    }
    case DType::f64: {
      double v;
      std::memcpy(&v, base + at, sizeof v);
      return v;
    }
    case DType::f16: {
      Half v;
      std::memcpy(&v, base + at, sizeof v);
      return to_float(v);
    }
    case DType::bf16: {
      BFloat16 v;
      std::memcpy(&v, base + at, sizeof v);
      return to_float(v);
    }
  }
  return std::numeric_limits<double>::quiet_NaN();
}

void Strided::set(int64_t linear, double value) {
  auto* base = static_cast<unsigned char*>(data());
  const int64_t at = offset_of(linear) * static_cast<int64_t>(dtype_size(dtype_));
  switch (dtype_) {
    case DType::f32: {
      const auto v = static_cast<float>(value);
      std::memcpy(base + at, &v, sizeof v);
      break;
    }
    case DType::f64:
      std::memcpy(base + at, &value, sizeof value);
      break;
    case DType::f16: {
      const Half v = to_half(static_cast<float>(value));
      std::memcpy(base + at, &v, sizeof v);
      break;
    }
    case DType::bf16: {
      const BFloat16 v = to_bfloat16(static_cast<float>(value));
      std::memcpy(base + at, &v, sizeof v);
      break;
    }
  }
}

int64_t Strided::get_index(int64_t linear) const {
  int64_t v;
  std::memcpy(&v, static_cast<const int64_t*>(data()) + offset_of(linear), sizeof v);
  return v;
}

void Strided::set_index(int64_t linear, int64_t value) {
  std::memcpy(static_cast<int64_t*>(data()) + offset_of(linear), &value, sizeof value);
}

Dense Strided::read() const {
  Dense result(std::vector<int64_t>(layout_.sizes.begin(), layout_.sizes.begin() + layout_.rank));
  for (size_t i = 0; i < result.values.size(); ++i) result.values[i] = get(static_cast<int64_t>(i));
  return result;
}

void Strided::write(const Dense& values) {
  for (size_t i = 0; i < values.values.size(); ++i) set(static_cast<int64_t>(i), values.values[i]);
}

void Strided::fill_random(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  const int64_t count = product({layout_.sizes.begin(), layout_.sizes.begin() + layout_.rank});
  for (int64_t i = 0; i < count; ++i) set(i, uniform(rng));
}

bool Strided::outside_untouched() const {
  std::vector<bool> inside(storage_.size() * 8, false);
  const int64_t count = product({layout_.sizes.begin(), layout_.sizes.begin() + layout_.rank});
  const auto element = static_cast<int64_t>(dtype_size(dtype_));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t at = (base_ + offset_of(i)) * element;
    for (int64_t b = 0; b < element; ++b) inside[static_cast<size_t>(at + b)] = true;
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(storage_.data());
  for (size_t b = 0; b < inside.size(); ++b) {
    if (!inside[b] && bytes[b] != kSentinel) return false;
  }
  return true;
}

double round_to(DType dtype, double value) {
  switch (dtype) {
    case DType::f32:
      return static_cast<float>(value);
    case DType::f64:
      return value;
    case DType::f16:
      return to_float(to_half(static_cast<float>(value)));
    case DType::bf16:
      return to_float(to_bfloat16(static_cast<float>(value)));
  }
  return value;
}

namespace {

// The textbook definition: begin = floor(o * in / out), end = ceil((o + 1) * in / out).
int64_t begin_of(int64_t o, int64_t in, int64_t out) { return o * in / out; }
int64_t end_of(int64_t o, int64_t in, int64_t out) { return ((o + 1) * in + out - 1) / out; }

// Splits a shape into planes (all leading dimensions) and three pooled
// dimensions, padding missing pooled dimensions with 1.
struct Split {
  int64_t planes = 1;
  int64_t size[3] = {1, 1, 1};
  int64_t plane = 1;  // cells per plane
};

Split split(const std::vector<int64_t>& shape, int spatial_dims) {
  Split result;
  const size_t leading = shape.size() - static_cast<size_t>(spatial_dims);
  for (size_t d = 0; d < leading; ++d) result.planes *= shape[d];
  for (int d = 0; d < spatial_dims; ++d) result.size[3 - spatial_dims + d] = shape[leading + d];
  result.plane = result.size[0] * result.size[1] * result.size[2];
  return result;
}

// Calls visit(output element, window values in row-major (d, h, w) order,
// their flat positions in the plane) for every output element of pooling
// `x` to `out_shape`.
template <class Visit>
void each_window(const Dense& x, int spatial_dims, const std::vector<int64_t>& out_shape,
                 Visit visit) {
  const Split in = split(x.shape, spatial_dims);
  const Split out = split(out_shape, spatial_dims);
  std::vector<double> values;
  std::vector<int64_t> positions;
  for (int64_t p = 0; p < in.planes; ++p) {
    for (int64_t o = 0; o < out.plane; ++o) {
      const int64_t cell[3] = {o / (out.size[1] * out.size[2]), o / out.size[2] % out.size[1],
                               o % out.size[2]};
      int64_t begin[3], end[3];
      for (int k = 0; k < 3; ++k) {
        begin[k] = begin_of(cell[k], in.size[k], out.size[k]);
        end[k] = end_of(cell[k], in.size[k], out.size[k]);
      }
      values.clear();
      positions.clear();
      for (int64_t d = begin[0]; d < end[0]; ++d) {
        for (int64_t h = begin[1]; h < end[1]; ++h) {
          for (int64_t w = begin[2]; w < end[2]; ++w) {
            const int64_t flat = (d * in.size[1] + h) * in.size[2] + w;
            values.push_back(x.values[static_cast<size_t>(p * in.plane + flat)]);
            positions.push_back(flat);
          }
        }
      }
      visit(static_cast<size_t>(p * out.plane + o), values, positions);
    }
  }
}

}  // namespace

Dense reference_forward(const Dense& x, int spatial_dims, const std::vector<int64_t>& out_shape) {
  Dense y(out_shape);
  each_window(x, spatial_dims, out_shape,
              [&](size_t o, const std::vector<double>& values, const std::vector<int64_t>&) {
                double sum = 0.0;
                for (double v : values) sum += v;
                y.values[o] = sum / static_cast<double>(values.size());
              });
  return y;
}

MaxResult reference_max_forward(const Dense& x, int spatial_dims,
                                const std::vector<int64_t>& out_shape) {
  MaxResult result{Dense(out_shape), Dense(out_shape)};
  each_window(
      x, spatial_dims, out_shape,
      [&](size_t o, const std::vector<double>& values, const std::vector<int64_t>& positions) {
        size_t pick = 0;
        bool nan = false;
        for (size_t i = 0; i < values.size(); ++i) {
          if (std::isnan(values[i])) {
            pick = i;  // the last NaN
            nan = true;
          } else if (!nan && values[i] > values[pick]) {
            pick = i;  // the first maximum
          }
        }
        result.values.values[o] = values[pick];
        result.indices.values[o] = static_cast<double>(positions[pick]);
      });
  return result;
}

Dense reference_max_backward(const Dense& dy, const Dense& indices, int spatial_dims,
                             const std::vector<int64_t>& in_shape, DType dtype, double start) {
  Dense dx(in_shape);
  std::fill(dx.values.begin(), dx.values.end(), start);
  const Split in = split(in_shape, spatial_dims);
  const Split out = split(dy.shape, spatial_dims);
  for (int64_t p = 0; p < in.planes; ++p) {
    for (int64_t o = 0; o < out.plane; ++o) {
      const auto at = static_cast<size_t>(p * out.plane + o);
      double& cell =
          dx.values[static_cast<size_t>(p * in.plane + static_cast<int64_t>(indices.values[at]))];
      cell = dtype == DType::f64
                 ? cell + dy.values[at]
                 : round_to(dtype, static_cast<float>(cell) + static_cast<float>(dy.values[at]));
    }
  }
  return dx;
}

Dense reference_backward(const Dense& dy, int spatial_dims, const std::vector<int64_t>& in_shape) {
  Dense dx(in_shape);
  const Split in = split(in_shape, spatial_dims);
  const Split out = split(dy.shape, spatial_dims);
  // Scatter, output by output in row-major order, as PyTorch does.
  for (int64_t p = 0; p < in.planes; ++p) {
    for (int64_t od = 0; od < out.size[0]; ++od) {
      for (int64_t oh = 0; oh < out.size[1]; ++oh) {
        for (int64_t ow = 0; ow < out.size[2]; ++ow) {
          const int64_t d0 = begin_of(od, in.size[0], out.size[0]);
          const int64_t d1 = end_of(od, in.size[0], out.size[0]);
          const int64_t h0 = begin_of(oh, in.size[1], out.size[1]);
          const int64_t h1 = end_of(oh, in.size[1], out.size[1]);
          const int64_t w0 = begin_of(ow, in.size[2], out.size[2]);
          const int64_t w1 = end_of(ow, in.size[2], out.size[2]);
          const auto count = static_cast<double>((d1 - d0) * (h1 - h0) * (w1 - w0));
          const double share =
              dy.values[static_cast<size_t>(
                  ((p * out.size[0] + od) * out.size[1] + oh) * out.size[2] + ow)] /
              count;
          for (int64_t d = d0; d < d1; ++d) {
            for (int64_t h = h0; h < h1; ++h) {
              for (int64_t w = w0; w < w1; ++w) {
                dx.values[static_cast<size_t>(((p * in.size[0] + d) * in.size[1] + h) * in.size[2] +
                                              w)] += share;
              }
            }
          }
        }
      }
    }
  }
  return dx;
}

std::string compare(const Dense& got, const Dense& expected, DType dtype) {
  if (got.shape != expected.shape) {
    return "shape " + describe(got.shape) + " != " + describe(expected.shape);
  }
  double epsilon = 0.0;
  double smallest = 0.0;
  switch (dtype) {
    case DType::f64:
      epsilon = 0x1p-52;
      smallest = 0x1p-1074;
      break;
    case DType::f32:
      epsilon = 0x1p-23;
      smallest = 0x1p-149;
      break;
    case DType::f16:
      epsilon = 0x1p-10;
      smallest = 0x1p-24;
      break;
    case DType::bf16:
      epsilon = 0x1p-7;
      smallest = 0x1p-133;
      break;
  }
  for (size_t i = 0; i < got.values.size(); ++i) {
    const double want = round_to(dtype, expected.values[i]);
    const double have = got.values[i];
    const bool both_nan = std::isnan(want) && std::isnan(have);
    if (both_nan || have == want) continue;
    if (std::abs(have - want) <= epsilon * std::abs(want) + smallest) continue;
    std::ostringstream text;
    text.precision(17);
    text << "element " << i << ": got " << have << ", expected " << want;
    return text.str();
  }
  return "";
}

std::string Case::label() const {
  return std::to_string(spatial_dims) + "-d " + describe(in_shape) + " -> " + describe(out_shape) +
         " " + dtype_name(dtype) + " in:" + name(in_layout) + " out:" + name(out_layout) +
         " threads:" + std::to_string(threads);
}

namespace {

Options options_for(int threads) {
  Options options;
  options.threads = threads;
  options.min_work_per_thread = 1;  // small cases must still spread over threads
  return options;
}

}  // namespace

std::string check(const Case& c, std::mt19937_64& rng) {
  Strided x(c.in_shape, c.in_layout, c.spatial_dims, c.dtype);
  x.fill_random(rng);
  Strided y(c.out_shape, c.out_layout, c.spatial_dims, c.dtype);
  const Plan forward =
      Plan::forward(c.dtype, c.spatial_dims, x.layout(), y.layout(), options_for(c.threads));
  forward.run(x.data(), y.data());
  std::string problem =
      compare(y.read(), reference_forward(x.read(), c.spatial_dims, c.out_shape), c.dtype);
  if (!problem.empty()) return "forward: " + problem;
  if (!y.outside_untouched()) return "forward wrote outside the output view";

  // Backward: grad_output in the output's layout kind (expanded is legal for
  // a read-only gradient too), grad_input in the input's (never expanded).
  const LayoutKind dx_layout =
      c.in_layout == LayoutKind::expanded ? LayoutKind::contiguous : c.in_layout;
  Strided dy(c.out_shape, c.out_layout, c.spatial_dims, c.dtype);
  dy.fill_random(rng);
  Strided dx(c.in_shape, dx_layout, c.spatial_dims, c.dtype);
  const Plan backward =
      Plan::backward(c.dtype, c.spatial_dims, dy.layout(), dx.layout(), options_for(c.threads));
  backward.run(dy.data(), dx.data());
  problem = compare(dx.read(), reference_backward(dy.read(), c.spatial_dims, c.in_shape), c.dtype);
  if (!problem.empty()) return "backward: " + problem;
  if (!dx.outside_untouched()) return "backward wrote outside the grad_input view";
  return "";
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Few distinct values, so windows have ties, and some NaN and -inf.
void fill_with_ties(Strided& x, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> pick(0, 19);
  const Dense shape_only = x.read();
  for (size_t i = 0; i < shape_only.values.size(); ++i) {
    const int r = pick(rng);
    const double value = r == 0 ? kNaN : r == 1 ? -kInf : 0.5 * (r % 5);
    x.set(static_cast<int64_t>(i), value);
  }
}

bool same(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

// "" or the first difference between max pooling results.
std::string compare_exact(const Dense& got, const Dense& expected) {
  for (size_t i = 0; i < got.values.size(); ++i) {
    if (!same(got.values[i], expected.values[i])) {
      return "element " + std::to_string(i) + ": got " + std::to_string(got.values[i]) +
             ", expected " + std::to_string(expected.values[i]);
    }
  }
  return "";
}

}  // namespace

std::string check_max(const Case& c, std::mt19937_64& rng) {
  Strided x(c.in_shape, c.in_layout, c.spatial_dims, c.dtype);
  fill_with_ties(x, rng);
  const Dense input = x.read();  // what the (maybe broadcast) view holds
  const MaxResult expected = reference_max_forward(input, c.spatial_dims, c.out_shape);
  const Options options = options_for(c.threads);

  Strided y(c.out_shape, c.out_layout, c.spatial_dims, c.dtype);
  Strided indices(c.out_shape, c.out_layout, c.spatial_dims, DType::f64);
  adaptive_max_pool(c.dtype, c.spatial_dims, x.layout(), x.data(), y.layout(), y.data(),
                    &indices.layout(), indices.index_data(), options);
  if (auto error = compare_exact(y.read(), expected.values); !error.empty()) {
    return "values: " + error;
  }
  const int64_t outputs = static_cast<int64_t>(expected.indices.values.size());
  for (int64_t o = 0; o < outputs; ++o) {
    if (indices.get_index(o) != static_cast<int64_t>(expected.indices.values[o])) {
      return "index " + std::to_string(o) + ": got " + std::to_string(indices.get_index(o)) +
             ", expected " + std::to_string(static_cast<int64_t>(expected.indices.values[o]));
    }
  }
  if (!y.outside_untouched() || !indices.outside_untouched()) return "wrote outside the output";

  // Values only: the same maxima.
  Strided values_only(c.out_shape, c.out_layout, c.spatial_dims, c.dtype);
  adaptive_max_pool(c.dtype, c.spatial_dims, x.layout(), x.data(), values_only.layout(),
                    values_only.data(), nullptr, nullptr, options);
  if (auto error = compare_exact(values_only.read(), expected.values); !error.empty()) {
    return "values without indices: " + error;
  }

  Strided dy(c.out_shape, c.out_layout, c.spatial_dims, c.dtype);
  dy.fill_random(rng);
  Strided dx(c.in_shape, c.in_layout == LayoutKind::expanded ? LayoutKind::contiguous : c.in_layout,
             c.spatial_dims, c.dtype);
  adaptive_max_pool_backward(c.dtype, c.spatial_dims, dy.layout(), dy.data(), indices.layout(),
                             indices.index_data(), dx.layout(), dx.data(), options);
  const Dense expected_dx =
      reference_max_backward(dy.read(), expected.indices, c.spatial_dims, c.in_shape, c.dtype);
  if (auto error = compare_exact(dx.read(), expected_dx); !error.empty()) {
    return "backward: " + error;
  }
  if (!dx.outside_untouched()) return "backward wrote outside grad_input";
  return "";
}

}  // namespace adapool::testing
