// End-to-end: every kind of bad input gets one line on stderr naming the file
// or argument, exit code 2, and writes nothing.
#include "cli_support.hpp"
#include "io/npy.hpp"
#include "io/png_codec.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bytes.hpp"

namespace adapool::tools::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::vector<std::byte> npy_of(const std::string& descr, const std::string& shape, size_t bytes) {
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  header.resize((10 + header.size() + 1 + 63) / 64 * 64 - 10 - 1, ' ');
  std::string file("\x93NUMPY\x01\x00", 8);
  file += static_cast<char>(header.size() + 1);
  file += static_cast<char>((header.size() + 1) >> 8);
  return bytes_of(file + header + "\n" + std::string(bytes, '\0'));
}

std::vector<std::byte> good_npy() { return npy_of("<f4", "(2, 3, 4)", 96); }

std::vector<std::byte> good_png() {
  Image image;
  image.width = 6;
  image.height = 4;
  image.channels = 3;
  image.samples.assign(72, 128);
  return encode_png(image, "good.png");
}

struct BadInput {
  const char* name;
  std::vector<std::pair<std::string, std::vector<std::byte>>> files;  // written first
  std::vector<std::string> arguments;
  std::string message;  // the whole stderr line, without "adapool: " and the newline
};

std::vector<std::byte> cut(std::vector<std::byte> bytes, size_t size) {
  bytes.resize(size);
  return bytes;
}

std::vector<std::byte> corrupt(std::vector<std::byte> bytes, size_t at) {
  bytes[at] ^= std::byte{0xff};
  return bytes;
}

std::vector<std::byte> longer(std::vector<std::byte> bytes) {
  bytes.resize(bytes.size() + 8);
  return bytes;
}

// Test names, not a byte dump, in ctest's list.
void PrintTo(const BadInput& test, std::ostream* out) { *out << test.name; }

class BadInputs : public ::testing::TestWithParam<BadInput> {};

TEST_P(BadInputs, OneLineExitCodeTwoAndNothingWritten) {
  const BadInput& test = GetParam();
  const Workspace workspace;
  for (const auto& [name, bytes] : test.files) workspace.write(name, bytes);
  const std::vector<std::string> before = workspace.listing();
  const Result result = workspace.run(test.arguments);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err, "adapool: " + test.message + "\n");
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(workspace.listing(), before) << "a failed command wrote a file";
}

const std::vector<std::string> kPoolNpy = {"pool", "in.npy", "out.npy", "--size", "2x2"};
const std::vector<std::string> kPoolPng = {"pool", "in.png", "out.png", "--size", "2x2"};

INSTANTIATE_TEST_SUITE_P(
    Cli, BadInputs,
    ::testing::Values(
        BadInput{"missing_file", {}, kPoolNpy, "in.npy: cannot open: No such file or directory"},
        BadInput{"npy_wrong_magic",
                 {{"in.npy", bytes_of("PK\x03\x04 a zip file")}},
                 kPoolNpy,
                 "in.npy: not a .npy file (wrong magic; expected \\x93NUMPY)"},
        BadInput{"npy_truncated_header",
                 {{"in.npy", cut(good_npy(), 40)}},
                 kPoolNpy,
                 "in.npy: truncated header (118 bytes announced, 30 present)"},
        BadInput{"npy_truncated_data",
                 {{"in.npy", cut(good_npy(), 128 + 50)}},
                 kPoolNpy,
                 "in.npy: truncated data (the shape needs 96 bytes, the file holds 50)"},
        BadInput{"npy_shape_data_mismatch",
                 {{"in.npy", longer(good_npy())}},
                 kPoolNpy,
                 "in.npy: data size mismatch (the shape needs 96 bytes, the file holds 104)"},
        BadInput{"npy_header_garbage",
                 {{"in.npy", npy_of("<f4", "(2, x)", 0)}},
                 kPoolNpy,
                 "in.npy: malformed .npy header: a non-negative integer expected in 'shape' at "
                 "offset 54"},
        BadInput{"npy_int",
                 {{"in.npy", npy_of("<i4", "(2, 2)", 16)}},
                 kPoolNpy,
                 "in.npy: unsupported dtype '<i4' (a signed integer); adapool pools float16, "
                 "float32 and float64"},
        BadInput{"npy_complex",
                 {{"in.npy", npy_of("<c16", "(2, 2)", 64)}},
                 kPoolNpy,
                 "in.npy: unsupported dtype '<c16' (complex); adapool pools float16, float32 and "
                 "float64"},
        BadInput{"npy_object",
                 {{"in.npy", npy_of("|O", "(2, 2)", 32)}},
                 kPoolNpy,
                 "in.npy: unsupported dtype '|O' (Python objects); adapool pools float16, "
                 "float32 and float64"},
        BadInput{"npy_too_few_axes",
                 {{"in.npy", npy_of("<f4", "(4,)", 16)}},
                 kPoolNpy,
                 "in.npy: shape (4,) has 1 axes; pooling 2 axes needs 2"},
        BadInput{"npy_empty_pooled_axis",
                 {{"in.npy", npy_of("<f4", "(3, 0)", 0)}},
                 {"pool", "in.npy", "out.npy", "--size", "2"},
                 "in.npy: input dimension 2 has size 0 (shape [3, 1, 0]); the pooled "
                 "dimensions must not be empty"},
        BadInput{"png_wrong_magic",
                 {{"in.png", bytes_of("GIF89a and more")}},
                 kPoolPng,
                 "in.png: not a PNG file (wrong magic)"},
        BadInput{"png_truncated",
                 {{"in.png", cut(good_png(), 40)}},
                 kPoolPng,
                 "in.png: PNG does not decode: truncated file"},
        BadInput{"png_corrupt",
                 {{"in.png", corrupt(good_png(), 20)}},
                 kPoolPng,
                 "in.png: PNG does not decode: IHDR: CRC error"},
        BadInput{"unknown_format",
                 {{"in.txt", bytes_of("hello")}},
                 {"pool", "in.txt", "out.txt", "--size", "2"},
                 "in.txt: not a .npy or PNG file (unknown extension and magic)"},
        BadInput{"size_does_not_parse",
                 {{"in.npy", good_npy()}},
                 {"pool", "in.npy", "out.npy", "--size", "5xq"},
                 "--size '5xq': 'q' is not a size (expected a whole number)"},
        BadInput{"size_negative",
                 {{"in.npy", good_npy()}},
                 {"pool", "in.npy", "out.npy", "--size", "-2"},
                 "--size '-2': '-2' is negative"},
        BadInput{"size_too_large",
                 {{"in.npy", good_npy()}},
                 {"pool", "in.npy", "out.npy", "--size", "3000000000x2"},
                 "--size '3000000000x2': '3000000000' is too large (the largest size is "
                 "2147483647)"},
        BadInput{"png_size_too_large",
                 {{"in.png", good_png()}},
                 {"pool", "in.png", "out.png", "--size", "2000000x2"},
                 "in.png: a PNG cannot be 2000000x2 (each side 1..1000000)"},
        BadInput{"out_equals_in",
                 {{"in.npy", good_npy()}},
                 {"pool", "in.npy", "./in.npy", "--size", "2"},
                 "./in.npy: OUT is the input file; write the result to another file"},
        BadInput{"out_format_differs",
                 {{"in.npy", good_npy()}},
                 {"pool", "in.npy", "out.png", "--size", "2"},
                 "out.png: the input is a .npy file, so the output must be named *.npy"},
        BadInput{"out_directory_missing",
                 {{"in.npy", good_npy()}},
                 {"pool", "in.npy", "no/such/dir/out.npy", "--size", "2"},
                 "no/such/dir/out.npy: cannot create a file there: No such file or directory"},
        BadInput{"op_unknown",
                 {{"in.npy", good_npy()}},
                 {"pool", "in.npy", "out.npy", "--size", "2", "--op", "min"},
                 "--op min is not avg or max"},
        BadInput{"threads_negative",
                 {{"in.npy", good_npy()}},
                 {"pool", "in.npy", "out.npy", "--size", "2", "--threads", "-1"},
                 "--threads -1 is negative"},
        BadInput{"explain_sizes_do_not_parse",
                 {},
                 {"explain", "10xq", "5"},
                 "IN '10xq': 'q' is not a size (expected a whole number)"},
        BadInput{"explain_zero_input",
                 {},
                 {"explain", "0", "5"},
                 "IN '0': '0' is too small (sizes here are at least 1)"},
        BadInput{"explain_size_counts_differ",
                 {},
                 {"explain", "10x10", "5x5x5"},
                 "IN '10x10' has 2 sizes but OUT '5x5x5' has 3"},
        BadInput{"explain_picture_too_large",
                 {},
                 {"explain", "1000", "5", "--svg", "w.svg"},
                 "a picture is drawn for sizes up to 256 per axis, not 1000 -> 5"},
        BadInput{"explain_cell_outside",
                 {},
                 {"explain", "10x10", "5x7", "--png", "w.png", "--cell", "5,0"},
                 "--cell 5,0 is outside the 5x7 output"},
        BadInput{"explain_without_sizes",
                 {},
                 {"explain"},
                 "explain needs IN and OUT, or --scan IN_MAX OUT_MAX (see adapool --help)"},
        BadInput{"explain_compare_zero_output",
                 {},
                 {"explain", "10", "0", "--compare"},
                 "OUT '0': '0' is too small (sizes here are at least 1)"},
        BadInput{"explain_compare_too_large",
                 {},
                 {"explain", "100000000x10", "5", "--compare"},
                 "IN '100000000x10': --compare takes sizes up to 67108864 (2^26), not 100000000"},
        BadInput{"explain_scan_one_bound",
                 {},
                 {"explain", "--scan", "5"},
                 "--scan: At least 2 required but received 1 (see adapool --help)"},
        BadInput{"explain_scan_zero",
                 {},
                 {"explain", "--scan", "0", "5"},
                 "--scan IN_MAX '0': '0' is too small (sizes here are at least 1)"},
        BadInput{"explain_scan_too_large",
                 {},
                 {"explain", "--scan", "5", "5000"},
                 "--scan OUT_MAX '5000' is too large (a scan goes up to 2048)"},
        BadInput{"explain_scan_not_a_size",
                 {},
                 {"explain", "--scan", "5x5", "5"},
                 "--scan IN_MAX '5x5' is one size, not 2"},
        BadInput{"explain_scan_and_sizes",
                 {},
                 {"explain", "10", "7", "--scan", "5", "5"},
                 "--scan IN_MAX OUT_MAX replaces IN and OUT; give one or the other"},
        BadInput{"explain_scan_and_compare",
                 {},
                 {"explain", "--scan", "5", "5", "--compare"},
                 "--compare and --scan are two views; give one of them"},
        BadInput{"explain_scan_and_cell",
                 {},
                 {"explain", "--scan", "5", "5", "--svg", "s.svg", "--cell", "1,1"},
                 "--cell highlights a window; a --scan picture has none"},
        BadInput{"explain_scan_picture_too_large",
                 {},
                 {"explain", "--scan", "300", "5", "--svg", "s.svg"},
                 "a picture is drawn for scans up to 256 per axis, not 300 x 5"},
        BadInput{"unknown_command",
                 {},
                 {"resize"},
                 "The following argument was not expected: resize (see adapool --help)"},
        BadInput{"missing_size",
                 {{"in.npy", good_npy()}},
                 {"pool", "in.npy", "out.npy"},
                 "--size is required (see adapool --help)"}),
    [](const ::testing::TestParamInfo<BadInput>& instance) { return instance.param.name; });

TEST(Cli, FailureLeavesAnExistingOutputAlone) {
  const Workspace workspace;
  workspace.write("out.npy", bytes_of("precious"));
  workspace.write("in.npy", cut(good_npy(), 128 + 50));
  const Result bad_data = workspace.run({"pool", "in.npy", "out.npy", "--size", "2x2"});
  EXPECT_EQ(bad_data.exit_code, 2);
  workspace.write("in.npy", good_npy());
  const Result bad_size = workspace.run({"pool", "in.npy", "out.npy", "--size", "2x2x2x2"});
  EXPECT_EQ(bad_size.exit_code, 2);
  EXPECT_EQ(workspace.read("out.npy"), bytes_of("precious"));
  EXPECT_THAT(workspace.listing(), ElementsAre("in.npy", "out.npy"));
}

}  // namespace
}  // namespace adapool::tools::testing
