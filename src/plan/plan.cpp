// Plan creation: every check on shapes, strides and sizes, then the window
// tables and the work split. Nothing here touches tensor data.
#include "plan/plan.hpp"

#include "cpu/kernels.hpp"
#include "error.hpp"

#include <unistd.h>

#include <algorithm>
#include <limits>
#include <thread>

namespace adapool {

namespace {

constexpr int kMaxThreads = 256;
// Backward rows at most this long, of at least kManyPlanes planes, have the
// planes as lanes even in NCHW (see make_plan).
constexpr int64_t kShortRowColumns = 32;
constexpr int64_t kManyPlanes = 16;
// Backward's window tables cover dimensions up to this size (16 MiB each).
constexpr int64_t kMaxTableEntries = 1 << 20;
// Planes per group. Channels-last data reads a pixel's channels as one
// contiguous run, so wide groups stream; planes elsewhere are gathered, one
// memory stream per plane, and a few streams keep the caches and TLB happy.
constexpr int64_t kContiguousGroupPlanes = 1024;
constexpr int64_t kGatheredGroupPlanes = 16;
// Doubles in each of a thread's two workspace buffers (64 KiB): a chunk of
// one row for every plane of a group.
constexpr int64_t kWorkspaceColumns = 8192;

struct Names {
  const char* source;
  const char* destination;
  const char* input;
  const char* output;
};

int64_t checked_multiply(int64_t a, int64_t b, const char* what) {
  int64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) {
    detail::fail(ErrorCode::overflow, what, " overflows int64 (", a, " * ", b, ")");
  }
  return product;
}

int64_t checked_add(int64_t a, int64_t b, const char* what) {
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    detail::fail(ErrorCode::overflow, what, " overflows int64 (", a, " + ", b, ")");
  }
  return sum;
}

void check_layout(const Layout& layout, const char* name) {
  if (layout.rank < 1 || layout.rank > kMaxRank) {
    detail::fail(ErrorCode::rank, name, " rank ", layout.rank, " is not in 1..", kMaxRank);
  }
  for (int d = 0; d < layout.rank; ++d) {
    if (layout.sizes[d] < 0) {
      detail::fail(ErrorCode::invalid_argument, name, " size ", layout.sizes[d], " at dimension ",
                   d, " is negative (shape ", detail::format_list(layout.shape()), ")");
    }
  }
}

// Bytes a view touches, relative to its data pointer; rejects views whose
// element count, byte size or offsets overflow int64.
ByteSpan byte_span(const Layout& layout, size_t element_size, const char* name) {
  int64_t count = 1;
  for (int d = 0; d < layout.rank; ++d) {
    count = checked_multiply(count, layout.sizes[d], name);
  }
  checked_multiply(count, static_cast<int64_t>(element_size), name);
  if (count == 0) return {};
  int64_t low = 0;
  int64_t high = 0;
  for (int d = 0; d < layout.rank; ++d) {
    const int64_t reach = checked_multiply(layout.strides[d], layout.sizes[d] - 1, name);
    if (reach < 0) {
      low = checked_add(low, reach, name);
    } else {
      high = checked_add(high, reach, name);
    }
  }
  const auto bytes = static_cast<int64_t>(element_size);
  return {checked_multiply(low, bytes, name),
          checked_add(checked_multiply(high, bytes, name), bytes, name)};
}

// A destination must not name one memory location twice, or threads (and
// the order of writes) would decide the result. Sufficient test: sorted by
// |stride|, each dimension's stride steps over everything the smaller ones span.
void check_no_self_overlap(const Layout& layout, const char* name) {
  std::array<int, kMaxRank> order{};
  int used = 0;
  for (int d = 0; d < layout.rank; ++d) {
    if (layout.sizes[d] == 0) return;  // nothing is written
    if (layout.sizes[d] > 1) order[used++] = d;
  }
  // Insertion sort by |stride|: at most five entries.
  for (int i = 1; i < used; ++i) {
    for (int j = i;
         j > 0 && std::abs(layout.strides[order[j]]) < std::abs(layout.strides[order[j - 1]]);
         --j) {
      std::swap(order[j], order[j - 1]);
    }
  }
  int64_t extent = 0;
  for (int i = 0; i < used; ++i) {
    const int d = order[i];
    const int64_t stride = std::abs(layout.strides[d]);
    if (stride <= extent) {
      detail::fail(ErrorCode::overlap, name, " strides ",
                   detail::format_list({layout.strides.data(), static_cast<size_t>(layout.rank)}),
                   " for shape ", detail::format_list(layout.shape()),
                   " make elements share memory (dimension ", d, " has stride ", layout.strides[d],
                   "); ", name, " must not overlap itself");
    }
    extent += stride * (layout.sizes[d] - 1);
  }
}

int effective_threads(const Options& options, int64_t rows, int64_t work) {
  const int requested = options.threads;
  if (requested < 0) {
    detail::fail(ErrorCode::threads, "threads = ", requested,
                 " is negative; expected 0 (all hardware threads) or a positive count");
  }
  int64_t threads = requested;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = std::min<int64_t>(threads, kMaxThreads);
  if (options.min_work_per_thread < 1) {
    detail::fail(ErrorCode::threads, "min_work_per_thread = ", options.min_work_per_thread,
                 " is not positive");
  }
  threads = std::min(threads, std::max<int64_t>(1, work / options.min_work_per_thread));
  threads = std::min(threads, std::max<int64_t>(1, rows));
  return static_cast<int>(threads);
}

// Options::stream_bytes = -1: a quarter of the last-level cache, which
// glibc reads from CPUID (sysconf(_SC_LEVEL3_CACHE_SIZE)). Measured on a
// VM reporting 480 MiB of L3, one thread writing zeros: 64 MB at 29 GB/s
// with plain stores against 26 GB/s streamed, 96 MB 20 against 22 GB/s,
// 128 MB 11 against 25 GB/s, 277 MB 10 against 25 GB/s (two threads: 19
// against 41 GB/s).
int64_t stream_bytes(const Options& options) {
  if (options.stream_bytes >= 0) return options.stream_bytes;
  if (options.stream_bytes != -1) {
    detail::fail(ErrorCode::invalid_argument, "stream_bytes = ", options.stream_bytes,
                 " is negative; expected -1 (from the last-level cache) or a byte count");
  }
  static const int64_t automatic = [] {
    const long cache = sysconf(_SC_LEVEL3_CACHE_SIZE);
    return (cache > 0 ? static_cast<int64_t>(cache) : int64_t{256} << 20) / 4;
  }();
  return automatic;
}

// Plane cells a band of a max backward keeps at least (PlanData::bands):
// each band reads all of its group's outputs.
constexpr int64_t kMinBandCells = 1 << 14;

// PlanData::bands: enough for the threads that fewer groups would leave
// idle, where a cell's planes lie side by side (the scatter goes cell by
// cell) and each band keeps kMinBandCells. 1080p -> 224x224 channels-last
// (3 planes, one group; 25 MB of grad_input to zero) at 2 threads: 1.55-1.67
// -> 0.90-0.92 ms (C++), where 2 threads had taken as long as one.
int64_t max_backward_bands(const PlanData& plan, const Options& options, int64_t groups,
                           int64_t work) {
  const bool planes_inner = plan.source_strides[1] == 1 || plan.indices_strides[1] == 1;
  if (!planes_inner || groups < 1) return 1;
  const int threads = effective_threads(options, std::numeric_limits<int64_t>::max(), work);
  if (groups >= threads) return 1;
  const int64_t cells = plan.in_sizes[0] * plan.in_sizes[1] * plan.in_sizes[2];
  return std::clamp<int64_t>((threads + groups - 1) / groups, 1,
                             std::max<int64_t>(1, cells / kMinBandCells));
}

}  // namespace

std::unique_ptr<double[]> scratch(size_t doubles) {
  auto values = std::make_unique_for_overwrite<double[]>(doubles);
#ifdef ADAPOOL_POISON_WORKSPACE
  std::fill_n(values.get(), doubles, std::numeric_limits<double>::quiet_NaN());
#endif
  return values;
}

int64_t element_count(const Layout& layout) {
  int64_t count = 1;
  for (int d = 0; d < layout.rank; ++d) count *= layout.sizes[d];
  return count;
}

// Global pooling (every pooled size 1) of planes whose cells lie at equal
// steps in row-major order pools one flat row of the input: the row's order
// is the window's (d, then h, then w), and its count and its cells' flat
// indices (max pooling) are the same. `strides` are the input's (forward) or
// grad_input's (backward); the other side's pooled sizes are all 1. Only
// for planes apart in memory (NCHW): the kernels do channels-last planes
// faster row by row (the backward copies equal rows).
void flatten_global_pooling(PlanData& plan, std::array<int64_t, 5>& strides) {
  if (strides[1] == 1 && plan.channels > 1) return;
  int64_t cells = 1;
  int64_t step = strides[4];
  bool first = true;
  for (int d = 2; d >= 0; --d) {
    if (plan.out_sizes[d] != 1 || plan.in_sizes[d] == 0) return;
    if (plan.in_sizes[d] == 1) continue;  // its stride does not matter
    if (first) {
      step = strides[2 + d];
      first = false;
    } else if (int64_t next = 0;
               __builtin_mul_overflow(cells, step, &next) || strides[2 + d] != next) {
      return;
    }
    // Sizes need not multiply to something that fits: an empty batch allows
    // any (found by fuzz_plan).
    if (__builtin_mul_overflow(cells, plan.in_sizes[d], &cells)) return;
  }
  int64_t span = 0;
  if (__builtin_mul_overflow(cells, step, &span)) return;
  plan.in_sizes = {1, 1, cells};
  strides[2] = strides[3] = span;
  strides[4] = step;
}

PlanData make_plan(Direction direction, Reduction reduction, DType dtype, int spatial_dims,
                   const Layout& source, const Layout& destination, const Layout* indices,
                   Options options) {
  const bool forward = direction == Direction::forward;
  const bool max = reduction == Reduction::max;
  const Names names = forward ? Names{"input", "output", "input", "output"}
                              : Names{"grad_output", "grad_input", "grad_input", "grad_output"};
  const auto dtype_value = static_cast<int>(dtype);
  if (dtype_value < ADAPOOL_F32 || dtype_value > ADAPOOL_BF16) {
    detail::fail(ErrorCode::dtype, "dtype ", dtype_value,
                 " is not one of float32 (0), float64 (1), float16 (2), bfloat16 (3)");
  }
  if (spatial_dims < 1 || spatial_dims > 3) {
    detail::fail(ErrorCode::rank, "spatial_dims ", spatial_dims,
                 " is not 1, 2 or 3 (the number of pooled dimensions)");
  }
  check_layout(source, names.source);
  check_layout(destination, names.destination);
  const Layout& input = forward ? source : destination;
  const Layout& output = forward ? destination : source;

  const int rank = input.rank;
  if (rank != spatial_dims + 1 && rank != spatial_dims + 2) {
    detail::fail(ErrorCode::rank, spatial_dims, "-d adaptive pooling expects a ", spatial_dims + 1,
                 "-d (unbatched) or ", spatial_dims + 2, "-d (batched) ", names.input,
                 ", got shape ", detail::format_list(input.shape()));
  }
  const bool batched = rank == spatial_dims + 2;
  // PyTorch's checks: 1-d and 2-d average pooling need non-empty pooled
  // dimensions only; 3-d average pooling and all max pooling need every
  // dimension but the first non-empty.
  const bool all_but_first = max || spatial_dims == 3;
  const int first_checked = all_but_first ? 1 : rank - spatial_dims;
  for (int d = first_checked; d < rank; ++d) {
    if (input.sizes[d] == 0) {
      detail::fail(ErrorCode::empty_dimension, names.input, " dimension ", d, " has size 0 (shape ",
                   detail::format_list(input.shape()), "); ",
                   all_but_first ? "only the first dimension may be empty"
                                 : "the pooled dimensions must not be empty");
    }
  }
  if (output.rank != rank) {
    detail::fail(ErrorCode::shape_mismatch, names.output, " has rank ", output.rank, " (shape ",
                 detail::format_list(output.shape()), ") but ", names.input, " has rank ", rank,
                 " (shape ", detail::format_list(input.shape()), ")");
  }
  const int leading = rank - spatial_dims;
  for (int d = 0; d < leading; ++d) {
    if (output.sizes[d] != input.sizes[d]) {
      detail::fail(ErrorCode::shape_mismatch, names.output, " shape ",
                   detail::format_list(output.shape()), " does not match ", names.input, " shape ",
                   detail::format_list(input.shape()), " in ",
                   batched && d == 0 ? "batch" : "channel", " dimension ", d, " (", output.sizes[d],
                   " vs ", input.sizes[d], ")");
    }
  }

  const size_t element_size = dtype_size(dtype);
  PlanData plan;
  plan.direction = direction;
  plan.reduction = reduction;
  plan.dtype = dtype;
  plan.spatial_dims = spatial_dims;
  plan.source = source;
  plan.destination = destination;
  plan.source_bytes = byte_span(source, element_size, names.source);
  plan.destination_bytes = byte_span(destination, element_size, names.destination);
  check_no_self_overlap(destination, names.destination);
  if (indices != nullptr) {
    if (!max) {
      detail::fail(ErrorCode::invalid_argument, "indices are only for max pooling");
    }
    check_layout(*indices, "indices");
    if (indices->shape().size() != output.shape().size() ||
        !std::equal(indices->shape().begin(), indices->shape().end(), output.shape().begin())) {
      detail::fail(ErrorCode::shape_mismatch, "indices shape ",
                   detail::format_list(indices->shape()), " does not match ", names.output,
                   " shape ", detail::format_list(output.shape()));
    }
    plan.has_indices = true;
    plan.indices = *indices;
    plan.indices_bytes = byte_span(*indices, sizeof(int64_t), "indices");
    if (forward) check_no_self_overlap(*indices, "indices");
  } else if (max && !forward) {
    detail::fail(ErrorCode::invalid_argument, "max pooling backward needs the forward's indices");
  }

  // Normalise to (N, C, D, H, W).
  const int pad = 3 - spatial_dims;
  const auto normalise = [&](const Layout& layout, std::array<int64_t, 5>& strides) {
    strides = {0, 0, 0, 0, 0};
    if (batched) strides[0] = layout.strides[0];
    strides[1] = layout.strides[leading - 1];
    for (int d = 0; d < spatial_dims; ++d) strides[2 + pad + d] = layout.strides[leading + d];
  };
  normalise(source, plan.source_strides);
  normalise(destination, plan.destination_strides);
  if (plan.has_indices) normalise(plan.indices, plan.indices_strides);
  plan.batch = batched ? input.sizes[0] : 1;
  plan.channels = input.sizes[leading - 1];
  for (int d = 0; d < spatial_dims; ++d) {
    plan.in_sizes[pad + d] = input.sizes[leading + d];
    plan.out_sizes[pad + d] = output.sizes[leading + d];
  }

  flatten_global_pooling(plan, forward ? plan.source_strides : plan.destination_strides);

  // Plane groups: as many planes as fit a vector-friendly count, at most 64.
  // Backward into rows that are contiguous while planes are not (NCHW)
  // works along the rows, the columns as lanes, so dx is written with
  // contiguous stores; everything else has the planes of a group as lanes.
  // The backward's choice goes by dx, which it writes, whatever grad_output's
  // strides: a 1x1 grad_output has channel stride 1 in any layout. Short
  // rows of many planes pooled to several columns have the planes as lanes
  // too (gathered and scattered). Measured at one thread, NCHW, along the
  // rows against planes as lanes: 5x5 -> 13x13 (64 planes) 629 against 133
  // us, VGG 14x14 -> 7x7 5.5 against 2.5 ms, 15x15 -> 7x7 9.5 against 5.0
  // ms; but 56x56 -> 7x7 20.4 against 22.2 ms, 3 planes of 1080p -> 224x224
  // 4.1 against 10.4 ms, and one output column (ResNet's global pooling)
  // 1.0 against 4.4 ms.
  const bool channels_contiguous = plan.source_strides[1] == 1 || plan.destination_strides[1] == 1;
  const bool short_rows_of_many_planes =
      plan.in_sizes[2] <= kShortRowColumns && plan.out_sizes[2] > 1 && plan.channels >= kManyPlanes;
  plan.along_rows = !forward && plan.destination_strides[4] == 1 &&
                    plan.destination_strides[1] != 1 && plan.in_sizes[2] > 1 &&
                    !short_rows_of_many_planes;
  plan.group_planes = std::clamp<int64_t>(
      plan.channels, 1,
      channels_contiguous && !plan.along_rows ? kContiguousGroupPlanes : kGatheredGroupPlanes);
  if (plan.group_planes >= 8) plan.group_planes -= plan.group_planes % 8;
  // Max pooling's backward scatters plane by plane unless grad_output or the
  // indices hold a cell's planes side by side: one plane a group then, so
  // that threads share out the planes of even a single image.
  if (max && !forward && plan.source_strides[1] != 1 && plan.indices_strides[1] != 1) {
    plan.group_planes = 1;
  }
  // Rounded up without channels + group_planes - 1, which overflows for the
  // channel counts near 2^63 that an empty batch allows.
  plan.groups_per_batch =
      plan.channels / plan.group_planes + (plan.channels % plan.group_planes != 0 ? 1 : 0);
  // No longer than the longest row: small shapes get a small workspace.
  plan.chunk_columns =
      std::clamp<int64_t>(std::max(plan.in_sizes[2], plan.out_sizes[2]), 1,
                          std::max<int64_t>(1, kWorkspaceColumns / plan.group_planes));
  // Average pooling's backward keeps a chunk's shares and sums there (its
  // forward uses less: kernels.cpp caps a chunk's sums at 16 KiB). Max
  // pooling's forward keeps the running maxima and indices of a group's
  // planes there when a window is too large for registers; its backward
  // needs none.
  plan.workspace_per_thread = !max      ? 2 * plan.chunk_columns * plan.group_planes
                              : forward ? 2 * plan.group_planes
                                        : 0;
  const int64_t stream_limit = stream_bytes(options);  // checked for every plan
  plan.stream = !forward && plan.destination_bytes.high - plan.destination_bytes.low > stream_limit;
  const int64_t groups = plan.batch * plan.groups_per_batch;
  const auto& lines = forward ? plan.out_sizes : plan.in_sizes;
  const int64_t work = std::max(element_count(input), element_count(output));
  if (max && !forward) plan.bands = max_backward_bands(plan, options, groups, work);
  plan.rows = !forward && max ? groups * plan.bands : groups * lines[0] * lines[1];
  // Tables exist only for work that exists: an empty view with one huge
  // pooled size must not allocate a huge table. Backward keeps none at all
  // (its ranges come from the rule: inverse_begin/inverse_end).
  const bool writes = element_count(destination) > 0;
  const bool reads = element_count(source) > 0;
  if (!writes) plan.rows = 0;
  for (int d = 0; d < 3 && writes; ++d) {
    // Window arithmetic happens only where there is data: with nothing to
    // pool, sizes whose products overflow are as harmless as in PyTorch.
    if (reads && !window_arithmetic_fits(plan.in_sizes[d], plan.out_sizes[d])) {
      detail::fail(ErrorCode::overflow, "pooling dimension ", leading + d - pad, " from ",
                   plan.in_sizes[d], " to ", plan.out_sizes[d],
                   " overflows int64 window arithmetic (in * out > 2^63 - 1)");
    }
    // Forward steps through its windows (WindowWalker).
    if (forward) continue;
    if (max) continue;  // max pooling's backward needs no windows
    if (reads && plan.in_sizes[d] <= kMaxTableEntries) {
      plan.inverse[d] = inverse_windows(plan.in_sizes[d], plan.out_sizes[d]);
    }
    if (reads && plan.out_sizes[d] <= kMaxTableEntries) {
      plan.counts[d].resize(static_cast<size_t>(plan.out_sizes[d]));
      for (int64_t o = 0; o < plan.out_sizes[d]; ++o) {
        plan.counts[d][o] = window_count(o, plan.in_sizes[d], plan.out_sizes[d]);
      }
    }
  }

  plan.threads = effective_threads(options, plan.rows, work);
  plan.executor = options.executor;
  plan.destination_zeroed = max && !forward && options.destination_zeroed;
  plan.split.resize(static_cast<size_t>(plan.threads) + 1);
  for (int t = 0; t <= plan.threads; ++t) {
    plan.split[t] = (plan.rows / plan.threads) * t + std::min<int64_t>(t, plan.rows % plan.threads);
  }
  plan.kernel = select_kernel(direction, reduction, dtype);
  if (plan.rows > 0) {
    plan.workspace.size = static_cast<size_t>(plan.threads * plan.workspace_per_thread);
    plan.workspace.values = scratch(plan.workspace.size);
  }
  return plan;
}

void fail_index(const PlanData& plan, const IndexFault& fault) {
  const int pad = 3 - plan.spatial_dims;
  std::ostringstream where;
  for (int d = pad; d < 3; ++d) where << (d > pad ? ", " : "") << fault.cell[d];
  const int64_t n = fault.group / plan.groups_per_batch;
  const int64_t c = (fault.group % plan.groups_per_batch) * plan.group_planes + fault.plane;
  const bool batched = plan.source.rank == plan.spatial_dims + 2;
  detail::fail(ErrorCode::invalid_argument, "indices value ", fault.value, " at ",
               batched ? "batch " + std::to_string(n) + ", " : std::string(), "channel ", c,
               ", output cell (", where.str(), ") is outside the input plane of ",
               plan.in_sizes[0] * plan.in_sizes[1] * plan.in_sizes[2], " cells ",
               detail::format_list({plan.in_sizes.data() + pad, static_cast<size_t>(3 - pad)}),
               "; grad_input is left unspecified");
}

}  // namespace adapool
