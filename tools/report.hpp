// The `explain` report: for each pooled dimension, its windows, the fixed
// AvgPool that reproduces them (if one does), and where the popular
// "kernel = ceil(in/out), stride = floor(in/out)" rule goes wrong.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace adapool::tools {

// Where the ceil/floor rule's windows first differ from the adaptive ones:
// output `output` would be [rule_begin, rule_end) instead of [begin, end).
struct RuleMismatch {
  int64_t output, rule_begin, rule_end, begin, end;
};

// The first mismatch within the outputs both produce; nullopt when those
// agree (the rule may still produce a different number of outputs).
std::optional<RuleMismatch> first_rule_mismatch(int64_t in, int64_t out);

// "height", "width" ... for `dims` pooled dimensions.
std::vector<std::string> dimension_names(size_t dims);

// Text for people. Tables longer than `max_rows` show their first and last
// rows only.
std::string explain_text(std::span<const int64_t> in, std::span<const int64_t> out,
                         int64_t max_rows = 40);

// The same facts as JSON, every window included.
std::string explain_json(std::span<const int64_t> in, std::span<const int64_t> out);

}  // namespace adapool::tools
