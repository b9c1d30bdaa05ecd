// adapool: adaptive average and max pooling exactly as PyTorch computes them.
//
// Plan once, run many: a Plan holds everything that depends only on shapes,
// strides, dtype and thread count (window tables, divisors, the work split);
// Plan::run touches only data. See SEMANTICS.md for the rule itself.
#pragma once

#include <adapool/adapool.h>
#include <adapool/windows.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace adapool {

inline constexpr int kMaxRank = ADAPOOL_MAX_RANK;

enum class DType : int {
  f32 = ADAPOOL_F32,
  f64 = ADAPOOL_F64,
  f16 = ADAPOOL_F16,
  bf16 = ADAPOOL_BF16,
};

size_t dtype_size(DType dtype);       // bytes per element
const char* dtype_name(DType dtype);  // "float32", ...

enum class ErrorCode : int {
  rank = ADAPOOL_ERROR_RANK,
  empty_dimension = ADAPOOL_ERROR_EMPTY_DIMENSION,
  output_size = ADAPOOL_ERROR_OUTPUT_SIZE,
  dtype = ADAPOOL_ERROR_DTYPE,
  shape_mismatch = ADAPOOL_ERROR_SHAPE_MISMATCH,
  overlap = ADAPOOL_ERROR_OVERLAP,
  overflow = ADAPOOL_ERROR_OVERFLOW,
  null_pointer = ADAPOOL_ERROR_NULL_POINTER,
  misaligned = ADAPOOL_ERROR_MISALIGNED,
  threads = ADAPOOL_ERROR_THREADS,
  invalid_argument = ADAPOOL_ERROR_INVALID_ARGUMENT,
};

// The one exception type adapool throws (besides std::bad_alloc).
class Error : public std::invalid_argument {
 public:
  Error(ErrorCode code, const std::string& message) : std::invalid_argument(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

// Shape and strides (in elements) of a tensor of rank 1..5. Strides may be
// zero (broadcast inputs) or negative; an output must not overlap itself.
struct Layout {
  int rank = 0;
  std::array<int64_t, kMaxRank> sizes{};
  std::array<int64_t, kMaxRank> strides{};

  std::span<const int64_t> shape() const { return {sizes.data(), static_cast<size_t>(rank)}; }
  // Row-major (NCHW) strides.
  static Layout contiguous(std::span<const int64_t> sizes);
  // Channel dimension innermost: NHWC / NDHWC (batched) or HWC (unbatched).
  static Layout channels_last(std::span<const int64_t> sizes, int spatial_dims);
  friend bool operator==(const Layout&, const Layout&) = default;
};

// True when the channel dimension is the innermost one of `layout`, the way
// PyTorch's suggest_memory_format() would call it channels-last.
bool is_channels_last(const Layout& layout, int spatial_dims);

// PyTorch's output_size argument: one entry for all pooled dimensions, or one
// per dimension; std::nullopt keeps that input size.
using OutputSize = std::vector<std::optional<int64_t>>;

// The full output shape for `input_sizes` pooled over its last `spatial_dims`.
std::vector<int64_t> output_shape(std::span<const int64_t> input_sizes, int spatial_dims,
                                  const OutputSize& output_size);

// An output layout with `output_sizes`, channels-last when the input is, like
// PyTorch's result.
Layout output_layout_like(const Layout& input, int spatial_dims,
                          std::span<const int64_t> output_sizes);

enum class Direction { forward, backward };

// What a window reduces to: its mean (AdaptiveAvgPool) or its maximum
// (AdaptiveMaxPool: a NaN in the window wins, the last one in row-major
// order; otherwise the first maximum; indices are flat positions within the
// input's pooled plane, d * H * W + h * W + w, as int64).
enum class Reduction { average, max };

struct Options {
  // 0: every hardware thread. Clamped to the work available; results are
  // bitwise identical for every count.
  int threads = 1;
  // The grain: a thread is only worth starting for at least this many
  // elements (the larger of input and output) of work.
  int64_t min_work_per_thread = 1 << 15;
  // Where a run's threads come from. Empty: adapool's own workers, kept
  // between runs. Set: a run of T > 1 threads calls executor(T, share) once;
  // it must call share(t) exactly once for every t in [0, T), on any threads
  // and in any order, and return when all have returned. Give it the pool the
  // program already runs (OpenMP, TBB, PyTorch's), so that two pools do not
  // compete for the cores. Results do not depend on it.
  std::function<void(int threads, const std::function<void(int)>& share)> executor;
  // Max pooling's backward only: the caller promises that grad_input holds
  // zeros when each run starts (fresh anonymous memory, calloc), and the run
  // adds the gradients without clearing it first. Ignored by other plans.
  bool destination_zeroed = false;
  // Backward only: a grad_input spanning more than this many bytes, which
  // would only sweep the caches, is written with non-temporal stores
  // (average pooling's channels-last cells and NCHW global pooling, max
  // pooling's zeroing). -1: a quarter of the last-level cache (or of 256
  // MiB where the system does not say). Results do not depend on it.
  int64_t stream_bytes = -1;
};

struct PlanData;  // defined in src/plan/plan.hpp
struct Buffers;   // likewise

class Plan {
 public:
  // destination = adaptive_avg_pool(source); the pooled sizes are the
  // destination's spatial sizes.
  static Plan forward(DType dtype, int spatial_dims, const Layout& input, const Layout& output,
                      Options options = {});
  // grad_input = gradient of the forward above with respect to its input.
  static Plan backward(DType dtype, int spatial_dims, const Layout& grad_output,
                       const Layout& grad_input, Options options = {});

  // destination = adaptive_max_pool(source), and the int64 indices of the
  // maxima when `indices` (the output's shape, any strides) is given.
  static Plan max_forward(DType dtype, int spatial_dims, const Layout& input, const Layout& output,
                          const std::optional<Layout>& indices = std::nullopt,
                          Options options = {});
  // grad_input = gradient of max pooling, from grad_output and the forward's
  // indices (grad_output's shape): each gradient added at its index, output
  // by output in row-major order, in the dtype itself, as PyTorch does; each
  // thread owns whole planes, so every thread count gives the same bits. An
  // index may point anywhere in its input plane, as in PyTorch.
  static Plan max_backward(DType dtype, int spatial_dims, const Layout& grad_output,
                           const Layout& indices, const Layout& grad_input, Options options = {});

  // Reads `source` (input or grad_output), writes every element of
  // `destination`. Checks pointers (null, alignment, overlap) first. For
  // average pooling, and max pooling planned without indices.
  void run(const void* source, void* destination) const;
  // Max pooling forward that writes the indices of the maxima.
  void run(const void* source, void* destination, int64_t* indices) const;
  // Max pooling backward from the forward's indices. An index outside its
  // input plane throws (PyTorch writes out of bounds there), leaving
  // `destination` unspecified.
  void run(const void* source, const int64_t* indices, void* destination) const;

  Direction direction() const;
  Reduction reduction() const;
  bool has_indices() const;
  DType dtype() const;
  int spatial_dims() const;
  int threads() const;  // the thread count a run will use
  const Layout& source() const;
  const Layout& destination() const;
  const Layout& indices() const;  // rank 0 when the plan has none

  // For the library itself: a plan around data make_plan built.
  static Plan from(std::shared_ptr<const PlanData> data) { return Plan(std::move(data)); }

 private:
  explicit Plan(std::shared_ptr<const PlanData> data) : data_(std::move(data)) {}
  void execute(const Buffers& buffers) const;
  std::shared_ptr<const PlanData> data_;
};

// Plan and run once.
void adaptive_avg_pool(DType dtype, int spatial_dims, const Layout& input, const void* x,
                       const Layout& output, void* y, Options options = {});
void adaptive_avg_pool_backward(DType dtype, int spatial_dims, const Layout& grad_output,
                                const void* dy, const Layout& grad_input, void* dx,
                                Options options = {});
// `indices` may be null (with no indices layout) when they are not wanted.
void adaptive_max_pool(DType dtype, int spatial_dims, const Layout& input, const void* x,
                       const Layout& output, void* y, const Layout* indices_layout,
                       int64_t* indices, Options options = {});
void adaptive_max_pool_backward(DType dtype, int spatial_dims, const Layout& grad_output,
                                const void* dy, const Layout& indices_layout,
                                const int64_t* indices, const Layout& grad_input, void* dx,
                                Options options = {});

}  // namespace adapool
