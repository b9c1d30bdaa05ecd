// The C API: a thin shell over the C++ API that turns every exception into a
// status code and a per-thread message.
#include <adapool/adapool.h>

#include "error.hpp"

#include <cstring>
#include <exception>
#include <new>
#include <string>

struct adapool_plan {
  adapool::Plan plan;
};

namespace {

thread_local std::string last_error;

template <class Body>
adapool_status guarded(Body&& body) noexcept {
  try {
    last_error.clear();
    body();
    return ADAPOOL_OK;
  } catch (const adapool::Error& error) {
    try {
      last_error = error.what();
    } catch (...) {
    }
    return static_cast<adapool_status>(error.code());
  } catch (const std::bad_alloc&) {
    last_error = "out of memory";
    return ADAPOOL_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception& error) {
    try {
      last_error = error.what();
    } catch (...) {
    }
    return ADAPOOL_ERROR_INTERNAL;
  } catch (...) {
    return ADAPOOL_ERROR_INTERNAL;
  }
}

void require(const void* pointer, const char* name) {
  if (pointer == nullptr) {
    adapool::detail::fail(adapool::ErrorCode::null_pointer, name, " is null");
  }
}

adapool::Layout to_layout(const adapool_layout* layout, const char* name) {
  require(layout, name);
  adapool::Layout result;
  result.rank = layout->rank;
  for (int d = 0; d < ADAPOOL_MAX_RANK; ++d) {
    result.sizes[d] = layout->sizes[d];
    result.strides[d] = layout->strides[d];
  }
  return result;
}

adapool::Options to_options(int threads) {
  adapool::Options options;
  options.threads = threads;
  return options;
}

}  // namespace

static_assert(static_cast<int>(adapool::ErrorCode::invalid_argument) ==
              ADAPOOL_ERROR_INVALID_ARGUMENT);

extern "C" {

const char* adapool_version(void) { return ADAPOOL_VERSION_STRING; }

const char* adapool_status_name(adapool_status status) {
  switch (status) {
    case ADAPOOL_OK:
      return "ok";
    case ADAPOOL_ERROR_RANK:
      return "wrong rank";
    case ADAPOOL_ERROR_EMPTY_DIMENSION:
      return "empty dimension";
    case ADAPOOL_ERROR_OUTPUT_SIZE:
      return "bad output_size";
    case ADAPOOL_ERROR_DTYPE:
      return "unsupported dtype";
    case ADAPOOL_ERROR_SHAPE_MISMATCH:
      return "shape mismatch";
    case ADAPOOL_ERROR_OVERLAP:
      return "overlapping memory";
    case ADAPOOL_ERROR_OVERFLOW:
      return "size overflow";
    case ADAPOOL_ERROR_NULL_POINTER:
      return "null pointer";
    case ADAPOOL_ERROR_MISALIGNED:
      return "misaligned pointer";
    case ADAPOOL_ERROR_THREADS:
      return "bad thread count";
    case ADAPOOL_ERROR_INVALID_ARGUMENT:
      return "invalid argument";
    case ADAPOOL_ERROR_OUT_OF_MEMORY:
      return "out of memory";
    case ADAPOOL_ERROR_INTERNAL:
      return "internal error";
  }
  return "unknown status";
}

const char* adapool_last_error(void) { return last_error.c_str(); }

adapool_status adapool_output_shape(int rank, const int64_t* input_sizes, int spatial_dims,
                                    int output_size_count, const int64_t* output_size,
                                    int64_t* output_sizes) {
  return guarded([&] {
    if (rank < 1 || rank > ADAPOOL_MAX_RANK) {
      adapool::detail::fail(adapool::ErrorCode::rank, "rank ", rank, " is not in 1..",
                            ADAPOOL_MAX_RANK);
    }
    if (output_size_count < 1 || output_size_count > 3) {
      adapool::detail::fail(adapool::ErrorCode::output_size, "output_size has ", output_size_count,
                            " entries; expected 1 or ", spatial_dims);
    }
    require(input_sizes, "input_sizes");
    require(output_size, "output_size");
    require(output_sizes, "output_sizes");
    adapool::OutputSize requested;
    for (int i = 0; i < output_size_count; ++i) {
      if (output_size[i] == ADAPOOL_KEEP) {
        requested.emplace_back(std::nullopt);
      } else {
        requested.emplace_back(output_size[i]);
      }
    }
    const std::vector<int64_t> shape =
        adapool::output_shape({input_sizes, static_cast<size_t>(rank)}, spatial_dims, requested);
    std::memcpy(output_sizes, shape.data(), shape.size() * sizeof(int64_t));
  });
}

adapool_status adapool_plan_forward(adapool_dtype dtype, int spatial_dims,
                                    const adapool_layout* input, const adapool_layout* output,
                                    int threads, adapool_plan** plan) {
  return guarded([&] {
    require(plan, "plan");
    *plan = nullptr;
    *plan = new adapool_plan{adapool::Plan::forward(
        static_cast<adapool::DType>(dtype), spatial_dims, to_layout(input, "input"),
        to_layout(output, "output"), to_options(threads))};
  });
}

adapool_status adapool_plan_backward(adapool_dtype dtype, int spatial_dims,
                                     const adapool_layout* grad_output,
                                     const adapool_layout* grad_input, int threads,
                                     adapool_plan** plan) {
  return guarded([&] {
    require(plan, "plan");
    *plan = nullptr;
    *plan = new adapool_plan{adapool::Plan::backward(
        static_cast<adapool::DType>(dtype), spatial_dims, to_layout(grad_output, "grad_output"),
        to_layout(grad_input, "grad_input"), to_options(threads))};
  });
}

adapool_status adapool_plan_run(const adapool_plan* plan, const void* source, void* destination) {
  return guarded([&] {
    require(plan, "plan");
    plan->plan.run(source, destination);
  });
}

adapool_status adapool_plan_max_forward(adapool_dtype dtype, int spatial_dims,
                                        const adapool_layout* input, const adapool_layout* output,
                                        const adapool_layout* indices, int threads,
                                        adapool_plan** plan) {
  return guarded([&] {
    require(plan, "plan");
    *plan = nullptr;
    std::optional<adapool::Layout> indices_layout;
    if (indices != nullptr) indices_layout = to_layout(indices, "indices");
    *plan = new adapool_plan{adapool::Plan::max_forward(
        static_cast<adapool::DType>(dtype), spatial_dims, to_layout(input, "input"),
        to_layout(output, "output"), indices_layout, to_options(threads))};
  });
}

adapool_status adapool_plan_max_backward(adapool_dtype dtype, int spatial_dims,
                                         const adapool_layout* grad_output,
                                         const adapool_layout* indices,
                                         const adapool_layout* grad_input, int threads,
                                         adapool_plan** plan) {
  return guarded([&] {
    require(plan, "plan");
    *plan = nullptr;
    *plan = new adapool_plan{adapool::Plan::max_backward(
        static_cast<adapool::DType>(dtype), spatial_dims, to_layout(grad_output, "grad_output"),
        to_layout(indices, "indices"), to_layout(grad_input, "grad_input"), to_options(threads))};
  });
}

adapool_status adapool_plan_run_max_forward(const adapool_plan* plan, const void* x, void* y,
                                            int64_t* indices) {
  return guarded([&] {
    require(plan, "plan");
    plan->plan.run(x, y, indices);
  });
}

adapool_status adapool_plan_run_max_backward(const adapool_plan* plan, const void* dy,
                                             const int64_t* indices, void* dx) {
  return guarded([&] {
    require(plan, "plan");
    plan->plan.run(dy, indices, dx);
  });
}

void adapool_plan_destroy(adapool_plan* plan) { delete plan; }

adapool_status adapool_forward(adapool_dtype dtype, int spatial_dims, const adapool_layout* input,
                               const void* x, const adapool_layout* output, void* y, int threads) {
  return guarded([&] {
    adapool::adaptive_avg_pool(static_cast<adapool::DType>(dtype), spatial_dims,
                               to_layout(input, "input"), x, to_layout(output, "output"), y,
                               to_options(threads));
  });
}

adapool_status adapool_backward(adapool_dtype dtype, int spatial_dims,
                                const adapool_layout* grad_output, const void* dy,
                                const adapool_layout* grad_input, void* dx, int threads) {
  return guarded([&] {
    adapool::adaptive_avg_pool_backward(
        static_cast<adapool::DType>(dtype), spatial_dims, to_layout(grad_output, "grad_output"), dy,
        to_layout(grad_input, "grad_input"), dx, to_options(threads));
  });
}

adapool_status adapool_windows(int64_t in, int64_t out, int64_t* begins, int64_t* ends) {
  return guarded([&] {
    if (in < 1 || out < 0 || !adapool::window_arithmetic_fits(in, out)) {
      adapool::detail::fail(adapool::ErrorCode::invalid_argument, "windows of ", in, " -> ", out,
                            ": expected in >= 1, out >= 0 and in * out < 2^63");
    }
    if (out == 0) return;
    require(begins, "begins");
    require(ends, "ends");
    for (int64_t o = 0; o < out; ++o) {
      begins[o] = adapool::window_begin(o, in, out);
      ends[o] = adapool::window_end(o, in, out);
    }
  });
}

adapool_status adapool_fixed_pool_equivalent(int64_t in, int64_t out, int* exists, int64_t* kernel,
                                             int64_t* stride) {
  return guarded([&] {
    if (in < 1 || out < 1 || !adapool::window_arithmetic_fits(in, out)) {
      adapool::detail::fail(adapool::ErrorCode::invalid_argument, "fixed pool for ", in, " -> ",
                            out, ": expected in >= 1, out >= 1 and in * out < 2^63");
    }
    require(exists, "exists");
    require(kernel, "kernel");
    require(stride, "stride");
    const std::optional<adapool::FixedPool> pool = adapool::fixed_pool_equivalent(in, out);
    *exists = pool ? 1 : 0;
    *kernel = pool ? pool->kernel : 0;
    *stride = pool ? pool->stride : 0;
  });
}

}  // extern "C"
