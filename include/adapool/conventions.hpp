// How other systems choose the windows of adaptive average pooling, beside
// PyTorch's rule (windows.hpp), so that a model moved between frameworks can
// be checked for silently different results. docs/CONVENTIONS.md cites the
// source of every formula here.
//
// Each convention says, for one dimension pooled from `in` to `out` cells,
// which input range each output cell averages, or why it cannot be compared
// with PyTorch (it refuses the sizes, or produces another number of cells).
// PyTorch's own convention is windows.hpp's functions, not a copy of them.
#pragma once

#include <adapool/windows.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace adapool {

enum class Convention : int {
  pytorch,              // windows.hpp: exact integer floor/ceil
  float32_bounds,       // floor/ceil of float32(o*in) / float32(out)
  float32_end,          // integer begin, float32 end
  float32_two_sizes,    // float32 bounds, windows snapped to two sizes
  equal_kernel_stride,  // AvgPool(kernel = stride = floor(in/out))
  derived_kernel,       // AvgPool(stride = floor(in/out), kernel = in - (out-1)*stride)
  partition,            // non-overlapping, larger windows first
  multiple_only,        // PyTorch's windows when out divides in, else refuses
  multiple_either_way,  // PyTorch's windows when one size divides the other, else refuses
};

struct ConventionInfo {
  Convention convention;
  const char* name;      // "float32_bounds"
  const char* computes;  // the formula, in words
  const char* used_by;   // the systems known to compute it
};

// Every convention, PyTorch's first, in enum order.
std::span<const ConventionInfo> conventions();
const ConventionInfo& convention_info(Convention convention);
std::optional<Convention> convention_named(std::string_view name);

// The largest size (per dimension) the comparisons accept: windows are
// enumerated one by one, and 2^26 is past 2^24, where float32 drifts.
inline constexpr int64_t kMaxConventionSize = int64_t{1} << 26;

// One dimension pooled from `in` to `out` cells under one convention.
struct ConventionAxis {
  enum class Status {
    usable,       // `out` windows, comparable with PyTorch's
    other_count,  // `outputs` windows, but not `out` of them
    refuses,      // the system rejects these sizes; no windows
  };

  Convention convention = Convention::pytorch;
  int64_t in = 0, out = 0;
  Status status = Status::usable;
  int64_t outputs = 0;  // windows it produces (0 when it refuses)
  std::string reason;   // why it is not usable; empty when usable
  // The fixed AvgPool of the kernel/stride conventions; 0 for the others.
  int64_t kernel = 0, stride = 0;

  bool usable() const noexcept { return status == Status::usable; }

  // Output cell o's input range, for 0 <= o < outputs. Float32 conventions
  // compute it as those systems do, so it may be empty or reach past `in`
  // (window_in_bounds says).
  Window window(int64_t o) const;
  std::vector<Window> windows() const;  // all `outputs` of them
};

// Throws adapool::Error (invalid_argument) unless 1 <= in, out <= kMaxConventionSize.
ConventionAxis convention_axis(Convention convention, int64_t in, int64_t out);

bool window_in_bounds(const Window& window, int64_t in) noexcept;

// Why a convention rejects these sizes as a whole (a rule across dimensions,
// as PyTorch MPS's "every axis shrinks or every axis grows"), or nullopt.
// Per-dimension refusals are in ConventionAxis.
std::optional<std::string> convention_refuses_shape(Convention convention,
                                                    std::span<const int64_t> in,
                                                    std::span<const int64_t> out);

// The outputs of a usable axis whose windows differ from PyTorch's: how many,
// and the first `max_listed` of them.
struct AxisDifference {
  int64_t count = 0;
  std::vector<int64_t> first;
};
AxisDifference differing_outputs(const ConventionAxis& axis, size_t max_listed);

// Average pooling of one row-major plane of sizes `in` under arbitrary
// windows (one list per dimension), summed in double in index order and
// divided by the window's cell count. A plain loop, for explanations and
// tests, not speed. Throws adapool::Error for a plane of the wrong size, an
// empty window or one outside the input.
std::vector<double> pool_plane(std::span<const double> plane, std::span<const int64_t> in,
                               std::span<const std::vector<Window>> windows);

// Additions pool_plane makes with these windows: the product over dimensions
// of the windows' summed counts. Lets callers skip a measurement that would
// take too long.
double pool_plane_cost(std::span<const std::vector<Window>> windows);

// Agreement of every convention with PyTorch over 1..in_max x 1..out_max
// (one dimension pooled from in to out).
enum class Agreement : uint8_t { agrees, differs, undefined };

inline constexpr int64_t kMaxScanSide = 2048;

struct ConventionScan {
  struct Tally {
    int64_t agrees = 0, differs = 0, undefined = 0;
  };
  int64_t in_max = 0, out_max = 0;
  // states[convention][(in - 1) * out_max + (out - 1)]
  std::vector<std::vector<Agreement>> states;
  std::vector<Tally> tallies;  // per convention

  Agreement at(Convention convention, int64_t in, int64_t out) const;
};

// Throws adapool::Error (invalid_argument) unless 1 <= in_max, out_max <= kMaxScanSide.
ConventionScan scan_conventions(int64_t in_max, int64_t out_max);

// The first size pair where a float32 convention's windows differ from
// PyTorch's, in the order: smallest max(in, out), then smallest in, then
// smallest out (so the first pair inside the smallest square grid
// 1..N x 1..N that holds one). `output` is the first differing cell.
struct Float32Disagreement {
  int64_t in = 0, out = 0, output = 0;
  Window expected, actual;
};

// Searches every pair with max(in, out) <= max_side, skipping only the cells
// whose float32 quotients are provably exact (both the numerator o*in or
// (o+1)*in and out below 2^24; see docs/CONVENTIONS.md). nullopt when none
// is found. Throws adapool::Error for a convention that is not float32, or
// max_side outside 1..2^24.
std::optional<Float32Disagreement> first_float32_disagreement(Convention convention,
                                                              int64_t max_side = 1 << 16);

// Float32 conventions: float32_bounds, float32_end, float32_two_sizes.
bool computes_in_float32(Convention convention) noexcept;

}  // namespace adapool
