#include "io/png_codec.hpp"

#include "io/tool_error.hpp"

#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>

namespace adapool::tools {

namespace {

// libpng reports errors through a callback that must not return; it longjmps
// back to the setjmp in decode_rows/encode_rows. Those functions hold only
// trivially destructible locals, so nothing is skipped by the jump; the C++
// objects they fill live in their callers.
struct Session {
  std::jmp_buf jump;
  char message[256] = {};
  std::span<const std::byte> input;  // reading: the file and how far we are
  size_t offset = 0;
  std::vector<std::byte>* output = nullptr;  // writing
};

void on_error(png_structp png, png_const_charp message) {
  auto* session = static_cast<Session*>(png_get_error_ptr(png));
  std::snprintf(session->message, sizeof session->message, "%s", message);
  std::longjmp(session->jump, 1);
}

void on_warning(png_structp, png_const_charp) {}  // a warning never stops a decode

void on_read(png_structp png, png_bytep data, size_t length) {
  auto* session = static_cast<Session*>(png_get_io_ptr(png));
  if (session->input.size() - session->offset < length) png_error(png, "truncated file");
  std::memcpy(data, session->input.data() + session->offset, length);
  session->offset += length;
}

void on_write(png_structp png, png_bytep data, size_t length) {
  auto* session = static_cast<Session*>(png_get_io_ptr(png));
  try {
    const auto* bytes = reinterpret_cast<const std::byte*>(data);
    session->output->insert(session->output->end(), bytes, bytes + length);
  } catch (const std::bad_alloc&) {
    png_error(png, "out of memory");
  }
}

void on_flush(png_structp) {}

struct Geometry {
  png_uint_32 width = 0, height = 0;
  int channels = 0, bit_depth = 0;
};

// Reads the header, sets up the transforms, sizes `pixels` and reads every
// row into it. False when libpng failed (message in session).
bool decode_rows(png_structp png, png_infop info, Session& session, size_t file_size,
                 Geometry& geometry, std::vector<png_byte>& pixels, std::vector<png_bytep>& rows) {
  if (setjmp(session.jump)) return false;
  png_set_read_fn(png, &session, on_read);
  png_read_info(png, info);
  const int colour_type = png_get_color_type(png, info);
  if (colour_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (colour_type == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) {
    png_set_expand_gray_1_2_4_to_8(png);
  }
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  geometry.width = png_get_image_width(png, info);
  geometry.height = png_get_image_height(png, info);
  geometry.channels = png_get_channels(png, info);
  geometry.bit_depth = png_get_bit_depth(png, info);
  const size_t row_bytes = png_get_rowbytes(png, info);
  // Deflate expands at most 1032:1, so a header that claims more pixels than
  // the file could hold is refused before the memory is allocated.
  if (row_bytes * geometry.height / 1032 > file_size + (1 << 20)) {
    png_error(png, "image size in the header is larger than the file can hold");
  }
  pixels.resize(row_bytes * geometry.height);
  rows.resize(geometry.height);
  for (png_uint_32 y = 0; y < geometry.height; ++y) rows[y] = pixels.data() + y * row_bytes;
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  return true;
}

bool encode_rows(png_structp png, png_infop info, Session& session, const Geometry& geometry,
                 std::vector<png_bytep>& rows) {
  if (setjmp(session.jump)) return false;
  png_set_write_fn(png, &session, on_write, on_flush);
  constexpr int kColourTypes[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                  PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
  png_set_IHDR(png, info, geometry.width, geometry.height, geometry.bit_depth,
               kColourTypes[geometry.channels - 1], PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows.data());
  png_write_end(png, info);
  return true;
}

}  // namespace

Image decode_png(std::span<const std::byte> bytes, std::string_view name) {
  if (bytes.size() < 8 || png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8) != 0) {
    fail(name, ": not a PNG file (wrong magic)");
  }
  Session session;
  session.input = bytes;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &session, on_error, on_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  struct Release {
    png_structp& png;
    png_infop& info;
    ~Release() { png_destroy_read_struct(&png, &info, nullptr); }
  } release{png, info};
  if (!info) fail(name, ": cannot start libpng");
  png_set_user_limits(png, kMaxPngSide, kMaxPngSide);

  Geometry geometry;
  std::vector<png_byte> pixels;
  std::vector<png_bytep> rows;
  if (!decode_rows(png, info, session, bytes.size(), geometry, pixels, rows)) {
    fail(name, ": PNG does not decode: ", session.message);
  }
  Image image;
  image.width = geometry.width;
  image.height = geometry.height;
  image.channels = geometry.channels;
  image.bit_depth = geometry.bit_depth;
  image.samples.resize(pixels.size() / (geometry.bit_depth / 8));
  if (geometry.bit_depth == 16) {
    for (size_t i = 0; i < image.samples.size(); ++i) {  // PNG stores 16 bits big-endian
      image.samples[i] = static_cast<uint16_t>(pixels[2 * i] << 8 | pixels[2 * i + 1]);
    }
  } else {
    std::copy(pixels.begin(), pixels.end(), image.samples.begin());
  }
  return image;
}

std::vector<std::byte> encode_png(const Image& image, std::string_view name) {
  if (image.width < 1 || image.height < 1) {
    fail(name, ": a PNG cannot be empty (size ", image.height, "x", image.width, ")");
  }
  if (image.width > kMaxPngSide || image.height > kMaxPngSide) {
    fail(name, ": size ", image.height, "x", image.width, " is too large for a PNG (at most ",
         kMaxPngSide, " per side)");
  }
  if (image.channels < 1 || image.channels > 4 || (image.bit_depth != 8 && image.bit_depth != 16)) {
    fail(name, ": cannot write ", image.channels, " channels of ", image.bit_depth, " bits");
  }
  if (image.samples.size() != static_cast<size_t>(image.width * image.height * image.channels)) {
    fail(name, ": ", image.samples.size(), " samples do not fill ", image.height, "x", image.width,
         "x", image.channels);
  }
  const size_t bytes_per_sample = static_cast<size_t>(image.bit_depth / 8);
  const size_t row_bytes = static_cast<size_t>(image.width) * image.channels * bytes_per_sample;
  std::vector<png_byte> pixels(row_bytes * static_cast<size_t>(image.height));
  for (size_t i = 0; i < image.samples.size(); ++i) {
    if (bytes_per_sample == 2) {
      pixels[2 * i] = static_cast<png_byte>(image.samples[i] >> 8);
      pixels[2 * i + 1] = static_cast<png_byte>(image.samples[i] & 0xff);
    } else {
      pixels[i] = static_cast<png_byte>(image.samples[i]);
    }
  }
  std::vector<png_bytep> rows(static_cast<size_t>(image.height));
  for (size_t y = 0; y < rows.size(); ++y) rows[y] = pixels.data() + y * row_bytes;

  std::vector<std::byte> output;
  Session session;
  session.output = &output;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &session, on_error, on_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  struct Release {
    png_structp& png;
    png_infop& info;
    ~Release() { png_destroy_write_struct(&png, &info); }
  } release{png, info};
  if (!info) fail(name, ": cannot start libpng");
  const Geometry geometry{static_cast<png_uint_32>(image.width),
                          static_cast<png_uint_32>(image.height), image.channels, image.bit_depth};
  if (!encode_rows(png, info, session, geometry, rows)) {
    fail(name, ": PNG encoding failed: ", session.message);
  }
  return output;
}

}  // namespace adapool::tools
