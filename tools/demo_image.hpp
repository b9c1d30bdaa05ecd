// The demo's built-in picture, drawn in code so the program needs no files.
#pragma once

#include "io/png_codec.hpp"

namespace adapool::tools {

// A 256x192 8-bit RGB test pattern: colour gradients, discs, stripes and a
// checkerboard, so pooling visibly blurs edges and averages colours.
Image demo_image();

}  // namespace adapool::tools
