#include "picture.hpp"

#include "io/tool_error.hpp"

#include <adapool/windows.hpp>

#include <algorithm>
#include <cctype>
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

Scene scan_scene(const ConventionScan& scan) {
  if (scan.in_max > kMaxPictureSide || scan.out_max > kMaxPictureSide) {
    fail("a picture is drawn for scans up to ", kMaxPictureSide, " per axis, not ", scan.in_max,
         " x ", scan.out_max);
  }
  constexpr int kPad = 16, kTitle = 62, kPanelTitle = 18, kGap = 24, kColumns = 3;
  constexpr Colour kStates[] = {{44, 160, 44, 255}, {214, 39, 40, 255}, {190, 190, 190, 255}};
  constexpr const char* kStateNames[] = {"agrees", "differs",
                                         "undefined (refused, or another output count)"};
  const int cell =
      static_cast<int>(std::clamp<int64_t>(192 / std::max(scan.in_max, scan.out_max), 1, 16));
  const int panel_width = static_cast<int>(scan.in_max) * cell;
  const int panel_height = static_cast<int>(scan.out_max) * cell;
  const std::span<const ConventionInfo> all = conventions();
  const int rows = (static_cast<int>(all.size()) + kColumns - 1) / kColumns;

  Scene scene;
  scene.width = std::max(2 * kPad + kColumns * panel_width + (kColumns - 1) * kGap, 560);
  scene.height = kTitle + rows * (kPanelTitle + panel_height + kGap) + kPad;
  std::ostringstream title;
  title << "agreement with PyTorch's windows: in = 1.." << scan.in_max << " across, out = 1.."
        << scan.out_max << " down";
  scene.labels.push_back({kPad, 20, 15, title.str()});
  for (int state = 0; state < 3; ++state) {
    const int x = kPad + state * 110;
    scene.boxes.push_back({x, 32, 12, 12, kStates[state], kInk, 1});
    scene.labels.push_back({x + 16, 43, 11, kStateNames[state]});
  }
  for (size_t c = 0; c < all.size(); ++c) {
    const int x = kPad + static_cast<int>(c % kColumns) * (panel_width + kGap);
    const int y =
        kTitle + static_cast<int>(c / kColumns) * (kPanelTitle + panel_height + kGap) + kPanelTitle;
    scene.labels.push_back({x, y - 5, 12, all[c].name});
    for (int64_t out = 1; out <= scan.out_max; ++out) {
      // One box per run of equal states along a row keeps the SVG small.
      int64_t first = 1;
      for (int64_t in = 1; in <= scan.in_max; ++in) {
        const Agreement state = scan.at(all[c].convention, in, out);
        if (in < scan.in_max && scan.at(all[c].convention, in + 1, out) == state) continue;
        scene.boxes.push_back({x + static_cast<int>(first - 1) * cell,
                               y + static_cast<int>(out - 1) * cell,
                               static_cast<int>(in - first + 1) * cell, cell,
                               kStates[static_cast<int>(state)], kNone, 0});
        first = in + 1;
      }
    }
    scene.boxes.push_back(
        {x - 1, y - 1, panel_width + 2, panel_height + 2, kNone, Colour{0, 0, 0, 120}, 1});
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

// A 5x7 pixel font for the raster's labels: digits, lowercase letters
// (uppercase is drawn as lowercase) and the punctuation the pictures use.
// Rows top to bottom; bit 4 is the leftmost column. Unknown characters are
// left blank.
struct Glyph {
  char character;
  uint8_t rows[7];
};

constexpr Glyph kFont[] = {
    {'0', {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e}},
    {'1', {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e}},
    {'2', {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f}},
    {'3', {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e}},
    {'4', {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02}},
    {'5', {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e}},
    {'6', {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e}},
    {'7', {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e}},
    {'9', {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c}},
    {'a', {0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f}},
    {'b', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e}},
    {'c', {0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e}},
    {'d', {0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f}},
    {'e', {0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e}},
    {'f', {0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08}},
    {'g', {0x00, 0x0f, 0x11, 0x11, 0x0f, 0x01, 0x0e}},
    {'h', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11}},
    {'i', {0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e}},
    {'j', {0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0c}},
    {'k', {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12}},
    {'l', {0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e}},
    {'m', {0x00, 0x00, 0x1a, 0x15, 0x15, 0x11, 0x11}},
    {'n', {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11}},
    {'o', {0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e}},
    {'p', {0x00, 0x00, 0x1e, 0x11, 0x1e, 0x10, 0x10}},
    {'q', {0x00, 0x00, 0x0d, 0x13, 0x0f, 0x01, 0x01}},
    {'r', {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10}},
    {'s', {0x00, 0x00, 0x0f, 0x10, 0x0e, 0x01, 0x1e}},
    {'t', {0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06}},
    {'u', {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d}},
    {'v', {0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04}},
    {'w', {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a}},
    {'x', {0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11}},
    {'y', {0x00, 0x00, 0x11, 0x11, 0x0f, 0x01, 0x0e}},
    {'z', {0x00, 0x00, 0x1f, 0x02, 0x04, 0x08, 0x1f}},
    {' ', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c}},
    {',', {0x00, 0x00, 0x00, 0x00, 0x0c, 0x04, 0x08}},
    {':', {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {'[', {0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e}},
    {']', {0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e}},
    {'=', {0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00}},
    {'-', {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00}},
    {'+', {0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00}},
    {'>', {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08}},
    {'<', {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02}},
    {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}},
    {'*', {0x00, 0x04, 0x15, 0x0e, 0x15, 0x04, 0x00}},
    {'_', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f}},
    {'\'', {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00}},
    {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}},
    {'|', {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'^', {0x04, 0x0a, 0x11, 0x00, 0x00, 0x00, 0x00}},
    {'?', {0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}},
};

constexpr int kGlyphAdvance = 6;

void draw_label(Image& canvas, const Label& label) {
  // The label's y is its baseline, as in SVG: the glyphs sit on the row above.
  const int top = label.y - 7;
  int x = label.x;
  for (const char raw : label.text) {
    const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(raw)));
    for (const Glyph& glyph : kFont) {
      if (glyph.character != c) continue;
      for (int row = 0; row < 7; ++row) {
        for (int column = 0; column < 5; ++column) {
          if (glyph.rows[row] & (0x10 >> column)) blend(canvas, x + column, top + row, 1, 1, kInk);
        }
      }
      break;
    }
    x += kGlyphAdvance;
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
  for (const Label& label : scene.labels) draw_label(canvas, label);
  return canvas;
}

}  // namespace adapool::tools
