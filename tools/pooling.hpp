// Pooling whole arrays and images with the library: maps a file's axes onto
// the library's (N, C, spatial...) layouts and back.
#pragma once

#include "io/npy.hpp"
#include "io/png_codec.hpp"

#include <adapool/adapool.hpp>

#include <string_view>

namespace adapool::tools {

// The trailing output_size.size() axes of `input` are pooled (averaged, or
// their maximum taken) and the leading ones are batch; with `channels_last`
// the last axis is the channel axis and the pooled axes are the ones before
// it. `name` prefixes error messages.
NpyArray pool_array(const NpyArray& input, const OutputSize& output_size, Reduction reduction,
                    bool channels_last, int threads, std::string_view name);

// Every channel pooled in float64, rounded to nearest (ties away from zero)
// and clamped to the image's bit depth. One entry in `output_size` applies to
// both axes, as in PyTorch.
Image pool_image(const Image& input, const OutputSize& output_size, Reduction reduction,
                 int threads, std::string_view name);

}  // namespace adapool::tools
