#include "compare_report.hpp"

#include "report.hpp"

#include <charconv>
#include <cstdio>
#include <iomanip>
#include <sstream>

namespace adapool::tools {

namespace {

// Shortest text that reads back as the same double.
std::string exact_number(double value) {
  char text[64];
  const std::to_chars_result end = std::to_chars(text, text + sizeof text, value);
  return std::string(text, end.ptr);
}

std::string short_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", value);
  return text;
}

std::string json_string(std::string_view text) {
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      quoted += escaped;
    } else {
      quoted += c;
    }
  }
  return quoted + "\"";
}

std::string window_text(const Window& window) {
  std::ostringstream text;
  text << '[' << window.begin << ", " << window.end << ')';
  return text.str();
}

std::string sizes_text(const std::vector<int64_t>& sizes) {
  std::ostringstream text;
  for (size_t d = 0; d < sizes.size(); ++d) text << (d ? "x" : "") << sizes[d];
  return text.str();
}

const char* status_name(ConventionAxis::Status status) {
  switch (status) {
    case ConventionAxis::Status::usable:
      return "usable";
    case ConventionAxis::Status::other_count:
      return "other_count";
    case ConventionAxis::Status::refuses:
      return "refuses";
  }
  return "unknown";
}

void axis_text(std::ostream& text, const std::string& name, const AxisComparison& comparison,
               bool reference) {
  const ConventionAxis& axis = comparison.axis;
  text << "  " << name << " " << axis.in << " -> " << axis.out << ": ";
  if (axis.status == ConventionAxis::Status::refuses) {
    text << axis.reason << "\n";
    return;
  }
  if (axis.kernel > 0) text << "kernel " << axis.kernel << ", stride " << axis.stride << ": ";
  if (!reference && axis.usable() && comparison.differing.count == 0) {
    text << "PyTorch's windows\n";
    return;
  }
  if (axis.outputs != axis.out) text << axis.outputs << " windows ";
  const int64_t shown = std::min(axis.outputs, kMaxTextWindows);
  for (int64_t o = 0; o < shown; ++o) text << (o ? " " : "") << window_text(axis.window(o));
  if (shown < axis.outputs) text << " ... (" << axis.outputs << " in all)";
  text << "\n";
  if (reference || !axis.usable() || comparison.differing.count == 0) return;
  // The differing outputs, then the windows there, one list under the other.
  constexpr size_t kShown = 8;
  const std::vector<int64_t>& first = comparison.differing.first;
  const size_t listed = std::min(first.size(), kShown);
  const char* more = static_cast<size_t>(comparison.differing.count) > listed ? " ..." : "";
  text << "    differs at " << comparison.differing.count << " of " << axis.out << " outputs:";
  for (size_t i = 0; i < listed; ++i) text << " " << first[i];
  text << more << "\n      it has:      ";
  for (size_t i = 0; i < listed; ++i) text << (i ? " " : "") << window_text(axis.window(first[i]));
  text << more << "\n      PyTorch has: ";
  for (size_t i = 0; i < listed; ++i) {
    text << (i ? " " : "")
         << window_text({window_begin(first[i], axis.in, axis.out),
                         window_end(first[i], axis.in, axis.out)});
  }
  text << more << "\n";
}

std::string values_text(const ConventionComparison& comparison) {
  if (!comparison.random) return comparison.not_measured;
  std::ostringstream text;
  text << "random input: max |diff| " << short_number(comparison.random->max_abs) << ", mean "
       << short_number(comparison.random->mean_abs) << "; image: max |diff| "
       << short_number(comparison.image->max_abs) << ", mean "
       << short_number(comparison.image->mean_abs);
  return text.str();
}

}  // namespace

std::string compare_text(const Comparison& comparison) {
  std::ostringstream text;
  const std::vector<std::string> names = dimension_names(comparison.in.size());
  text << "Adaptive average pooling " << sizes_text(comparison.in) << " -> "
       << sizes_text(comparison.out) << " under PyTorch's rule and "
       << comparison.conventions.size() - 1 << " other conventions.\n"
       << "Values: each convention's output against PyTorch's, on a uniform [0, 1) random input\n"
       << "(seed " << kCompareSeed
       << ") and on the built-in image's gray levels (0..255, tiled to the input size).\n";
  for (const ConventionComparison& convention : comparison.conventions) {
    const bool reference = convention.info->convention == Convention::pytorch;
    text << "\n"
         << convention.info->name << ": " << convention.info->computes << "\n"
         << "  used by: " << convention.info->used_by << "\n";
    for (size_t d = 0; d < convention.axes.size(); ++d) {
      axis_text(text, names[d], convention.axes[d], reference);
    }
    if (reference) {
      text << "  the reference\n";
    } else if (!convention.comparable()) {
      text << "  undefined here: " << convention.undefined << "\n";
    } else if (convention.agrees()) {
      text << "  agrees with PyTorch\n";
    } else {
      text << "  differs: " << convention.differing_cells << " of " << convention.cells
           << " output cells; " << values_text(convention) << "\n";
    }
  }
  return text.str();
}

std::string compare_json(const Comparison& comparison) {
  std::ostringstream json;
  const auto list = [&](const std::vector<int64_t>& values) {
    json << '[';
    for (size_t i = 0; i < values.size(); ++i) json << (i ? ", " : "") << values[i];
    json << ']';
  };
  const auto difference = [&](const std::optional<ValueDifference>& value) {
    if (!value) {
      json << "null";
      return;
    }
    json << "{\"max_abs\": " << exact_number(value->max_abs)
         << ", \"mean_abs\": " << exact_number(value->mean_abs) << "}";
  };
  const std::vector<std::string> names = dimension_names(comparison.in.size());
  json << "{\n  \"input\": ";
  list(comparison.in);
  json << ",\n  \"output\": ";
  list(comparison.out);
  json << ",\n  \"seed\": " << kCompareSeed << ",\n  \"conventions\": [";
  for (size_t c = 0; c < comparison.conventions.size(); ++c) {
    const ConventionComparison& convention = comparison.conventions[c];
    json << (c ? ",\n" : "\n") << "    {\n"
         << "      \"name\": " << json_string(convention.info->name) << ",\n"
         << "      \"computes\": " << json_string(convention.info->computes) << ",\n"
         << "      \"used_by\": " << json_string(convention.info->used_by) << ",\n"
         << "      \"agrees\": "
         << (convention.comparable() ? (convention.agrees() ? "true" : "false") : "null") << ",\n"
         << "      \"undefined\": "
         << (convention.comparable() ? "null" : json_string(convention.undefined)) << ",\n"
         << "      \"axes\": [";
    for (size_t d = 0; d < convention.axes.size(); ++d) {
      const ConventionAxis& axis = convention.axes[d].axis;
      const AxisDifference& differing = convention.axes[d].differing;
      json << (d ? ",\n" : "\n") << "        {\"name\": " << json_string(names[d])
           << ", \"input\": " << axis.in << ", \"output\": " << axis.out
           << ", \"status\": " << json_string(status_name(axis.status))
           << ", \"outputs\": " << axis.outputs << ", \"kernel\": ";
      if (axis.kernel > 0) {
        json << axis.kernel << ", \"stride\": " << axis.stride;
      } else {
        json << "null, \"stride\": null";
      }
      json << ", \"reason\": " << (axis.usable() ? "null" : json_string(axis.reason))
           << ", \"windows\": ";
      if (axis.outputs <= kMaxListedWindows) {
        json << '[';
        for (int64_t o = 0; o < axis.outputs; ++o) {
          const Window window = axis.window(o);
          json << (o ? ", " : "") << '[' << window.begin << ", " << window.end << ']';
        }
        json << ']';
      } else {
        json << "null";
      }
      json << ", \"differing_count\": " << differing.count << ", \"differing_outputs\": ";
      list(differing.first);
      json << '}';
    }
    json << "\n      ],\n"
         << "      \"differing_cells\": " << convention.differing_cells
         << ",\n      \"cells\": " << convention.cells << ",\n      \"random\": ";
    difference(convention.random);
    json << ",\n      \"image\": ";
    difference(convention.image);
    json << ",\n      \"not_measured\": "
         << (convention.not_measured.empty() ? "null" : json_string(convention.not_measured))
         << "\n    }";
  }
  json << "\n  ]\n}\n";
  return json.str();
}

namespace {

std::string percent(int64_t count, int64_t total) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f%%",
                100.0 * static_cast<double>(count) / static_cast<double>(total));
  return text;
}

}  // namespace

std::string scan_text(const ConventionScan& scan, const std::vector<Float32Finding>& findings) {
  std::ostringstream text;
  const int64_t pairs = scan.in_max * scan.out_max;
  text << "Agreement with PyTorch's windows over in = 1.." << scan.in_max << ", out = 1.."
       << scan.out_max << " (" << pairs << " size pairs, one dimension each):\n"
       << "  " << std::left << std::setw(22) << "convention" << std::right << std::setw(10)
       << "agrees" << std::setw(10) << "differs" << std::setw(11) << "undefined"
       << "\n";
  for (const ConventionInfo& info : conventions()) {
    const ConventionScan::Tally& tally = scan.tallies[static_cast<size_t>(info.convention)];
    text << "  " << std::left << std::setw(22) << info.name << std::right << std::setw(10)
         << percent(tally.agrees, pairs) << std::setw(10) << percent(tally.differs, pairs)
         << std::setw(11) << percent(tally.undefined, pairs) << "\n";
  }
  text << "differs: other windows for the same number of outputs; undefined: the sizes are\n"
       << "refused, or another number of outputs comes out. multiple_either_way is shown per\n"
       << "axis; PyTorch MPS pools 1-d as multiple_only does.\n\n"
       << "First size pair where float32 windows differ from PyTorch's (smallest max(in, out),\n"
       << "then in, then out; searched in that order up to max(in, out) = " << kFloat32SearchSide
       << "):\n";
  bool inside = false;
  for (const Float32Finding& finding : findings) {
    text << "  " << std::left << std::setw(20) << convention_info(finding.convention).name
         << std::right;
    if (!finding.first) {
      text << "none\n";
      continue;
    }
    const Float32Disagreement& first = *finding.first;
    inside = inside || (first.in <= scan.in_max && first.out <= scan.out_max);
    text << first.in << " -> " << first.out << ": output " << first.output << " is "
         << window_text(first.actual) << ", PyTorch's " << window_text(first.expected) << "\n";
  }
  text << "Float32 bounds are exact while in * out <= 2^24 = 16777216; "
       << (inside ? "the first disagreement lies inside this scan.\n"
                  : "none lies inside this scan.\n");
  return text.str();
}

std::string scan_json(const ConventionScan& scan, const std::vector<Float32Finding>& findings) {
  std::ostringstream json;
  const int64_t pairs = scan.in_max * scan.out_max;
  json << "{\n  \"input_max\": " << scan.in_max << ",\n  \"output_max\": " << scan.out_max
       << ",\n  \"pairs\": " << pairs << ",\n  \"conventions\": [";
  bool first_entry = true;
  for (const ConventionInfo& info : conventions()) {
    const ConventionScan::Tally& tally = scan.tallies[static_cast<size_t>(info.convention)];
    json << (first_entry ? "\n" : ",\n") << "    {\"name\": " << json_string(info.name)
         << ", \"agrees\": " << tally.agrees << ", \"differs\": " << tally.differs
         << ", \"undefined\": " << tally.undefined << ", \"agrees_fraction\": "
         << exact_number(static_cast<double>(tally.agrees) / static_cast<double>(pairs)) << "}";
    first_entry = false;
  }
  json << "\n  ],\n  \"float32_search_max_side\": " << kFloat32SearchSide
       << ",\n  \"first_float32_disagreement\": [";
  for (size_t i = 0; i < findings.size(); ++i) {
    json << (i ? ",\n" : "\n")
         << "    {\"convention\": " << json_string(convention_info(findings[i].convention).name)
         << ", ";
    if (!findings[i].first) {
      json << "\"found\": false}";
      continue;
    }
    const Float32Disagreement& first = *findings[i].first;
    json << "\"found\": true, \"input\": " << first.in << ", \"output\": " << first.out
         << ", \"cell\": " << first.output << ", \"begin\": " << first.actual.begin
         << ", \"end\": " << first.actual.end << ", \"pytorch_begin\": " << first.expected.begin
         << ", \"pytorch_end\": " << first.expected.end << "}";
  }
  json << "\n  ]\n}\n";
  return json.str();
}

}  // namespace adapool::tools
