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

void check_pointer(const void* data, const ByteSpan& bytes, DType dtype, const char* name) {
  if (bytes.empty()) return;  // nothing is read or written: any pointer will do
  if (data == nullptr) {
    detail::fail(ErrorCode::null_pointer, name, " data pointer is null but the view has elements");
  }
  const auto address = reinterpret_cast<uintptr_t>(data);
  if (address % dtype_size(dtype) != 0) {
    detail::fail(ErrorCode::misaligned, name, " data pointer 0x", std::hex, address, std::dec,
                 " is not aligned to ", dtype_size(dtype), " bytes (", dtype_name(dtype), ")");
  }
}

}  // namespace

Plan Plan::forward(DType dtype, int spatial_dims, const Layout& input, const Layout& output,
                   Options options) {
  return Plan(std::make_shared<const PlanData>(
      make_plan(Direction::forward, dtype, spatial_dims, input, output, options)));
}

Plan Plan::backward(DType dtype, int spatial_dims, const Layout& grad_output,
                    const Layout& grad_input, Options options) {
  return Plan(std::make_shared<const PlanData>(
      make_plan(Direction::backward, dtype, spatial_dims, grad_output, grad_input, options)));
}

void Plan::run(const void* source, void* destination) const {
  const PlanData& plan = *data_;
  const bool forward = plan.direction == Direction::forward;
  const char* source_name = forward ? "input" : "grad_output";
  const char* destination_name = forward ? "output" : "grad_input";
  check_pointer(source, plan.source_bytes, plan.dtype, source_name);
  check_pointer(destination, plan.destination_bytes, plan.dtype, destination_name);
  if (!plan.source_bytes.empty() && !plan.destination_bytes.empty()) {
    // Compare addresses as integers: the views may belong to unrelated objects.
    const auto source_address = reinterpret_cast<uintptr_t>(source);
    const auto destination_address = reinterpret_cast<uintptr_t>(destination);
    const uintptr_t source_low = source_address + static_cast<uintptr_t>(plan.source_bytes.low);
    const uintptr_t source_high = source_address + static_cast<uintptr_t>(plan.source_bytes.high);
    const uintptr_t destination_low =
        destination_address + static_cast<uintptr_t>(plan.destination_bytes.low);
    const uintptr_t destination_high =
        destination_address + static_cast<uintptr_t>(plan.destination_bytes.high);
    if (source_low < destination_high && destination_low < source_high) {
      detail::fail(ErrorCode::overlap, destination_name, " memory [0x", std::hex, destination_low,
                   ", 0x", destination_high, ") overlaps ", source_name, " memory [0x", source_low,
                   ", 0x", source_high, ")", std::dec, "; pass separate buffers");
    }
  }
  run_rows(plan, source, destination);
}

Direction Plan::direction() const { return data_->direction; }
DType Plan::dtype() const { return data_->dtype; }
int Plan::spatial_dims() const { return data_->spatial_dims; }
int Plan::threads() const { return data_->threads; }
const Layout& Plan::source() const { return data_->source; }
const Layout& Plan::destination() const { return data_->destination; }

void adaptive_avg_pool(DType dtype, int spatial_dims, const Layout& input, const void* x,
                       const Layout& output, void* y, Options options) {
  Plan::forward(dtype, spatial_dims, input, output, options).run(x, y);
}

void adaptive_avg_pool_backward(DType dtype, int spatial_dims, const Layout& grad_output,
                                const void* dy, const Layout& grad_input, void* dx,
                                Options options) {
  Plan::backward(dtype, spatial_dims, grad_output, grad_input, options).run(dy, dx);
}

}  // namespace adapool
