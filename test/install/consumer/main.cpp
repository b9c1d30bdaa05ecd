// Pools 10x10 -> 5x7 through the installed library and checks two values.
#include <adapool/adapool.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
  std::vector<float> x(100);
  for (int i = 0; i < 100; ++i) x[i] = static_cast<float>(i);
  std::vector<float> y(35);
  const int64_t in[] = {1, 10, 10};
  const int64_t out[] = {1, 5, 7};
  adapool::adaptive_avg_pool(adapool::DType::f32, 2, adapool::Layout::contiguous(in), x.data(),
                             adapool::Layout::contiguous(out), y.data());
  if (std::fabs(y[0] - 5.5f) > 1e-6f || std::fabs(y[34] - 93.5f) > 1e-6f) {
    std::printf("wrong result: %g %g\n", y[0], y[34]);
    return 1;
  }
  std::printf("consumer ok: adapool %s\n", ADAPOOL_VERSION_STRING);
  return 0;
}
