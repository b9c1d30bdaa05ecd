// adapool._core's window conventions: the facts of `adapool explain --compare`
// and `--scan` (tools/comparison.hpp, shared with the program) as plain
// Python values; python/adapool/compare.py turns them into named objects.
#include "comparison.hpp"
#include "io/tool_error.hpp"

#include <adapool/conventions.hpp>

#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

namespace nb = nanobind;

namespace {

using adapool::tools::Comparison;
using adapool::tools::ConventionComparison;

const char* status_name(adapool::ConventionAxis::Status status) {
  switch (status) {
    case adapool::ConventionAxis::Status::usable:
      return "usable";
    case adapool::ConventionAxis::Status::other_count:
      return "other_count";
    case adapool::ConventionAxis::Status::refuses:
      return "refuses";
  }
  return "unknown";
}

nb::object optional_string(const std::string& text) {
  return text.empty() ? nb::none() : nb::cast(text);
}

nb::object difference(const std::optional<adapool::tools::ValueDifference>& value) {
  if (!value) return nb::none();
  return nb::cast(std::pair{value->max_abs, value->mean_abs});
}

nb::dict convention_dict(const ConventionComparison& convention) {
  nb::dict result;
  result["name"] = convention.info->name;
  result["agrees"] = convention.comparable() ? nb::cast(convention.agrees()) : nb::none();
  result["undefined"] = optional_string(convention.undefined);
  nb::list axes;
  for (const adapool::tools::AxisComparison& comparison : convention.axes) {
    const adapool::ConventionAxis& axis = comparison.axis;
    nb::dict entry;
    entry["input"] = axis.in;
    entry["output"] = axis.out;
    entry["status"] = status_name(axis.status);
    entry["outputs"] = axis.outputs;
    entry["kernel"] = axis.kernel > 0 ? nb::cast(axis.kernel) : nb::none();
    entry["stride"] = axis.kernel > 0 ? nb::cast(axis.stride) : nb::none();
    entry["reason"] = optional_string(axis.reason);
    if (axis.outputs <= adapool::tools::kMaxListedWindows) {
      std::vector<std::pair<int64_t, int64_t>> windows;
      for (const adapool::Window& window : axis.windows()) {
        windows.emplace_back(window.begin, window.end);
      }
      entry["windows"] = windows;
    } else {
      entry["windows"] = nb::none();
    }
    entry["differing_count"] = comparison.differing.count;
    entry["differing_outputs"] = comparison.differing.first;
    axes.append(entry);
  }
  result["axes"] = axes;
  result["differing_cells"] = convention.differing_cells;
  result["cells"] = convention.cells;
  result["random"] = difference(convention.random);
  result["image"] = difference(convention.image);
  result["not_measured"] = optional_string(convention.not_measured);
  return result;
}

nb::dict compare(const std::vector<int64_t>& in, const std::vector<int64_t>& out) {
  Comparison comparison;
  {
    nb::gil_scoped_release unlocked;
    comparison = adapool::tools::compare_conventions(in, out);
  }
  nb::dict result;
  result["input"] = comparison.in;
  result["output"] = comparison.out;
  result["seed"] = adapool::tools::kCompareSeed;
  nb::list conventions;
  for (const ConventionComparison& convention : comparison.conventions) {
    conventions.append(convention_dict(convention));
  }
  result["conventions"] = conventions;
  return result;
}

nb::dict scan(int64_t in_max, int64_t out_max) {
  adapool::ConventionScan scan;
  std::vector<adapool::tools::Float32Finding> findings;
  {
    nb::gil_scoped_release unlocked;
    scan = adapool::scan_conventions(in_max, out_max);
    findings = adapool::tools::float32_findings();
  }
  nb::dict result;
  result["input_max"] = scan.in_max;
  result["output_max"] = scan.out_max;
  nb::list conventions;
  for (const adapool::ConventionInfo& info : adapool::conventions()) {
    const size_t c = static_cast<size_t>(info.convention);
    const adapool::ConventionScan::Tally& tally = scan.tallies[c];
    // States row by row (in), out along the row: 0 agrees, 1 differs, 2 undefined.
    std::string states(scan.states[c].size(), '\0');
    for (size_t i = 0; i < states.size(); ++i) states[i] = static_cast<char>(scan.states[c][i]);
    nb::dict entry;
    entry["name"] = info.name;
    entry["agrees"] = tally.agrees;
    entry["differs"] = tally.differs;
    entry["undefined"] = tally.undefined;
    entry["states"] = nb::bytes(states.data(), states.size());
    conventions.append(entry);
  }
  result["conventions"] = conventions;
  result["float32_search_max_side"] = adapool::tools::kFloat32SearchSide;
  nb::list firsts;
  for (const adapool::tools::Float32Finding& finding : findings) {
    nb::dict entry;
    entry["convention"] = adapool::convention_info(finding.convention).name;
    if (finding.first) {
      entry["input"] = finding.first->in;
      entry["output"] = finding.first->out;
      entry["cell"] = finding.first->output;
      entry["window"] = std::pair{finding.first->actual.begin, finding.first->actual.end};
      entry["pytorch_window"] =
          std::pair{finding.first->expected.begin, finding.first->expected.end};
    }
    firsts.append(entry);
  }
  result["first_float32_disagreement"] = firsts;
  return result;
}

}  // namespace

void bind_compare(nb::module_& m) {
  nb::register_exception_translator([](const std::exception_ptr& error, void*) {
    try {
      std::rethrow_exception(error);
    } catch (const adapool::tools::ToolError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  m.def(
      "conventions",
      [] {
        std::vector<std::tuple<std::string, std::string, std::string>> result;
        for (const adapool::ConventionInfo& info : adapool::conventions()) {
          result.emplace_back(info.name, info.computes, info.used_by);
        }
        return result;
      },
      "(name, computes, used_by) of every window convention, PyTorch's first.");
  m.def("compare", &compare, nb::arg("in_sizes"), nb::arg("out_sizes"),
        "Every convention's windows beside PyTorch's for pooling in_sizes to out_sizes (1 to 3 "
        "each), the differing output cells, and the value differences on the seeded random "
        "input and the built-in image.");
  m.def("scan", &scan, nb::arg("in_max"), nb::arg("out_max"),
        "Agreement of every convention with PyTorch over 1..in_max x 1..out_max, and the first "
        "float32 disagreement beyond it.");
}
