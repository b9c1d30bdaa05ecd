#include "bench.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

namespace adapool::tools {

namespace {

struct Case {
  int64_t batch, channels, in_h, in_w, out_h, out_w;
};

// The suite's 2-d cases, N x C x H x W -> h x w: network heads (ResNet's global
// pool, Inception's 65 -> 6/3/2/1), a non-divisible 15 -> 7, an image
// resize, upsampling 5 -> 13, and a plain divisible pool.
constexpr Case kCases[] = {{32, 2048, 7, 7, 1, 1},  {32, 512, 14, 14, 7, 7},
                           {32, 512, 15, 15, 7, 7}, {8, 2048, 65, 65, 6, 6},
                           {8, 2048, 65, 65, 3, 3}, {8, 2048, 65, 65, 2, 2},
                           {8, 2048, 65, 65, 1, 1}, {1, 3, 1080, 1920, 224, 224},
                           {16, 64, 5, 5, 13, 13},  {64, 256, 56, 56, 7, 7}};

// How much each measurement does: the full suite, or a smoke test that
// shrinks batch and channels and times a single run.
struct Effort {
  int64_t max_batch, max_channels;
  double min_seconds;
  size_t min_runs;
};
constexpr Effort kFull{INT64_MAX, INT64_MAX, 0.25, 3};
constexpr Effort kQuick{1, 64, 0.0, 1};

struct Measurement {
  double seconds;  // median time of one run
  double bytes;    // read plus written by one run
};

Measurement measure(const Plan& plan, const void* source, void* destination, const Effort& effort) {
  using Clock = std::chrono::steady_clock;
  plan.run(source, destination);  // warm-up: first touch of the pages, caches
  std::vector<double> times;
  const Clock::time_point start = Clock::now();
  do {
    const Clock::time_point before = Clock::now();
    plan.run(source, destination);
    times.push_back(std::chrono::duration<double>(Clock::now() - before).count());
  } while (times.size() < effort.min_runs ||
           std::chrono::duration<double>(Clock::now() - start).count() < effort.min_seconds);
  std::nth_element(times.begin(), times.begin() + static_cast<ptrdiff_t>(times.size() / 2),
                   times.end());
  const auto element_count = [](const Layout& layout) {
    int64_t count = 1;
    for (const int64_t size : layout.shape()) count *= size;
    return static_cast<double>(count);
  };
  const double bytes = (element_count(plan.source()) + element_count(plan.destination())) *
                       static_cast<double>(dtype_size(plan.dtype()));
  return {times[times.size() / 2], bytes};
}

void show_progress(size_t done, size_t total, const std::string& what) {
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(done * kWidth / total);
  std::fprintf(stderr, "\r[%s%s] %zu/%zu %-40s", std::string(filled, '#').c_str(),
               std::string(kWidth - filled, '.').c_str(), done, total, what.c_str());
  std::fflush(stderr);
}

}  // namespace

void run_bench(const BenchOptions& options, std::ostream& out) {
  const bool progress = isatty(STDERR_FILENO);
  const Effort& effort = options.quick ? kQuick : kFull;
  const size_t total = std::size(kCases) * 8;
  size_t done = 0;
  out << "adapool " << ADAPOOL_VERSION_STRING << " bench, " << dtype_name(options.dtype)
      << (options.quick ? ", quick (batch 1, at most 64 channels)" : "") << "\n"
      << std::left << std::setw(28) << "case" << std::setw(7) << "layout" << std::setw(9) << "pass"
      << std::right << std::setw(8) << "threads" << std::setw(12) << "time [ms]" << std::setw(10)
      << "GB/s"
      << "\n";
  for (const Case& shape : kCases) {
    const int64_t batch = std::min(shape.batch, effort.max_batch);
    const int64_t channels = std::min(shape.channels, effort.max_channels);
    const int64_t in_sizes[] = {batch, channels, shape.in_h, shape.in_w};
    const int64_t out_sizes[] = {batch, channels, shape.out_h, shape.out_w};
    std::ostringstream name;
    name << batch << "x" << channels << " " << shape.in_h << "x" << shape.in_w << "->"
         << shape.out_h << "x" << shape.out_w;
    for (const bool channels_last : {false, true}) {
      const Layout input =
          channels_last ? Layout::channels_last(in_sizes, 2) : Layout::contiguous(in_sizes);
      const Layout output =
          channels_last ? Layout::channels_last(out_sizes, 2) : Layout::contiguous(out_sizes);
      const size_t element = dtype_size(options.dtype);
      // Zero bytes are zero in every dtype; the kernels' speed does not
      // depend on the values.
      const std::vector<std::byte> x(
          static_cast<size_t>(batch * channels * shape.in_h * shape.in_w) * element);
      std::vector<std::byte> y(static_cast<size_t>(batch * channels * shape.out_h * shape.out_w) *
                               element);
      std::vector<std::byte> dx(x.size());
      for (const Direction direction : {Direction::forward, Direction::backward}) {
        for (const int threads : {1, 2}) {
          if (progress) show_progress(done, total, name.str());
          Options plan_options;
          plan_options.threads = threads;
          const bool forward = direction == Direction::forward;
          const Plan plan = forward ? Plan::forward(options.dtype, 2, input, output, plan_options)
                                    : Plan::backward(options.dtype, 2, output, input, plan_options);
          const Measurement result = forward ? measure(plan, x.data(), y.data(), effort)
                                             : measure(plan, y.data(), dx.data(), effort);
          out << std::left << std::setw(28) << name.str() << std::setw(7)
              << (channels_last ? "NHWC" : "NCHW") << std::setw(9)
              << (forward ? "forward" : "backward") << std::right << std::setw(8) << plan.threads()
              << std::setw(12) << std::fixed << std::setprecision(3) << result.seconds * 1e3
              << std::setw(10) << std::setprecision(2) << result.bytes / result.seconds / 1e9
              << "\n"
              << std::flush;
          ++done;
        }
      }
    }
  }
  if (progress) std::fprintf(stderr, "\r%*s\r", 80, "");
}

}  // namespace adapool::tools
