#include "demo_image.hpp"

#include <algorithm>
#include <cmath>

namespace adapool::tools {

namespace {

struct Disc {
  double x, y, radius;
  int red, green, blue;
};

}  // namespace

Image demo_image() {
  constexpr int kWidth = 256, kHeight = 192;
  constexpr Disc kDiscs[] = {
      {70, 70, 44, 250, 220, 40}, {170, 110, 56, 220, 40, 90}, {120, 150, 26, 30, 200, 120}};
  Image image;
  image.width = kWidth;
  image.height = kHeight;
  image.channels = 3;
  image.samples.resize(kWidth * kHeight * 3);
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      // Background: a diagonal gradient from teal to violet.
      int rgb[3] = {x * 200 / kWidth + 30, 180 - y * 150 / kHeight, 120 + (x + y) * 100 / 448};
      if (x >= 200 && y < 56 && ((x / 8) + (y / 8)) % 2 == 0) {  // checkerboard, top right
        rgb[0] = rgb[1] = rgb[2] = 20;
      }
      if (y >= 164 && (x / 4) % 2 == 0) {  // thin stripes along the bottom
        rgb[0] = 250;
        rgb[1] = 250;
        rgb[2] = 250;
      }
      for (const Disc& disc : kDiscs) {
        const double distance = std::hypot(x + 0.5 - disc.x, y + 0.5 - disc.y);
        if (distance < disc.radius) {
          // A ring at the rim gives each disc a hard dark edge.
          const bool rim = distance > disc.radius - 4;
          rgb[0] = rim ? 10 : disc.red;
          rgb[1] = rim ? 10 : disc.green;
          rgb[2] = rim ? 10 : disc.blue;
        }
      }
      for (int channel = 0; channel < 3; ++channel) {
        image.samples[static_cast<size_t>((y * kWidth + x) * 3 + channel)] =
            static_cast<uint16_t>(std::clamp(rgb[channel], 0, 255));
      }
    }
  }
  return image;
}

}  // namespace adapool::tools
