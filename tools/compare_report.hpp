// The `explain --compare` and `explain --scan` reports: text for people and
// JSON for machines, with the same facts.
#pragma once

#include "comparison.hpp"

#include <adapool/conventions.hpp>

#include <optional>
#include <string>
#include <vector>

namespace adapool::tools {

// Windows listed per dimension in text (JSON lists up to kMaxListedWindows).
inline constexpr int64_t kMaxTextWindows = 12;

std::string compare_text(const Comparison& comparison);
std::string compare_json(const Comparison& comparison);

std::string scan_text(const ConventionScan& scan, const std::vector<Float32Finding>& findings);
std::string scan_json(const ConventionScan& scan, const std::vector<Float32Finding>& findings);

}  // namespace adapool::tools
