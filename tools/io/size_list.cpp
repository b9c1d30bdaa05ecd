#include "io/size_list.hpp"

#include "io/tool_error.hpp"

namespace adapool::tools {

namespace {

std::optional<int64_t> parse_entry(std::string_view token, std::string_view text,
                                   const SizeListRules& rules) {
  const auto bad = [&](const auto&... why) { fail(rules.argument, " '", text, "': ", why...); };
  if (token.empty()) bad("empty entry; expected sizes separated by 'x', e.g. 5x7");
  if (token == "-") {
    if (!rules.allow_keep) bad("'-' (keep this axis) is only allowed in --size");
    return std::nullopt;
  }
  const bool negative = token.front() == '-';
  const std::string_view digits = negative ? token.substr(1) : token;
  int64_t value = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') bad("'", token, "' is not a size (expected a whole number)");
    value = value * 10 + (c - '0');
    // Checked per digit, so the value never overflows before it is rejected.
    if (value > kMaxSize) bad("'", token, "' is too large (the largest size is ", kMaxSize, ")");
  }
  if (digits.empty()) bad("'", token, "' is not a size (expected a whole number)");
  if (negative) bad("'", token, "' is negative");
  if (value < rules.minimum)
    bad("'", token, "' is too small (sizes here are at least ", rules.minimum, ")");
  return value;
}

}  // namespace

std::vector<std::optional<int64_t>> parse_size_list(std::string_view text,
                                                    const SizeListRules& rules) {
  if (text.empty()) fail(rules.argument, " is empty; expected sizes like 5x7");
  std::vector<std::optional<int64_t>> sizes;
  size_t start = 0;
  while (true) {
    const size_t separator = text.find('x', start);
    const std::string_view token = text.substr(start, separator - start);
    sizes.push_back(parse_entry(token, text, rules));
    if (separator == std::string_view::npos) break;
    start = separator + 1;
  }
  if (sizes.size() > 3) {
    fail(rules.argument, " '", text, "' has ", sizes.size(),
         " entries; at most 3 (depth x height x width)");
  }
  return sizes;
}

std::vector<int64_t> parse_sizes(std::string_view text, std::string_view argument,
                                 int64_t minimum) {
  std::vector<int64_t> sizes;
  for (const std::optional<int64_t>& entry :
       parse_size_list(text, {.argument = argument, .minimum = minimum, .allow_keep = false})) {
    sizes.push_back(*entry);
  }
  return sizes;
}

}  // namespace adapool::tools

namespace adapool::tools {

std::array<int64_t, 2> parse_cell(std::string_view text, std::string_view argument) {
  const size_t comma = text.find(',');
  const SizeListRules rules{.argument = argument, .minimum = 0, .allow_keep = false};
  if (comma == std::string_view::npos) return {0, *parse_entry(text, text, rules)};
  return {*parse_entry(text.substr(0, comma), text, rules),
          *parse_entry(text.substr(comma + 1), text, rules)};
}

}  // namespace adapool::tools
