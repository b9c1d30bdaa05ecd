// Layouts and output shapes: what PyTorch's output_size argument and memory
// formats mean, as the front ends use them.
#include <adapool/adapool.hpp>

#include <gtest/gtest.h>

namespace adapool {
namespace {

using Sizes = std::vector<int64_t>;

std::vector<int64_t> strides_of(const Layout& layout) {
  return {layout.strides.begin(), layout.strides.begin() + layout.rank};
}

TEST(Layout, ContiguousAndChannelsLastStrides) {
  EXPECT_EQ(strides_of(Layout::contiguous(Sizes{2, 3, 4, 5})), (Sizes{60, 20, 5, 1}));
  EXPECT_EQ(strides_of(Layout::channels_last(Sizes{2, 3, 4, 5}, 2)), (Sizes{60, 1, 15, 3}));
  EXPECT_EQ(strides_of(Layout::channels_last(Sizes{2, 3, 4, 5, 6}, 3)), (Sizes{360, 1, 90, 18, 3}));
  EXPECT_EQ(strides_of(Layout::channels_last(Sizes{3, 4, 5}, 2)), (Sizes{1, 15, 3}));  // HWC
  EXPECT_EQ(strides_of(Layout::channels_last(Sizes{2, 3, 7}, 1)), (Sizes{21, 1, 3}));  // NLC
}

TEST(Layout, IsChannelsLastFollowsTheStrideOrder) {
  EXPECT_TRUE(is_channels_last(Layout::channels_last(Sizes{2, 3, 4, 5}, 2), 2));
  EXPECT_FALSE(is_channels_last(Layout::contiguous(Sizes{2, 3, 4, 5}), 2));
  // One channel, or no spatial extent: nothing says channels-last.
  EXPECT_FALSE(is_channels_last(Layout::channels_last(Sizes{2, 1, 4, 5}, 2), 2));
  EXPECT_FALSE(is_channels_last(Layout::channels_last(Sizes{2, 3, 1, 1}, 2), 2));
  // Fortran order has the channel inside the batch, not innermost.
  Layout fortran = Layout::contiguous(Sizes{2, 3, 4, 5});
  fortran.strides = {1, 2, 6, 24, 0};
  EXPECT_FALSE(is_channels_last(fortran, 2));
  // W outside H (a transposed channels-last) is not channels-last either.
  Layout transposed = Layout::channels_last(Sizes{2, 3, 4, 5}, 2);
  std::swap(transposed.strides[2], transposed.strides[3]);
  EXPECT_FALSE(is_channels_last(transposed, 2));
}

TEST(Layout, OutputLayoutFollowsTheInput) {
  const Layout input = Layout::channels_last(Sizes{2, 3, 10, 10}, 2);
  EXPECT_EQ(output_layout_like(input, 2, Sizes{2, 3, 5, 7}),
            Layout::channels_last(Sizes{2, 3, 5, 7}, 2));
  EXPECT_EQ(output_layout_like(Layout::contiguous(Sizes{3, 10}), 1, Sizes{3, 4}),
            Layout::contiguous(Sizes{3, 4}));
}

TEST(OutputShape, IntNoneAndPerDimensionEntries) {
  EXPECT_EQ(output_shape(Sizes{2, 3, 10, 9}, 2, {5}), (Sizes{2, 3, 5, 5}));
  EXPECT_EQ(output_shape(Sizes{2, 3, 10, 9}, 2, {5, std::nullopt}), (Sizes{2, 3, 5, 9}));
  EXPECT_EQ(output_shape(Sizes{3, 10, 9}, 2, {std::nullopt}), (Sizes{3, 10, 9}));
  EXPECT_EQ(output_shape(Sizes{0, 3, 8, 9, 10}, 3, {0, 1, 2}), (Sizes{0, 3, 0, 1, 2}));
  EXPECT_EQ(output_shape(Sizes{4, 7}, 1, {13}), (Sizes{4, 13}));
}

}  // namespace
}  // namespace adapool
