#include "io/npy.hpp"

#include "io/tool_error.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <optional>
#include <string>

namespace adapool::tools {

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

// Text taken from the file, fit for a one-line message: bytes outside
// printable ASCII become \xNN.
std::string printable(std::string_view text) {
  std::string result;
  for (const char c : text) {
    if (c >= ' ' && c <= '~') {
      result += c;
    } else {
      constexpr char kHex[] = "0123456789abcdef";
      const auto byte = static_cast<unsigned char>(c);
      result += {'\\', 'x', kHex[byte >> 4], kHex[byte & 15]};
    }
  }
  return result;
}

// The header is a Python dict literal; NumPy writes exactly three keys whose
// values are a string, a bool and a tuple of ints. This reads that subset of
// Python syntax and nothing more.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::string_view name) : text_(text), name_(name) {}

  struct Header {
    std::string descr;
    bool fortran_order = false;
    std::vector<int64_t> shape;
  };

  Header parse() {
    Header header;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (!next_is('}')) {
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        skip_space();
        if (position_ < text_.size() && text_[position_] == '[') {
          bad("structured dtypes (a list as 'descr') are not supported");
        }
        header.descr = string_literal();
        have_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = boolean();
        have_order = true;
      } else if (key == "shape") {
        header.shape = int_tuple();
        have_shape = true;
      } else {
        bad("unexpected key '", printable(key), "'");
      }
      if (!next_is(',')) break;
      expect(',');
    }
    expect('}');
    skip_space();
    if (position_ != text_.size()) bad("text after the closing '}'");
    if (!have_descr) bad("no 'descr' key");
    if (!have_order) bad("no 'fortran_order' key");
    if (!have_shape) bad("no 'shape' key");
    return header;
  }

 private:
  template <class... Parts>
  [[noreturn]] void bad(const Parts&... parts) const {
    fail(name_, ": malformed .npy header: ", parts...);
  }

  void skip_space() {
    while (position_ < text_.size() &&
           (text_[position_] == ' ' || text_[position_] == '\n' || text_[position_] == '\t')) {
      ++position_;
    }
  }

  bool next_is(char c) {
    skip_space();
    return position_ < text_.size() && text_[position_] == c;
  }

  void expect(char c) {
    if (!next_is(c)) {
      if (position_ >= text_.size()) bad("it ends where '", c, "' was expected");
      bad("'", c, "' expected at offset ", position_, ", found '",
          printable(text_.substr(position_, 1)), "'");
    }
    ++position_;
  }

  std::string string_literal() {
    skip_space();
    if (position_ >= text_.size() || (text_[position_] != '\'' && text_[position_] != '"')) {
      bad("a quoted string expected at offset ", position_);
    }
    const char quote = text_[position_++];
    const size_t end = text_.find(quote, position_);
    if (end == std::string_view::npos) bad("unterminated string at offset ", position_ - 1);
    std::string value(text_.substr(position_, end - position_));
    position_ = end + 1;
    return value;
  }

  bool boolean() {
    skip_space();
    constexpr std::array<std::pair<std::string_view, bool>, 2> words{
        {{"True", true}, {"False", false}}};
    for (const auto& [word, value] : words) {
      if (text_.substr(position_, word.size()) == word) {
        position_ += word.size();
        return value;
      }
    }
    bad("True or False expected at offset ", position_);
  }

  std::vector<int64_t> int_tuple() {
    std::vector<int64_t> values;
    expect('(');
    while (!next_is(')')) {
      int64_t value = 0;
      const size_t start = position_;
      while (position_ < text_.size() && text_[position_] >= '0' && text_[position_] <= '9') {
        if (__builtin_mul_overflow(value, 10, &value) ||
            __builtin_add_overflow(value, text_[position_] - '0', &value)) {
          bad("shape entry at offset ", start, " overflows int64");
        }
        ++position_;
      }
      if (position_ == start) bad("a non-negative integer expected in 'shape' at offset ", start);
      values.push_back(value);
      if (!next_is(',')) break;
      expect(',');
    }
    expect(')');
    return values;
  }

  std::string_view text_;
  std::string_view name_;
  size_t position_ = 0;
};

const char* dtype_kind_name(char kind) {
  switch (kind) {
    case 'i':
      return "a signed integer";
    case 'u':
      return "an unsigned integer";
    case 'b':
      return "bool";
    case 'c':
      return "complex";
    case 'O':
      return "Python objects";
    case 'U':
    case 'S':
    case 'a':
      return "strings";
    case 'V':
      return "raw bytes (void)";
    case 'M':
    case 'm':
      return "datetimes";
    default:
      return "not a number type";
  }
}

struct ElementType {
  DType dtype;
  size_t size;
  bool swap;  // stored in the opposite byte order to this machine's
};

ElementType parse_descr(const std::string& descr, std::string_view name) {
  const auto unsupported = [&](const auto&... why) {
    fail(name, ": unsupported dtype '", printable(descr), "' (", why...,
         "); adapool pools float16, float32 and float64");
  };
  if (descr.size() < 2 || std::string_view("<>|=").find(descr[0]) == std::string_view::npos) {
    unsupported("not a NumPy type string");
  }
  const char kind = descr[1];
  if (kind != 'f') unsupported(dtype_kind_name(kind));
  const std::string_view size = std::string_view(descr).substr(2);
  ElementType type{DType::f32, 0, false};
  if (size == "2") {
    type = {DType::f16, 2, false};
  } else if (size == "4") {
    type = {DType::f32, 4, false};
  } else if (size == "8") {
    type = {DType::f64, 8, false};
  } else {
    unsupported("a float of ", size, " bytes");
  }
  const bool big_endian = descr[0] == '>';
  const bool little_endian = descr[0] == '<';
  type.swap = (big_endian && std::endian::native == std::endian::little) ||
              (little_endian && std::endian::native == std::endian::big);
  return type;
}

uint32_t read_little_endian(std::span<const std::byte> bytes) {
  uint32_t value = 0;
  for (size_t i = bytes.size(); i-- > 0;)
    value = (value << 8) | std::to_integer<uint32_t>(bytes[i]);
  return value;
}

// Copies Fortran-order (first index fastest) data into C order (last index
// fastest): walks the destination in order, keeping the source offset.
std::vector<std::byte> fortran_to_c(std::span<const std::byte> source,
                                    std::span<const int64_t> shape, size_t element) {
  std::vector<std::byte> result(source.size());
  const size_t rank = shape.size();
  std::vector<int64_t> source_stride(rank), index(rank, 0);
  int64_t stride = 1;
  for (size_t d = 0; d < rank; ++d) {
    source_stride[d] = stride;
    stride *= shape[d];
  }
  const size_t count = source.size() / element;
  int64_t offset = 0;
  for (size_t i = 0; i < count; ++i) {
    std::memcpy(result.data() + i * element, source.data() + offset * static_cast<int64_t>(element),
                element);
    for (size_t d = rank; d-- > 0;) {
      offset += source_stride[d];
      if (++index[d] < shape[d]) break;
      offset -= source_stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return result;
}

}  // namespace

NpyArray parse_npy(std::span<const std::byte> bytes, std::string_view name) {
  const size_t magic_size = kMagic.size();
  if (bytes.size() < magic_size || std::memcmp(bytes.data(), kMagic.data(), magic_size) != 0) {
    fail(name, ": not a .npy file (wrong magic; expected \\x93NUMPY)");
  }
  if (bytes.size() < magic_size + 2) fail(name, ": truncated header (no version)");
  const int major = std::to_integer<int>(bytes[magic_size]);
  const int minor = std::to_integer<int>(bytes[magic_size + 1]);
  if (major < 1 || major > 3 || minor != 0) {
    fail(name, ": unsupported .npy format version ", major, ".", minor,
         " (expected 1.0, 2.0 or 3.0)");
  }
  const size_t length_size = major == 1 ? 2 : 4;
  const size_t header_start = magic_size + 2 + length_size;
  if (bytes.size() < header_start) fail(name, ": truncated header (no header length)");
  const size_t header_size = read_little_endian(bytes.subspan(magic_size + 2, length_size));
  if (bytes.size() - header_start < header_size) {
    fail(name, ": truncated header (", header_size, " bytes announced, ",
         bytes.size() - header_start, " present)");
  }
  const std::string_view header_text(reinterpret_cast<const char*>(bytes.data() + header_start),
                                     header_size);
  const HeaderParser::Header header = HeaderParser(header_text, name).parse();
  const ElementType type = parse_descr(header.descr, name);

  int64_t elements = 1;
  for (const int64_t size : header.shape) {
    if (__builtin_mul_overflow(elements, size, &elements)) {
      fail(name, ": shape has more elements than int64 can count");
    }
  }
  int64_t expected_bytes = 0;
  if (__builtin_mul_overflow(elements, static_cast<int64_t>(type.size), &expected_bytes)) {
    fail(name, ": shape has more bytes than int64 can count");
  }
  const std::span<const std::byte> data = bytes.subspan(header_start + header_size);
  if (data.size() < static_cast<uint64_t>(expected_bytes)) {
    fail(name, ": truncated data (the shape needs ", expected_bytes, " bytes, the file holds ",
         data.size(), ")");
  }
  if (data.size() > static_cast<uint64_t>(expected_bytes)) {
    fail(name, ": data size mismatch (the shape needs ", expected_bytes, " bytes, the file holds ",
         data.size(), ")");
  }

  NpyArray array;
  array.dtype = type.dtype;
  array.shape = header.shape;
  array.data = header.fortran_order && header.shape.size() > 1
                   ? fortran_to_c(data, header.shape, type.size)
                   : std::vector<std::byte>(data.begin(), data.end());
  if (type.swap) {
    for (size_t i = 0; i < array.data.size(); i += type.size) {
      std::reverse(array.data.begin() + static_cast<ptrdiff_t>(i),
                   array.data.begin() + static_cast<ptrdiff_t>(i + type.size));
    }
  }
  return array;
}

std::vector<std::byte> encode_npy(const NpyArray& array) {
  const char order = std::endian::native == std::endian::little ? '<' : '>';
  std::string header = std::string("{'descr': '") + order + "f" +
                       std::to_string(dtype_size(array.dtype)) +
                       "', 'fortran_order': False, 'shape': (";
  for (const int64_t size : array.shape) header += std::to_string(size) + ", ";
  if (array.shape.size() > 1) header.resize(header.size() - 2);  // (5,) but (2, 3)
  if (array.shape.size() == 1) header.resize(header.size() - 1);
  header += "), }";
  // NumPy pads with spaces and a final newline so the data starts on a
  // 64-byte boundary, and moves to version 2.0 (4-byte header length) only
  // when the header outgrows version 1.0's 2-byte length.
  const auto padded_size = [&](size_t prefix_size) {
    return (prefix_size + header.size() + 1 + 63) / 64 * 64 - prefix_size;
  };
  const bool version_1 = padded_size(kMagic.size() + 4) <= 65535;
  const size_t prefix = kMagic.size() + (version_1 ? 4 : 6);
  header.resize(padded_size(prefix) - 1, ' ');
  header += '\n';

  std::vector<std::byte> bytes;
  bytes.reserve(prefix + header.size() + array.data.size());
  for (const char c : kMagic) bytes.push_back(static_cast<std::byte>(c));
  bytes.push_back(std::byte{static_cast<unsigned char>(version_1 ? 1 : 2)});
  bytes.push_back(std::byte{0});
  for (size_t i = 0; i < prefix - kMagic.size() - 2; ++i) {
    bytes.push_back(static_cast<std::byte>((header.size() >> (8 * i)) & 0xff));
  }
  for (const char c : header) bytes.push_back(static_cast<std::byte>(c));
  bytes.insert(bytes.end(), array.data.begin(), array.data.end());
  return bytes;
}

}  // namespace adapool::tools
