#include "commands.hpp"

#include "compare_report.hpp"
#include "comparison.hpp"
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
#include <adapool/conventions.hpp>

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

void write_scene(const Scene& scene, const std::string& svg, const std::string& png,
                 std::ostream& notes) {
  if (!svg.empty()) {
    write_file_atomically(svg, as_bytes(render_svg(scene)));
    notes << "wrote " << svg << "\n";
  }
  if (!png.empty()) {
    write_file_atomically(png, encode_png(render_raster(scene), png));
    notes << "wrote " << png << "\n";
  }
}

void write_pictures(std::span<const int64_t> in, std::span<const int64_t> out,
                    std::optional<std::array<int64_t, 2>> cell, const std::string& svg,
                    const std::string& png, std::ostream& notes) {
  if (svg.empty() && png.empty()) return;
  write_scene(windows_scene(in, out, cell), svg, png, notes);
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

namespace {

int64_t scan_bound(const std::string& text, const char* argument) {
  const std::vector<int64_t> sizes = parse_sizes(text, argument, 1);
  if (sizes.size() != 1) fail(argument, " '", text, "' is one size, not ", sizes.size());
  if (sizes[0] > kMaxScanSide) {
    fail(argument, " '", text, "' is too large (a scan goes up to ", kMaxScanSide, ")");
  }
  return sizes[0];
}

void scan_command(const ExplainArguments& arguments, std::ostream& out, std::ostream& notes) {
  if (!arguments.in.empty() || !arguments.out.empty()) {
    fail("--scan IN_MAX OUT_MAX replaces IN and OUT; give one or the other");
  }
  if (arguments.compare) fail("--compare and --scan are two views; give one of them");
  if (arguments.cell) fail("--cell highlights a window; a --scan picture has none");
  const int64_t in_max = scan_bound(arguments.scan[0], "--scan IN_MAX");
  const int64_t out_max = scan_bound(arguments.scan[1], "--scan OUT_MAX");
  const ConventionScan scan = scan_conventions(in_max, out_max);
  // Pictures first: a scan too large to draw fails before anything is printed.
  if (!arguments.svg.empty() || !arguments.png.empty()) {
    write_scene(scan_scene(scan), arguments.svg, arguments.png, notes);
  }
  const std::vector<Float32Finding> findings = float32_findings();
  out << (arguments.json ? scan_json(scan, findings) : scan_text(scan, findings));
}

}  // namespace

void explain_command(const ExplainArguments& arguments, std::ostream& out, std::ostream& notes) {
  if (!arguments.scan.empty()) {
    scan_command(arguments, out, notes);
    return;
  }
  if (arguments.in.empty() || arguments.out.empty()) {
    fail("explain needs IN and OUT, or --scan IN_MAX OUT_MAX (see adapool --help)");
  }
  const std::vector<int64_t> in = parse_sizes(arguments.in, "IN", 1);
  std::vector<int64_t> sizes = parse_sizes(arguments.out, "OUT", arguments.compare ? 1 : 0);
  // One output size for every dimension, as PyTorch's output_size=5.
  if (sizes.size() == 1) sizes.resize(in.size(), sizes[0]);
  if (sizes.size() != in.size()) {
    fail("IN '", arguments.in, "' has ", in.size(), " sizes but OUT '", arguments.out, "' has ",
         sizes.size());
  }
  if (arguments.compare) {
    const auto check = [](const char* name, const std::string& text,
                          const std::vector<int64_t>& values) {
      for (const int64_t size : values) {
        if (size > kMaxConventionSize) {
          fail(name, " '", text, "': --compare takes sizes up to ", kMaxConventionSize,
               " (2^26), not ", size);
        }
      }
    };
    check("IN", arguments.in, in);
    check("OUT", arguments.out, sizes);
  }
  std::optional<std::array<int64_t, 2>> cell;
  if (arguments.cell) cell = parse_cell(*arguments.cell, "--cell");
  if (cell && arguments.svg.empty() && arguments.png.empty()) {
    fail("--cell highlights a cell in a picture; add --svg FILE or --png FILE");
  }
  // Pictures first: a size too large to draw fails before anything is printed.
  write_pictures(in, sizes, cell, arguments.svg, arguments.png, notes);
  if (arguments.compare) {
    const Comparison comparison = compare_conventions(in, sizes);
    out << (arguments.json ? compare_json(comparison) : compare_text(comparison));
    return;
  }
  out << (arguments.json ? explain_json(in, sizes) : explain_text(in, sizes));
}

void pool_command(const PoolArguments& arguments, std::ostream& out) {
  const OutputSize size =
      parse_size_list(arguments.size, {.argument = "--size", .minimum = 0, .allow_keep = true});
  if (arguments.threads < 0) fail("--threads ", arguments.threads, " is negative");
  if (arguments.op != "avg" && arguments.op != "max") {
    fail("--op ", arguments.op, " is not avg or max");
  }
  const Reduction reduction = arguments.op == "max" ? Reduction::max : Reduction::average;
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
        pool_array(input, size, reduction, arguments.channels_last, arguments.threads, in_name);
    write_file_atomically(target, encode_npy(output));
    out << in_name << " " << describe(input) << " -> " << out_name << " " << describe(output)
        << "\n";
  } else {
    if (arguments.channels_last) fail("--channels-last applies to .npy files; a PNG always is");
    const Image input = decode_png(bytes, in_name);
    const Image output = pool_image(input, size, reduction, arguments.threads, in_name);
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
  const Image pooled = pool_image(image, {30, 40}, Reduction::average, 1, input_png);
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
