// The public C++ API: plans, runs and the checks that need data pointers.
#include "cpu/kernels.hpp"
#include "error.hpp"
#include "plan/plan.hpp"

#include <cstdint>

namespace adapool {

namespace detail {

std::string format_list(std::span<const int64_t> values) {
  std::ostringstream text;
  text << '[';
  for (size_t i = 0; i < values.size(); ++i) text << (i ? ", " : "") << values[i];
  text << ']';
  return text.str();
}

}  // namespace detail

size_t dtype_size(DType dtype) { return dtype == DType::f64 ? 8 : dtype == DType::f32 ? 4 : 2; }

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "float32";
    case DType::f64:
      return "float64";
    case DType::f16:
      return "float16";
    case DType::bf16:
      return "bfloat16";
  }
  return "unknown";
}

namespace {

void check_pointer(const void* data, const ByteSpan& bytes, size_t element_size,
                   const char* type_name, const char* name) {
  if (bytes.empty()) return;  // nothing is read or written: any pointer will do
  if (data == nullptr) {
    detail::fail(ErrorCode::null_pointer, name, " data pointer is null but the view has elements");
  }
  const auto address = reinterpret_cast<uintptr_t>(data);
  if (address % element_size != 0) {
    detail::fail(ErrorCode::misaligned, name, " data pointer 0x", std::hex, address, std::dec,
                 " is not aligned to ", element_size, " bytes (", type_name, ")");
  }
}

// Throws when two views' memory overlaps.
void check_apart(const void* a, const ByteSpan& a_bytes, const char* a_name, const void* b,
                 const ByteSpan& b_bytes, const char* b_name) {
  if (a_bytes.empty() || b_bytes.empty()) return;
  // Compare addresses as integers: the views may belong to unrelated objects.
  const auto a_address = reinterpret_cast<uintptr_t>(a);
  const auto b_address = reinterpret_cast<uintptr_t>(b);
  const uintptr_t a_low = a_address + static_cast<uintptr_t>(a_bytes.low);
  const uintptr_t a_high = a_address + static_cast<uintptr_t>(a_bytes.high);
  const uintptr_t b_low = b_address + static_cast<uintptr_t>(b_bytes.low);
  const uintptr_t b_high = b_address + static_cast<uintptr_t>(b_bytes.high);
  if (a_low < b_high && b_low < a_high) {
    detail::fail(ErrorCode::overlap, a_name, " memory [0x", std::hex, a_low, ", 0x", a_high,
                 ") overlaps ", b_name, " memory [0x", b_low, ", 0x", b_high, ")", std::dec,
                 "; pass separate buffers");
  }
}

Plan make(Direction direction, Reduction reduction, DType dtype, int spatial_dims,
          const Layout& source, const Layout& destination, const Layout* indices, Options options) {
  return Plan::from(std::make_shared<const PlanData>(
      make_plan(direction, reduction, dtype, spatial_dims, source, destination, indices, options)));
}

}  // namespace

Plan Plan::forward(DType dtype, int spatial_dims, const Layout& input, const Layout& output,
                   Options options) {
  return make(Direction::forward, Reduction::average, dtype, spatial_dims, input, output, nullptr,
              options);
}

Plan Plan::backward(DType dtype, int spatial_dims, const Layout& grad_output,
                    const Layout& grad_input, Options options) {
  return make(Direction::backward, Reduction::average, dtype, spatial_dims, grad_output, grad_input,
              nullptr, options);
}

Plan Plan::max_forward(DType dtype, int spatial_dims, const Layout& input, const Layout& output,
                       const std::optional<Layout>& indices, Options options) {
  return make(Direction::forward, Reduction::max, dtype, spatial_dims, input, output,
              indices ? &*indices : nullptr, options);
}

Plan Plan::max_backward(DType dtype, int spatial_dims, const Layout& grad_output,
                        const Layout& indices, const Layout& grad_input, Options options) {
  return make(Direction::backward, Reduction::max, dtype, spatial_dims, grad_output, grad_input,
              &indices, options);
}

void Plan::run(const void* source, void* destination) const {
  if (data_->has_indices) {
    detail::fail(ErrorCode::invalid_argument,
                 "this max pooling plan has indices: pass them to run");
  }
  execute({source, destination, nullptr});
}

void Plan::run(const void* source, void* destination, int64_t* indices) const {
  if (!data_->has_indices || data_->direction != Direction::forward) {
    detail::fail(ErrorCode::invalid_argument,
                 "run(source, destination, indices) is for max pooling forward planned with "
                 "indices");
  }
  execute({source, destination, indices});
}

void Plan::run(const void* source, const int64_t* indices, void* destination) const {
  if (data_->reduction != Reduction::max || data_->direction != Direction::backward) {
    detail::fail(ErrorCode::invalid_argument,
                 "run(source, indices, destination) is for max pooling backward");
  }
  // The kernels only read a backward's indices.
  execute({source, destination, const_cast<int64_t*>(indices)});
}

void Plan::execute(const Buffers& buffers) const {
  const PlanData& plan = *data_;
  const bool forward = plan.direction == Direction::forward;
  const char* source_name = forward ? "input" : "grad_output";
  const char* destination_name = forward ? "output" : "grad_input";
  const size_t size = dtype_size(plan.dtype);
  check_pointer(buffers.source, plan.source_bytes, size, dtype_name(plan.dtype), source_name);
  check_pointer(buffers.destination, plan.destination_bytes, size, dtype_name(plan.dtype),
                destination_name);
  check_apart(buffers.destination, plan.destination_bytes, destination_name, buffers.source,
              plan.source_bytes, source_name);
  if (plan.has_indices) {
    check_pointer(buffers.indices, plan.indices_bytes, sizeof(int64_t), "int64", "indices");
    check_apart(buffers.destination, plan.destination_bytes, destination_name, buffers.indices,
                plan.indices_bytes, "indices");
    if (forward) {
      check_apart(buffers.indices, plan.indices_bytes, "indices", buffers.source, plan.source_bytes,
                  source_name);
    } else {
      IndexFault fault;
      Buffers checked = buffers;
      checked.fault = &fault;
      run_rows(plan, checked);
      if (fault.found) fail_index(plan, fault);
      return;
    }
  }
  run_rows(plan, buffers);
}

Direction Plan::direction() const { return data_->direction; }
DType Plan::dtype() const { return data_->dtype; }
int Plan::spatial_dims() const { return data_->spatial_dims; }
int Plan::threads() const { return data_->threads; }
const Layout& Plan::source() const { return data_->source; }
const Layout& Plan::destination() const { return data_->destination; }
Reduction Plan::reduction() const { return data_->reduction; }
bool Plan::has_indices() const { return data_->has_indices; }
const Layout& Plan::indices() const { return data_->indices; }

void adaptive_avg_pool(DType dtype, int spatial_dims, const Layout& input, const void* x,
                       const Layout& output, void* y, Options options) {
  Plan::forward(dtype, spatial_dims, input, output, options).run(x, y);
}

void adaptive_avg_pool_backward(DType dtype, int spatial_dims, const Layout& grad_output,
                                const void* dy, const Layout& grad_input, void* dx,
                                Options options) {
  Plan::backward(dtype, spatial_dims, grad_output, grad_input, options).run(dy, dx);
}

void adaptive_max_pool(DType dtype, int spatial_dims, const Layout& input, const void* x,
                       const Layout& output, void* y, const Layout* indices_layout,
                       int64_t* indices, Options options) {
  if (indices_layout == nullptr) {
    Plan::max_forward(dtype, spatial_dims, input, output, std::nullopt, options).run(x, y);
  } else {
    Plan::max_forward(dtype, spatial_dims, input, output, *indices_layout, options)
        .run(x, y, indices);
  }
}

void adaptive_max_pool_backward(DType dtype, int spatial_dims, const Layout& grad_output,
                                const void* dy, const Layout& indices_layout,
                                const int64_t* indices, const Layout& grad_input, void* dx,
                                Options options) {
  Plan::max_backward(dtype, spatial_dims, grad_output, indices_layout, grad_input, options)
      .run(dy, indices, dx);
}

}  // namespace adapool
