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

// A bound on window_count(o, in, out) over every o: with in = q * out + r,
// a window holds exactly q cells where r == 0, and otherwise fewer than
// in / out + 2 (end rounds in / out cells' span up, begin rounds down), so at
// most q + 2; output larger than input gives 1 or 2. Same preconditions.
constexpr int64_t window_count_bound(int64_t in, int64_t out) noexcept {
  return in / out + (in % out == 0 ? 0 : 2);
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

// The windows of consecutive cells first, first + 1, ... one after another
// with no division per cell: begin(o) and end(o) - 1 are floor(o*in/out) and
// floor(((o+1)*in - 1)/out), whose numerators grow by `in` per cell.
class WindowWalker {
 public:
  WindowWalker(int64_t first, int64_t in, int64_t out) noexcept
      : out_(out),
        step_quotient_(in / out),
        step_remainder_(in % out),
        begin_quotient_(window_begin(first, in, out)),
        begin_remainder_(((first % out) * in) % out),
        end_quotient_(window_end(first, in, out) - 1),
        end_remainder_(((first % out + 1) * in - 1) % out) {}

  Window window() const noexcept { return {begin_quotient_, end_quotient_ + 1}; }

  void next() noexcept {
    advance(begin_quotient_, begin_remainder_);
    advance(end_quotient_, end_remainder_);
  }

 private:
  void advance(int64_t& quotient, int64_t& remainder) const noexcept {
    quotient += step_quotient_;
    remainder += step_remainder_;
    if (remainder >= out_) {
      remainder -= out_;
      ++quotient;
    }
  }

  int64_t out_;
  int64_t step_quotient_;
  int64_t step_remainder_;
  int64_t begin_quotient_;
  int64_t begin_remainder_;
  int64_t end_quotient_;
  int64_t end_remainder_;
};

inline std::vector<Window> windows(int64_t in, int64_t out) {
  std::vector<Window> result;
  result.reserve(static_cast<size_t>(out > 0 ? out : 0));
  for (int64_t o = 0; o < out; ++o) {
    result.push_back({window_begin(o, in, out), window_end(o, in, out)});
  }
  return result;
}

// The output cells whose windows hold input cell i: the half-open range
// [inverse_begin, inverse_end). begin(o) <= i  <=>  o < ceil((i+1)*out/in) and
// end(o) > i  <=>  o >= floor(i*out/in), so the range is the window of cell i
// when pooling `out` cells to `in`. Empty only when out == 0. Same
// preconditions as window_begin, with 0 <= i < in.
constexpr int64_t inverse_begin(int64_t i, int64_t in, int64_t out) noexcept {
  return out == 0 ? 0 : window_begin(i, out, in);
}

constexpr int64_t inverse_end(int64_t i, int64_t in, int64_t out) noexcept {
  return out == 0 ? 0 : window_end(i, out, in);
}

inline std::vector<Window> inverse_windows(int64_t in, int64_t out) {
  std::vector<Window> result;
  result.reserve(static_cast<size_t>(in > 0 ? in : 0));
  for (int64_t i = 0; i < in; ++i)
    result.push_back({inverse_begin(i, in, out), inverse_end(i, in, out)});
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
