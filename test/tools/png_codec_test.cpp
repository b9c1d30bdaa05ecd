#include "io/png_codec.hpp"
#include "io/tool_error.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bytes.hpp"

#include <string>

namespace adapool::tools {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string error_of(const std::vector<std::byte>& file) {
  try {
    decode_png(file, "x.png");
  } catch (const ToolError& error) {
    return error.what();
  }
  return "no error";
}

// Written by Pillow, not by us: a 2x2 16-bit gray image [[0, 1000], [65535, 300]].
const std::string kGray16(
    "\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x02\x00\x00\x00"
    "\x02\x10\x00\x00\x00\x00\x07\x4d\x8e\xbb\x00\x00\x00\x12\x49\x44\x41\x54\x78\x9c\x63\x60\x60"
    "\x60\x7e\xc1\xf0\xff\x3f\xa3\x0e\x00\x0c\xb6\x03\x17\x3c\xcc\xd2\x98\x00\x00\x00\x00\x49\x45"
    "\x4e\x44\xae\x42\x60\x82",
    75);
// Pillow: 3x1 2-bit palette red, green, blue with tRNS alphas 255, 128, 0.
const std::string kPalette(
    "\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x03\x00\x00\x00"
    "\x01\x02\x03\x00\x00\x00\x66\x8e\xfc\x27\x00\x00\x00\x09\x50\x4c\x54\x45\xff\x00\x00\x00\xff"
    "\x00\x00\x00\xff\x2d\x4a\xcd\x8a\x00\x00\x00\x03\x74\x52\x4e\x53\xff\x80\x00\x7f\x6d\x68\x78"
    "\x00\x00\x00\x0a\x49\x44\x41\x54\x78\x9c\x63\x90\x00\x00\x00\x1a\x00\x19\x2d\x88\xf4\x36\x00"
    "\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82",
    103);
// Pillow: 9x1 1-bit gray 1 0 1 1 0 0 0 1 1.
const std::string kOneBit(
    "\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x09\x00\x00\x00"
    "\x01\x01\x00\x00\x00\x00\x24\xb9\xb9\xd0\x00\x00\x00\x0b\x49\x44\x41\x54\x78\x9c\x63\xdc\x78"
    "\x1e\x00\x02\x37\x01\x82\xb0\xd8\x2e\xd5\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82",
    68);

TEST(Png, Reads16BitGray) {
  const Image image = decode_png(bytes_of(kGray16), "x.png");
  EXPECT_EQ(image.width, 2);
  EXPECT_EQ(image.height, 2);
  EXPECT_EQ(image.channels, 1);
  EXPECT_EQ(image.bit_depth, 16);
  EXPECT_EQ(image.samples, (std::vector<uint16_t>{0, 1000, 65535, 300}));
}

TEST(Png, PaletteWithTransparencyBecomesRgba) {
  const Image image = decode_png(bytes_of(kPalette), "x.png");
  EXPECT_EQ(image.channels, 4);
  EXPECT_EQ(image.bit_depth, 8);
  EXPECT_EQ(image.samples, (std::vector<uint16_t>{255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 0}));
}

TEST(Png, LowBitGrayBecomesEightBit) {
  const Image image = decode_png(bytes_of(kOneBit), "x.png");
  EXPECT_EQ(image.channels, 1);
  EXPECT_EQ(image.bit_depth, 8);
  EXPECT_EQ(image.samples, (std::vector<uint16_t>{255, 0, 255, 255, 0, 0, 0, 255, 255}));
}

TEST(Png, RoundTripEveryColourTypeAndDepth) {
  for (const int channels : {1, 2, 3, 4}) {
    for (const int bit_depth : {8, 16}) {
      Image image;
      image.width = 5;
      image.height = 3;
      image.channels = channels;
      image.bit_depth = bit_depth;
      const int largest = bit_depth == 16 ? 65535 : 255;
      for (int i = 0; i < 15 * channels; ++i) {
        image.samples.push_back(static_cast<uint16_t>((i * 4099) % (largest + 1)));
      }
      const Image back = decode_png(encode_png(image, "x.png"), "x.png");
      EXPECT_EQ(back.width, 5);
      EXPECT_EQ(back.height, 3);
      EXPECT_EQ(back.channels, channels);
      EXPECT_EQ(back.bit_depth, bit_depth);
      EXPECT_EQ(back.samples, image.samples) << channels << " channels, " << bit_depth << " bits";
    }
  }
}

TEST(Png, WrongMagic) {
  EXPECT_EQ(error_of(bytes_of("GIF89a..........")), "x.png: not a PNG file (wrong magic)");
  EXPECT_EQ(error_of({}), "x.png: not a PNG file (wrong magic)");
}

TEST(Png, EveryTruncationIsAnError) {
  const std::vector<std::byte> file = bytes_of(kGray16);
  // The last 12 bytes are the IEND chunk, which libpng does not need.
  for (size_t size = 0; size + 12 < file.size(); ++size) {
    EXPECT_THAT(error_of({file.begin(), file.begin() + static_cast<ptrdiff_t>(size)}),
                StartsWith("x.png: "))
        << size;
  }
  EXPECT_THAT(error_of({file.begin(), file.begin() + 40}),
              HasSubstr("x.png: PNG does not decode: truncated file"));
}

TEST(Png, CorruptDataDoesNotDecode) {
  std::vector<std::byte> file = bytes_of(kGray16);
  file[45] ^= std::byte{0x55};  // inside IDAT: the chunk's CRC no longer matches
  EXPECT_THAT(error_of(file), StartsWith("x.png: PNG does not decode: "));
  std::vector<std::byte> header = bytes_of(kGray16);
  header[16] = std::byte{0x80};  // width 2^31 + 2: beyond the PNG limit
  EXPECT_THAT(error_of(header), StartsWith("x.png: PNG does not decode: "));
}

TEST(Png, HeaderClaimingMoreThanTheFileCanHoldIsRefused) {
  std::vector<std::byte> file = bytes_of(kGray16);
  // 2 x 2 becomes 1,000,000 x 1,000,000 (16 MB of rows per byte of file);
  // the CRC is fixed up so that only the size is wrong.
  const unsigned char size[] = {0x00, 0x0f, 0x42, 0x40};
  for (int i = 0; i < 4; ++i) {
    file[16 + i] = std::byte{size[i]};
    file[20 + i] = std::byte{size[i]};
  }
  uint32_t crc = 0xffffffffu;
  for (size_t i = 12; i < 29; ++i) {  // CRC-32 of "IHDR" and its 13 data bytes
    crc ^= std::to_integer<uint32_t>(file[i]);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  crc ^= 0xffffffffu;
  for (int i = 0; i < 4; ++i)
    file[29 + i] = std::byte{static_cast<unsigned char>(crc >> (24 - 8 * i))};
  EXPECT_THAT(error_of(file), HasSubstr("larger than the file can hold"));
}

TEST(Png, EncodeRefusesImagesAPngCannotHold) {
  Image empty;
  empty.channels = 3;
  EXPECT_THROW(encode_png(empty, "x.png"), ToolError);
  Image wide;
  wide.width = kMaxPngSide + 1;
  wide.height = 1;
  wide.channels = 1;
  EXPECT_THROW(encode_png(wide, "x.png"), ToolError);
}

}  // namespace
}  // namespace adapool::tools
