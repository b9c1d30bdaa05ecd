// adapool: shows which input cells feed which output cell of adaptive
// average pooling, and pools .npy and PNG files. Bad input gets one line on
// stderr and exit code 2.
#include "bench.hpp"
#include "commands.hpp"
#include "io/tool_error.hpp"

#include <adapool/adapool.hpp>

#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>
#include <map>
#include <new>

namespace {

constexpr int kBadInput = 2;

// Error messages quote file names and arguments; control characters in them
// must not break the one-line promise or reach the terminal raw.
void report(std::string_view message) {
  std::string line = "adapool: ";
  for (const char c : message) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      constexpr char kHex[] = "0123456789abcdef";
      line += {'\\', 'x', kHex[byte >> 4], kHex[byte & 15]};
    } else {
      line += c;
    }
  }
  std::cerr << line << "\n";
}

int run(int argc, char** argv) {
  using namespace adapool::tools;
  CLI::App app{
      "Adaptive average pooling exactly as PyTorch computes it: see which input cells\n"
      "feed which output cell, and pool .npy and PNG files.\n"
      "With no command, runs the demo."};
  app.name("adapool");
  app.set_version_flag("--version", std::string("adapool ") + ADAPOOL_VERSION_STRING);
  app.require_subcommand(0, 1);
  std::function<void()> action = [] { demo_command(std::cout); };

  CLI::App* demo = app.add_subcommand(
      "demo", "Explain 10x10 -> 5x7 and pool a built-in image; writes pictures here");
  demo->callback([&] { action = [] { demo_command(std::cout); }; });

  ExplainArguments explain;
  CLI::App* explain_app = app.add_subcommand(
      "explain",
      "Show the windows of pooling IN to OUT, e.g. `explain 10x10 5x7`; --compare puts other "
      "systems' windows beside them, --scan IN_MAX OUT_MAX measures how often they agree");
  // IN and OUT are checked by explain_command: --scan takes their place.
  explain_app->add_option("IN", explain.in, "input sizes: 224, 10x10 or 8x9x10");
  explain_app->add_option("OUT", explain.out, "output sizes, one per input size, or one for all");
  explain_app->add_flag("--json", explain.json, "print JSON instead of tables");
  explain_app->add_flag("--compare", explain.compare,
                        "the windows of other systems' conventions beside PyTorch's: which "
                        "output cells differ, and by how much");
  explain_app
      ->add_option("--scan", explain.scan,
                   "IN_MAX OUT_MAX, instead of IN OUT: how often each convention agrees with "
                   "PyTorch over 1..IN_MAX x 1..OUT_MAX; --svg/--png draw it")
      ->expected(2)
      ->type_name("SIZE");
  explain_app->add_option("--svg", explain.svg, "draw the windows (or the scan) into an SVG file");
  explain_app->add_option("--png", explain.png, "draw the windows (or the scan) into a PNG file");
  explain_app->add_option("--cell", explain.cell,
                          "highlight output cell I,J (row, column) in the picture");
  explain_app->callback([&] { action = [&] { explain_command(explain, std::cout, std::cerr); }; });

  PoolArguments pool;
  CLI::App* pool_app = app.add_subcommand("pool",
                                          "Pool a .npy file (float16/32/64; the trailing axes, one "
                                          "per --size entry) or a PNG, by mean or maximum (--op)");
  pool_app->add_option("IN", pool.in, "input .npy or .png file")->required();
  pool_app->add_option("OUT", pool.out, "output file, same format; replaced only on success")
      ->required();
  pool_app->add_option("--size", pool.size, "output sizes, e.g. 5x7; '-' keeps an axis: 5x-")
      ->required();
  pool_app->add_option("--op", pool.op, "avg (default) or max: the window's mean or maximum");
  pool_app->add_flag("--channels-last", pool.channels_last,
                     ".npy: the last axis is channels; pool the axes before it");
  pool_app->add_option("--threads", pool.threads, "threads (0: all); results do not depend on it")
      ->capture_default_str();
  pool_app->callback([&] { action = [&] { pool_command(pool, std::cout); }; });

  BenchOptions bench;
  const std::map<std::string, adapool::DType> dtypes = {{"f32", adapool::DType::f32},
                                                        {"f64", adapool::DType::f64},
                                                        {"f16", adapool::DType::f16},
                                                        {"bf16", adapool::DType::bf16}};
  CLI::App* bench_app = app.add_subcommand(
      "bench",
      "Time forward and backward on the benchmark suite's shapes (NCHW, NHWC; 1, 2 threads)");
  bench_app->add_flag("--quick", bench.quick, "batch 1 and short timings, for a smoke test");
  bench_app->add_option("--dtype", bench.dtype, "f32, f64, f16 or bf16")
      ->transform(CLI::CheckedTransformer(dtypes, CLI::ignore_case));
  bench_app->callback([&] { action = [&] { run_bench(bench, std::cout); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& help_or_version) {
    return app.exit(help_or_version);
  } catch (const CLI::ParseError& error) {
    // One line, like every other error, instead of CLI11's two.
    report(std::string(error.what()) + " (see adapool --help)");
    return kBadInput;
  }
  action();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const adapool::tools::ToolError& error) {
    report(error.what());
  } catch (const adapool::Error& error) {
    report(error.what());
  } catch (const std::bad_alloc&) {
    report("out of memory");
  }
  return kBadInput;
}
