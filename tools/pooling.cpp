#include "pooling.hpp"

#include "io/tool_error.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <sstream>

namespace adapool::tools {

namespace {

std::string format_shape(std::span<const int64_t> shape) {
  std::ostringstream text;
  text << '(';
  for (size_t d = 0; d < shape.size(); ++d) text << (d ? ", " : "") << shape[d];
  text << (shape.size() == 1 ? ",)" : ")");
  return text.str();
}

int64_t product(std::span<const int64_t> sizes, std::string_view name) {
  int64_t result = 1;
  for (const int64_t size : sizes) {
    if (__builtin_mul_overflow(result, size, &result)) fail(name, ": output is too large");
  }
  return result;
}

// Plans and runs one forward pass; the library's own checks (empty
// dimensions, overflow) become errors naming the file.
void run_forward(Reduction reduction, DType dtype, int spatial_dims, const Layout& input,
                 const void* x, const Layout& output, void* y, int threads, std::string_view name) {
  Options options;
  options.threads = threads;
  try {
    const Plan plan =
        reduction == Reduction::max
            ? Plan::max_forward(dtype, spatial_dims, input, output, std::nullopt, options)
            : Plan::forward(dtype, spatial_dims, input, output, options);
    plan.run(x, y);
  } catch (const Error& error) {
    fail(name, ": ", error.what());
  }
}

}  // namespace

NpyArray pool_array(const NpyArray& input, const OutputSize& output_size, Reduction reduction,
                    bool channels_last, int threads, std::string_view name) {
  const int spatial_dims = static_cast<int>(output_size.size());
  const int rank = static_cast<int>(input.shape.size());
  const int needed = spatial_dims + (channels_last ? 1 : 0);
  if (rank < needed) {
    fail(name, ": shape ", format_shape(input.shape), " has ", rank, " axes; pooling ",
         spatial_dims, channels_last ? " axes before a channel axis needs " : " axes needs ",
         needed);
  }
  // Leading axes collapse into the batch; the channel axis is 1 unless the
  // file is channels-last, where it is the innermost axis.
  const int first_pooled = rank - needed;
  const std::span<const int64_t> shape(input.shape);
  std::vector<int64_t> sizes{product(shape.first(first_pooled), name),
                             channels_last ? shape.back() : 1};
  sizes.insert(sizes.end(), shape.begin() + first_pooled,
               shape.begin() + first_pooled + spatial_dims);
  std::vector<int64_t> pooled_sizes;
  try {
    pooled_sizes = output_shape(sizes, spatial_dims, output_size);
  } catch (const Error& error) {
    fail(name, ": ", error.what());
  }
  const auto layout = [&](std::span<const int64_t> of) {
    return channels_last ? Layout::channels_last(of, spatial_dims) : Layout::contiguous(of);
  };

  NpyArray output;
  output.dtype = input.dtype;
  output.shape = input.shape;
  std::copy(pooled_sizes.begin() + 2, pooled_sizes.end(), output.shape.begin() + first_pooled);
  const int64_t elements = product(output.shape, name);
  int64_t bytes = 0;
  if (__builtin_mul_overflow(elements, static_cast<int64_t>(dtype_size(input.dtype)), &bytes)) {
    fail(name, ": output is too large");
  }
  output.data.resize(static_cast<size_t>(bytes));
  run_forward(reduction, input.dtype, spatial_dims, layout(sizes), input.data.data(),
              layout(pooled_sizes), output.data.data(), threads, name);
  return output;
}

Image pool_image(const Image& input, const OutputSize& output_size, Reduction reduction,
                 int threads, std::string_view name) {
  if (output_size.size() > 2) {
    fail(name, ": a PNG has 2 axes to pool (height x width); --size has ", output_size.size());
  }
  // The image as an unbatched (C, H, W) tensor stored channels-last (HWC).
  const int64_t sizes[] = {input.channels, input.height, input.width};
  std::vector<int64_t> pooled_sizes;
  try {
    pooled_sizes = output_shape(sizes, 2, output_size);
  } catch (const Error& error) {
    fail(name, ": ", error.what());
  }
  Image output;
  output.channels = input.channels;
  output.bit_depth = input.bit_depth;
  output.height = pooled_sizes[1];
  output.width = pooled_sizes[2];
  if (output.width < 1 || output.height < 1 || output.width > kMaxPngSide ||
      output.height > kMaxPngSide) {
    fail(name, ": a PNG cannot be ", output.height, "x", output.width, " (each side 1..",
         kMaxPngSide, ")");
  }
  const std::vector<double> x(input.samples.begin(), input.samples.end());
  std::vector<double> y(static_cast<size_t>(output.width * output.height * output.channels));
  run_forward(reduction, DType::f64, 2, Layout::channels_last(sizes, 2), x.data(),
              Layout::channels_last(pooled_sizes, 2), y.data(), threads, name);
  const double largest = input.bit_depth == 16 ? 65535.0 : 255.0;
  output.samples.resize(y.size());
  std::transform(y.begin(), y.end(), output.samples.begin(), [&](double value) {
    return static_cast<uint16_t>(std::clamp(std::round(value), 0.0, largest));
  });
  return output;
}

}  // namespace adapool::tools
