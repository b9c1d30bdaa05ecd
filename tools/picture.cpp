#include "picture.hpp"

#include "io/tool_error.hpp"

#include <adapool/windows.hpp>

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace adapool::tools {

namespace {

// Neighbouring windows differ in colour along both axes: the row's parity
// picks one of two rows of this table, the column one of four entries.
constexpr Colour kPalette[8] = {{31, 119, 180, 0}, {255, 127, 14, 0},  {44, 160, 44, 0},
                                {214, 39, 40, 0},  {148, 103, 189, 0}, {23, 190, 207, 0},
                                {188, 189, 34, 0}, {227, 119, 194, 0}};
constexpr Colour kHighlight = {255, 200, 0, 150};
constexpr Colour kInk = {20, 20, 20, 255};
constexpr Colour kNone = {0, 0, 0, 0};

Colour with_alpha(Colour colour, uint8_t alpha) {
  colour.alpha = alpha;
  return colour;
}

// The largest number of windows that share one input cell: the number of
// lanes the 1-d bars need so that no two overlapping bars share a lane (bars
// o and o + lanes cannot overlap, or a cell would lie in lanes + 1 windows).
int64_t lanes_needed(int64_t in, int64_t out) {
  int64_t lanes = 1;
  for (const Window& outputs : inverse_windows(in, out)) lanes = std::max(lanes, outputs.count());
  return lanes;
}

struct Axis {
  int64_t in = 1, out = 1;
  int64_t lanes = 0;  // 0: no bars (the row axis of a 1-d picture)
};

}  // namespace

Scene windows_scene(std::span<const int64_t> in, std::span<const int64_t> out,
                    std::optional<std::array<int64_t, 2>> cell) {
  const size_t dims = in.size();
  Axis rows, columns;
  columns.in = in[dims - 1];
  columns.out = out[dims - 1];
  if (dims >= 2) {
    rows.in = in[dims - 2];
    rows.out = out[dims - 2];
  }
  for (const Axis& axis : {rows, columns}) {
    if (axis.in > kMaxPictureSide || axis.out > kMaxPictureSide) {
      fail("a picture is drawn for sizes up to ", kMaxPictureSide, " per axis, not ", axis.in,
           " -> ", axis.out);
    }
  }
  if (cell &&
      ((*cell)[0] < 0 || (*cell)[0] >= rows.out || (*cell)[1] < 0 || (*cell)[1] >= columns.out)) {
    fail("--cell ", (*cell)[0], ",", (*cell)[1], " is outside the ", rows.out, "x", columns.out,
         " output");
  }
  columns.lanes = lanes_needed(columns.in, columns.out);
  if (dims >= 2) rows.lanes = lanes_needed(rows.in, rows.out);

  constexpr int kPad = 16, kTitle = 44, kBar = 8, kGap = 3;
  const int cell_size =
      static_cast<int>(std::clamp<int64_t>(720 / std::max(rows.in, columns.in), 3, 48));
  const auto band = [&](const Axis& axis) {
    return axis.lanes ? static_cast<int>(axis.lanes) * (kBar + kGap) + kGap + 6 : 0;
  };
  const int grid_x = kPad + band(rows), grid_y = kTitle + band(columns);
  const int grid_width = static_cast<int>(columns.in) * cell_size;
  const int grid_height = static_cast<int>(rows.in) * cell_size;

  Scene scene;
  scene.width = std::max(grid_x + grid_width + kPad, 360);
  scene.height = grid_y + grid_height + kPad;
  const auto at = [&](int64_t index) { return static_cast<int>(index) * cell_size; };
  const std::vector<Window> row_windows = windows(rows.in, rows.out);
  const std::vector<Window> column_windows = windows(columns.in, columns.out);

  for (size_t r = 0; r < row_windows.size(); ++r) {
    for (size_t c = 0; c < column_windows.size(); ++c) {
      // Neighbours inset by different amounts, so coinciding edges stay apart.
      const int inset = std::min(1 + static_cast<int>((r + c) % 2) * 2, cell_size / 3);
      const Colour colour = kPalette[(r % 2) * 4 + c % 4];
      scene.boxes.push_back(
          {grid_x + at(column_windows[c].begin) + inset, grid_y + at(row_windows[r].begin) + inset,
           at(column_windows[c].count()) - 2 * inset, at(row_windows[r].count()) - 2 * inset,
           with_alpha(colour, 40), with_alpha(colour, 210), cell_size >= 8 ? 2 : 1});
    }
  }
  const Colour grid_line = {0, 0, 0, 60};
  for (int64_t c = 0; c <= columns.in; ++c) {
    scene.boxes.push_back({grid_x + at(c), grid_y, 1, grid_height + 1, grid_line, kNone, 0});
  }
  for (int64_t r = 0; r <= rows.in; ++r) {
    scene.boxes.push_back({grid_x, grid_y + at(r), grid_width + 1, 1, grid_line, kNone, 0});
  }

  const auto bars = [&](const std::vector<Window>& axis_windows, int64_t lanes, bool horizontal,
                        std::optional<int64_t> chosen) {
    for (size_t o = 0; o < axis_windows.size(); ++o) {
      const int lane = static_cast<int>(static_cast<int64_t>(o) % lanes);
      const int across = (horizontal ? kTitle : kPad) + kGap + lane * (kBar + kGap);
      const int along = (horizontal ? grid_x : grid_y) + at(axis_windows[o].begin) + 1;
      const int length = at(axis_windows[o].count()) - 2;
      const Colour colour = chosen == static_cast<int64_t>(o)
                                ? with_alpha(kHighlight, 255)
                                : (lane % 2 ? Colour{90, 110, 140, 230} : Colour{50, 70, 100, 230});
      scene.boxes.push_back(horizontal ? Box{along, across, length, kBar, colour, kNone, 0}
                                       : Box{across, along, kBar, length, colour, kNone, 0});
    }
  };
  bars(column_windows, columns.lanes, true,
       cell ? std::optional<int64_t>((*cell)[1]) : std::nullopt);
  if (rows.lanes) {
    bars(row_windows, rows.lanes, false, cell ? std::optional<int64_t>((*cell)[0]) : std::nullopt);
  }

  std::ostringstream title;
  if (dims >= 2) title << rows.in << "x";
  title << columns.in << " -> ";
  if (dims >= 2) title << rows.out << "x";
  title << columns.out;
  if (dims == 3) title << " (height x width; depth " << in[0] << " -> " << out[0] << " not drawn)";
  scene.labels.push_back({kPad, 20, 15, "adaptive average pooling " + title.str()});
  if (cell) {
    const Window& row = row_windows[static_cast<size_t>((*cell)[0])];
    const Window& column = column_windows[static_cast<size_t>((*cell)[1])];
    scene.boxes.push_back({grid_x + at(column.begin), grid_y + at(row.begin), at(column.count()),
                           at(row.count()), kHighlight, kInk, 3});
    std::ostringstream caption;
    caption << "output (" << (*cell)[0] << ", " << (*cell)[1] << ") averages rows [" << row.begin
            << ", " << row.end << ") x columns [" << column.begin << ", " << column.end
            << "): " << row.count() * column.count() << " cells";
    scene.labels.push_back({kPad, 38, 12, caption.str()});
  }
  // How many windows read each input cell, where the cells have room for it.
  if (cell_size >= 18) {
    const std::vector<Window> row_users = inverse_windows(rows.in, rows.out);
    const std::vector<Window> column_users = inverse_windows(columns.in, columns.out);
    for (size_t r = 0; r < row_users.size(); ++r) {
      for (size_t c = 0; c < column_users.size(); ++c) {
        scene.labels.push_back({grid_x + at(static_cast<int64_t>(c)) + cell_size / 2 - 3,
                                grid_y + at(static_cast<int64_t>(r)) + cell_size / 2 + 4, 11,
                                std::to_string(row_users[r].count() * column_users[c].count())});
      }
    }
  }
  return scene;
}

namespace {

std::string hex(Colour colour) {
  char text[8];
  std::snprintf(text, sizeof text, "#%02x%02x%02x", colour.red, colour.green, colour.blue);
  return text;
}

std::string escape_xml(const std::string& text) {
  std::string result;
  for (const char c : text) {
    switch (c) {
      case '<':
        result += "&lt;";
        break;
      case '>':
        result += "&gt;";
        break;
      case '&':
        result += "&amp;";
        break;
      default:
        result += c;
    }
  }
  return result;
}

}  // namespace

std::string render_svg(const Scene& scene) {
  std::ostringstream svg;
  svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << scene.width << "\" height=\""
      << scene.height << "\" viewBox=\"0 0 " << scene.width << " " << scene.height << "\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  for (const Box& box : scene.boxes) {
    // SVG centres a stroke on the edge; moving the edge in by half the width
    // keeps the outline inside the box, as the raster draws it.
    const double half = box.outline_width / 2.0;
    svg << "<rect x=\"" << box.x + half << "\" y=\"" << box.y + half << "\" width=\""
        << box.width - 2 * half << "\" height=\"" << box.height - 2 * half << "\" fill=\""
        << hex(box.fill) << "\" fill-opacity=\"" << box.fill.alpha / 255.0 << "\"";
    if (box.outline_width > 0) {
      svg << " stroke=\"" << hex(box.outline) << "\" stroke-opacity=\"" << box.outline.alpha / 255.0
          << "\" stroke-width=\"" << box.outline_width << "\"";
    }
    svg << "/>\n";
  }
  for (const Label& label : scene.labels) {
    svg << "<text x=\"" << label.x << "\" y=\"" << label.y
        << "\" font-family=\"sans-serif\" font-size=\"" << label.size << "\">"
        << escape_xml(label.text) << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

namespace {

// Paints `colour` over the opaque RGB canvas within the clipped rectangle.
void blend(Image& canvas, int x, int y, int width, int height, Colour colour) {
  const int64_t x0 = std::max<int64_t>(x, 0), x1 = std::min<int64_t>(x + width, canvas.width);
  const int64_t y0 = std::max<int64_t>(y, 0), y1 = std::min<int64_t>(y + height, canvas.height);
  const int alpha = colour.alpha;
  for (int64_t row = y0; row < y1; ++row) {
    for (int64_t column = x0; column < x1; ++column) {
      uint16_t* pixel = &canvas.samples[static_cast<size_t>((row * canvas.width + column) * 3)];
      const uint8_t source[3] = {colour.red, colour.green, colour.blue};
      for (int channel = 0; channel < 3; ++channel) {
        pixel[channel] = static_cast<uint16_t>(
            (source[channel] * alpha + pixel[channel] * (255 - alpha) + 127) / 255);
      }
    }
  }
}

}  // namespace

Image render_raster(const Scene& scene) {
  Image canvas;
  canvas.width = scene.width;
  canvas.height = scene.height;
  canvas.channels = 3;
  canvas.bit_depth = 8;
  canvas.samples.assign(static_cast<size_t>(scene.width * scene.height * 3), 255);
  for (const Box& box : scene.boxes) {
    blend(canvas, box.x, box.y, box.width, box.height, box.fill);
    const int w = box.outline_width;
    if (w == 0) continue;
    // Four strips that do not overlap, so translucent corners are not painted twice.
    blend(canvas, box.x, box.y, box.width, w, box.outline);
    blend(canvas, box.x, box.y + box.height - w, box.width, w, box.outline);
    blend(canvas, box.x, box.y + w, w, box.height - 2 * w, box.outline);
    blend(canvas, box.x + box.width - w, box.y + w, w, box.height - 2 * w, box.outline);
  }
  return canvas;
}

}  // namespace adapool::tools
