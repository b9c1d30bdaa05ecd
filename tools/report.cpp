#include "report.hpp"

#include <adapool/windows.hpp>

#include <algorithm>
#include <iomanip>
#include <sstream>

namespace adapool::tools {

std::optional<RuleMismatch> first_rule_mismatch(int64_t in, int64_t out) {
  const CeilFloorRule rule = ceil_floor_rule(in, out);
  if (rule.matches) return std::nullopt;
  const int64_t common = std::min(out, rule.outputs);
  for (int64_t o = 0; o < common; ++o) {
    const int64_t begin = window_begin(o, in, out), end = window_end(o, in, out);
    // An AvgPool's window o is [o * stride, o * stride + kernel).
    const int64_t rule_begin = o * rule.stride, rule_end = rule_begin + rule.kernel;
    if (begin != rule_begin || end != rule_end) {
      return RuleMismatch{o, rule_begin, rule_end, begin, end};
    }
  }
  return std::nullopt;
}

std::vector<std::string> dimension_names(size_t dims) {
  switch (dims) {
    case 1:
      return {"length"};
    case 2:
      return {"height", "width"};
    default:
      return {"depth", "height", "width"};
  }
}

namespace {

void explain_fixed_pool(std::ostream& text, int64_t in, int64_t out) {
  if (out == 0) {
    text << "  no output cells: the output is empty\n";
    return;
  }
  if (const std::optional<FixedPool> pool = fixed_pool_equivalent(in, out)) {
    text << "  a fixed AvgPool reproduces these windows exactly: kernel=" << pool->kernel
         << ", stride=" << pool->stride << ", padding=0\n";
  } else {
    text << "  no fixed AvgPool(kernel, stride, padding=0) reproduces these windows\n";
  }
}

void explain_rule(std::ostream& text, int64_t in, int64_t out) {
  if (out == 0) return;
  const CeilFloorRule rule = ceil_floor_rule(in, out);
  text << "  the rule kernel = ceil(" << in << "/" << out << ") = " << rule.kernel
       << ", stride = floor(" << in << "/" << out << ") = " << rule.stride;
  if (rule.stride == 0) {
    text << ": meaningless here (a stride of 0, as out > in)\n";
    return;
  }
  if (rule.matches) {
    text << ": right\n";
    return;
  }
  text << ": wrong\n";
  if (rule.outputs != out) {
    text << "    it produces " << rule.outputs << " outputs, not " << out << "\n";
  }
  if (const std::optional<RuleMismatch> mismatch = first_rule_mismatch(in, out)) {
    text << "    its window " << mismatch->output << " is [" << mismatch->rule_begin << ", "
         << mismatch->rule_end << "); the adaptive window is [" << mismatch->begin << ", "
         << mismatch->end << ")\n";
  }
}

}  // namespace

std::string explain_text(std::span<const int64_t> in, std::span<const int64_t> out,
                         int64_t max_rows) {
  std::ostringstream text;
  const std::vector<std::string> names = dimension_names(in.size());
  for (size_t d = 0; d < in.size(); ++d) {
    if (d) text << "\n";
    text << names[d] << ": " << in[d] << " -> " << out[d] << "\n";
    text << "  " << std::setw(8) << "output" << std::setw(12) << "begin" << std::setw(12) << "end"
         << std::setw(12) << "count"
         << "\n";
    const int64_t shown = out[d] > max_rows ? max_rows / 2 : out[d];
    const auto row = [&](int64_t o) {
      text << "  " << std::setw(8) << o << std::setw(12) << window_begin(o, in[d], out[d])
           << std::setw(12) << window_end(o, in[d], out[d]) << std::setw(12)
           << window_count(o, in[d], out[d]) << "\n";
    };
    for (int64_t o = 0; o < shown; ++o) row(o);
    if (shown < out[d]) {
      text << "  " << std::setw(8) << "..."
           << "  (" << out[d] - 2 * shown << " rows left out; --json lists them all)\n";
      for (int64_t o = out[d] - shown; o < out[d]; ++o) row(o);
    }
    explain_fixed_pool(text, in[d], out[d]);
    explain_rule(text, in[d], out[d]);
  }
  return text.str();
}

std::string explain_json(std::span<const int64_t> in, std::span<const int64_t> out) {
  std::ostringstream json;
  const auto list = [&](std::span<const int64_t> values) {
    json << '[';
    for (size_t i = 0; i < values.size(); ++i) json << (i ? ", " : "") << values[i];
    json << ']';
  };
  const std::vector<std::string> names = dimension_names(in.size());
  json << "{\n  \"input\": ";
  list(in);
  json << ",\n  \"output\": ";
  list(out);
  json << ",\n  \"dimensions\": [";
  for (size_t d = 0; d < in.size(); ++d) {
    json << (d ? ",\n" : "\n") << "    {\n      \"name\": \"" << names[d] << "\",\n"
         << "      \"input\": " << in[d] << ",\n      \"output\": " << out[d]
         << ",\n      \"windows\": [";
    for (int64_t o = 0; o < out[d]; ++o) {
      json << (o ? ",\n" : "\n") << "        {\"output\": " << o
           << ", \"begin\": " << window_begin(o, in[d], out[d])
           << ", \"end\": " << window_end(o, in[d], out[d])
           << ", \"count\": " << window_count(o, in[d], out[d]) << "}";
    }
    json << (out[d] ? "\n      ],\n" : "],\n") << "      \"fixed_pool\": ";
    if (const std::optional<FixedPool> pool = fixed_pool_equivalent(in[d], out[d])) {
      json << "{\"kernel\": " << pool->kernel << ", \"stride\": " << pool->stride
           << ", \"padding\": 0}";
    } else {
      json << "null";
    }
    const CeilFloorRule rule = ceil_floor_rule(in[d], out[d]);
    json << ",\n      \"ceil_floor_rule\": {\"kernel\": " << rule.kernel
         << ", \"stride\": " << rule.stride << ", \"outputs\": " << rule.outputs
         << ", \"matches\": " << (rule.matches ? "true" : "false") << ", \"first_mismatch\": ";
    if (const std::optional<RuleMismatch> mismatch = first_rule_mismatch(in[d], out[d])) {
      json << "{\"output\": " << mismatch->output << ", \"rule_begin\": " << mismatch->rule_begin
           << ", \"rule_end\": " << mismatch->rule_end << ", \"begin\": " << mismatch->begin
           << ", \"end\": " << mismatch->end << "}";
    } else {
      json << "null";
    }
    json << "}\n    }";
  }
  json << "\n  ]\n}\n";
  return json.str();
}

}  // namespace adapool::tools
