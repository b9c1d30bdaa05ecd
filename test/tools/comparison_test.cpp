// The facts behind `explain --compare`: differing cells, value differences
// recomputed here from the inputs and hand-written windows, the inputs
// themselves, and the limits.
#include "comparison.hpp"

#include "demo_image.hpp"
#include "io/tool_error.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace adapool::tools::testing {
namespace {

const ConventionComparison& named(const Comparison& comparison, const std::string& name) {
  for (const ConventionComparison& convention : comparison.conventions) {
    if (name == convention.info->name) return convention;
  }
  throw std::runtime_error("no convention " + name);
}

// max and mean |a - b| over two equally long lists.
ValueDifference gap(const std::vector<double>& a, const std::vector<double>& b) {
  ValueDifference result;
  for (size_t i = 0; i < a.size(); ++i) {
    result.max_abs = std::max(result.max_abs, std::abs(a[i] - b[i]));
    result.mean_abs += std::abs(a[i] - b[i]) / static_cast<double>(a.size());
  }
  return result;
}

TEST(Comparison, TenToSevenCellsAndValues) {
  const int64_t in[] = {10}, out[] = {7};
  const Comparison comparison = compare_conventions(in, out);
  ASSERT_EQ(comparison.conventions.size(), conventions().size());
  EXPECT_EQ(comparison.conventions[0].info->convention, Convention::pytorch);
  EXPECT_TRUE(comparison.conventions[0].agrees());

  const ConventionComparison& float32 = named(comparison, "float32_bounds");
  EXPECT_TRUE(float32.agrees());
  EXPECT_EQ(float32.random->max_abs, 0);
  EXPECT_EQ(float32.image->mean_abs, 0);

  const ConventionComparison& equal = named(comparison, "equal_kernel_stride");
  EXPECT_FALSE(equal.comparable());
  EXPECT_EQ(equal.undefined, "kernel = stride = 1 gives 10 outputs, not 7");
  EXPECT_FALSE(equal.random);

  // Equinox's windows, written out: the values must follow from them.
  const ConventionComparison& partition = named(comparison, "partition");
  ASSERT_TRUE(partition.comparable());
  EXPECT_EQ(partition.differing_cells, 6);
  EXPECT_EQ(partition.cells, 7);
  EXPECT_EQ(partition.axes[0].differing.first, (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
  const std::vector<double> noise = random_plane(10, kCompareSeed);
  const std::vector<double> picture = image_plane(in);
  std::vector<double> expected_noise, expected_picture;
  const std::vector<Window> reference = windows(10, 7);
  const std::vector<Window> equinox = {{0, 2}, {2, 4}, {4, 6}, {6, 7}, {7, 8}, {8, 9}, {9, 10}};
  const auto mean = [](const std::vector<double>& values, Window window) {
    double sum = 0;
    for (int64_t i = window.begin; i < window.end; ++i) sum += values[static_cast<size_t>(i)];
    return sum / static_cast<double>(window.count());
  };
  std::vector<double> reference_noise, reference_picture;
  for (size_t o = 0; o < 7; ++o) {
    reference_noise.push_back(mean(noise, reference[o]));
    expected_noise.push_back(mean(noise, equinox[o]));
    reference_picture.push_back(mean(picture, reference[o]));
    expected_picture.push_back(mean(picture, equinox[o]));
  }
  const ValueDifference noise_gap = gap(reference_noise, expected_noise);
  const ValueDifference picture_gap = gap(reference_picture, expected_picture);
  ASSERT_TRUE(partition.random && partition.image);
  EXPECT_DOUBLE_EQ(partition.random->max_abs, noise_gap.max_abs);
  EXPECT_DOUBLE_EQ(partition.random->mean_abs, noise_gap.mean_abs);
  EXPECT_DOUBLE_EQ(partition.image->max_abs, picture_gap.max_abs);
  EXPECT_DOUBLE_EQ(partition.image->mean_abs, picture_gap.mean_abs);
  EXPECT_GT(partition.random->max_abs, 0);

  EXPECT_EQ(named(comparison, "multiple_only").undefined, "refused: 7 does not divide 10");
}

TEST(Comparison, TwoDimensionsCountCellsAcrossAxes) {
  const int64_t in[] = {10, 10}, out[] = {5, 7};
  const Comparison comparison = compare_conventions(in, out);
  // Equinox: the height (10 -> 5) agrees, 6 of the 7 widths differ: 5 * 6 cells.
  EXPECT_EQ(named(comparison, "partition").differing_cells, 30);
  EXPECT_EQ(named(comparison, "partition").cells, 35);
  EXPECT_EQ(named(comparison, "derived_kernel").differing_cells, 35);
  // TF-Addons refuses the width; MPS refuses it too.
  EXPECT_EQ(named(comparison, "multiple_only").undefined, "refused: 7 does not divide 10");
  EXPECT_FALSE(named(comparison, "multiple_either_way").comparable());
}

TEST(Comparison, ShapeLevelRefusalWins) {
  const int64_t in[] = {5}, out[] = {15};
  const Comparison comparison = compare_conventions(in, out);
  const ConventionComparison& mps = named(comparison, "multiple_either_way");
  EXPECT_TRUE(mps.axes[0].axis.usable());
  EXPECT_EQ(mps.undefined,
            "refused: the output sizes must divide the input sizes (1-d pools as 2-d with height "
            "1 -> 1)");
}

TEST(Comparison, WindowsOutsideTheInputAreNotMeasured) {
  // 4047 -> 91005: the last float32 end rounds up to 4048.
  const int64_t in[] = {4047}, out[] = {91005};
  const Comparison comparison = compare_conventions(in, out);
  const ConventionComparison& float32 = named(comparison, "float32_bounds");
  ASSERT_TRUE(float32.comparable());
  EXPECT_GT(float32.differing_cells, 0);
  EXPECT_FALSE(float32.random);
  EXPECT_EQ(float32.not_measured,
            "not measured: window 91004 of dimension 0 is [4046, 4048), outside the input of "
            "4047 cells");
}

TEST(Comparison, LargeSizesAreComparedButNotMeasured) {
  const int64_t in[] = {1}, out[] = {(int64_t{1} << 24) + 1};
  const Comparison comparison = compare_conventions(in, out);
  const ConventionComparison& float32 = named(comparison, "float32_bounds");
  EXPECT_EQ(float32.differing_cells, 1);
  EXPECT_EQ(float32.axes[0].differing.first, (std::vector<int64_t>{int64_t{1} << 24}));
  EXPECT_EQ(float32.not_measured, "not measured: more than 2^22 input or output cells");
  // OpenVINO's integer begin and float32 end both round right here.
  EXPECT_TRUE(named(comparison, "float32_end").agrees());
}

TEST(Comparison, ImagePlaneTilesTheBuiltInPicture) {
  const Image image = demo_image();
  const auto gray = [&](int64_t row, int64_t column) {
    const size_t at = static_cast<size_t>((row * image.width + column) * 3);
    return (image.samples[at] + image.samples[at + 1] + image.samples[at + 2]) / 3.0;
  };
  const int64_t whole[] = {192, 256};
  const std::vector<double> plane = image_plane(whole);
  ASSERT_EQ(plane.size(), 192u * 256u);
  EXPECT_EQ(plane[5 * 256 + 7], gray(5, 7));
  const int64_t larger[] = {2, 200, 300};
  const std::vector<double> tiled = image_plane(larger);
  ASSERT_EQ(tiled.size(), 2u * 200u * 300u);
  EXPECT_EQ(tiled[(1 * 200 + 195) * 300 + 260], gray(3, 4));
  const int64_t line[] = {300};
  EXPECT_EQ(image_plane(line)[270], gray(96, 14));
}

TEST(Comparison, RandomPlaneIsReproducibleAndInRange) {
  const std::vector<double> a = random_plane(1000, kCompareSeed);
  EXPECT_EQ(a, random_plane(1000, kCompareSeed));
  EXPECT_NE(a, random_plane(1000, kCompareSeed + 1));
  for (const double value : a) {
    ASSERT_GE(value, 0);
    ASSERT_LT(value, 1);
  }
}

TEST(Comparison, BadSizesAreRefused) {
  const auto message = [](std::vector<int64_t> in, std::vector<int64_t> out) {
    try {
      compare_conventions(in, out);
    } catch (const ToolError& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message({10}, {0}),
            "compare: sizes [10] -> [0]: 0 is outside 1..67108864 (2^26), the sizes conventions "
            "are compared at");
  EXPECT_EQ(message({10, 10}, {5}),
            "compare: sizes [10, 10] -> [5]: expected 1 to 3 input sizes and as many output sizes");
  const int64_t big = int64_t{1} << 26;
  EXPECT_EQ(message({big, big, big}, {1, 1, 1}),
            "compare: sizes [67108864, 67108864, 67108864] -> [1, 1, 1]: more cells on one side "
            "than int64 counts");
  EXPECT_EQ(message({}, {}),
            "compare: sizes [] -> []: expected 1 to 3 input sizes and as many output sizes");
}

TEST(Comparison, Float32FindingsCoverTheFloat32Conventions) {
  const std::vector<Float32Finding> findings = float32_findings();
  ASSERT_EQ(findings.size(), 3u);
  for (const Float32Finding& finding : findings) {
    EXPECT_TRUE(computes_in_float32(finding.convention));
    ASSERT_TRUE(finding.first);
    EXPECT_EQ(finding.first->in, 4097);
  }
}

}  // namespace
}  // namespace adapool::tools::testing
