// Shapes and layouts: output_size resolution and the layouts PyTorch gives
// its results. No window math here (that is windows.hpp).
#include "error.hpp"
#include "plan/plan.hpp"

#include <algorithm>

namespace adapool {

namespace {

void check_rank(std::span<const int64_t> sizes) {
  if (sizes.empty() || sizes.size() > static_cast<size_t>(kMaxRank)) {
    detail::fail(ErrorCode::rank, "tensor rank ", sizes.size(), " is not in 1..", kMaxRank);
  }
}

void check_spatial_dims(int spatial_dims) {
  if (spatial_dims < 1 || spatial_dims > 3) {
    detail::fail(ErrorCode::rank, "spatial_dims ", spatial_dims,
                 " is not 1, 2 or 3 (the number of pooled dimensions)");
  }
}

// A dense layout whose dimensions are stored in `order`, innermost first.
// Strides that overflow int64 name a tensor no memory could hold.
Layout dense_layout(std::span<const int64_t> sizes, std::span<const int> order) {
  Layout layout;
  layout.rank = static_cast<int>(sizes.size());
  int64_t stride = 1;
  for (int d : order) {
    layout.sizes[d] = sizes[d];
    layout.strides[d] = stride;
    if (__builtin_mul_overflow(stride, std::max<int64_t>(sizes[d], 1), &stride)) {
      detail::fail(ErrorCode::overflow, "the strides of shape ", detail::format_list(sizes),
                   " overflow int64");
    }
  }
  return layout;
}

}  // namespace

Layout Layout::contiguous(std::span<const int64_t> sizes) {
  check_rank(sizes);
  std::array<int, kMaxRank> order{};
  const int rank = static_cast<int>(sizes.size());
  for (int i = 0; i < rank; ++i) order[i] = rank - 1 - i;
  return dense_layout(sizes, {order.data(), static_cast<size_t>(rank)});
}

Layout Layout::channels_last(std::span<const int64_t> sizes, int spatial_dims) {
  check_rank(sizes);
  check_spatial_dims(spatial_dims);
  const int rank = static_cast<int>(sizes.size());
  const int channel = rank - spatial_dims - 1;
  if (channel < 0) {
    detail::fail(ErrorCode::rank, "a channels-last layout of ", spatial_dims,
                 "-d pooling needs rank >= ", spatial_dims + 1, ", got shape ",
                 detail::format_list(sizes));
  }
  // Channel innermost, then the pooled dimensions, then the batch.
  std::array<int, kMaxRank> order{};
  int count = 0;
  order[count++] = channel;
  for (int d = rank - 1; d > channel; --d) order[count++] = d;
  for (int d = channel - 1; d >= 0; --d) order[count++] = d;
  return dense_layout(sizes, {order.data(), static_cast<size_t>(rank)});
}

bool is_channels_last(const Layout& layout, int spatial_dims) {
  const int channel = layout.rank - spatial_dims - 1;
  if (channel < 0 || spatial_dims < 1 || layout.sizes[channel] <= 1) return false;
  // Channels-last orders the strides C < W < H (< D) < N, innermost first;
  // dimensions of size 1 have no say.
  std::array<int, kMaxRank> order{};
  int count = 0;
  order[count++] = channel;
  for (int d = layout.rank - 1; d > channel; --d) order[count++] = d;
  if (channel == 1) order[count++] = 0;
  int64_t previous = -1;
  bool any_spatial = false;
  for (int i = 0; i < count; ++i) {
    const int d = order[i];
    if (layout.sizes[d] <= 1) continue;
    if (layout.strides[d] <= previous) return false;
    previous = layout.strides[d];
    any_spatial = any_spatial || d > channel;
  }
  return any_spatial;
}

std::vector<int64_t> output_shape(std::span<const int64_t> input_sizes, int spatial_dims,
                                  const OutputSize& output_size) {
  check_spatial_dims(spatial_dims);
  const int rank = static_cast<int>(input_sizes.size());
  if (rank != spatial_dims + 1 && rank != spatial_dims + 2) {
    detail::fail(ErrorCode::rank, spatial_dims, "-d adaptive pooling expects a ", spatial_dims + 1,
                 "-d (unbatched) or ", spatial_dims + 2, "-d (batched) input, got shape ",
                 detail::format_list(input_sizes));
  }
  if (output_size.size() != 1 && output_size.size() != static_cast<size_t>(spatial_dims)) {
    detail::fail(ErrorCode::output_size, "output_size has ", output_size.size(),
                 " entries; expected 1 or ", spatial_dims);
  }
  std::vector<int64_t> result(input_sizes.begin(), input_sizes.end());
  for (int d = 0; d < spatial_dims; ++d) {
    const std::optional<int64_t>& entry = output_size[output_size.size() == 1 ? 0 : d];
    const int axis = rank - spatial_dims + d;
    if (!entry) continue;  // None keeps the input size
    if (*entry < 0) {
      detail::fail(ErrorCode::output_size, "output_size[", d, "] = ", *entry,
                   " is negative; expected a size >= 0 or None");
    }
    result[axis] = *entry;
  }
  return result;
}

Layout output_layout_like(const Layout& input, int spatial_dims,
                          std::span<const int64_t> output_sizes) {
  if (is_channels_last(input, spatial_dims)) {
    return Layout::channels_last(output_sizes, spatial_dims);
  }
  return Layout::contiguous(output_sizes);
}

}  // namespace adapool
