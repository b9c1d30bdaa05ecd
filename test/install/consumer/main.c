/* The C API through pkg-config. */
#include <adapool/adapool.h>

#include <stdio.h>

int main(void) {
  int exists = 0;
  int64_t kernel = 0, stride = 0;
  if (adapool_fixed_pool_equivalent(15, 7, &exists, &kernel, &stride) != ADAPOOL_OK) return 1;
  if (!exists || kernel != 3 || stride != 2) return 2;
  double x[6] = {0, 1, 2, 3, 4, 5}, y[4];
  adapool_layout in = {2, {1, 6}, {6, 1}}, out = {2, {1, 4}, {4, 1}};
  if (adapool_forward(ADAPOOL_F64, 1, &in, x, &out, y, 1) != ADAPOOL_OK) return 3;
  if (y[0] != 0.5 || y[3] != 4.5) return 4;
  printf("pkg-config consumer ok: adapool %s\n", adapool_version());
  return 0;
}
