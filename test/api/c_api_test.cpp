// The C API: status codes for every failure, never an exception or abort,
// even when fed garbage.
#include <adapool/adapool.h>

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include <cstring>
#include <random>
#include <string>
#include <vector>

extern "C" int adapool_c_smoke(void);

namespace {

adapool_layout layout(std::initializer_list<int64_t> sizes) {
  adapool_layout result{};
  result.rank = static_cast<int>(sizes.size());
  int d = 0;
  for (int64_t size : sizes) result.sizes[d++] = size;
  int64_t stride = 1;
  for (int i = result.rank - 1; i >= 0; --i) {
    result.strides[i] = stride;
    stride *= result.sizes[i];
  }
  return result;
}

TEST(CApi, UsableFromC) { EXPECT_EQ(adapool_c_smoke(), 0); }

TEST(CApi, Version) { EXPECT_STREQ(adapool_version(), ADAPOOL_VERSION_STRING); }

TEST(CApi, OneShotForwardAndBackward) {
  const adapool_layout in = layout({2, 6});
  const adapool_layout out = layout({2, 4});
  const double x[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  double y[8];
  ASSERT_EQ(adapool_forward(ADAPOOL_F64, 1, &in, x, &out, y, 2), ADAPOOL_OK);
  // windows of 6 -> 4: [0,2) [1,3) [3,5) [4,6)
  EXPECT_DOUBLE_EQ(y[0], 0.5);
  EXPECT_DOUBLE_EQ(y[1], 1.5);
  EXPECT_DOUBLE_EQ(y[2], 3.5);
  EXPECT_DOUBLE_EQ(y[7], 10.5);
  const double dy[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  double dx[12];
  ASSERT_EQ(adapool_backward(ADAPOOL_F64, 1, &out, dy, &in, dx, 1), ADAPOOL_OK);
  EXPECT_DOUBLE_EQ(dx[0], 0.5);
  EXPECT_DOUBLE_EQ(dx[1], 1.0);  // in windows 0 and 1
  EXPECT_DOUBLE_EQ(dx[2], 0.5);
}

TEST(CApi, MaxPoolingWithIndices) {
  const adapool_layout in = layout({1, 6});
  const adapool_layout out = layout({1, 4});
  // windows of 6 -> 4: [0,2) [1,3) [3,5) [4,6)
  const float x[6] = {5, 1, 9, 2, 2, NAN};
  adapool_plan* forward = nullptr;
  ASSERT_EQ(adapool_plan_max_forward(ADAPOOL_F32, 1, &in, &out, &out, 1, &forward), ADAPOOL_OK);
  float y[4];
  int64_t indices[4];
  ASSERT_EQ(adapool_plan_run_max_forward(forward, x, y, indices), ADAPOOL_OK);
  // A plan with indices must be run with them.
  EXPECT_EQ(adapool_plan_run(forward, x, y), ADAPOOL_ERROR_INVALID_ARGUMENT);
  adapool_plan_destroy(forward);
  EXPECT_EQ(y[0], 5.0f);
  EXPECT_EQ(y[1], 9.0f);
  EXPECT_EQ(y[2], 2.0f);
  EXPECT_TRUE(std::isnan(y[3]));
  EXPECT_EQ(indices[0], 0);
  EXPECT_EQ(indices[1], 2);
  EXPECT_EQ(indices[2], 3);  // the first of a tie
  EXPECT_EQ(indices[3], 5);  // NaN wins

  adapool_plan* backward = nullptr;
  ASSERT_EQ(adapool_plan_max_backward(ADAPOOL_F32, 1, &out, &out, &in, 1, &backward), ADAPOOL_OK);
  const float dy[4] = {1, 2, 3, 4};
  float dx[6];
  ASSERT_EQ(adapool_plan_run_max_backward(backward, dy, indices, dx), ADAPOOL_OK);
  const float expected[6] = {1, 0, 2, 3, 0, 4};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(dx[i], expected[i]) << i;
  indices[0] = 6;  // outside the plane of 6 cells
  EXPECT_EQ(adapool_plan_run_max_backward(backward, dy, indices, dx),
            ADAPOOL_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(adapool_last_error()).find("indices value 6"), std::string::npos);
  adapool_plan_destroy(backward);

  // Values only: no indices layout, run as any plan.
  adapool_plan* values_only = nullptr;
  ASSERT_EQ(adapool_plan_max_forward(ADAPOOL_F32, 1, &in, &out, nullptr, 1, &values_only),
            ADAPOOL_OK);
  float z[4];
  ASSERT_EQ(adapool_plan_run(values_only, x, z), ADAPOOL_OK);
  EXPECT_EQ(z[1], 9.0f);
  adapool_plan_destroy(values_only);
  EXPECT_EQ(adapool_plan_max_backward(ADAPOOL_F32, 1, &out, nullptr, &in, 1, &backward),
            ADAPOOL_ERROR_NULL_POINTER);
}

TEST(CApi, FailuresReturnCodesAndMessages) {
  const adapool_layout in = layout({1, 2, 8});
  const adapool_layout wrong = layout({1, 3, 4});
  adapool_plan* plan = reinterpret_cast<adapool_plan*>(0x1);
  EXPECT_EQ(adapool_plan_forward(ADAPOOL_F32, 1, &in, &wrong, 1, &plan),
            ADAPOOL_ERROR_SHAPE_MISMATCH);
  EXPECT_EQ(plan, nullptr);
  EXPECT_NE(std::string(adapool_last_error()).find("3 vs 2"), std::string::npos)
      << adapool_last_error();
  EXPECT_EQ(adapool_plan_forward(static_cast<adapool_dtype>(77), 1, &in, &in, 1, &plan),
            ADAPOOL_ERROR_DTYPE);
  EXPECT_EQ(adapool_plan_forward(ADAPOOL_F32, 1, nullptr, &in, 1, &plan),
            ADAPOOL_ERROR_NULL_POINTER);
  EXPECT_EQ(adapool_plan_forward(ADAPOOL_F32, 1, &in, &in, 1, nullptr), ADAPOOL_ERROR_NULL_POINTER);
  EXPECT_EQ(adapool_plan_forward(ADAPOOL_F32, 1, &in, &in, -1, &plan), ADAPOOL_ERROR_THREADS);
  EXPECT_EQ(adapool_plan_run(nullptr, nullptr, nullptr), ADAPOOL_ERROR_NULL_POINTER);
  ASSERT_EQ(adapool_plan_forward(ADAPOOL_F32, 1, &in, &in, 1, &plan), ADAPOOL_OK);
  EXPECT_EQ(adapool_plan_run(plan, nullptr, nullptr), ADAPOOL_ERROR_NULL_POINTER);
  EXPECT_STREQ(adapool_status_name(ADAPOOL_ERROR_NULL_POINTER), "null pointer");
  adapool_plan_destroy(plan);
  adapool_plan_destroy(nullptr);
  // A success clears the message.
  int exists = 0;
  int64_t kernel = 0, stride = 0;
  ASSERT_EQ(adapool_fixed_pool_equivalent(15, 7, &exists, &kernel, &stride), ADAPOOL_OK);
  EXPECT_STREQ(adapool_last_error(), "");
  EXPECT_EQ(exists, 1);
  EXPECT_EQ(kernel, 3);
  EXPECT_EQ(stride, 2);
  EXPECT_EQ(adapool_fixed_pool_equivalent(0, 7, &exists, &kernel, &stride),
            ADAPOOL_ERROR_INVALID_ARGUMENT);
}

TEST(CApi, OutputShapeAndWindows) {
  const int64_t input[] = {2, 3, 10, 10};
  const int64_t size[] = {5, ADAPOOL_KEEP};
  int64_t shape[4];
  ASSERT_EQ(adapool_output_shape(4, input, 2, 2, size, shape), ADAPOOL_OK);
  EXPECT_EQ(std::vector<int64_t>(shape, shape + 4), (std::vector<int64_t>{2, 3, 5, 10}));
  const int64_t negative[] = {-4};
  EXPECT_EQ(adapool_output_shape(4, input, 2, 1, negative, shape), ADAPOOL_ERROR_OUTPUT_SIZE);
  EXPECT_EQ(adapool_output_shape(4, input, 2, 4, size, shape), ADAPOOL_ERROR_OUTPUT_SIZE);
  int64_t begins[7], ends[7];
  ASSERT_EQ(adapool_windows(10, 7, begins, ends), ADAPOOL_OK);
  EXPECT_EQ(std::vector<int64_t>(begins, begins + 7), (std::vector<int64_t>{0, 1, 2, 4, 5, 7, 8}));
  EXPECT_EQ(ends[6], 10);
  EXPECT_EQ(adapool_windows(10, -1, begins, ends), ADAPOOL_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(adapool_windows(10, 7, nullptr, ends), ADAPOOL_ERROR_NULL_POINTER);
}

// Random layouts, dtypes, ranks and thread counts: every call returns a
// known status and nothing throws or aborts. Plans that succeed are run with
// null data, which must be refused unless the views are empty.
TEST(CApi, GarbageInputsGiveStatusCodes) {
  std::mt19937_64 rng(9);
  const int64_t interesting[] = {
      0,           1, 2, 3, 7, -1, -7, INT64_MAX, INT64_MIN, int64_t{1} << 31, int64_t{1} << 62,
      ADAPOOL_KEEP};
  auto value = [&] {
    return rng() % 3 == 0 ? interesting[rng() % std::size(interesting)]
                          : static_cast<int64_t>(rng() % 9);
  };
  int planned = 0;
  for (int i = 0; i < 20000; ++i) {
    adapool_layout a{}, b{};
    a.rank = static_cast<int>(rng() % 8) - 1;
    b.rank = rng() % 4 == 0 ? static_cast<int>(rng() % 8) - 1 : a.rank;
    for (int d = 0; d < ADAPOOL_MAX_RANK; ++d) {
      a.sizes[d] = value();
      b.sizes[d] = rng() % 2 ? a.sizes[d] : value();
      a.strides[d] = value();
      b.strides[d] = value();
    }
    const auto dtype = static_cast<adapool_dtype>(static_cast<int>(rng() % 6) - 1);
    const int spatial = static_cast<int>(rng() % 5) - 1;
    const int threads = static_cast<int>(rng() % 6) - 1;
    adapool_plan* plan = nullptr;
    const adapool_status status =
        rng() % 2 ? adapool_plan_forward(dtype, spatial, &a, &b, threads, &plan)
                  : adapool_plan_backward(dtype, spatial, &a, &b, threads, &plan);
    ASSERT_GE(status, ADAPOOL_OK);
    ASSERT_LE(status, ADAPOOL_ERROR_OUT_OF_MEMORY) << adapool_last_error();
    if (status != ADAPOOL_OK) {
      ASSERT_EQ(plan, nullptr);
      ASSERT_STRNE(adapool_last_error(), "");
      continue;
    }
    ++planned;
    const adapool_status run = adapool_plan_run(plan, nullptr, nullptr);
    EXPECT_TRUE(run == ADAPOOL_OK || run == ADAPOOL_ERROR_NULL_POINTER) << adapool_status_name(run);
    adapool_plan_destroy(plan);
    int64_t shape[ADAPOOL_MAX_RANK];
    const int64_t size[3] = {value(), value(), value()};
    const adapool_status resolved =
        adapool_output_shape(a.rank, a.sizes, spatial, static_cast<int>(rng() % 4), size, shape);
    EXPECT_LE(resolved, ADAPOOL_ERROR_OUT_OF_MEMORY);
  }
  EXPECT_GT(planned, 0);  // the generator reaches valid plans too
}

}  // namespace
