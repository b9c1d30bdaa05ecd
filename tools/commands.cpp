#include "commands.hpp"

#include "demo_image.hpp"
#include "io/files.hpp"
#include "io/npy.hpp"
#include "io/png_codec.hpp"
#include "io/size_list.hpp"
#include "io/tool_error.hpp"
#include "picture.hpp"
#include "pooling.hpp"
#include "report.hpp"

#include <adapool/adapool.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <span>

namespace adapool::tools {

namespace fs = std::filesystem;

namespace {

std::span<const std::byte> as_bytes(const std::string& text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

void write_pictures(std::span<const int64_t> in, std::span<const int64_t> out,
                    std::optional<std::array<int64_t, 2>> cell, const std::string& svg,
                    const std::string& png, std::ostream& notes) {
  if (svg.empty() && png.empty()) return;
  const Scene scene = windows_scene(in, out, cell);
  if (!svg.empty()) {
    write_file_atomically(svg, as_bytes(render_svg(scene)));
    notes << "wrote " << svg << "\n";
  }
  if (!png.empty()) {
    write_file_atomically(png, encode_png(render_raster(scene), png));
    notes << "wrote " << png << "\n";
  }
}

enum class Format { npy, png };

std::string lowercase_extension(const fs::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension;
}

// By extension, else by the first bytes, so a mislabelled file gets the
// message of the reader its name promises.
Format input_format(const fs::path& path, std::span<const std::byte> bytes) {
  const std::string extension = lowercase_extension(path);
  if (extension == ".npy") return Format::npy;
  if (extension == ".png") return Format::png;
  const auto starts_with = [&](std::string_view magic) {
    return bytes.size() >= magic.size() &&
           std::memcmp(bytes.data(), magic.data(), magic.size()) == 0;
  };
  if (starts_with("\x93NUMPY")) return Format::npy;
  if (starts_with("\x89PNG\r\n\x1a\n")) return Format::png;
  fail(path.string(), ": not a .npy or PNG file (unknown extension and magic)");
}

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code error;
  if (fs::equivalent(a, b, error)) return true;
  return fs::weakly_canonical(a, error) == fs::weakly_canonical(b, error);
}

std::string describe(const NpyArray& array) {
  std::string text = "(";
  for (size_t d = 0; d < array.shape.size(); ++d) {
    text += (d ? ", " : "") + std::to_string(array.shape[d]);
  }
  return text + (array.shape.size() == 1 ? ",) " : ") ") + dtype_name(array.dtype);
}

std::string describe(const Image& image) {
  constexpr const char* kKinds[] = {"gray", "gray+alpha", "RGB", "RGBA"};
  return std::to_string(image.height) + "x" + std::to_string(image.width) + " " +
         kKinds[image.channels - 1] + " " + std::to_string(image.bit_depth) + "-bit";
}

}  // namespace

void explain_command(const ExplainArguments& arguments, std::ostream& out, std::ostream& notes) {
  const std::vector<int64_t> in = parse_sizes(arguments.in, "IN", 1);
  std::vector<int64_t> sizes = parse_sizes(arguments.out, "OUT", 0);
  // One output size for every dimension, as PyTorch's output_size=5.
  if (sizes.size() == 1) sizes.resize(in.size(), sizes[0]);
  if (sizes.size() != in.size()) {
    fail("IN '", arguments.in, "' has ", in.size(), " sizes but OUT '", arguments.out, "' has ",
         sizes.size());
  }
  std::optional<std::array<int64_t, 2>> cell;
  if (arguments.cell) cell = parse_cell(*arguments.cell, "--cell");
  if (cell && arguments.svg.empty() && arguments.png.empty()) {
    fail("--cell highlights a cell in a picture; add --svg FILE or --png FILE");
  }
  // Pictures first: a size too large to draw fails before anything is printed.
  write_pictures(in, sizes, cell, arguments.svg, arguments.png, notes);
  out << (arguments.json ? explain_json(in, sizes) : explain_text(in, sizes));
}

void pool_command(const PoolArguments& arguments, std::ostream& out) {
  const OutputSize size =
      parse_size_list(arguments.size, {.argument = "--size", .minimum = 0, .allow_keep = true});
  if (arguments.threads < 0) fail("--threads ", arguments.threads, " is negative");
  const fs::path in = arguments.in, target = arguments.out;
  if (same_file(in, target)) {
    fail(target.string(), ": OUT is the input file; write the result to another file");
  }
  const std::vector<std::byte> bytes = read_file(in);
  const Format format = input_format(in, bytes);
  const std::string wanted = format == Format::npy ? ".npy" : ".png";
  if (lowercase_extension(target) != wanted) {
    fail(target.string(), ": the input is ", format == Format::npy ? "a .npy file" : "a PNG",
         ", so the output must be named *", wanted);
  }
  const std::string in_name = in.string(), out_name = target.string();
  if (format == Format::npy) {
    const NpyArray input = parse_npy(bytes, in_name);
    const NpyArray output =
        pool_array(input, size, arguments.channels_last, arguments.threads, in_name);
    write_file_atomically(target, encode_npy(output));
    out << in_name << " " << describe(input) << " -> " << out_name << " " << describe(output)
        << "\n";
  } else {
    if (arguments.channels_last) fail("--channels-last applies to .npy files; a PNG always is");
    const Image input = decode_png(bytes, in_name);
    const Image output = pool_image(input, size, arguments.threads, in_name);
    write_file_atomically(target, encode_png(output, out_name));
    out << in_name << " " << describe(input) << " -> " << out_name << " " << describe(output)
        << "\n";
  }
}

void demo_command(std::ostream& out) {
  constexpr int64_t kIn[] = {10, 10}, kOut[] = {5, 7};
  constexpr std::array<int64_t, 2> kCell = {2, 4};
  out << "Adaptive average pooling 10x10 -> 5x7: which input cells feed which output cell.\n"
      << "Output cell o of a dimension pooled from in to out cells averages inputs\n"
      << "[floor(o*in/out), ceil((o+1)*in/out)). Windows vary in size and may overlap.\n\n"
      << explain_text(kIn, kOut) << "\n"
      << "The height is a plain AvgPool(2, 2); the width is not any AvgPool: its windows\n"
      << "hold 2 or 3 cells and start 0,1,2,4,5,7,8. The popular kernel/stride rule is wrong.\n\n";

  const fs::path directory = fs::current_path();
  const std::string svg = (directory / "adapool_demo_windows.svg").string();
  const std::string windows_png = (directory / "adapool_demo_windows.png").string();
  const std::string input_png = (directory / "adapool_demo_input.png").string();
  const std::string pooled_png = (directory / "adapool_demo_pooled.png").string();
  std::ostringstream notes;
  write_pictures(kIn, kOut, kCell, svg, windows_png, notes);

  // 192x256 -> 30x40: 6.4 input pixels per output, so windows of 6 and 7
  // pixels that overlap, as in the table above.
  const Image image = demo_image();
  const Image pooled = pool_image(image, {30, 40}, 1, input_png);
  write_file_atomically(input_png, encode_png(image, input_png));
  write_file_atomically(pooled_png, encode_png(pooled, pooled_png));
  out << "Pictures of the windows (output (" << kCell[0] << ", " << kCell[1]
      << ") highlighted):\n  " << svg << "\n  " << windows_png << "\n"
      << "The built-in " << describe(image) << " image and its pooled " << describe(pooled)
      << " version:\n  " << input_png << "\n  " << pooled_png << "\n"
      << "(the same as: adapool pool adapool_demo_input.png adapool_demo_pooled.png --size "
         "30x40)\n";
}

}  // namespace adapool::tools
