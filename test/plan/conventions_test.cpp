// Other systems' window conventions against hand-worked cases of each
// system's formula (docs/CONVENTIONS.md), the float32 drift, the scan and
// the plain pooling loop used to measure differences.
#include <adapool/adapool.hpp>
#include <adapool/conventions.hpp>

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace adapool {
namespace {

std::vector<Window> windows_of(Convention convention, int64_t in, int64_t out) {
  return convention_axis(convention, in, out).windows();
}

std::vector<int64_t> differing(Convention convention, int64_t in, int64_t out) {
  return differing_outputs(convention_axis(convention, in, out), 1000).first;
}

// The message of the adapool::Error that `action` throws.
template <class Action>
std::string error_of(Action action) {
  try {
    action();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::invalid_argument);
    return error.what();
  }
  ADD_FAILURE() << "no adapool::Error thrown";
  return {};
}

TEST(Conventions, CatalogueStartsWithPyTorchAndNamesAreUnique) {
  const std::span<const ConventionInfo> all = conventions();
  ASSERT_EQ(all.size(), 9u);
  EXPECT_EQ(all[0].convention, Convention::pytorch);
  std::set<std::string> names;
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(all[i].convention), i) << "enum order";
    EXPECT_TRUE(names.insert(all[i].name).second) << all[i].name;
    EXPECT_FALSE(std::string(all[i].computes).empty());
    EXPECT_FALSE(std::string(all[i].used_by).empty());
    EXPECT_EQ(convention_named(all[i].name), all[i].convention);
    EXPECT_EQ(&convention_info(all[i].convention), &all[i]);
  }
  EXPECT_EQ(convention_named("mxnet"), std::nullopt);
}

TEST(Conventions, PyTorchIsTheWindowRule) {
  for (int64_t in = 1; in <= 40; ++in) {
    for (int64_t out = 1; out <= 40; ++out) {
      const ConventionAxis axis = convention_axis(Convention::pytorch, in, out);
      ASSERT_TRUE(axis.usable());
      ASSERT_EQ(axis.windows(), windows(in, out)) << in << " -> " << out;
      ASSERT_EQ(differing_outputs(axis, 10).count, 0);
    }
  }
}

// 10 -> 7: PyTorch's windows are [0,2) [1,3) [2,5) [4,6) [5,8) [7,9) [8,10).
TEST(Conventions, TenToSevenUnderEachConvention) {
  // torch2trt / fx2trt: kernel = stride = 10 // 7 = 1, so an AvgPool(1, 1)
  // with (10 - 1) / 1 + 1 = 10 outputs.
  const ConventionAxis equal = convention_axis(Convention::equal_kernel_stride, 10, 7);
  EXPECT_EQ(equal.status, ConventionAxis::Status::other_count);
  EXPECT_EQ(equal.kernel, 1);
  EXPECT_EQ(equal.stride, 1);
  EXPECT_EQ(equal.outputs, 10);
  EXPECT_EQ(equal.reason, "kernel = stride = 1 gives 10 outputs, not 7");
  EXPECT_EQ(equal.window(9), (Window{9, 10}));

  // Flux: stride = 10 ÷ 7 = 1, kernel = 10 - 6 * 1 = 4.
  const ConventionAxis derived = convention_axis(Convention::derived_kernel, 10, 7);
  ASSERT_TRUE(derived.usable());
  EXPECT_EQ(derived.stride, 1);
  EXPECT_EQ(derived.kernel, 4);
  EXPECT_EQ(derived.windows(),
            (std::vector<Window>{{0, 4}, {1, 5}, {2, 6}, {3, 7}, {4, 8}, {5, 9}, {6, 10}}));
  EXPECT_EQ(differing(Convention::derived_kernel, 10, 7),
            (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));

  // Equinox: 10 % 7 = 3 windows of 2 cells, then 4 of 1.
  EXPECT_EQ(windows_of(Convention::partition, 10, 7),
            (std::vector<Window>{{0, 2}, {2, 4}, {4, 6}, {6, 7}, {7, 8}, {8, 9}, {9, 10}}));
  EXPECT_EQ(differing(Convention::partition, 10, 7), (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));

  const ConventionAxis multiple = convention_axis(Convention::multiple_only, 10, 7);
  EXPECT_EQ(multiple.status, ConventionAxis::Status::refuses);
  EXPECT_EQ(multiple.outputs, 0);
  EXPECT_EQ(multiple.reason, "refused: 7 does not divide 10");
  EXPECT_EQ(convention_axis(Convention::multiple_either_way, 10, 7).reason,
            "refused: neither of 10 and 7 divides the other");

  for (const Convention convention :
       {Convention::float32_bounds, Convention::float32_end, Convention::float32_two_sizes}) {
    EXPECT_EQ(windows_of(convention, 10, 7), windows(10, 7)) << convention_info(convention).name;
  }
}

// 5 -> 13 (out > in): PyTorch's windows hold one or two neighbours.
TEST(Conventions, FiveToThirteenIsRefusedByTheKernelConventions) {
  EXPECT_EQ(convention_axis(Convention::equal_kernel_stride, 5, 13).reason,
            "kernel = stride = floor(5/13) = 0: no window (out > in)");
  EXPECT_EQ(convention_axis(Convention::derived_kernel, 5, 13).reason,
            "stride = floor(5/13) = 0: no pooling (out > in)");
  EXPECT_EQ(convention_axis(Convention::partition, 5, 13).reason,
            "out > in: splitting 5 cells into 13 parts of floor(in/out) = 0 fails");
  EXPECT_EQ(convention_axis(Convention::multiple_either_way, 5, 13).status,
            ConventionAxis::Status::refuses);
  for (const Convention convention :
       {Convention::float32_bounds, Convention::float32_end, Convention::float32_two_sizes}) {
    EXPECT_EQ(windows_of(convention, 5, 13), windows(5, 13));
  }
  // Keras: windows of ceil(5/13) = 1 or 2 cells; PyTorch's have exactly those sizes.
  EXPECT_EQ(convention_axis(Convention::float32_two_sizes, 5, 13).window(2), (Window{0, 2}));
}

// 65 -> 6 (ResNet-style odd sizes): PyTorch begins 0,10,21,32,43,54 and
// ends 11,22,33,44,55,65.
TEST(Conventions, SixtyFiveToSix) {
  // kernel = stride = 10 gives (65 - 10) / 10 + 1 = 6 outputs: comparable,
  // and the last 5 inputs are never read.
  const ConventionAxis equal = convention_axis(Convention::equal_kernel_stride, 65, 6);
  ASSERT_TRUE(equal.usable());
  EXPECT_EQ(equal.windows(),
            (std::vector<Window>{{0, 10}, {10, 20}, {20, 30}, {30, 40}, {40, 50}, {50, 60}}));
  EXPECT_EQ(differing(Convention::equal_kernel_stride, 65, 6),
            (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  // stride 10, kernel 65 - 5 * 10 = 15.
  EXPECT_EQ(windows_of(Convention::derived_kernel, 65, 6),
            (std::vector<Window>{{0, 15}, {10, 25}, {20, 35}, {30, 45}, {40, 55}, {50, 65}}));
  // 65 % 6 = 5 windows of 11, then one of 10.
  EXPECT_EQ(windows_of(Convention::partition, 65, 6),
            (std::vector<Window>{{0, 11}, {11, 22}, {22, 33}, {33, 44}, {44, 55}, {55, 65}}));
  EXPECT_EQ(differing(Convention::partition, 65, 6), (std::vector<int64_t>{1, 2, 3, 4, 5}));
}

TEST(Conventions, MultiplesUsePyTorchsWindows) {
  EXPECT_EQ(windows_of(Convention::multiple_only, 12, 4), windows(12, 4));
  EXPECT_EQ(windows_of(Convention::multiple_either_way, 5, 15), windows(5, 15));
  EXPECT_EQ(convention_axis(Convention::multiple_only, 5, 15).status,
            ConventionAxis::Status::refuses);
}

// PyTorch MPS decides the direction by the height, and pools 1-d as 2-d
// with height 1 -> 1 (AdaptivePooling.mm, set_kernel_params).
TEST(Conventions, MpsRulesAcrossDimensions) {
  const int64_t in_1d[] = {5}, out_1d[] = {15};
  EXPECT_EQ(convention_refuses_shape(Convention::multiple_either_way, in_1d, out_1d),
            "refused: the output sizes must divide the input sizes (1-d pools as 2-d with height "
            "1 -> 1)");
  const int64_t in_up[] = {5, 4}, out_up[] = {15, 8};
  EXPECT_EQ(convention_refuses_shape(Convention::multiple_either_way, in_up, out_up), std::nullopt);
  const int64_t in_mixed[] = {10, 5}, out_mixed[] = {5, 15};
  EXPECT_EQ(convention_refuses_shape(Convention::multiple_either_way, in_mixed, out_mixed),
            "refused: one axis shrinks and the other grows");
  // Height kept (4 -> 4) takes the shrinking branch, where 2 -> 4 does not divide.
  const int64_t in_kept[] = {4, 2}, out_kept[] = {4, 4};
  EXPECT_EQ(convention_refuses_shape(Convention::multiple_either_way, in_kept, out_kept),
            "refused: the output sizes must divide the input sizes");
  const int64_t in_3d[] = {4, 4, 4}, out_3d[] = {2, 2, 2};
  EXPECT_TRUE(convention_refuses_shape(Convention::multiple_either_way, in_3d, out_3d));
  EXPECT_EQ(convention_refuses_shape(Convention::derived_kernel, in_mixed, out_mixed),
            std::nullopt);
}

// 4097 -> 4098, last cell: (o+1)*in = 4097^2 = 16785409 rounds to the float
// 16785408 = 4096 * 4098, so the float32 end is exactly 4096, not 4097.
TEST(Conventions, Float32EndDriftsAt4097To4098) {
  for (const Convention convention :
       {Convention::float32_bounds, Convention::float32_end, Convention::float32_two_sizes}) {
    const ConventionAxis axis = convention_axis(convention, 4097, 4098);
    EXPECT_EQ(axis.window(4096), (Window{4095, 4096})) << convention_info(convention).name;
    EXPECT_EQ(differing_outputs(axis, 10).first, (std::vector<int64_t>{4096}));
  }
  EXPECT_EQ(window_end(4096, 4097, 4098), 4097);
}

// 8193 -> 8192, cell 8191: o*in = 8192^2 - 1 rounds up to 2^26, so the
// float32 begin is 8192 where PyTorch's is 8191. OpenVINO's integer begin
// keeps it right; Keras keeps the float begin and a 2-cell window (its
// bounds are 1 apart, not ceil(8193/8192) + 1 = 3), reaching past the input.
TEST(Conventions, Float32BeginDriftsAt8193To8192) {
  EXPECT_EQ(window_begin(8191, 8193, 8192), 8191);
  const ConventionAxis bounds = convention_axis(Convention::float32_bounds, 8193, 8192);
  EXPECT_EQ(bounds.window(8191), (Window{8192, 8193}));
  EXPECT_EQ(differing_outputs(bounds, 10).first, (std::vector<int64_t>{8190, 8191}));
  EXPECT_EQ(differing_outputs(convention_axis(Convention::float32_end, 8193, 8192), 10).count, 0);
  const Window keras = convention_axis(Convention::float32_two_sizes, 8193, 8192).window(8191);
  EXPECT_EQ(keras, (Window{8192, 8194}));
  EXPECT_FALSE(window_in_bounds(keras, 8193));
}

// 1 -> 2^24 + 1: out itself is no float32; the last float window is empty.
TEST(Conventions, Float32OutputSizeBeyond2To24) {
  const int64_t out = (int64_t{1} << 24) + 1;
  const Window last = convention_axis(Convention::float32_bounds, 1, out).window(out - 1);
  EXPECT_EQ(last, (Window{1, 1}));
  EXPECT_FALSE(window_in_bounds(last, 1));
}

// Float32 bounds are exact while every numerator and out are at most 2^24:
// checked cell by cell on pairs just under in * out = 2^24.
TEST(Conventions, Float32BoundsAreExactUpTo2To24) {
  constexpr int64_t kLimit = int64_t{1} << 24;
  for (int64_t in = 1; in <= kLimit; in = in * 3 + 1) {
    const int64_t out = kLimit / in;
    for (const Convention convention :
         {Convention::float32_bounds, Convention::float32_end, Convention::float32_two_sizes}) {
      const ConventionAxis axis = convention_axis(convention, in, out);
      for (int64_t o = 0; o < out; ++o) {
        ASSERT_EQ(axis.window(o), (Window{window_begin(o, in, out), window_end(o, in, out)}))
            << convention_info(convention).name << " " << in << " -> " << out << " cell " << o;
      }
    }
  }
}

TEST(Conventions, FirstFloat32DisagreementIs4097To4098) {
  for (const Convention convention :
       {Convention::float32_bounds, Convention::float32_end, Convention::float32_two_sizes}) {
    const std::optional<Float32Disagreement> first = first_float32_disagreement(convention);
    ASSERT_TRUE(first) << convention_info(convention).name;
    EXPECT_EQ(first->in, 4097);
    EXPECT_EQ(first->out, 4098);
    EXPECT_EQ(first->output, 4096);
    EXPECT_EQ(first->expected, (Window{4095, 4097}));
    EXPECT_EQ(first->actual, (Window{4095, 4096}));
  }
  // Up to a side of 4097 there is none.
  EXPECT_EQ(first_float32_disagreement(Convention::float32_bounds, 4097), std::nullopt);
  // Every pair with max(in, out) = 4097 or 4098 and in < 4097 agrees, cell by cell.
  for (int64_t in = 4000; in < 4097; in += 3) {
    for (const int64_t out : {int64_t{4097}, int64_t{4098}}) {
      const ConventionAxis axis = convention_axis(Convention::float32_bounds, in, out);
      for (int64_t o = 0; o < out; ++o) {
        ASSERT_EQ(axis.window(o), (Window{window_begin(o, in, out), window_end(o, in, out)}))
            << in << " -> " << out << " cell " << o;
      }
    }
  }
  EXPECT_NE(error_of([] {
              first_float32_disagreement(Convention::partition);
            }).find("partition does not compute in float32"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              first_float32_disagreement(Convention::float32_end, 0);
            }).find("max_side 0 must be 1..16777216"),
            std::string::npos);
}

TEST(Conventions, ScanTalliesAndStates) {
  const ConventionScan scan = scan_conventions(70, 12);
  EXPECT_EQ(scan.in_max, 70);
  EXPECT_EQ(scan.out_max, 12);
  for (const ConventionInfo& info : conventions()) {
    const ConventionScan::Tally& tally = scan.tallies[static_cast<size_t>(info.convention)];
    EXPECT_EQ(tally.agrees + tally.differs + tally.undefined, 70 * 12) << info.name;
    // Every state is what a single comparison says.
    for (int64_t in = 1; in <= 70; ++in) {
      for (int64_t out = 1; out <= 12; ++out) {
        const ConventionAxis axis = convention_axis(info.convention, in, out);
        Agreement expected = Agreement::undefined;
        if (axis.usable()) {
          expected = Agreement::agrees;
          for (int64_t o = 0; o < out; ++o) {
            if (axis.window(o) != Window{window_begin(o, in, out), window_end(o, in, out)}) {
              expected = Agreement::differs;
            }
          }
        }
        ASSERT_EQ(scan.at(info.convention, in, out), expected)
            << info.name << " " << in << " -> " << out;
      }
    }
  }
  EXPECT_EQ(scan.tallies[0].agrees, 70 * 12);
  EXPECT_EQ(scan.at(Convention::equal_kernel_stride, 65, 6), Agreement::differs);
  EXPECT_EQ(scan.at(Convention::equal_kernel_stride, 10, 7), Agreement::undefined);
  EXPECT_EQ(scan.at(Convention::multiple_only, 12, 4), Agreement::agrees);
  EXPECT_EQ(scan.at(Convention::multiple_only, 12, 5), Agreement::undefined);
  EXPECT_EQ(scan.at(Convention::derived_kernel, 15, 7), Agreement::agrees);  // 15 % 7 == 1
  EXPECT_NE(error_of([&] { scan.at(Convention::pytorch, 71, 1); }).find("71 -> 1"),
            std::string::npos);
}

TEST(Conventions, ScanBoundsAreChecked) {
  EXPECT_EQ(error_of([] { scan_conventions(0, 5); }),
            "a scan of 1..0 x 1..5: each bound must be 1..2048");
  EXPECT_EQ(error_of([] { scan_conventions(5, 2049); }),
            "a scan of 1..5 x 1..2049: each bound must be 1..2048");
}

TEST(Conventions, SizesAreChecked) {
  EXPECT_EQ(error_of([] { convention_axis(Convention::pytorch, 0, 5); }),
            "a convention's windows of 0 -> 5: sizes must be 1..67108864 (2^26)");
  EXPECT_EQ(error_of([] { convention_axis(Convention::partition, 10, 0); }),
            "a convention's windows of 10 -> 0: sizes must be 1..67108864 (2^26)");
  EXPECT_NE(error_of([] {
              convention_axis(Convention::pytorch, int64_t{1} << 27, 5);
            }).find("134217728 -> 5"),
            std::string::npos);
  EXPECT_EQ(error_of([] { convention_axis(Convention::equal_kernel_stride, 10, 7).window(10); }),
            "window 10 of equal_kernel_stride for 10 -> 7: it has 10 windows");
  EXPECT_NE(error_of([] {
              differing_outputs(convention_axis(Convention::multiple_only, 10, 7), 5);
            }).find("refused: 7 does not divide 10"),
            std::string::npos);
}

TEST(Conventions, PoolPlaneAveragesEachWindow) {
  const std::vector<double> line = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  const int64_t in[] = {10};
  const std::vector<std::vector<Window>> pytorch = {windows(10, 7)};
  EXPECT_EQ(pool_plane(line, in, pytorch), (std::vector<double>{1.5, 2.5, 4, 5.5, 7, 8.5, 9.5}));
  EXPECT_EQ(pool_plane_cost(pytorch), 16);  // counts 2+2+3+2+3+2+2

  // 2x3 plane, rows [0, 2) and columns [0, 1) / [1, 3).
  const std::vector<double> plane = {1, 2, 3, 4, 5, 6};
  const int64_t in_2d[] = {2, 3};
  const std::vector<std::vector<Window>> custom = {{{0, 2}}, {{0, 1}, {1, 3}}};
  EXPECT_EQ(pool_plane(plane, in_2d, custom), (std::vector<double>{2.5, 4}));
  EXPECT_EQ(pool_plane_cost(custom), 2 * 3);

  const int64_t in_3d[] = {2, 1, 2};
  const std::vector<double> cube = {1, 2, 3, 4};
  const std::vector<std::vector<Window>> all = {{{0, 2}}, {{0, 1}}, {{0, 2}}};
  EXPECT_EQ(pool_plane(cube, in_3d, all), (std::vector<double>{2.5}));
}

TEST(Conventions, PoolPlaneRejectsBadWindowsAndPlanes) {
  const std::vector<double> line = {1, 2, 3};
  const int64_t in[] = {3};
  const std::vector<std::vector<Window>> past = {{{2, 4}}};
  EXPECT_EQ(error_of([&] { pool_plane(line, in, past); }),
            "pool_plane: window 0 of dimension 0 is [2, 4), not a non-empty range inside 0..3");
  const std::vector<std::vector<Window>> empty = {{{1, 1}}};
  EXPECT_NE(error_of([&] { pool_plane(line, in, empty); }).find("[1, 1)"), std::string::npos);
  const int64_t huge[] = {int64_t{1} << 40, int64_t{1} << 40};
  const std::vector<std::vector<Window>> two = {{{0, 1}}, {{0, 1}}};
  EXPECT_EQ(error_of([&] { pool_plane(line, huge, two); }),
            "pool_plane: sizes [1099511627776, 1099511627776]: expected sizes of at least 1 whose "
            "product fits in int64");
  const int64_t wrong[] = {4};
  const std::vector<std::vector<Window>> fine = {{{0, 1}}};
  try {
    pool_plane(line, wrong, fine);
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::shape_mismatch);
    EXPECT_STREQ(error.what(), "pool_plane: the plane has 3 values; sizes [4] need 4");
  }
}

}  // namespace
}  // namespace adapool
