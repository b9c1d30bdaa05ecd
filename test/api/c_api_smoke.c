/* Compiled as C: the header must be valid C, and the API usable from it. */
#include <adapool/adapool.h>

#include <math.h>
#include <stddef.h>

int adapool_c_smoke(void) {
  float x[100];
  float y[35];
  for (int i = 0; i < 100; ++i) x[i] = (float)i;
  adapool_layout input = {3, {1, 10, 10}, {100, 10, 1}};
  adapool_layout output = {3, {1, 5, 7}, {35, 7, 1}};
  adapool_plan* plan = NULL;
  if (adapool_plan_forward(ADAPOOL_F32, 2, &input, &output, 1, &plan) != ADAPOOL_OK) return 1;
  if (adapool_plan_run(plan, x, y) != ADAPOOL_OK) return 2;
  adapool_plan_destroy(plan);
  /* Output (0, 0) averages rows 0..1 and columns 0..1: (0 + 1 + 10 + 11) / 4. */
  if (fabsf(y[0] - 5.5f) > 1e-6f) return 3;
  /* Output (4, 6) averages rows 8..9 and columns 8..9. */
  if (fabsf(y[34] - 93.5f) > 1e-6f) return 4;
  return 0;
}
