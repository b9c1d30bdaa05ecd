// The 10x10 -> 5x7 example: which input cells feed which output cell, whether
// a fixed AvgPool reproduces the windows, and the pooled result of a ramp.
#include <adapool/adapool.hpp>

#include <cstdio>
#include <vector>

namespace {

void explain(const char* name, int64_t in, int64_t out) {
  std::printf("%s: %lld -> %lld\n", name, static_cast<long long>(in), static_cast<long long>(out));
  std::printf("  %6s %6s %6s %6s\n", "output", "begin", "end", "count");
  const std::vector<adapool::Window> cells = adapool::windows(in, out);
  for (size_t o = 0; o < cells.size(); ++o) {
    std::printf("  %6zu %6lld %6lld %6lld\n", o, static_cast<long long>(cells[o].begin),
                static_cast<long long>(cells[o].end), static_cast<long long>(cells[o].count()));
  }
  if (const auto pool = adapool::fixed_pool_equivalent(in, out)) {
    std::printf("  = AvgPool(kernel=%lld, stride=%lld), exactly\n",
                static_cast<long long>(pool->kernel), static_cast<long long>(pool->stride));
  } else {
    std::printf("  no fixed AvgPool(kernel, stride) reproduces these windows\n");
  }
  const adapool::CeilFloorRule rule = adapool::ceil_floor_rule(in, out);
  std::printf(
      "  the rule kernel=ceil(in/out)=%lld, stride=floor(in/out)=%lld gives %lld outputs: %s\n",
      static_cast<long long>(rule.kernel), static_cast<long long>(rule.stride),
      static_cast<long long>(rule.outputs), rule.matches ? "right" : "wrong");
}

}  // namespace

int main() {
  constexpr int64_t in_h = 10, in_w = 10, out_h = 5, out_w = 7;
  explain("height", in_h, out_h);
  explain("width", in_w, out_w);

  // x[h][w] = 10 h + w, so each output shows the mean position of its window.
  std::vector<float> x(in_h * in_w);
  for (int64_t h = 0; h < in_h; ++h) {
    for (int64_t w = 0; w < in_w; ++w) x[h * in_w + w] = static_cast<float>(10 * h + w);
  }
  std::vector<float> y(out_h * out_w);
  const int64_t input_sizes[] = {1, in_h, in_w};
  const int64_t output_sizes[] = {1, out_h, out_w};
  adapool::adaptive_avg_pool(adapool::DType::f32, 2, adapool::Layout::contiguous(input_sizes),
                             x.data(), adapool::Layout::contiguous(output_sizes), y.data());
  std::printf("\nadaptive_avg_pool2d of x[h][w] = 10h + w, 10x10 -> 5x7:\n");
  for (int64_t oh = 0; oh < out_h; ++oh) {
    for (int64_t ow = 0; ow < out_w; ++ow) std::printf("%7.2f", y[oh * out_w + ow]);
    std::printf("\n");
  }
  return 0;
}
