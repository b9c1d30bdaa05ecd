// Test support: strided buffers in every layout, and a reference written as
// plainly as possible (nested loops, double accumulation, the textbook
// floor/ceil window definition rather than the library's header).
#pragma once

#include <adapool/adapool.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace adapool::testing {

enum class LayoutKind {
  contiguous,
  channels_last,
  transposed,  // dimension 0 innermost: every dimension order reversed
  sliced,      // every dimension stepped by 2, starting at index 1, of a larger buffer
  flipped,     // channel and last dimension with negative strides
  expanded,    // channel dimension with stride 0 (inputs only)
};
const char* name(LayoutKind kind);
inline constexpr LayoutKind kOutputLayouts[] = {LayoutKind::contiguous, LayoutKind::channels_last,
                                                LayoutKind::transposed, LayoutKind::sliced,
                                                LayoutKind::flipped};
inline constexpr LayoutKind kInputLayouts[] = {LayoutKind::contiguous, LayoutKind::channels_last,
                                               LayoutKind::transposed, LayoutKind::sliced,
                                               LayoutKind::flipped,    LayoutKind::expanded};
inline constexpr DType kDTypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16};

// A logical tensor of doubles in row-major order.
struct Dense {
  std::vector<int64_t> shape;
  std::vector<double> values;
  explicit Dense(std::vector<int64_t> sizes);
};

// A tensor stored in some layout inside a larger buffer filled with a
// sentinel, so writes outside the view can be detected.
class Strided {
 public:
  Strided(const std::vector<int64_t>& sizes, LayoutKind kind, int spatial_dims, DType dtype);
  const Layout& layout() const { return layout_; }
  void* data();
  const void* data() const;
  // Element `linear` (row-major logical order) as double, or stored from double.
  double get(int64_t linear) const;
  void set(int64_t linear, double value);
  // Max pooling's int64 indices live in a Strided of DType::f64 (8-byte
  // elements): element `linear` read and written as int64.
  int64_t get_index(int64_t linear) const;
  void set_index(int64_t linear, int64_t value);
  int64_t* index_data() { return static_cast<int64_t*>(data()); }
  Dense read() const;
  void write(const Dense& values);
  void fill_random(std::mt19937_64& rng);
  // True when every byte outside the view still holds the sentinel.
  bool outside_untouched() const;

 private:
  int64_t offset_of(int64_t linear) const;  // element offset from data()
  Layout layout_;
  DType dtype_;
  int64_t base_ = 0;  // element index of the view's origin in the buffer
  std::vector<uint64_t> storage_;
};

// Rounds `value` to `dtype` the way the library stores a result.
double round_to(DType dtype, double value);

Dense reference_forward(const Dense& x, int spatial_dims, const std::vector<int64_t>& out_shape);
Dense reference_backward(const Dense& dy, int spatial_dims, const std::vector<int64_t>& in_shape);

// Adaptive max pooling the textbook way: values and flat plane indices
// (as doubles) of the last NaN, else the first maximum, of every window.
struct MaxResult {
  Dense values;
  Dense indices;
};
MaxResult reference_max_forward(const Dense& x, int spatial_dims,
                                const std::vector<int64_t>& out_shape);
// grad_input: every output's gradient added at its index, in output order,
// rounding to dtype after each addition (PyTorch's scatter), to cells that
// start at `start` (Options::destination_zeroed adds to what dx holds).
Dense reference_max_backward(const Dense& dy, const Dense& indices, int spatial_dims,
                             const std::vector<int64_t>& in_shape, DType dtype, double start = 0.0);

// "" when `got` matches `expected` (rounded to dtype) within one unit in the
// last place of dtype; otherwise a description of the first mismatch.
std::string compare(const Dense& got, const Dense& expected, DType dtype);

std::string describe(const std::vector<int64_t>& shape);

// One forward + backward check against the reference.
struct Case {
  int spatial_dims = 2;
  std::vector<int64_t> in_shape;
  std::vector<int64_t> out_shape;
  DType dtype = DType::f32;
  LayoutKind in_layout = LayoutKind::contiguous;
  LayoutKind out_layout = LayoutKind::contiguous;
  int threads = 1;
  std::string label() const;
};

// Runs forward and backward for one case on fresh random data; returns ""
// or what went wrong (mismatch, or a write outside the destination view).
std::string check(const Case& c, std::mt19937_64& rng);

// Max pooling forward (with and without indices, on inputs full of ties,
// NaN and -inf) and backward from its indices, exactly against the
// reference; "" or what went wrong.
std::string check_max(const Case& c, std::mt19937_64& rng);

}  // namespace adapool::testing
