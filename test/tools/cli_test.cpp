// End-to-end: every command of the built binary, its pictures, and .npy/PNG
// round trips checked against the library.
#include "cli_support.hpp"
#include "comparison.hpp"
#include "io/npy.hpp"
#include "io/png_codec.hpp"

#include <adapool/adapool.hpp>
#include <adapool/conventions.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bytes.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

namespace adapool::tools::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string text_of(const std::vector<std::byte>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

TEST(Cli, Version) {
  const Workspace workspace;
  const Result result = workspace.run({"--version"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out, std::string("adapool ") + ADAPOOL_VERSION_STRING + "\n");
}

TEST(Cli, HelpOnEveryCommand) {
  const Workspace workspace;
  for (const std::string command : {"", "demo", "explain", "pool", "bench"}) {
    std::vector<std::string> arguments{"--help"};
    if (!command.empty()) arguments.insert(arguments.begin(), command);
    const Result result = workspace.run(arguments);
    EXPECT_EQ(result.exit_code, 0) << command;
    EXPECT_THAT(result.out, HasSubstr("Usage: adapool" + (command.empty() ? "" : " " + command)))
        << command;
  }
  EXPECT_TRUE(workspace.listing().empty());
}

// Checks the four demo files and that the pooled image is the library's
// pooling of the built-in one.
void check_demo_files(const Workspace& workspace, const Result& result) {
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(workspace.listing(),
              ElementsAre("adapool_demo_input.png", "adapool_demo_pooled.png",
                          "adapool_demo_windows.png", "adapool_demo_windows.svg"));
  for (const std::string& name : workspace.listing()) {
    EXPECT_THAT(result.out, HasSubstr(workspace.path(name).string())) << "says where it wrote";
  }
  EXPECT_THAT(result.out, HasSubstr("it produces 9 outputs, not 7"));
  const SvgSize svg = parse_svg(text_of(workspace.read("adapool_demo_windows.svg")));
  ASSERT_TRUE(svg.parsed) << svg.error;
  const Image windows = decode_png(workspace.read("adapool_demo_windows.png"), "windows");
  EXPECT_EQ(windows.width, svg.width);
  EXPECT_EQ(windows.height, svg.height);

  const Image input = decode_png(workspace.read("adapool_demo_input.png"), "input");
  const Image pooled = decode_png(workspace.read("adapool_demo_pooled.png"), "pooled");
  EXPECT_EQ(input.height, 192);
  EXPECT_EQ(input.width, 256);
  EXPECT_EQ(input.channels, 3);
  EXPECT_EQ(pooled.height, 30);
  EXPECT_EQ(pooled.width, 40);
  std::vector<float> x(input.samples.begin(), input.samples.end()), y(30 * 40 * 3);
  const int64_t in_sizes[] = {3, 192, 256}, out_sizes[] = {3, 30, 40};
  adaptive_avg_pool(DType::f32, 2, Layout::channels_last(in_sizes, 2), x.data(),
                    Layout::channels_last(out_sizes, 2), y.data());
  for (size_t i = 0; i < y.size(); ++i) {
    ASSERT_NEAR(pooled.samples[i], y[i], 0.5 + 1e-3) << "sample " << i;
  }
}

TEST(Cli, NoArgumentsRunsTheDemo) {
  const Workspace workspace;
  check_demo_files(workspace, workspace.run({}));
}

TEST(Cli, DemoCommand) {
  const Workspace workspace;
  check_demo_files(workspace, workspace.run({"demo"}));
}

TEST(Cli, ExplainShowsTheWindowsAndWhereTheRuleFails) {
  const Workspace workspace;
  const Result result = workspace.run({"explain", "10x10", "5x7"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("height: 10 -> 5\n"));
  EXPECT_THAT(result.out,
              HasSubstr("a fixed AvgPool reproduces these windows exactly: kernel=2, stride=2, "
                        "padding=0\n  the rule kernel = ceil(10/5) = 2, stride = floor(10/5) = 2: "
                        "right\n"));
  // Width 10 -> 7: begins 0,1,2,4,5,7,8 and counts 2,2,3,2,3,2,2 (SEMANTICS.md).
  EXPECT_THAT(result.out,
              HasSubstr("width: 10 -> 7\n"
                        "    output       begin         end       count\n"
                        "         0           0           2           2\n"
                        "         1           1           3           2\n"
                        "         2           2           5           3\n"
                        "         3           4           6           2\n"
                        "         4           5           8           3\n"
                        "         5           7           9           2\n"
                        "         6           8          10           2\n"
                        "  no fixed AvgPool(kernel, stride, padding=0) reproduces these "
                        "windows\n"
                        "  the rule kernel = ceil(10/7) = 2, stride = floor(10/7) = 1: "
                        "wrong\n"
                        "    it produces 9 outputs, not 7\n"
                        "    its window 2 is [2, 4); the adaptive window is [2, 5)\n"));
}

TEST(Cli, ExplainOneAndThreeDimensions) {
  const Workspace workspace;
  const Result one = workspace.run({"explain", "15", "7"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_THAT(one.out, StartsWith("length: 15 -> 7\n"));
  EXPECT_THAT(one.out, HasSubstr("exactly: kernel=3, stride=2, padding=0"));
  EXPECT_THAT(one.out, HasSubstr("ceil(15/7) = 3, stride = floor(15/7) = 2: right\n"));
  const Result three = workspace.run({"explain", "8x9x10", "2x3x4"});
  ASSERT_EQ(three.exit_code, 0) << three.err;
  EXPECT_THAT(three.out, HasSubstr("depth: 8 -> 2\n"));
  EXPECT_THAT(three.out, HasSubstr("height: 9 -> 3\n"));
  EXPECT_THAT(three.out, HasSubstr("width: 10 -> 4\n"));
  const Result upsampling = workspace.run({"explain", "5", "13"});
  EXPECT_THAT(upsampling.out, HasSubstr("stride = floor(5/13) = 0: meaningless here"));
  const Result broadcast = workspace.run({"explain", "10x10", "5"});
  EXPECT_THAT(broadcast.out, HasSubstr("width: 10 -> 5\n"));
}

TEST(Cli, ExplainJsonListsEveryWindow) {
  const Workspace workspace;
  const Result result = workspace.run({"explain", "5", "3", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, R"({
  "input": [5],
  "output": [3],
  "dimensions": [
    {
      "name": "length",
      "input": 5,
      "output": 3,
      "windows": [
        {"output": 0, "begin": 0, "end": 2, "count": 2},
        {"output": 1, "begin": 1, "end": 4, "count": 3},
        {"output": 2, "begin": 3, "end": 5, "count": 2}
      ],
      "fixed_pool": null,
      "ceil_floor_rule": {"kernel": 2, "stride": 1, "outputs": 4, "matches": false, "first_mismatch": {"output": 1, "rule_begin": 1, "rule_end": 3, "begin": 1, "end": 4}}
    }
  ]
}
)");
}

TEST(Cli, ExplainShortensLongTables) {
  const Workspace workspace;
  const Result result = workspace.run({"explain", "1080", "224"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("(184 rows left out; --json lists them all)"));
  EXPECT_THAT(result.out, HasSubstr("       223        1075        1080           5\n"));
}

TEST(Cli, ExplainDrawsPictures) {
  const Workspace workspace;
  const Result result = workspace.run(
      {"explain", "10x10", "5x7", "--svg", "w.svg", "--png", "w.png", "--cell", "2,4"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string svg_text = text_of(workspace.read("w.svg"));
  const SvgSize svg = parse_svg(svg_text);
  ASSERT_TRUE(svg.parsed) << svg.error;
  EXPECT_EQ(svg.root, "svg");
  // 35 windows, 11 + 11 grid lines, 7 + 5 bars, the highlighted cell.
  size_t rectangles = 0;
  for (size_t at = svg_text.find("<rect "); at != std::string::npos;
       at = svg_text.find("<rect ", at + 1)) {
    ++rectangles;
  }
  EXPECT_EQ(rectangles, 1u + 35 + 22 + 12 + 1);
  EXPECT_THAT(svg_text, HasSubstr("output (2, 4) averages rows [4, 6) x columns [5, 8): 6 cells"));
  const Image png = decode_png(workspace.read("w.png"), "w.png");
  EXPECT_EQ(png.width, svg.width);
  EXPECT_EQ(png.height, svg.height);
  EXPECT_EQ(png.channels, 3);

  for (const std::vector<std::string>& sizes :
       {std::vector<std::string>{"10", "7"}, {"8x9x10", "2x3x4"}, {"3x3", "8x8"}}) {
    const Result drawn =
        workspace.run({"explain", sizes[0], sizes[1], "--svg", "p.svg", "--png", "p.png"});
    ASSERT_EQ(drawn.exit_code, 0) << drawn.err;
    const SvgSize picture = parse_svg(text_of(workspace.read("p.svg")));
    EXPECT_TRUE(picture.parsed) << sizes[0] << ": " << picture.error;
    const Image raster = decode_png(workspace.read("p.png"), "p.png");
    EXPECT_EQ(raster.width, picture.width) << sizes[0];
    EXPECT_EQ(raster.height, picture.height) << sizes[0];
  }
}

// JSON's grammar (RFC 8259), checked by recursive descent: true when `text`
// is one value with only whitespace around it.
class JsonChecker {
 public:
  explicit JsonChecker(std::string_view text) : text_(text) {}

  bool valid() {
    skip_space();
    if (!value()) return false;
    skip_space();
    return at_ == text_.size();
  }

 private:
  void skip_space() {
    while (at_ < text_.size() && std::strchr(" \t\r\n", text_[at_])) ++at_;
  }
  bool take(char c) {
    skip_space();
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  bool word(std::string_view expected) {
    if (text_.substr(at_, expected.size()) != expected) return false;
    at_ += expected.size();
    return true;
  }
  bool string() {
    if (!take('"')) return false;
    while (at_ < text_.size() && text_[at_] != '"') {
      if (static_cast<unsigned char>(text_[at_]) < 0x20) return false;
      if (text_[at_] == '\\') ++at_;
      ++at_;
    }
    return take('"');
  }
  bool number() {
    const size_t start = at_;
    if (at_ < text_.size() && text_[at_] == '-') ++at_;
    while (at_ < text_.size() && std::strchr("0123456789.eE+-", text_[at_])) ++at_;
    double parsed;
    return at_ > start && std::from_chars(text_.data() + start, text_.data() + at_, parsed).ptr ==
                              text_.data() + at_;
  }
  bool value() {
    skip_space();
    if (at_ >= text_.size()) return false;
    switch (text_[at_]) {
      case '{':
        ++at_;
        if (take('}')) return true;
        do {
          if (!string() || !take(':') || !value()) return false;
        } while (take(','));
        return take('}');
      case '[':
        ++at_;
        if (take(']')) return true;
        do {
          if (!value()) return false;
        } while (take(','));
        return take(']');
      case '"':
        return string();
      case 't':
        return word("true");
      case 'f':
        return word("false");
      case 'n':
        return word("null");
      default:
        return number();
    }
  }

  std::string_view text_;
  size_t at_ = 0;
};

bool is_json(std::string_view text) { return JsonChecker(text).valid(); }

std::string shortest(double value) {
  char text[64];
  return std::string(text, std::to_chars(text, text + sizeof text, value).ptr);
}

std::string four_digits(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", value);
  return text;
}

const ConventionComparison& named(const Comparison& comparison, const std::string& name) {
  for (const ConventionComparison& convention : comparison.conventions) {
    if (name == convention.info->name) return convention;
  }
  throw std::runtime_error("no convention " + name);
}

// The checker the JSON tests rely on accepts JSON and nothing else.
TEST(Cli, JsonCheckerAcceptsOnlyJson) {
  EXPECT_TRUE(is_json("{\"a\": [1, -2.5e3, true, null, \"x\\\"y\"], \"b\": {}}"));
  for (const char* bad : {"{\"a\": [1, 2,]}", "{\"a\" 1}", "[1 2]", "{\"a\": tru}", "[1]]",
                          "{\"a\": \"b}", "[01x]", ""}) {
    EXPECT_FALSE(is_json(bad)) << bad;
  }
}

TEST(Cli, ExplainHelpNamesCompareAndScan) {
  const Workspace workspace;
  const Result result = workspace.run({"explain", "--help"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("--compare"));
  EXPECT_THAT(result.out, HasSubstr("--scan SIZE x 2"));
  EXPECT_THAT(result.out, HasSubstr("IN_MAX OUT_MAX, instead of IN OUT"));
}

TEST(Cli, ExplainCompareShowsEveryConvention) {
  const Workspace workspace;
  const Result result = workspace.run({"explain", "10", "7", "--compare"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const ConventionInfo& info : conventions()) {
    std::ostringstream block;
    block << "\n" << info.name << ": " << info.computes << "\n  used by: " << info.used_by << "\n";
    EXPECT_THAT(result.out, HasSubstr(block.str()));
  }
  EXPECT_THAT(result.out, HasSubstr("pytorch: begin = floor(o*in/out), end = ceil((o+1)*in/out) "
                                    "in exact integer arithmetic\n"));
  EXPECT_THAT(result.out,
              HasSubstr("  length 10 -> 7: [0, 2) [1, 3) [2, 5) [4, 6) [5, 8) [7, 9) [8, 10)\n"
                        "  the reference\n"));
  EXPECT_THAT(result.out, HasSubstr("  length 10 -> 7: PyTorch's windows\n"
                                    "  agrees with PyTorch\n"));
  EXPECT_THAT(result.out,
              HasSubstr("  length 10 -> 7: kernel 1, stride 1: 10 windows [0, 1) [1, 2) [2, 3) "
                        "[3, 4) [4, 5) [5, 6) [6, 7) [7, 8) [8, 9) [9, 10)\n"
                        "  undefined here: kernel = stride = 1 gives 10 outputs, not 7\n"));
  EXPECT_THAT(result.out, HasSubstr("  length 10 -> 7: refused: 7 does not divide 10\n"
                                    "  undefined here: refused: 7 does not divide 10\n"));
  // The values printed are the comparison's, to four digits.
  const int64_t in[] = {10}, out[] = {7};
  const Comparison comparison = compare_conventions(in, out);
  const ConventionComparison& derived = named(comparison, "derived_kernel");
  EXPECT_THAT(result.out,
              HasSubstr("  length 10 -> 7: kernel 4, stride 1: [0, 4) [1, 5) [2, 6) [3, 7) [4, 8) "
                        "[5, 9) [6, 10)\n"
                        "    differs at 7 of 7 outputs: 0 1 2 3 4 5 6\n"
                        "      it has:      [0, 4) [1, 5) [2, 6) [3, 7) [4, 8) [5, 9) [6, 10)\n"
                        "      PyTorch has: [0, 2) [1, 3) [2, 5) [4, 6) [5, 8) [7, 9) [8, 10)\n"
                        "  differs: 7 of 7 output cells; random input: max |diff| " +
                        four_digits(derived.random->max_abs) + ", mean " +
                        four_digits(derived.random->mean_abs) + "; image: max |diff| " +
                        four_digits(derived.image->max_abs) + ", mean " +
                        four_digits(derived.image->mean_abs) + "\n"));
}

TEST(Cli, ExplainCompareJsonHasTheSameFacts) {
  const Workspace workspace;
  const Result result = workspace.run({"explain", "10x10", "5x7", "--compare", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(is_json(result.out)) << result.out;
  EXPECT_THAT(result.out, StartsWith("{\n  \"input\": [10, 10],\n  \"output\": [5, 7],\n"
                                     "  \"seed\": 20240909,\n"));
  EXPECT_THAT(
      result.out,
      HasSubstr("{\"name\": \"width\", \"input\": 10, \"output\": 7, \"status\": "
                "\"usable\", \"outputs\": 7, \"kernel\": null, \"stride\": null, "
                "\"reason\": null, \"windows\": [[0, 2], [2, 4], [4, 6], [6, 7], [7, 8], "
                "[8, 9], [9, 10]], \"differing_count\": 6, \"differing_outputs\": [1, 2, 3, "
                "4, 5, 6]}"));
  EXPECT_THAT(result.out, HasSubstr("\"agrees\": null,\n      \"undefined\": \"refused: 7 does "
                                    "not divide 10\",\n"));
  EXPECT_THAT(result.out, HasSubstr("\"status\": \"other_count\", \"outputs\": 10, \"kernel\": 1, "
                                    "\"stride\": 1, \"reason\": \"kernel = stride = 1 gives 10 "
                                    "outputs, not 7\""));
  // The numbers, exactly as the comparison has them.
  const int64_t in[] = {10, 10}, out[] = {5, 7};
  const Comparison comparison = compare_conventions(in, out);
  const ConventionComparison& partition = named(comparison, "partition");
  EXPECT_THAT(result.out,
              HasSubstr("\"differing_cells\": 30,\n      \"cells\": 35,\n      \"random\": "
                        "{\"max_abs\": " +
                        shortest(partition.random->max_abs) +
                        ", \"mean_abs\": " + shortest(partition.random->mean_abs) +
                        "},\n      \"image\": "
                        "{\"max_abs\": " +
                        shortest(partition.image->max_abs) +
                        ", \"mean_abs\": " + shortest(partition.image->mean_abs) +
                        "},\n      \"not_measured\": null\n"));
}

TEST(Cli, ExplainCompareShowsFloat32Drift) {
  const Workspace workspace;
  const Result result = workspace.run({"explain", "4097", "4098", "--compare"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("(4098 in all)\n"
                                    "    differs at 1 of 4098 outputs: 4096\n"
                                    "      it has:      [4095, 4096)\n"
                                    "      PyTorch has: [4095, 4097)\n"
                                    "  differs: 1 of 4098 output cells; random input: "));
  const Result json = workspace.run({"explain", "4097", "4098", "--compare", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_TRUE(is_json(json.out));
  EXPECT_THAT(json.out, HasSubstr("\"windows\": null, \"differing_count\": 1, "
                                  "\"differing_outputs\": [4096]}"));
}

TEST(Cli, ExplainCompareSaysWhatIsNotMeasured) {
  const Workspace workspace;
  const Result outside = workspace.run({"explain", "4047", "91005", "--compare"});
  ASSERT_EQ(outside.exit_code, 0) << outside.err;
  EXPECT_THAT(outside.out, HasSubstr("; not measured: window 91004 of dimension 0 is [4046, "
                                     "4048), outside the input of 4047 cells\n"));
}

TEST(Cli, ExplainScanTabulatesAgreement) {
  const Workspace workspace;
  const Result result = workspace.run({"explain", "--scan", "12", "20"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, StartsWith("Agreement with PyTorch's windows over in = 1..12, out = "
                                     "1..20 (240 size pairs, one dimension each):\n"));
  EXPECT_THAT(result.out, HasSubstr("  pytorch                  100.00%     0.00%      0.00%\n"));
  const ConventionScan scan = scan_conventions(12, 20);
  for (const ConventionInfo& info : conventions()) {
    const ConventionScan::Tally& tally = scan.tallies[static_cast<size_t>(info.convention)];
    char line[160];
    std::snprintf(line, sizeof line, "  %-22s%9.2f%%%9.2f%%%10.2f%%\n", info.name,
                  100.0 * static_cast<double>(tally.agrees) / 240,
                  100.0 * static_cast<double>(tally.differs) / 240,
                  100.0 * static_cast<double>(tally.undefined) / 240);
    EXPECT_THAT(result.out, HasSubstr(line));
  }
  for (const char* name : {"float32_bounds   ", "float32_end      ", "float32_two_sizes"}) {
    EXPECT_THAT(result.out, HasSubstr(std::string("  ") + name +
                                      "   4097 -> 4098: output 4096 is [4095, 4096), PyTorch's "
                                      "[4095, 4097)\n"));
  }
  EXPECT_THAT(result.out, HasSubstr("none lies inside this scan.\n"));
}

TEST(Cli, ExplainScanJson) {
  const Workspace workspace;
  const Result result = workspace.run({"explain", "--scan", "30", "30", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(is_json(result.out)) << result.out;
  const ConventionScan scan = scan_conventions(30, 30);
  const ConventionScan::Tally& tally = scan.tallies[static_cast<size_t>(Convention::multiple_only)];
  EXPECT_THAT(result.out, HasSubstr("{\"name\": \"multiple_only\", \"agrees\": " +
                                    std::to_string(tally.agrees) +
                                    ", \"differs\": 0, "
                                    "\"undefined\": " +
                                    std::to_string(tally.undefined) + ", "));
  EXPECT_THAT(result.out, HasSubstr("{\"convention\": \"float32_end\", \"found\": true, "
                                    "\"input\": 4097, \"output\": 4098, \"cell\": 4096, "
                                    "\"begin\": 4095, \"end\": 4096, \"pytorch_begin\": 4095, "
                                    "\"pytorch_end\": 4097}"));
}

TEST(Cli, ExplainScanDrawsOnePanelPerConvention) {
  const Workspace workspace;
  const Result result =
      workspace.run({"explain", "--scan", "40", "30", "--svg", "s.svg", "--png", "s.png"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "wrote s.svg\nwrote s.png\n");
  const std::string svg_text = text_of(workspace.read("s.svg"));
  const SvgSize svg = parse_svg(svg_text);
  ASSERT_TRUE(svg.parsed) << svg.error;
  for (const ConventionInfo& info : conventions()) {
    EXPECT_THAT(svg_text, HasSubstr(std::string(">") + info.name + "</text>"));
  }
  const Image png = decode_png(workspace.read("s.png"), "s.png");
  EXPECT_EQ(png.width, svg.width);
  EXPECT_EQ(png.height, svg.height);
  // Every pair agrees for PyTorch: its panel's corners are the "agrees" green.
  const auto pixel = [&](int x, int y) {
    const size_t at = static_cast<size_t>((y * png.width + x) * 3);
    return std::vector<uint16_t>{png.samples[at], png.samples[at + 1], png.samples[at + 2]};
  };
  EXPECT_THAT(svg_text, HasSubstr("fill=\"#2ca02c\""));
  EXPECT_EQ(pixel(17, 81), (std::vector<uint16_t>{44, 160, 44}));
}

// An array of `shape` with reproducible values that are exact in every dtype.
NpyArray random_array(DType dtype, std::vector<int64_t> shape, uint32_t seed) {
  NpyArray array;
  array.dtype = dtype;
  array.shape = std::move(shape);
  int64_t count = 1;
  for (const int64_t size : array.shape) count *= size;
  array.data.resize(static_cast<size_t>(count) * dtype_size(dtype));
  std::mt19937 random(seed);
  for (int64_t i = 0; i < count; ++i) {
    const float value = static_cast<float>(static_cast<int>(random() % 2001) - 1000) / 64.0f;
    std::byte* at = array.data.data() + i * static_cast<int64_t>(dtype_size(dtype));
    if (dtype == DType::f64) {
      const double wide = value;
      std::memcpy(at, &wide, 8);
    } else if (dtype == DType::f32) {
      std::memcpy(at, &value, 4);
    } else {
      // float16 of a multiple of 1/64 below 16: exact. Sign, 5-bit
      // exponent, 10-bit mantissa, built from the float's bits.
      uint32_t bits;
      std::memcpy(&bits, &value, 4);
      uint16_t half = static_cast<uint16_t>((bits >> 16) & 0x8000);
      if (value != 0.0f) {
        const int exponent = static_cast<int>((bits >> 23) & 0xff) - 127 + 15;
        half = static_cast<uint16_t>(half | (exponent << 10) | ((bits >> 13) & 0x3ff));
      }
      std::memcpy(at, &half, 2);
    }
  }
  return array;
}

struct NpyCase {
  const char* name;
  DType dtype;
  std::vector<int64_t> shape;
  std::string size;
  bool channels_last;
  // The library call that the command must match: (N, C, spatial...) sizes
  // and the pooled sizes, in the layout the file implies.
  std::vector<int64_t> library_in, library_out;
};

// Test names, not a byte dump, in ctest's list.
void PrintTo(const NpyCase& test, std::ostream* out) { *out << test.name; }

class PoolNpy : public ::testing::TestWithParam<NpyCase> {};

TEST_P(PoolNpy, MatchesTheLibraryBitForBit) {
  const NpyCase& test = GetParam();
  const Workspace workspace;
  const NpyArray input = random_array(test.dtype, test.shape, 7);
  workspace.write("in.npy", encode_npy(input));
  std::vector<std::string> arguments{"pool",    "in.npy",    "out.npy", "--size",
                                     test.size, "--threads", "2"};
  if (test.channels_last) arguments.push_back("--channels-last");
  const Result result = workspace.run(arguments);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, StartsWith("in.npy ("));
  const NpyArray output = parse_npy(workspace.read("out.npy"), "out.npy");

  const int spatial = static_cast<int>(test.library_in.size()) - 2;
  const auto layout = [&](const std::vector<int64_t>& sizes) {
    return test.channels_last ? Layout::channels_last(sizes, spatial) : Layout::contiguous(sizes);
  };
  std::vector<std::byte> expected(output.data.size());
  adaptive_avg_pool(test.dtype, spatial, layout(test.library_in), input.data.data(),
                    layout(test.library_out), expected.data());
  EXPECT_EQ(output.dtype, test.dtype);
  EXPECT_EQ(output.data, expected);
  std::vector<int64_t> expected_shape = test.shape;
  const size_t first = expected_shape.size() - spatial - (test.channels_last ? 1 : 0);
  for (int d = 0; d < spatial; ++d) expected_shape[first + d] = test.library_out[2 + d];
  EXPECT_EQ(output.shape, expected_shape);
}

INSTANTIATE_TEST_SUITE_P(
    Cli, PoolNpy,
    ::testing::Values(
        NpyCase{"f32_chw", DType::f32, {3, 10, 10}, "5x7", false, {3, 1, 10, 10}, {3, 1, 5, 7}},
        NpyCase{"f64_nchw", DType::f64, {2, 3, 10, 11}, "4x5", false, {6, 1, 10, 11}, {6, 1, 4, 5}},
        NpyCase{"f16_1d", DType::f16, {7}, "3", false, {1, 1, 7}, {1, 1, 3}},
        NpyCase{"f16_upsample", DType::f16, {2, 5}, "13", false, {2, 1, 5}, {2, 1, 13}},
        NpyCase{
            "f32_3d", DType::f32, {2, 8, 9, 10}, "2x3x4", false, {2, 1, 8, 9, 10}, {2, 1, 2, 3, 4}},
        NpyCase{"f32_2d_only", DType::f32, {10, 12}, "3x5", false, {1, 1, 10, 12}, {1, 1, 3, 5}},
        NpyCase{"f32_keep", DType::f32, {2, 10, 12}, "5x-", false, {2, 1, 10, 12}, {2, 1, 5, 12}},
        NpyCase{"f64_channels_last",
                DType::f64,
                {4, 10, 12, 3},
                "5x7",
                true,
                {4, 3, 10, 12},
                {4, 3, 5, 7}},
        NpyCase{"f16_channels_last_3d",
                DType::f16,
                {6, 5, 4, 2},
                "3x2x-",
                true,
                {1, 2, 6, 5, 4},
                {1, 2, 3, 2, 4}}),
    [](const ::testing::TestParamInfo<NpyCase>& instance) { return instance.param.name; });

TEST(Cli, PoolReadsFortranOrderAndBigEndianAndWritesCOrder) {
  const Workspace workspace;
  // np.asfortranarray(np.arange(12, dtype=">f8").reshape(3, 4)) pooled to 2x2.
  std::string data;
  for (int column = 0; column < 4; ++column) {
    for (int row = 0; row < 3; ++row) {
      const double value = 4.0 * row + column;
      uint64_t bits;
      std::memcpy(&bits, &value, 8);
      for (int byte = 7; byte >= 0; --byte) data += static_cast<char>((bits >> (8 * byte)) & 0xff);
    }
  }
  std::string header = "{'descr': '>f8', 'fortran_order': True, 'shape': (3, 4), }";
  header.resize(128 - 10 - 1, ' ');
  workspace.write("in.npy",
                  bytes_of(std::string("\x93NUMPY\x01\x00\x76\x00", 10) + header + "\n" + data));
  const Result result = workspace.run({"pool", "in.npy", "out.npy", "--size", "2x2"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const NpyArray output = parse_npy(workspace.read("out.npy"), "out.npy");
  EXPECT_EQ(output.shape, (std::vector<int64_t>{2, 2}));
  std::vector<double> values(4);
  std::memcpy(values.data(), output.data.data(), 32);
  // Rows [0, 2) and [1, 3), columns [0, 2) and [2, 4) of 4 row + column.
  EXPECT_EQ(values, (std::vector<double>{2.5, 4.5, 6.5, 8.5}));
  EXPECT_THAT(text_of(workspace.read("out.npy")), HasSubstr("'fortran_order': False"));
}

class PoolPng : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(PoolPng, EveryChannelMatchesTheLibraryRounded) {
  const auto [channels, bit_depth] = GetParam();
  const Workspace workspace;
  Image input;
  input.width = 53;
  input.height = 37;
  input.channels = channels;
  input.bit_depth = bit_depth;
  std::mt19937 random(11);
  for (int64_t i = 0; i < input.width * input.height * channels; ++i) {
    input.samples.push_back(static_cast<uint16_t>(random() % (bit_depth == 16 ? 65536 : 256)));
  }
  workspace.write("in.png", encode_png(input, "in.png"));
  const Result result = workspace.run({"pool", "in.png", "out.png", "--size", "10x-"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const Image output = decode_png(workspace.read("out.png"), "out.png");
  EXPECT_EQ(output.height, 10);
  EXPECT_EQ(output.width, 53);
  EXPECT_EQ(output.channels, channels);
  EXPECT_EQ(output.bit_depth, bit_depth);

  const std::vector<double> x(input.samples.begin(), input.samples.end());
  std::vector<double> y(static_cast<size_t>(10 * 53 * channels));
  const int64_t in_sizes[] = {channels, 37, 53}, out_sizes[] = {channels, 10, 53};
  adaptive_avg_pool(DType::f64, 2, Layout::channels_last(in_sizes, 2), x.data(),
                    Layout::channels_last(out_sizes, 2), y.data());
  ASSERT_EQ(output.samples.size(), y.size());
  for (size_t i = 0; i < y.size(); ++i) {
    ASSERT_EQ(output.samples[i], static_cast<uint16_t>(std::round(y[i]))) << "sample " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Cli, PoolPng,
                         ::testing::Combine(::testing::Values(1, 2, 3, 4),
                                            ::testing::Values(8, 16)));

TEST(Cli, PoolPngWithOneSizeForBothAxes) {
  const Workspace workspace;
  Image input;
  input.width = 4;
  input.height = 2;
  input.channels = 1;
  input.samples = {0, 10, 20, 30, 40, 50, 60, 71};
  workspace.write("in.png", encode_png(input, "in.png"));
  const Result result = workspace.run({"pool", "in.png", "out.png", "--size", "1"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "in.png 2x4 gray 8-bit -> out.png 1x1 gray 8-bit\n");
  EXPECT_EQ(decode_png(workspace.read("out.png"), "out.png").samples,
            std::vector<uint16_t>{35});  // 281 / 8 = 35.125
}

TEST(Cli, ThreadCountDoesNotChangeTheResult) {
  const Workspace workspace;
  workspace.write("in.npy", encode_npy(random_array(DType::f32, {64, 33, 47}, 3)));
  for (const std::string threads : {"1", "2", "0"}) {
    const Result result = workspace.run(
        {"pool", "in.npy", "out" + threads + ".npy", "--size", "7x9", "--threads", threads});
    ASSERT_EQ(result.exit_code, 0) << result.err;
  }
  EXPECT_EQ(workspace.read("out1.npy"), workspace.read("out2.npy"));
  EXPECT_EQ(workspace.read("out1.npy"), workspace.read("out0.npy"));
}

TEST(Cli, PoolMaxOfNpyAndPng) {
  const Workspace workspace;
  // 2 x 5 x 4 float32, channels-last: the maximum of each window, per channel.
  const NpyArray input = random_array(DType::f32, {5, 4, 2}, 9);
  workspace.write("in.npy", encode_npy(input));
  const Result result = workspace.run(
      {"pool", "in.npy", "out.npy", "--size", "3x2", "--op", "max", "--channels-last"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const NpyArray output = parse_npy(workspace.read("out.npy"), "out.npy");
  EXPECT_EQ(output.shape, (std::vector<int64_t>{3, 2, 2}));
  std::vector<float> x(40), y(12), expected(12);
  std::memcpy(x.data(), input.data.data(), 160);
  std::memcpy(y.data(), output.data.data(), 48);
  // Windows of 5 -> 3: [0, 2) [1, 4) [3, 5); of 4 -> 2: [0, 2) [2, 4).
  const int rows[3][2] = {{0, 2}, {1, 4}, {3, 5}};
  for (int oh = 0; oh < 3; ++oh) {
    for (int ow = 0; ow < 2; ++ow) {
      for (int c = 0; c < 2; ++c) {
        float best = -INFINITY;
        for (int h = rows[oh][0]; h < rows[oh][1]; ++h) {
          for (int w = 2 * ow; w < 2 * ow + 2; ++w) best = std::max(best, x[(h * 4 + w) * 2 + c]);
        }
        expected[(oh * 2 + ow) * 2 + c] = best;
      }
    }
  }
  EXPECT_EQ(y, expected);

  Image image;
  image.width = 4;
  image.height = 2;
  image.channels = 1;
  image.samples = {0, 10, 20, 30, 40, 50, 60, 71};
  workspace.write("in.png", encode_png(image, "in.png"));
  const Result png = workspace.run({"pool", "in.png", "out.png", "--size", "1x2", "--op", "max"});
  ASSERT_EQ(png.exit_code, 0) << png.err;
  EXPECT_EQ(decode_png(workspace.read("out.png"), "out.png").samples,
            (std::vector<uint16_t>{50, 71}));
}

TEST(Cli, PoolReplacesAnExistingOutput) {
  const Workspace workspace;
  workspace.write("in.npy", encode_npy(random_array(DType::f32, {4, 4}, 5)));
  workspace.write("out.npy", bytes_of("old contents"));
  const Result result = workspace.run({"pool", "in.npy", "out.npy", "--size", "2"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(parse_npy(workspace.read("out.npy"), "out.npy").shape, (std::vector<int64_t>{4, 2}));
  EXPECT_THAT(workspace.listing(), ElementsAre("in.npy", "out.npy"));  // no temporary left
}

TEST(Cli, QuickBenchPrintsEveryCase) {
  const Workspace workspace;
  const Result result = workspace.run({"bench", "--quick"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::vector<std::string> rows;
  std::istringstream lines(result.out);
  for (std::string line; std::getline(lines, line);) rows.push_back(line);
  // Title, column heads, then 10 cases x 2 layouts x 2 passes x 2 thread counts.
  ASSERT_EQ(rows.size(), 2u + 80u) << result.out;
  EXPECT_THAT(rows[0], HasSubstr("bench, float32, quick (batch 1, at most 64 channels)"));
  EXPECT_THAT(rows[2], StartsWith("1x64 7x7->1x1"));
  EXPECT_THAT(rows[2], HasSubstr("NCHW   forward"));
  EXPECT_THAT(rows.back(), StartsWith("1x64 56x56->7x7"));
  EXPECT_THAT(rows.back(), HasSubstr("NHWC   backward"));
}

}  // namespace
}  // namespace adapool::tools::testing
