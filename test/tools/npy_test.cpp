#include "io/npy.hpp"
#include "io/tool_error.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bytes.hpp"

#include <cstring>
#include <string>

namespace adapool::tools {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A .npy file with `header` (a dict literal), padded the way NumPy pads it.
std::vector<std::byte> npy_file(std::string header, std::string_view data, int major = 1) {
  const size_t prefix = major == 1 ? 10 : 12;
  header.resize((prefix + header.size() + 1 + 63) / 64 * 64 - prefix - 1, ' ');
  header += '\n';
  std::string file = "\x93NUMPY";
  file += static_cast<char>(major);
  file += '\0';
  for (size_t i = 0; i < prefix - 8; ++i)
    file += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return bytes_of(file + header + std::string(data));
}

template <class T>
std::vector<T> values_of(const NpyArray& array) {
  std::vector<T> values(array.data.size() / sizeof(T));
  std::memcpy(values.data(), array.data.data(), array.data.size());
  return values;
}

std::string error_of(const std::vector<std::byte>& file) {
  try {
    parse_npy(file, "x.npy");
  } catch (const ToolError& error) {
    return error.what();
  }
  return "no error";
}

// np.save("x.npy", np.arange(6, dtype="<f4").reshape(2, 3)), byte for byte.
const std::string kNumpyF4 =
    std::string("\x93NUMPY\x01\x00\x76\x00", 10) +
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + std::string(58, ' ') + "\n" +
    std::string("\0\0\0\0\0\0\x80\x3f\0\0\0\x40\0\0\x40\x40\0\0\x80\x40\0\0\xa0\x40", 24);

TEST(Npy, ReadsWhatNumpyWrites) {
  const NpyArray array = parse_npy(bytes_of(kNumpyF4), "x.npy");
  EXPECT_EQ(array.dtype, DType::f32);
  EXPECT_EQ(array.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(values_of<float>(array), (std::vector<float>{0, 1, 2, 3, 4, 5}));
}

TEST(Npy, WritesWhatNumpyWrites) {
  const NpyArray array = parse_npy(bytes_of(kNumpyF4), "x.npy");
  EXPECT_EQ(encode_npy(array), bytes_of(kNumpyF4));
}

TEST(Npy, FortranOrderIsTransposedToCOrder) {
  // np.asfortranarray(np.arange(6.0).reshape(2, 3)) stores 0 3 1 4 2 5.
  const double stored[] = {0, 3, 1, 4, 2, 5};
  const NpyArray array =
      parse_npy(npy_file("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                         std::string_view(reinterpret_cast<const char*>(stored), sizeof stored)),
                "x.npy");
  EXPECT_EQ(array.dtype, DType::f64);
  EXPECT_EQ(values_of<double>(array), (std::vector<double>{0, 1, 2, 3, 4, 5}));
}

TEST(Npy, FortranOrderOfThreeAxes) {
  // Shape (2, 2, 3): Fortran element (i, j, k) lies at i + 2 j + 4 k.
  std::vector<float> stored(12);
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 2; ++j) {
      for (int k = 0; k < 3; ++k)
        stored[i + 2 * j + 4 * k] = static_cast<float>(100 * i + 10 * j + k);
    }
  }
  const NpyArray array =
      parse_npy(npy_file("{'shape': (2, 2, 3), 'fortran_order': True, 'descr': '<f4'}",
                         std::string_view(reinterpret_cast<const char*>(stored.data()), 48)),
                "x.npy");
  EXPECT_EQ(values_of<float>(array),
            (std::vector<float>{0, 1, 2, 10, 11, 12, 100, 101, 102, 110, 111, 112}));
}

TEST(Npy, BigEndianIsSwapped) {
  // np.array([1.5, -2, 0.25], dtype=">f2")
  const NpyArray array =
      parse_npy(npy_file("{'descr': '>f2', 'fortran_order': False, 'shape': (3,), }",
                         std::string_view("\x3e\x00\xc0\x00\x34\x00", 6)),
                "x.npy");
  EXPECT_EQ(array.dtype, DType::f16);
  EXPECT_EQ(array.shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(values_of<uint16_t>(array), (std::vector<uint16_t>{0x3e00, 0xc000, 0x3400}));
}

TEST(Npy, Versions2And3HaveFourByteHeaderLengths) {
  for (const int major : {2, 3}) {
    const NpyArray array =
        parse_npy(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
                           std::string_view("\0\0\x80\x3f", 4), major),
                  "x.npy");
    EXPECT_EQ(values_of<float>(array), std::vector<float>{1.0f}) << "version " << major;
  }
}

TEST(Npy, ZeroDimensionalAndEmptyArrays) {
  const NpyArray scalar =
      parse_npy(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
                         std::string_view("\0\0\x80\x3f", 4)),
                "x.npy");
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(scalar.data.size(), 4u);
  const NpyArray empty = parse_npy(
      npy_file("{'descr': '<f8', 'fortran_order': True, 'shape': (0, 3), }", ""), "x.npy");
  EXPECT_EQ(empty.shape, (std::vector<int64_t>{0, 3}));
  EXPECT_TRUE(empty.data.empty());
}

TEST(Npy, RoundTripKeepsDtypeShapeAndData) {
  for (const DType dtype : {DType::f16, DType::f32, DType::f64}) {
    NpyArray array;
    array.dtype = dtype;
    array.shape = {2, 1, 3};
    for (size_t i = 0; i < 6 * dtype_size(dtype); ++i) array.data.push_back(std::byte(i * 7 + 1));
    const std::vector<std::byte> file = encode_npy(array);
    EXPECT_EQ(file.size() % 64, array.data.size() % 64) << "data starts on a 64-byte boundary";
    const NpyArray back = parse_npy(file, "x.npy");
    EXPECT_EQ(back.dtype, dtype);
    EXPECT_EQ(back.shape, array.shape);
    EXPECT_EQ(back.data, array.data);
  }
}

TEST(Npy, WrongMagic) {
  EXPECT_EQ(error_of(bytes_of("PK\x03\x04 not numpy")),
            "x.npy: not a .npy file (wrong magic; expected \\x93NUMPY)");
  EXPECT_EQ(error_of({}), "x.npy: not a .npy file (wrong magic; expected \\x93NUMPY)");
}

TEST(Npy, EveryTruncationIsAnError) {
  const std::vector<std::byte> file = bytes_of(kNumpyF4);
  for (size_t size = 0; size < file.size(); ++size) {
    const std::string message =
        error_of({file.begin(), file.begin() + static_cast<ptrdiff_t>(size)});
    EXPECT_THAT(message, StartsWith("x.npy: ")) << size;
    if (size >= 10) {
      EXPECT_THAT(message, HasSubstr("truncated")) << size;
    }
  }
  EXPECT_EQ(error_of({file.begin(), file.end() - 1}),
            "x.npy: truncated data (the shape needs 24 bytes, the file holds 23)");
  EXPECT_EQ(error_of({file.begin(), file.begin() + 20}),
            "x.npy: truncated header (118 bytes announced, 10 present)");
}

TEST(Npy, DataLongerThanTheShapeIsAMismatch) {
  std::vector<std::byte> file = bytes_of(kNumpyF4);
  file.resize(file.size() + 4);
  EXPECT_EQ(error_of(file),
            "x.npy: data size mismatch (the shape needs 24 bytes, the file holds 28)");
}

TEST(Npy, UnsupportedDtypesAreNamed) {
  const auto with_descr = [](std::string descr) {
    return error_of(npy_file("{'descr': " + descr + ", 'fortran_order': False, 'shape': (1,), }",
                             std::string(16, '\0')));
  };
  EXPECT_EQ(with_descr("'<i4'"),
            "x.npy: unsupported dtype '<i4' (a signed integer); adapool pools float16, float32 "
            "and float64");
  EXPECT_THAT(with_descr("'|u1'"), HasSubstr("(an unsigned integer)"));
  EXPECT_THAT(with_descr("'<c8'"), HasSubstr("(complex)"));
  EXPECT_THAT(with_descr("'|O'"), HasSubstr("(Python objects)"));
  EXPECT_THAT(with_descr("'|b1'"), HasSubstr("(bool)"));
  EXPECT_THAT(with_descr("'<U3'"), HasSubstr("(strings)"));
  EXPECT_THAT(with_descr("'<f16'"), HasSubstr("(a float of 16 bytes)"));
  EXPECT_THAT(with_descr("'float32'"), HasSubstr("(not a NumPy type string)"));
  EXPECT_THAT(with_descr("[('a', '<f4')]"), HasSubstr("structured dtypes"));
}

TEST(Npy, MalformedHeadersAreRejected) {
  const auto header_error = [](std::string header) { return error_of(npy_file(header, "")); };
  EXPECT_THAT(header_error("{'descr': '<f4', 'fortran_order': False, 'shape': (0,), 'x': 1}"),
              HasSubstr("malformed .npy header: unexpected key 'x'"));
  EXPECT_THAT(header_error("{'descr': '<f4', 'shape': (0,)}"), HasSubstr("no 'fortran_order' key"));
  EXPECT_THAT(header_error("{'descr': '<f4', 'fortran_order': false, 'shape': (0,)}"),
              HasSubstr("True or False expected"));
  EXPECT_THAT(header_error("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}"),
              HasSubstr("non-negative integer expected"));
  EXPECT_THAT(
      header_error("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}"),
      HasSubstr("overflows int64"));
  EXPECT_THAT(
      header_error("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}"),
      HasSubstr("more elements than int64 can count"));
  EXPECT_THAT(header_error("{'descr': '<f4"), HasSubstr("unterminated string"));
  EXPECT_THAT(header_error("garbage"), HasSubstr("'{' expected at offset 0"));
  EXPECT_THAT(header_error("{'descr': '<f4', 'fortran_order': False, 'shape': (0,)} x"),
              HasSubstr("text after the closing '}'"));
  EXPECT_THAT(error_of(bytes_of(std::string("\x93NUMPY\x04\x00", 8))),
              HasSubstr("unsupported .npy format version 4.0"));
}

}  // namespace
}  // namespace adapool::tools
