// The window rule of adaptive pooling, and everything derived from it.
//
// This is the one place that decides which input cells feed which output cell
// (SEMANTICS.md, "Windows"). Plans, kernels, the C API, the command-line
// program and the Python bindings all include it; nothing else may compute a
// window bound. Pure integer arithmetic, header-only, no allocation except in
// the table builders.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace adapool {

// Output cell `o` of a dimension pooled from `in` to `out` cells averages the
// half-open input range [window_begin, window_end). Preconditions (checked by
// plan creation, not here): in >= 1, out >= 1, 0 <= o < out, in * out fits in
// int64. The forms below never form a product larger than in * out.
constexpr int64_t window_begin(int64_t o, int64_t in, int64_t out) noexcept {
  return (o / out) * in + ((o % out) * in) / out;
}

constexpr int64_t window_end(int64_t o, int64_t in, int64_t out) noexcept {
  return 1 + ((o + 1) * in - 1) / out;
}

constexpr int64_t window_count(int64_t o, int64_t in, int64_t out) noexcept {
  return window_end(o, in, out) - window_begin(o, in, out);
}

// True when in * out (the largest product the rule forms) fits in int64.
constexpr bool window_arithmetic_fits(int64_t in, int64_t out) noexcept {
  int64_t product = 0;
  return in >= 0 && out >= 0 && !__builtin_mul_overflow(in, out, &product);
}

struct Window {
  int64_t begin;
  int64_t end;
  int64_t count() const noexcept { return end - begin; }
  friend bool operator==(const Window&, const Window&) = default;
};

inline std::vector<Window> windows(int64_t in, int64_t out) {
  std::vector<Window> result;
  result.reserve(static_cast<size_t>(out > 0 ? out : 0));
  for (int64_t o = 0; o < out; ++o) {
    result.push_back({window_begin(o, in, out), window_end(o, in, out)});
  }
  return result;
}

// For each input cell i, the output cells whose windows hold it: the half-open
// range [begin, end) of output indices. Both window bounds are non-decreasing
// in o, so the set is contiguous. Empty (begin == end) only when out == 0.
inline std::vector<Window> inverse_windows(int64_t in, int64_t out) {
  std::vector<Window> result(static_cast<size_t>(in), Window{0, 0});
  int64_t first = 0;  // first output whose window has not ended before i
  for (int64_t i = 0; i < in; ++i) {
    while (first < out && window_end(first, in, out) <= i) ++first;
    int64_t last = first;
    while (last < out && window_begin(last, in, out) <= i) ++last;
    result[static_cast<size_t>(i)] = {first, last};
  }
  return result;
}

// A fixed AvgPool(kernel, stride, padding 0) whose windows are exactly the
// adaptive ones: every count equals `kernel` and begin(o) == o * stride.
struct FixedPool {
  int64_t kernel;
  int64_t stride;
  friend bool operator==(const FixedPool&, const FixedPool&) = default;
};

// Closed form (the tests check it against the definition by brute force):
// with s = in / out, begin(o) = o*s + floor(o*r/out) and end(o) = (o+1)*s +
// ceil((o+1)*r/out) for r = in % out. begin(o) == o*s for every o needs
// r*(out-1) < out, i.e. r == 0 or r == 1 (or out == 1); then every count is s
// (r == 0) or s + 1 (r == 1), and a stride needs s >= 1.
inline std::optional<FixedPool> fixed_pool_equivalent(int64_t in, int64_t out) {
  if (in < 1 || out < 1) return std::nullopt;
  const int64_t stride = in / out;
  const int64_t remainder = in % out;
  if (out == 1) return FixedPool{in, in};
  if (stride < 1 || remainder > 1) return std::nullopt;
  return FixedPool{stride + remainder, stride};
}

// The popular but wrong rule "kernel = ceil(in/out), stride = floor(in/out)".
// `outputs` is how many cells an AvgPool with that kernel and stride would
// produce (0 when stride is 0, i.e. out > in, where the rule is meaningless);
// `matches` says whether its windows are the adaptive ones.
struct CeilFloorRule {
  int64_t kernel;
  int64_t stride;
  int64_t outputs;
  bool matches;
};

inline CeilFloorRule ceil_floor_rule(int64_t in, int64_t out) {
  CeilFloorRule rule{0, 0, 0, false};
  if (in < 1 || out < 1) return rule;
  rule.kernel = (in + out - 1) / out;
  rule.stride = in / out;
  if (rule.stride < 1) return rule;
  rule.outputs = (in - rule.kernel) / rule.stride + 1;
  const std::optional<FixedPool> exact = fixed_pool_equivalent(in, out);
  rule.matches = exact && exact->kernel == rule.kernel && exact->stride == rule.stride;
  return rule;
}

}  // namespace adapool
