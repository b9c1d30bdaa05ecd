// Row microkernels: contiguous runs of n values, vectorised with Highway and
// dispatched at run time to the best target the CPU has. They know nothing
// of tensors or threads: pointers and counts only.
#pragma once

#include <adapool/adapool.hpp>

#include <cstdint>

namespace adapool {

// tile[i] = double(x[i]) / divisor, for x of the given dtype.
using LoadScaledRow = void (*)(double* tile, const void* x, int64_t n, double divisor);
// y[i] = dtype(acc[i] / divisor), rounded once (float16/bfloat16 through float).
// A divisor of 1 divides nothing (x / 1 is x): no division is spent on it.
using StoreScaledRow = void (*)(void* y, const double* acc, int64_t n, double divisor);

LoadScaledRow load_scaled_row(DType dtype);
StoreScaledRow store_scaled_row(DType dtype);

// Gathers a tile of doubles from planes that are not contiguous:
// tile[k][j] = double(x[k * column_stride + j * plane_stride]) / divisor for
// k < columns, j < planes.
using GatherTile = void (*)(double* tile, const void* x, int64_t columns, int64_t column_stride,
                            int64_t planes, int64_t plane_stride, double divisor);
GatherTile gather_tile(DType dtype);

// The window sums, in order: for each cell i < cells, for each w of
// windows[i] clipped to [tile_begin, tile_end), left to right:
//   sums[i][0..planes) += tile[w - tile_begin][0..planes)
// Forward passes output windows over an input tile; backward passes the
// inverse windows of input columns over a tile of dy / count shares.
void sum_windows(double* sums, const double* tile, const Window* windows, int64_t cells,
                 int64_t tile_begin, int64_t tile_end, int64_t planes);

// The Highway target the microkernels run on now ("AVX3", "AVX2", ...).
const char* microkernel_target();

}  // namespace adapool
