// The facts behind `adapool explain IN OUT --compare` and adapool.compare():
// every convention's windows beside PyTorch's, which output cells differ, and
// what that does to the values of a seeded random input and of the built-in
// image. Shared by the program and the Python bindings, so both report the
// same numbers; it needs neither CLI11 nor libpng.
#pragma once

#include <adapool/conventions.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace adapool::tools {

// Differing outputs listed per dimension (the count is always exact).
inline constexpr size_t kMaxListedOutputs = 32;
// Windows listed per dimension in JSON and Python; more are left out.
inline constexpr int64_t kMaxListedWindows = 1024;
// Values are measured when the input has at most this many cells...
inline constexpr int64_t kMaxMeasuredCells = int64_t{1} << 22;
// ...and pooling it takes at most this many additions per convention.
inline constexpr double kMaxMeasuredWork = double(int64_t{1} << 26);
// The random input: uniform in [0, 1), from std::mt19937_64 with this seed.
inline constexpr uint64_t kCompareSeed = 20240909;

struct ValueDifference {
  double max_abs = 0;
  double mean_abs = 0;  // over every output cell, equal ones included
};

struct AxisComparison {
  ConventionAxis axis;
  AxisDifference differing;  // against PyTorch; empty unless axis.usable()
};

struct ConventionComparison {
  const ConventionInfo* info = nullptr;
  std::vector<AxisComparison> axes;  // one per pooled dimension
  // Why it cannot be compared (a refusal or another output count); empty
  // when it can.
  std::string undefined;
  int64_t differing_cells = 0;  // output cells whose window differs
  int64_t cells = 0;            // output cells in all
  std::optional<ValueDifference> random, image;
  std::string not_measured;  // why random/image are missing, when comparable

  bool comparable() const { return undefined.empty(); }
  bool agrees() const { return comparable() && differing_cells == 0; }
};

struct Comparison {
  std::vector<int64_t> in, out;
  std::vector<ConventionComparison> conventions;  // PyTorch's first, as conventions()
};

// Throws ToolError unless there are 1 to 3 sizes on each side, as many
// outputs as inputs, each 1..kMaxConventionSize.
Comparison compare_conventions(std::span<const int64_t> in, std::span<const int64_t> out);

// The inputs the values are measured on, row-major with sizes `in`:
// uniform [0, 1) numbers from kCompareSeed...
std::vector<double> random_plane(int64_t cells, uint64_t seed);
// ...and the built-in image's gray levels (0..255, the mean of R, G and B),
// tiled: a 2-d input repeats the 192x256 picture, a 1-d one repeats its
// middle row, a 3-d one has the 2-d tiling in every depth slice.
std::vector<double> image_plane(std::span<const int64_t> in);

// The scan's facts beyond its grid: the first float32 disagreement of each
// float32 convention (first_float32_disagreement's order), searched up to
// max(in, out) = kFloat32SearchSide.
inline constexpr int64_t kFloat32SearchSide = int64_t{1} << 16;

struct Float32Finding {
  Convention convention;
  std::optional<Float32Disagreement> first;  // nullopt: none up to kFloat32SearchSide
};

std::vector<Float32Finding> float32_findings();

}  // namespace adapool::tools
