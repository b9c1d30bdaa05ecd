// The C API driven by bytes: dtype, spatial dims, layouts (sizes 0, huge
// near 2^62, negative; strides 0, negative, overlapping), thread counts,
// average and max pooling (with fuzzed indices), forward and backward. Every call must return a
// known adapool_status with a message on failure. Plans whose views span little memory run on real
// buffers (separate, or one buffer at a fuzzed offset to probe the overlap
// check); the rest run with null pointers and must be refused, not crash.
#include <adapool/adapool.h>

#include <algorithm>
#include <array>
#include "check.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

namespace {

using adapool::fuzz::check;

constexpr int64_t kMaxRunBytes = int64_t{1} << 20;
// Elements of work a run may touch, so one input cannot take seconds.
constexpr int64_t kMaxRunElements = int64_t{1} << 16;
// A bound on a run's additions (window overlap can make them far more than
// the elements), so one input cannot take seconds.
constexpr int64_t kMaxRunWork = int64_t{1} << 22;

// Any status a call returns must be one the header names, and a failure
// must leave a message.
adapool_status checked(adapool_status status) {
  check(status >= ADAPOOL_OK && status <= ADAPOOL_ERROR_INTERNAL);
  check(status != ADAPOOL_ERROR_INTERNAL);  // an internal error is a bug
  check(adapool_last_error() != nullptr);
  if (status != ADAPOOL_OK) check(adapool_last_error()[0] != '\0');
  return status;
}

class Bytes {
 public:
  Bytes(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint8_t byte() { return position_ < size_ ? data_[position_++] : 0; }

  int64_t int64() {
    uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value = value << 8 | byte();
    return static_cast<int64_t>(value);
  }

  // Mostly small values, with the edges the checks must get right.
  int64_t size() {
    const uint8_t selector = byte();
    switch (selector % 16) {
      case 0:
        return 0;
      case 1:
        return -static_cast<int64_t>(byte() % 4) - 1;
      case 2:
        return (int64_t{1} << 62) - static_cast<int64_t>(byte() % 4);
      case 3:
        return (int64_t{1} << 31) + static_cast<int64_t>(byte() % 4) - 2;
      case 4:
        return INT64_MAX - static_cast<int64_t>(byte() % 4);
      case 5:
        return INT64_MIN + static_cast<int64_t>(byte() % 4);
      case 6:
        return int64();
      case 7:
        return 1 + byte();
      default:
        return 1 + byte() % 9;
    }
  }

  int64_t stride() {
    const uint8_t selector = byte();
    switch (selector % 8) {
      case 0:
        return 0;
      case 1:
        return -1 - byte() % 64;
      case 2:
      case 3:
        return 1 + byte() % 64;
      default:
        return size();
    }
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t position_ = 0;
};

// Row-major strides, or channels innermost, or each one from the bytes.
void fill_strides(adapool_layout& layout, int spatial_dims, Bytes& bytes) {
  const int mode = bytes.byte() % 4;
  const int rank = std::clamp(layout.rank, 0, ADAPOOL_MAX_RANK);
  if (mode >= 2) {
    for (int d = 0; d < rank; ++d) layout.strides[d] = bytes.stride();
    return;
  }
  std::array<int, ADAPOOL_MAX_RANK> order{};  // innermost first
  int used = 0;
  const int channel = rank - spatial_dims - 1;
  const bool channels_last = mode == 1 && channel >= 0 && channel < rank;
  if (channels_last) order[used++] = channel;
  for (int d = rank; d-- > 0;) {
    if (!(channels_last && d == channel)) order[used++] = d;
  }
  int64_t stride = 1;
  for (int i = 0; i < used; ++i) {
    layout.strides[order[i]] = stride;
    // Saturating: an overflowing layout is for the library to refuse.
    if (__builtin_mul_overflow(stride, std::max<int64_t>(layout.sizes[order[i]], 1), &stride)) {
      stride = INT64_MAX;
    }
  }
}

// Bytes a view touches below and from its pointer, computed as the library
// does; nullopt when that overflows.
struct Span {
  int64_t low = 0;
  int64_t high = 0;
  int64_t elements = 0;
};

std::optional<Span> span_of(const adapool_layout& layout, int64_t element_size) {
  Span span;
  span.elements = 1;
  for (int d = 0; d < layout.rank; ++d) {
    if (__builtin_mul_overflow(span.elements, layout.sizes[d], &span.elements)) return {};
  }
  if (span.elements == 0) return span;
  for (int d = 0; d < layout.rank; ++d) {
    int64_t reach = 0;
    if (__builtin_mul_overflow(layout.strides[d], layout.sizes[d] - 1, &reach)) return {};
    int64_t& end = reach < 0 ? span.low : span.high;
    if (__builtin_add_overflow(end, reach, &end)) return {};
  }
  if (__builtin_mul_overflow(span.low, element_size, &span.low)) return {};
  if (__builtin_mul_overflow(span.high, element_size, &span.high)) return {};
  if (__builtin_add_overflow(span.high, element_size, &span.high)) return {};
  return span;
}

size_t element_size_of(adapool_dtype dtype) {
  switch (dtype) {
    case ADAPOOL_F64:
      return 8;
    case ADAPOOL_F16:
    case ADAPOOL_BF16:
      return 2;
    default:
      return 4;
  }
}

int64_t product(const adapool_layout& layout) {
  int64_t count = 1;
  for (int d = 0; d < std::clamp(layout.rank, 0, ADAPOOL_MAX_RANK); ++d) {
    if (layout.sizes[d] == 0) return 0;
    if (__builtin_mul_overflow(count, layout.sizes[d], &count)) count = INT64_MAX;
  }
  return count;
}

// A bound on the additions a run makes: every element of the larger view,
// times (about) the window overlap of each pooled dimension. Saturates.
int64_t run_work(const adapool_layout& source, const adapool_layout& destination,
                 int spatial_dims) {
  int64_t work = std::max(product(source), product(destination));
  const int rank = std::clamp(source.rank, 0, ADAPOOL_MAX_RANK);
  for (int d = std::max(rank - spatial_dims, 0); d < rank; ++d) {
    const int64_t larger = std::max(source.sizes[d], destination.sizes[d]);
    const int64_t smaller = std::max<int64_t>(std::min(source.sizes[d], destination.sizes[d]), 1);
    if (__builtin_mul_overflow(work, larger / smaller / 2 + 2, &work)) return INT64_MAX;
  }
  return work;
}

bool small(const std::optional<Span>& span) {
  int64_t extent = 0;  // high - low overflows for views reaching both ways
  return span && !__builtin_sub_overflow(span->high, span->low, &extent) &&
         extent <= kMaxRunBytes && span->elements <= kMaxRunElements;
}

// Max pooling backward's indices: mostly flat positions inside the plane,
// a few anywhere in int64 (which must be refused, not followed).
// int64 entries a buffer for a view spanning `span` needs.
size_t index_entries(const Span& span) {
  return static_cast<size_t>((span.high - span.low) / 8 + 1);
}

std::vector<int64_t> fuzzed_indices(const Span& span, int64_t plane_cells, Bytes& bytes) {
  std::vector<int64_t> indices(index_entries(span));
  for (int64_t& index : indices) {
    const uint8_t selector = bytes.byte();
    index = selector < 0xf0 ? selector % plane_cells : bytes.int64();
  }
  return indices;
}

void run_plan(const adapool_plan* plan, const adapool_layout& source,
              const adapool_layout& destination, int spatial_dims, size_t element_size,
              Bytes& bytes, const adapool_layout* indices_layout, bool forward) {
  const auto source_span = span_of(source, static_cast<int64_t>(element_size));
  const auto destination_span = span_of(destination, static_cast<int64_t>(element_size));
  // The library accepted the layouts, so their spans fit int64.
  check(source_span.has_value() && destination_span.has_value());
  const auto indices_span =
      indices_layout ? span_of(*indices_layout, 8) : std::optional<Span>(Span{});
  if (!small(source_span) || !small(destination_span) || !small(indices_span) ||
      run_work(source, destination, spatial_dims) > kMaxRunWork) {
    if (indices_layout == nullptr) {
      checked(adapool_plan_run(plan, nullptr, nullptr));
    } else if (forward) {
      checked(adapool_plan_run_max_forward(plan, nullptr, nullptr, nullptr));
    } else {
      checked(adapool_plan_run_max_backward(plan, nullptr, nullptr, nullptr));
    }
    return;
  }
  const int64_t source_bytes = source_span->high - source_span->low;
  const int64_t destination_bytes = destination_span->high - destination_span->low;
  // Doubles keep every element aligned; the offset of the destination inside
  // one shared buffer is a multiple of the element size, so it is too.
  const bool shared = bytes.byte() % 4 == 0;
  const int64_t offset = shared ? static_cast<int64_t>(bytes.byte() % 64) * element_size : 0;
  const int64_t total = shared ? std::max(source_bytes, offset + destination_bytes)
                               : source_bytes + destination_bytes;
  std::vector<double> buffer(static_cast<size_t>(total) / sizeof(double) + 1);
  auto* base = reinterpret_cast<char*>(buffer.data());
  for (size_t i = 0; i < buffer.size(); ++i) buffer[i] = static_cast<double>(i % 7);
  const char* source_data = base - source_span->low;
  char* destination_data = base + (shared ? offset : source_bytes) - destination_span->low;
  const bool empty = source_span->elements == 0 || destination_span->elements == 0;
  const bool overlapping = shared && !empty && offset < source_bytes;
  if (indices_layout == nullptr) {
    const adapool_status status = checked(adapool_plan_run(plan, source_data, destination_data));
    check(status == (overlapping ? ADAPOOL_ERROR_OVERLAP : ADAPOOL_OK));
    return;
  }
  // Max pooling: the plane is the pooled sizes of the input (the forward's
  // source, the backward's destination).
  const adapool_layout& input = forward ? source : destination;
  int64_t plane_cells = 1;
  for (int d = std::max(input.rank - spatial_dims, 0); d < input.rank; ++d) {
    // Saturates: an empty view may have huge pooled sizes.
    if (__builtin_mul_overflow(plane_cells, std::max<int64_t>(input.sizes[d], 1), &plane_cells)) {
      plane_cells = INT64_MAX;
    }
  }
  // The forward's start at 0, a cell of the plane, so every entry must end
  // inside it, written or not.
  std::vector<int64_t> indices = forward ? std::vector<int64_t>(index_entries(*indices_span))
                                         : fuzzed_indices(*indices_span, plane_cells, bytes);
  int64_t* index_data = indices.data() - indices_span->low / 8;
  const adapool_status status =
      forward
          ? checked(adapool_plan_run_max_forward(plan, source_data, destination_data, index_data))
          : checked(adapool_plan_run_max_backward(plan, source_data, index_data, destination_data));
  if (overlapping) {
    check(status == ADAPOOL_ERROR_OVERLAP);
  } else if (forward) {
    check(status == ADAPOOL_OK);
    for (int64_t index : indices) check(index >= 0 && index < plane_cells);
  } else {
    // Indices outside the plane are refused; none are written through.
    check(status == ADAPOOL_OK || status == ADAPOOL_ERROR_INVALID_ARGUMENT);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes bytes(data, size);
  const uint8_t dtype_byte = bytes.byte();
  auto dtype = static_cast<adapool_dtype>(dtype_byte % 4);
  if (dtype_byte >= 0xf0) dtype = static_cast<adapool_dtype>(static_cast<int32_t>(bytes.int64()));
  const uint8_t dims_byte = bytes.byte();
  const int spatial_dims =
      dims_byte >= 0xf0 ? static_cast<int>(dims_byte) - 0xf2 : 1 + dims_byte % 3;
  const uint8_t flags = bytes.byte();
  const bool forward = (flags & 1) != 0;
  const bool batched = (flags & 2) != 0;
  const bool one_shot = (flags & 4) != 0;
  const bool same_leading = (flags & 8) != 0;
  const bool max = (flags & 0x40) != 0;
  const int threads = static_cast<int>(bytes.byte() % 12) - 2;  // -2..9, 0 = all

  adapool_layout input{};
  input.rank = spatial_dims + (batched ? 2 : 1);
  if ((flags & 0x30) == 0x30) input.rank = static_cast<int>(bytes.byte() % 9) - 1;
  const int rank = std::clamp(input.rank, 0, ADAPOOL_MAX_RANK);
  for (int d = 0; d < rank; ++d) input.sizes[d] = bytes.size();
  adapool_layout output = input;
  const int leading = rank - std::clamp(spatial_dims, 0, rank);
  for (int d = same_leading ? leading : 0; d < rank; ++d) output.sizes[d] = bytes.size();
  fill_strides(input, spatial_dims, bytes);
  fill_strides(output, spatial_dims, bytes);

  // adapool_output_shape with the output's pooled sizes as output_size.
  {
    std::array<int64_t, ADAPOOL_MAX_RANK> resolved{};
    const int count = static_cast<int>(bytes.byte() % 5);
    std::array<int64_t, 3> requested{};
    for (int i = 0; i < 3; ++i) {
      requested[i] = bytes.byte() % 8 == 0 ? ADAPOOL_KEEP : output.sizes[(leading + i) % 5];
    }
    checked(adapool_output_shape(input.rank, input.sizes, spatial_dims, count, requested.data(),
                                 resolved.data()));
  }

  const adapool_layout& source = forward ? input : output;
  const adapool_layout& destination = forward ? output : input;
  const size_t element_size = element_size_of(dtype);
  adapool_plan* plan = nullptr;
  // Max pooling's indices: the output's shape, in the output's layout.
  const adapool_layout indices = output;
  adapool_status status = ADAPOOL_OK;
  if (max) {
    status = checked(forward ? adapool_plan_max_forward(dtype, spatial_dims, &input, &output,
                                                        &indices, threads, &plan)
                             : adapool_plan_max_backward(dtype, spatial_dims, &output, &indices,
                                                         &input, threads, &plan));
  } else {
    status = checked(
        forward ? adapool_plan_forward(dtype, spatial_dims, &input, &output, threads, &plan)
                : adapool_plan_backward(dtype, spatial_dims, &output, &input, threads, &plan));
  }
  check((status == ADAPOOL_OK) == (plan != nullptr));
  if (plan != nullptr) {
    if (one_shot && !max) {  // the same checks through the plan-and-run entry points
      checked(
          forward
              ? adapool_forward(dtype, spatial_dims, &input, nullptr, &output, nullptr, threads)
              : adapool_backward(dtype, spatial_dims, &output, nullptr, &input, nullptr, threads));
    }
    run_plan(plan, source, destination, spatial_dims, element_size, bytes, max ? &indices : nullptr,
             forward);
    adapool_plan_destroy(plan);
  }

  // The window helpers on the first pooled dimension.
  const int64_t in = input.sizes[std::min(leading, 4)];
  const int64_t out = output.sizes[std::min(leading, 4)];
  if (out >= 0 && out <= 4096) {
    std::vector<int64_t> begins(static_cast<size_t>(out)), ends(static_cast<size_t>(out));
    if (checked(adapool_windows(in, out, begins.data(), ends.data())) == ADAPOOL_OK) {
      for (int64_t o = 0; o < out; ++o) {
        check(0 <= begins[o] && begins[o] < ends[o] && ends[o] <= in);
      }
    }
  } else {
    checked(adapool_windows(in, out, nullptr, nullptr));
  }
  int exists = 0;
  int64_t kernel = 0, stride = 0;
  checked(adapool_fixed_pool_equivalent(in, out, &exists, &kernel, &stride));
  return 0;
}
