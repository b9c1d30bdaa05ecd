// The picture of the windows: the input grid with every output window drawn
// over it, translucent so overlaps show darker, and the 1-d windows of each
// axis as bars along the top and left edges; and the agreement of other
// systems' window conventions with PyTorch's over a grid of sizes. One scene,
// two renderings: SVG text and a raster image for PNG, so both show the same
// thing.
#pragma once

#include "io/png_codec.hpp"

#include <adapool/conventions.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace adapool::tools {

struct Colour {
  uint8_t red, green, blue, alpha;
};

// Integer pixel coordinates, so both renderings agree to the pixel. The
// outline lies inside the rectangle.
struct Box {
  int x, y, width, height;
  Colour fill;
  Colour outline;
  int outline_width;
};

// Text: the SVG in a sans-serif font of `size` pixels, the raster in a
// built-in 5x7 pixel font (so it reads smaller there).
struct Label {
  int x, y;
  int size;
  std::string text;
};

struct Scene {
  int width = 0, height = 0;
  std::vector<Box> boxes;  // painted in order
  std::vector<Label> labels;
};

// The largest input side a picture is drawn for; beyond it cells would be
// under a pixel wide.
inline constexpr int64_t kMaxPictureSide = 256;

// The last two pooled dimensions (or the only one) of `in` -> `out`, with
// output cell `cell` (row, column) highlighted if given. Throws ToolError for
// inputs larger than kMaxPictureSide or a cell outside the output.
Scene windows_scene(std::span<const int64_t> in, std::span<const int64_t> out,
                    std::optional<std::array<int64_t, 2>> cell);

// The agreement of every convention with PyTorch over a scan's grid, one
// panel per convention: in = 1..in_max across, out = 1..out_max down, a cell
// per size pair coloured by Agreement. Throws ToolError for scans larger
// than kMaxPictureSide per axis.
Scene scan_scene(const ConventionScan& scan);

std::string render_svg(const Scene& scene);

// 8-bit RGBA on a white background.
Image render_raster(const Scene& scene);

}  // namespace adapool::tools
