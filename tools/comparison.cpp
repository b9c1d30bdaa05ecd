#include "comparison.hpp"

#include "demo_image.hpp"
#include "io/tool_error.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>

namespace adapool::tools {

namespace {

std::string format_sizes(std::span<const int64_t> sizes) {
  std::ostringstream text;
  text << '[';
  for (size_t d = 0; d < sizes.size(); ++d) text << (d ? ", " : "") << sizes[d];
  text << ']';
  return text.str();
}

// Callers have checked that every product fits (compare_conventions).
int64_t product(std::span<const int64_t> sizes) {
  int64_t result = 1;
  for (const int64_t size : sizes) result *= size;
  return result;
}

bool product_fits(std::span<const int64_t> sizes) {
  int64_t result = 1;
  for (const int64_t size : sizes) {
    if (__builtin_mul_overflow(result, size, &result)) return false;
  }
  return true;
}

ValueDifference difference(const std::vector<double>& expected, const std::vector<double>& actual) {
  ValueDifference result;
  double sum = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double gap = std::abs(expected[i] - actual[i]);
    result.max_abs = std::max(result.max_abs, gap);
    sum += gap;
  }
  result.mean_abs = expected.empty() ? 0 : sum / static_cast<double>(expected.size());
  return result;
}

// The two inputs and their pooling under PyTorch's windows, made once and
// only when some convention's values need measuring.
struct Reference {
  std::vector<std::vector<Window>> windows;
  std::vector<double> noise, picture, pooled_noise, pooled_picture;

  explicit Reference(std::span<const int64_t> in, std::span<const int64_t> out) {
    for (size_t d = 0; d < in.size(); ++d) windows.push_back(adapool::windows(in[d], out[d]));
    noise = random_plane(product(in), kCompareSeed);
    picture = image_plane(in);
    pooled_noise = pool_plane(noise, in, windows);
    pooled_picture = pool_plane(picture, in, windows);
  }
};

// Differences in the values, or why they are not measured.
void measure(ConventionComparison& comparison, std::span<const int64_t> in,
             std::span<const int64_t> out, std::optional<Reference>& reference) {
  if (comparison.differing_cells == 0) {
    // The same windows, averaged by the same loop: the same values.
    comparison.random = comparison.image = ValueDifference{};
    return;
  }
  std::vector<std::vector<Window>> windows;
  for (size_t d = 0; d < comparison.axes.size(); ++d) {
    windows.push_back(comparison.axes[d].axis.windows());
    for (size_t o = 0; o < windows[d].size(); ++o) {
      const Window& window = windows[d][o];
      if (!window_in_bounds(window, in[d])) {
        std::ostringstream text;
        text << "not measured: window " << o << " of dimension " << d << " is [" << window.begin
             << ", " << window.end << "), ";
        if (window.end <= window.begin) {
          text << "empty";
        } else {
          text << "outside the input of " << in[d] << " cells";
        }
        comparison.not_measured = text.str();
        return;
      }
    }
  }
  if (!reference) reference.emplace(in, out);
  const double work = pool_plane_cost(windows) + pool_plane_cost(reference->windows);
  if (work > kMaxMeasuredWork) {
    std::ostringstream text;
    text << "not measured: pooling takes " << work << " additions, more than 2^26";
    comparison.not_measured = text.str();
    return;
  }
  comparison.random =
      difference(reference->pooled_noise, pool_plane(reference->noise, in, windows));
  comparison.image =
      difference(reference->pooled_picture, pool_plane(reference->picture, in, windows));
}

}  // namespace

std::vector<double> random_plane(int64_t cells, uint64_t seed) {
  // The top 53 bits of each draw, scaled: the same numbers with every
  // standard library (std::uniform_real_distribution is not specified).
  std::mt19937_64 engine(seed);
  std::vector<double> plane(static_cast<size_t>(cells));
  for (double& value : plane) value = static_cast<double>(engine() >> 11) * 0x1.0p-53;
  return plane;
}

std::vector<double> image_plane(std::span<const int64_t> in) {
  const Image image = demo_image();
  const auto gray = [&](int64_t row, int64_t column) {
    const size_t at = static_cast<size_t>(
        ((row % image.height) * image.width + column % image.width) * image.channels);
    return (image.samples[at] + image.samples[at + 1] + image.samples[at + 2]) / 3.0;
  };
  const int64_t rows = in.size() >= 2 ? in[in.size() - 2] : 1;
  const int64_t columns = in.back();
  const int64_t slices = in.size() == 3 ? in[0] : 1;
  std::vector<double> plane;
  plane.reserve(static_cast<size_t>(slices * rows * columns));
  for (int64_t slice = 0; slice < slices; ++slice) {
    for (int64_t row = 0; row < rows; ++row) {
      for (int64_t column = 0; column < columns; ++column) {
        plane.push_back(gray(in.size() == 1 ? image.height / 2 : row, column));
      }
    }
  }
  return plane;
}

Comparison compare_conventions(std::span<const int64_t> in, std::span<const int64_t> out) {
  if (in.empty() || in.size() > 3 || out.size() != in.size()) {
    fail("compare: sizes ", format_sizes(in), " -> ", format_sizes(out),
         ": expected 1 to 3 input sizes and as many output sizes");
  }
  for (size_t d = 0; d < in.size(); ++d) {
    if (in[d] < 1 || in[d] > kMaxConventionSize || out[d] < 1 || out[d] > kMaxConventionSize) {
      fail("compare: sizes ", format_sizes(in), " -> ", format_sizes(out), ": ",
           in[d] < 1 || in[d] > kMaxConventionSize ? in[d] : out[d], " is outside 1..",
           kMaxConventionSize, " (2^26), the sizes conventions are compared at");
    }
  }
  if (!product_fits(in) || !product_fits(out)) {
    fail("compare: sizes ", format_sizes(in), " -> ", format_sizes(out),
         ": more cells on one side than int64 counts");
  }
  Comparison comparison;
  comparison.in.assign(in.begin(), in.end());
  comparison.out.assign(out.begin(), out.end());
  const bool measurable = product(in) <= kMaxMeasuredCells && product(out) <= kMaxMeasuredCells;
  std::optional<Reference> reference;
  for (const ConventionInfo& info : conventions()) {
    ConventionComparison& result = comparison.conventions.emplace_back();
    result.info = &info;
    result.cells = product(out);
    int64_t agreeing_cells = 1;
    for (size_t d = 0; d < in.size(); ++d) {
      AxisComparison& axis = result.axes.emplace_back();
      axis.axis = convention_axis(info.convention, in[d], out[d]);
      if (axis.axis.usable()) {
        axis.differing = differing_outputs(axis.axis, kMaxListedOutputs);
        agreeing_cells *= out[d] - axis.differing.count;
      } else if (result.undefined.empty()) {
        result.undefined = axis.axis.reason;
      }
    }
    if (result.undefined.empty()) {
      if (std::optional<std::string> refusal = convention_refuses_shape(info.convention, in, out)) {
        result.undefined = *refusal;
      }
    }
    if (!result.comparable()) continue;
    result.differing_cells = result.cells - agreeing_cells;
    if (measurable) {
      measure(result, in, out, reference);
    } else {
      result.not_measured = "not measured: more than 2^22 input or output cells";
    }
  }
  return comparison;
}

std::vector<Float32Finding> float32_findings() {
  std::vector<Float32Finding> findings;
  for (const ConventionInfo& info : conventions()) {
    if (computes_in_float32(info.convention)) {
      findings.push_back(
          {info.convention, first_float32_disagreement(info.convention, kFloat32SearchSide)});
    }
  }
  return findings;
}

}  // namespace adapool::tools
