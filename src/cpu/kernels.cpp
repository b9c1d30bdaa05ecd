// Row kernels for every layout and dtype.
//
// The summation order is the contract that makes results identical for
// every layout and thread count (and close to PyTorch's NCHW kernel):
//   forward   y = (sum over d, then h, then w of the window, left to right) / count
//   backward  dx[i] = sum over od, then oh, then ow holding i of dy[o] / count(o)
// Every dtype accumulates in double and rounds once at the end (float16 and
// bfloat16 through float, as PyTorch does).
//
// Speed comes from working on a group of planes (consecutive channels) at a
// time with the planes as vector lanes, so every window sum is a vector sum
// in the order above. Forward sums each window straight from the input
// (sum_input); backward first widens dy / count of the outputs it needs into
// a tile of doubles, tile[ow][plane], once each, and sums its columns
// (sum_windows). Channels-last data moves as contiguous vectors. NCHW
// forwards transpose in registers: windows that are long contiguous runs
// of each plane (NCHW global pooling above all) load each plane's run as
// vectors (sum_runs), other windows transpose each line's columns into a
// tile and sum from it (SumTransposedLine), the planes still the lanes and
// each plane's sum still in order; NCHW input with fewer planes than lanes
// takes the output cells as the lanes instead (SumCellLanes), each cell's
// sum still in order; NCHW output rows leave the tile transposed
// (StoreTransposed). Other layouts (transposed, sliced, rows shorter than a
// vector) are gathered and scattered. A channels-last backward row whose counts
// are all powers of two skips the tile: each gradient times its exact
// reciprocal count is the share (SumExactShares). Wide channels-last
// windows go a few columns at a time for all planes (kColumnsPerPass).
// Rows are chunked so that any row length fits the plan's fixed workspace
// (the forward's sums within kChunkSumsBytes of it), which keeps the
// order: chunks run left to right.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "cpu/kernels.hpp"
#include "cpu/microkernels-inl.h"

HWY_BEFORE_NAMESPACE();
namespace adapool {
namespace HWY_NAMESPACE {
namespace {

// tile[k][plane] = data[k * column_stride + plane * plane_stride] / divisor
// for k < columns: contiguous planes (channels-last) as vector loads, others
// gathered.
template <class T>
void fill_tile(double* tile, const T* data, int64_t columns, int64_t column_stride, int64_t planes,
               int64_t plane_stride, double divisor) {
  if (plane_stride != 1) {
    Gather<T>(tile, data, columns, column_stride, planes, plane_stride, divisor);
    return;
  }
  for (int64_t k = 0; k < columns; ++k) {
    LoadScaled<T>(tile + k * planes, data + k * column_stride, planes, divisor);
  }
}

// data[k * column_stride + plane * plane_stride] = tile[k][plane] / divisor(k),
// with divisor asked once per column, in order: contiguous planes as vector
// stores (non-temporal with `stream`, see StoreScaled), others scattered.
template <class T, class Divisor>
void drain_tile(T* data, const double* tile, int64_t columns, int64_t column_stride, int64_t planes,
                int64_t plane_stride, Divisor divisor, bool stream = false) {
  int64_t k = 0;
#if !HWY_HAVE_SCALABLE
  if (column_stride == 1 && plane_stride != 1) {
    k = StoreTransposed<T>(data, tile, columns, planes, plane_stride, divisor);
  }
#endif
  for (; k < columns; ++k) {
    T* cell = data + k * column_stride;
    if (plane_stride == 1) {
      StoreScaled<T>(cell, tile + k * planes, planes, divisor(k), stream);
    } else {
      Scatter<T>(cell, tile + k * planes, 1, column_stride, planes, plane_stride, divisor(k));
    }
  }
}

// The input range of output cell o along pooled dimension d.
Window output_window(const PlanData& plan, int d, int64_t o) {
  return {window_begin(o, plan.in_sizes[d], plan.out_sizes[d]),
          window_end(o, plan.in_sizes[d], plan.out_sizes[d])};
}

// A callable giving the walker's window and stepping it: for loops that ask
// for consecutive cells' windows in order, one division-free step each.
inline auto next_window(WindowWalker& walker) {
  return [&walker](int64_t) {
    const Window window = walker.window();
    walker.next();
    return window;
  };
}

// The output cells whose windows hold input cell i of pooled dimension d:
// from the plan's table where it has one, else from the rule.
Window inverse_window(const PlanData& plan, int d, int64_t i) {
  if (!plan.inverse[d].empty()) return plan.inverse[d][i];
  return {inverse_begin(i, plan.in_sizes[d], plan.out_sizes[d]),
          inverse_end(i, plan.in_sizes[d], plan.out_sizes[d])};
}

// The outputs along w whose windows hold some cell of a whole input row.
Window outputs_of_row(const PlanData& plan) {
  return {inverse_window(plan, 2, 0).begin, inverse_window(plan, 2, plan.in_sizes[2] - 1).end};
}

// The size of output cell o's window along pooled dimension d, likewise.
int64_t output_count(const PlanData& plan, int d, int64_t o) {
  if (!plan.counts[d].empty()) return plan.counts[d][o];
  return window_count(o, plan.in_sizes[d], plan.out_sizes[d]);
}

// Windows up to this many bytes of channels-last input (about L1) are summed
// cell by cell in registers (PoolCellChannelsLast), each block of planes
// walking the whole window. Larger ones go row by row, streaming the input:
// measured, the cell walk was 1.07x-1.8x slower from 65 KiB (56x56 -> 7x7,
// PSPNet 65 -> 6) and 1.3-1.6x faster up to 24 KiB (VGG 14/15 -> 7).
constexpr int64_t kCellWindowBytes = 32 << 10;

// The forward's sums of one chunk of a row (cells times planes, in double)
// stay within this many bytes, a third of L1, with room for the input they
// add. PSPNet's 65 -> 6 channels-last (6 cells of 1024 planes, 48 KiB
// uncapped) took 12.4-19.4 ms at two threads from one run to the next, and
// 12.3-12.6 ms with the cap; at one thread 25.0-25.8 against 25.6-26.2 ms.
constexpr int64_t kChunkSumsBytes = 16 << 10;

// The most cells of `planes` planes a forward chunk holds (kChunkSumsBytes):
// at least 1, and whole vectors of cells for SumCellLanes where there are 8.
int64_t chunk_cap(int64_t planes) {
  const int64_t cells = kChunkSumsBytes / (planes * static_cast<int64_t>(sizeof(double)));
  return cells >= 8 ? cells - cells % 8 : std::max<int64_t>(cells, 1);
}

// Windows at least this many columns long are summed as runs (SumRuns)
// when planes are not contiguous: shorter ones waste most of a transpose.
// Windows of part of a row need more: each run's columns past the last
// whole vector go one by one, and measured, PSPNet's 65 -> 3 (windows of 22
// columns) took 1.5x and 65 -> 2 (33) 1.1x the time of SumInput's gathers.
constexpr int64_t kMinRunColumns = 16;
constexpr int64_t kMinPartialRunColumns = 64;

// Whether forward_rows sums along runs: planes apart (NCHW, sliced) with
// contiguous rows, and windows of at least kMinPartialRunColumns within a
// row, or of whole rows that follow each other in memory holding at least
// kMinRunColumns cells (a window holds at least in / out cells of each
// dimension).
template <class T>
bool forward_along_runs(const PlanData& plan) {
  const auto& xs = plan.source_strides;
  const int64_t in_h = plan.in_sizes[1];
  const int64_t in_w = plan.in_sizes[2];
  const int64_t out_w = plan.out_sizes[2];
  const bool rows_follow = in_h == 1 || xs[3] == in_w;
  const bool long_windows =
      in_w / kMinPartialRunColumns >= out_w ||
      (out_w == 1 && rows_follow && in_h / plan.out_sizes[1] * in_w >= kMinRunColumns);
  return kTransposedRuns<T> && xs[1] != 1 && xs[4] == 1 && long_windows;
}

// Whether forward_rows sums the other windows of planes apart with
// contiguous rows (NCHW) from transposed lines (SumTransposedLine) rather
// than SumInput's gathers: rows of at least a vector of columns, windows
// (at most `widest` columns) that fit its tile.
template <class T>
bool forward_transposed_lines(const PlanData& plan, int64_t widest) {
  const auto& xs = plan.source_strides;
  const auto lanes = static_cast<int64_t>(hn::Lanes(D64()));
  return kTransposedRuns<T> && xs[1] != 1 && xs[4] == 1 && plan.in_sizes[2] >= lanes &&
         widest <= kTileColumns;
}

// The sums of cells [o0, o1) of one row of a group of planes as runs, each
// window's part of a line being contiguous (see forward_along_runs). A
// window spanning whole rows (out_w == 1) is one run per d where its rows
// follow each other, or a single run where its d slices do too; SumRuns
// adds each run in order, so every sum still goes d, then h, then w.
template <class T>
void sum_runs(const PlanData& plan, double* sums, const T* base, Window wd, Window wh, int64_t o0,
              int64_t o1, int64_t planes) {
  const auto& xs = plan.source_strides;
  const int64_t in_h = plan.in_sizes[1];
  const int64_t in_w = plan.in_sizes[2];
  const int64_t out_w = plan.out_sizes[2];
  if (out_w == 1) {
    const bool rows_follow = wh.count() == 1 || xs[3] == in_w;
    const bool slices_follow =
        rows_follow && wh.count() == in_h && (wd.count() == 1 || xs[2] == in_h * in_w);
    if (slices_follow) {
      SumRuns<T>(sums, base + wd.begin * xs[2] + wh.begin * xs[3], wd.count() * wh.count() * in_w,
                 planes, xs[1]);
      return;
    }
    for (int64_t d = wd.begin; d < wd.end; ++d) {
      if (rows_follow) {
        SumRuns<T>(sums, base + d * xs[2] + wh.begin * xs[3], wh.count() * in_w, planes, xs[1]);
        continue;
      }
      for (int64_t h = wh.begin; h < wh.end; ++h) {
        SumRuns<T>(sums, base + d * xs[2] + h * xs[3], in_w, planes, xs[1]);
      }
    }
    return;
  }
  WindowWalker walker(o0, in_w, out_w);
  for (int64_t o = o0; o < o1; ++o, walker.next()) {
    const Window ww = walker.window();
    for (int64_t d = wd.begin; d < wd.end; ++d) {
      for (int64_t h = wh.begin; h < wh.end; ++h) {
        SumRuns<T>(sums + (o - o0) * planes, base + d * xs[2] + h * xs[3] + ww.begin, ww.count(),
                   planes, xs[1]);
      }
    }
  }
}

template <class T>
void forward_rows(const PlanData& plan, const Buffers& buffers, int64_t first, int64_t last,
                  double* workspace) {
  const T* x = static_cast<const T*>(buffers.source);
  T* y = static_cast<T*>(buffers.destination);
  const auto& xs = plan.source_strides;
  const auto& ys = plan.destination_strides;
  const int64_t out_d = plan.out_sizes[0];
  const int64_t out_h = plan.out_sizes[1];
  const int64_t out_w = plan.out_sizes[2];
  const int64_t in_w = plan.in_sizes[2];
  const bool channels_last = xs[1] == 1 && ys[1] == 1;
  const int64_t widest_w = in_w / std::max<int64_t>(out_w, 1) + 2;  // >= any window's width
  const bool along_runs = forward_along_runs<T>(plan);
  const bool cell_lanes = CellLanesPay<T>(plan.channels, in_w, out_w, xs[4]);
  const bool transposed_lines = forward_transposed_lines<T>(plan, widest_w);
  for (int64_t row = first; row < last; ++row) {
    const int64_t oh = row % out_h;
    const int64_t od = (row / out_h) % out_d;
    const Group group = group_of(plan, row / out_h / out_d);
    const int64_t planes = group.planes;
    const int64_t chunk =
        std::min(plan.chunk_columns * plan.group_planes / planes, chunk_cap(planes));
    double* sums = workspace;
    const Window wd = output_window(plan, 0, od);
    const Window wh = output_window(plan, 1, oh);
    const int64_t count_dh = wd.count() * wh.count();
    if (channels_last &&
        count_dh * widest_w * planes * static_cast<int64_t>(sizeof(T)) <= kCellWindowBytes) {
      const T* x_group = x + group.source_offset;
      T* y_row = y + group.destination_offset + od * ys[2] + oh * ys[3];
      WindowWalker walker(0, in_w, out_w);
      for (int64_t ow = 0; ow < out_w; ++ow, walker.next()) {
        const Window window[3] = {wd, wh, walker.window()};
        PoolCellChannelsLast<T, T>(y_row + ow * ys[4], x_group, planes, window,
                                   {xs[2], xs[3], xs[4]},
                                   static_cast<double>(count_dh * window[2].count()));
      }
      continue;
    }
    for (int64_t o0 = 0; o0 < out_w; o0 += chunk) {
      const int64_t o1 = std::min(out_w, o0 + chunk);
      std::fill(sums, sums + (o1 - o0) * planes, 0.0);
      if (along_runs) {
        sum_runs(plan, sums, x + group.source_offset, wd, wh, o0, o1, planes);
      } else if (cell_lanes) {
        SumCellLanes<T>(sums, x + group.source_offset, {wd, wh, xs[2], xs[3]}, o0, o1, in_w, out_w,
                        planes, xs[1]);
      } else if (transposed_lines) {
        for (int64_t d = wd.begin; d < wd.end; ++d) {
          for (int64_t h = wh.begin; h < wh.end; ++h) {
            SumTransposedLine<T>(sums, x + group.source_offset + d * xs[2] + h * xs[3], o0, o1,
                                 in_w, out_w, planes, xs[1]);
          }
        }
      } else {
        const int64_t column_begin = window_begin(o0, in_w, out_w);
        const int64_t column_end = window_end(o1 - 1, in_w, out_w);
        for (int64_t d = wd.begin; d < wd.end; ++d) {
          for (int64_t h = wh.begin; h < wh.end; ++h) {
            const T* line = x + group.source_offset + d * xs[2] + h * xs[3];
            // SumInput asks for the windows of o0, o0 + 1, ... in order.
            WindowWalker walker(o0, in_w, out_w);
            SumInput<T>(sums, line, next_window(walker), o1 - o0, column_begin, column_end, planes,
                        xs[4], xs[1]);
          }
        }
      }
      T* out = y + group.destination_offset + od * ys[2] + oh * ys[3] + o0 * ys[4];
      WindowWalker walker(o0, in_w, out_w);
      const auto window_w = next_window(walker);
      drain_tile(out, sums, o1 - o0, ys[4], planes, ys[1],
                 [&](int64_t) { return static_cast<double>(count_dh * window_w(0).count()); });
    }
  }
}

// to[j * plane_stride + w * column_stride] = from[...] for j < planes, w < columns.
template <class T>
void copy_row(const T* from, T* to, int64_t planes, int64_t plane_stride, int64_t columns,
              int64_t column_stride) {
  if (column_stride == 1) {
    for (int64_t j = 0; j < planes; ++j) {
      std::memcpy(to + j * plane_stride, from + j * plane_stride, columns * sizeof(T));
    }
  } else if (plane_stride == 1) {
    for (int64_t w = 0; w < columns; ++w) {
      std::memcpy(to + w * column_stride, from + w * column_stride, planes * sizeof(T));
    }
  } else {
    for (int64_t j = 0; j < planes; ++j) {
      for (int64_t w = 0; w < columns; ++w) {
        to[j * plane_stride + w * column_stride] = from[j * plane_stride + w * column_stride];
      }
    }
  }
}

// Backward of one plane's row when dx rows are contiguous and planes are
// not (NCHW): the input columns are the vector lanes, so dx is written with
// contiguous stores. Same order per element: od, then oh, then ow.
template <class T>
void backward_plane_row(const PlanData& plan, const T* dy_plane, T* dx_row, Window od_range,
                        Window oh_range, double* workspace) {
  const auto& gs = plan.source_strides;
  const int64_t in_w = plan.in_sizes[2];
  const int64_t out_w = plan.out_sizes[2];
  const int64_t chunk = plan.chunk_columns * plan.group_planes;
  double* sums = workspace;
  double* shares = workspace + chunk;
  if (out_w == 1 && od_range.count() == 1 && oh_range.count() == 1) {
    // One output feeds the whole row (global pooling): every cell gets the
    // same sum, 0.0 + dy / count as below (so -0.0 gives +0.0 there too).
    const int64_t count = output_count(plan, 0, od_range.begin) *
                          output_count(plan, 1, oh_range.begin) * output_count(plan, 2, 0);
    double share = 0.0;
    Gather<T>(&share, dy_plane + od_range.begin * gs[2] + oh_range.begin * gs[3], 1, gs[4], 1, 1,
              1.0);
    const double sum = 0.0 + share / static_cast<double>(count);
    if (plan.stream) {  // one value, rounded once, fills the row (PlanData::stream)
      T value;
      StoreScaled<T>(&value, &sum, 1, 1.0);
      FillRun(dx_row, in_w, value, true);
      return;
    }
    std::fill(sums, sums + std::min(in_w, chunk), sum);
    for (int64_t w0 = 0; w0 < in_w; w0 += chunk) {
      StoreScaled<T>(dx_row + w0, sums, std::min(in_w, w0 + chunk) - w0, 1.0);
    }
    return;
  }
  for (int64_t w0 = 0; w0 < in_w; w0 += chunk) {
    const int64_t w1 = std::min(in_w, w0 + chunk);
    std::fill(sums, sums + (w1 - w0), 0.0);
    const int64_t o_begin = inverse_window(plan, 2, w0).begin;
    const int64_t o_end = inverse_window(plan, 2, w1 - 1).end;
    for (int64_t od = od_range.begin; od < od_range.end; ++od) {
      for (int64_t oh = oh_range.begin; oh < oh_range.end; ++oh) {
        const int64_t count_dh = output_count(plan, 0, od) * output_count(plan, 1, oh);
        const T* line = dy_plane + od * gs[2] + oh * gs[3];
        for (int64_t o0 = o_begin; o0 < o_end; o0 += chunk) {
          const int64_t o1 = std::min(o_end, o0 + chunk);
          Gather<T>(shares, line + o0 * gs[4], o1 - o0, gs[4], 1, 1, 1.0);
          for (int64_t ow = o0; ow < o1; ++ow) {
            shares[ow - o0] /= static_cast<double>(count_dh * output_count(plan, 2, ow));
          }
          SpreadShares(sums, shares, o0, o1, in_w, out_w, w0, w1);
        }
      }
    }
    StoreScaled<T>(dx_row + w0, sums, w1 - w0, 1.0);
  }
}

// Lines of grad_output that one dx row of exact shares reads at most: the
// lines' pointers live on the stack.
constexpr int64_t kExactShareLines = 64;

// backward_cells_channels_last where every output feeding the row has a
// power-of-two count: the gradients are read as they are, each times its
// exact reciprocal count (SumExactShares), without widening them into the
// workspace first. At one thread: 5x5 -> 13x13 (counts 1, 2 and 4) 45-54
// -> 27 us, VGG 14x14 -> 7x7 882-901 -> 730-735 us. Not for double: its
// product can be subnormal and inexact (2^-1073 * 1/2), where the tile
// rounds the share before adding it and a multiply-add rounds once. False,
// having done nothing, for double, grad_output planes apart, other counts,
// more than kExactShareLines lines, or reciprocals that do not fit the
// workspace.
template <class T>
bool backward_exact_shares(const PlanData& plan, const T* dy_group, T* dx_row, int64_t planes,
                           Window od_range, Window oh_range, double* workspace, bool stream) {
  const auto& gs = plan.source_strides;
  const Window outputs = outputs_of_row(plan);
  const int64_t lines = od_range.count() * oh_range.count();
  if (std::is_same_v<T, double> || gs[1] != 1 || lines > kExactShareLines ||
      lines * outputs.count() > plan.workspace_per_thread) {
    return false;
  }
  const void* line_of[kExactShareLines];
  double* reciprocal = workspace;
  for (int64_t od = od_range.begin, l = 0; od < od_range.end; ++od) {
    for (int64_t oh = oh_range.begin; oh < oh_range.end; ++oh, ++l) {
      const int64_t count_dh = output_count(plan, 0, od) * output_count(plan, 1, oh);
      line_of[l] = dy_group + od * gs[2] + oh * gs[3];
      for (int64_t ow = outputs.begin; ow < outputs.end; ++ow) {
        const auto count = static_cast<double>(count_dh * output_count(plan, 2, ow));
        if (!ExactReciprocal(count)) return false;
        *reciprocal++ = 1.0 / count;
      }
    }
  }
  for (int64_t w = 0; w < plan.in_sizes[2]; ++w) {
    const ExactShares shares{line_of,      lines,     inverse_window(plan, 2, w),
                             gs[4],        workspace, outputs.count(),
                             outputs.begin};
    SumExactShares<T>(dx_row + w * plan.destination_strides[4], shares, planes, stream);
  }
  return true;
}

// Backward of one dx row whose planes are contiguous (channels-last), when
// the shares dy[o] / count(o) of every output feeding the row fit the
// workspace: they are widened there once, [od, oh][ow][plane], and each dx
// cell sums its own in registers (PoolCellChannelsLast), in the order of
// the tile path (od, then oh, then ow, from 0.0). False, having done
// nothing, when they do not fit.
template <class T>
bool backward_cells_channels_last(const PlanData& plan, const T* dy_group, T* dx_row,
                                  int64_t planes, Window od_range, Window oh_range,
                                  double* workspace, bool stream) {
  const auto& gs = plan.source_strides;
  const int64_t in_w = plan.in_sizes[2];
  const Window outputs = outputs_of_row(plan);
  const int64_t lines = od_range.count() * oh_range.count();
  if (backward_exact_shares(plan, dy_group, dx_row, planes, od_range, oh_range, workspace,
                            stream)) {
    return true;
  }
  if (lines * outputs.count() * planes > plan.workspace_per_thread) return false;
  double* share = workspace;
  for (int64_t od = od_range.begin; od < od_range.end; ++od) {
    for (int64_t oh = oh_range.begin; oh < oh_range.end; ++oh) {
      const int64_t count_dh = output_count(plan, 0, od) * output_count(plan, 1, oh);
      const T* line = dy_group + od * gs[2] + oh * gs[3];
      for (int64_t ow = outputs.begin; ow < outputs.end; ++ow, share += planes) {
        const auto count = static_cast<double>(count_dh * output_count(plan, 2, ow));
        fill_tile(share, line + ow * gs[4], 1, gs[4], planes, gs[1], count);
      }
    }
  }
  const int64_t line_stride = outputs.count() * planes;
  for (int64_t w = 0; w < in_w; ++w) {
    const Window feeding = inverse_window(plan, 2, w);
    const Window window[3] = {
        {0, lines}, {0, 1}, {feeding.begin - outputs.begin, feeding.end - outputs.begin}};
    PoolCellChannelsLast<double, T>(dx_row + w * plan.destination_strides[4], workspace, planes,
                                    window, {line_stride, 0, planes}, 1.0, stream);
  }
  return true;
}

// One plane's dx row, whole, into sums[0, in_w): each share dy[o] / count(o)
// of the outputs feeding the row, od, then oh, then ow, added to 0.0 over
// its window, the order and operations of backward_plane_row (its divisor
// is the same integer count, converted once).
template <class T>
void plane_row(const PlanData& plan, const T* dy_plane, Window od_range, Window oh_range,
               double* sums) {
  const auto& gs = plan.source_strides;
  const int64_t in_w = plan.in_sizes[2];
  const int64_t out_w = plan.out_sizes[2];
  const Window outputs = outputs_of_row(plan);
  std::fill(sums, sums + in_w, 0.0);
  for (int64_t od = od_range.begin; od < od_range.end; ++od) {
    for (int64_t oh = oh_range.begin; oh < oh_range.end; ++oh) {
      const int64_t count_dh = output_count(plan, 0, od) * output_count(plan, 1, oh);
      const T* line = dy_plane + od * gs[2] + oh * gs[3];
      WindowWalker walker(outputs.begin, in_w, out_w);
      for (int64_t ow = outputs.begin; ow < outputs.end; ++ow, walker.next()) {
        const double share = LoadScalar(line + ow * gs[4]) /
                             static_cast<double>(count_dh * output_count(plan, 2, ow));
        const Window window = walker.window();
        for (int64_t w = window.begin; w < window.end; ++w) sums[w] += share;
      }
    }
  }
}

// backward_plane_row for every plane of a group at once, when there are
// several outputs along w (one goes to backward_plane_row's fill), each
// plane's row summed by plane_row. False, having done nothing, when the
// row does not fit the workspace.
template <class T>
bool backward_short_rows(const PlanData& plan, const T* dy_group, T* dx_row, int64_t planes,
                         Window od_range, Window oh_range, double* workspace) {
  const int64_t in_w = plan.in_sizes[2];
  if (plan.out_sizes[2] == 1 || in_w > plan.workspace_per_thread) return false;
  for (int64_t j = 0; j < planes; ++j) {
    plane_row(plan, dy_group + j * plan.source_strides[1], od_range, oh_range, workspace);
    StoreScaled<T>(dx_row + j * plan.destination_strides[1], workspace, in_w, 1.0);
  }
  return true;
}

template <class T>
void backward_rows(const PlanData& plan, const Buffers& buffers, int64_t first, int64_t last,
                   double* workspace) {
  const T* dy = static_cast<const T*>(buffers.source);
  T* dx = static_cast<T*>(buffers.destination);
  const auto& gs = plan.source_strides;
  const auto& xs = plan.destination_strides;
  const int64_t in_d = plan.in_sizes[0];
  const int64_t in_h = plan.in_sizes[1];
  const int64_t in_w = plan.in_sizes[2];
  const auto inverse_w = [&](int64_t w) { return inverse_window(plan, 2, w); };
  if (plan.source_bytes.empty()) {
    // An empty grad_output feeds nothing: grad_input is zero. Its sizes and
    // strides are never used (group_of forms no offset from them).
    for (int64_t row = first; row < last; ++row) {
      const int64_t h = row % in_h;
      const int64_t d = (row / in_h) % in_d;
      const Group group = group_of(plan, row / in_h / in_d);
      T* base = dx + group.destination_offset + d * xs[2] + h * xs[3];
      for (int64_t j = 0; j < group.planes; ++j) {
        for (int64_t w = 0; w < in_w; ++w) base[j * xs[1] + w * xs[4]] = T{};
      }
    }
    return;
  }
  // Channels-last rows of a grad_input too large for the caches go out in
  // non-temporal stores (PlanData::stream), and none is read back: a row
  // equal to the one before, or a cell equal to the first, is worked out
  // again rather than copied from memory the stores bypassed the caches for.
  const bool stream = plan.stream && xs[1] == 1;
  for (int64_t row = first; row < last; ++row) {
    const int64_t h = row % in_h;
    const int64_t d = (row / in_h) % in_d;
    const Group group = group_of(plan, row / in_h / in_d);
    const int64_t planes = group.planes;
    const Window od_range = inverse_window(plan, 0, d);
    const Window oh_range = inverse_window(plan, 1, h);
    // Rows that the same outputs feed are equal: copy the row before.
    const int64_t previous_h = (row - 1) % in_h;
    const int64_t previous_d = ((row - 1) / in_h) % in_d;
    if (!stream && row > first && (row - 1) / in_h / in_d == row / in_h / in_d &&
        oh_range == inverse_window(plan, 1, previous_h) &&
        od_range == inverse_window(plan, 0, previous_d)) {
      T* base = dx + group.destination_offset;
      copy_row(base + previous_d * xs[2] + previous_h * xs[3], base + d * xs[2] + h * xs[3], planes,
               xs[1], in_w, xs[4]);
      continue;
    }
    if (plan.along_rows) {
      T* dx_row = dx + group.destination_offset + d * xs[2] + h * xs[3];
      if (backward_short_rows(plan, dy + group.source_offset, dx_row, planes, od_range, oh_range,
                              workspace)) {
        continue;
      }
      for (int64_t j = 0; j < planes; ++j) {
        backward_plane_row(plan, dy + group.source_offset + j * gs[1], dx_row + j * xs[1], od_range,
                           oh_range, workspace);
      }
      continue;
    }
    const int64_t chunk = plan.chunk_columns * plan.group_planes / planes;
    if (xs[1] == 1 &&
        backward_cells_channels_last(plan, dy + group.source_offset,
                                     dx + group.destination_offset + d * xs[2] + h * xs[3], planes,
                                     od_range, oh_range, workspace, stream)) {
      continue;
    }
    double* shares = workspace;  // dy[o] / count(o) for a chunk of outputs
    double* sums = workspace + chunk * planes;
    // One output along w feeds every column the same: the first is summed,
    // the others copied (global pooling).
    const int64_t summed_w = plan.out_sizes[2] == 1 && !stream ? 1 : in_w;
    for (int64_t w0 = 0; w0 < summed_w; w0 += chunk) {
      const int64_t w1 = std::min(summed_w, w0 + chunk);
      std::fill(sums, sums + (w1 - w0) * planes, 0.0);
      const int64_t o_begin = inverse_w(w0).begin;
      const int64_t o_end = inverse_w(w1 - 1).end;
      for (int64_t od = od_range.begin; od < od_range.end; ++od) {
        for (int64_t oh = oh_range.begin; oh < oh_range.end; ++oh) {
          const int64_t count_dh = output_count(plan, 0, od) * output_count(plan, 1, oh);
          const T* line = dy + group.source_offset + od * gs[2] + oh * gs[3];
          for (int64_t o0 = o_begin; o0 < o_end; o0 += chunk) {
            const int64_t o1 = std::min(o_end, o0 + chunk);
            for (int64_t ow = o0; ow < o1; ++ow) {
              const auto count = static_cast<double>(count_dh * output_count(plan, 2, ow));
              fill_tile(shares + (ow - o0) * planes, line + ow * gs[4], 1, gs[4], planes, gs[1],
                        count);
            }
            // The inverse windows of w0, w0 + 1, ...: SumWindows asks for them in order.
            WindowWalker walker(w0, plan.out_sizes[2], in_w);
            SumWindows(sums, shares, next_window(walker), w1 - w0, o0, o1, planes);
          }
        }
      }
      T* out = dx + group.destination_offset + d * xs[2] + h * xs[3] + w0 * xs[4];
      drain_tile(
          out, sums, w1 - w0, xs[4], planes, xs[1], [](int64_t) { return 1.0; }, stream);
    }
    T* line = dx + group.destination_offset + d * xs[2] + h * xs[3];
    for (int64_t w = summed_w; w < in_w; ++w) {
      copy_row(line, line + w * xs[4], planes, xs[1], 1, xs[4]);
    }
  }
  if (plan.stream) hwy::FlushStream();  // before the run's caller may read grad_input
}

}  // namespace

// One function per dtype and direction, the shape HWY_EXPORT needs.
#define ADAPOOL_KERNELS(Name, Type)                                                              \
  void Forward##Name(const PlanData& plan, const Buffers& buffers, int64_t first, int64_t last,  \
                     double* workspace) {                                                        \
    forward_rows<Type>(plan, buffers, first, last, workspace);                                   \
  }                                                                                              \
  void Backward##Name(const PlanData& plan, const Buffers& buffers, int64_t first, int64_t last, \
                      double* workspace) {                                                       \
    backward_rows<Type>(plan, buffers, first, last, workspace);                                  \
  }
ADAPOOL_KERNELS(F32, float)
ADAPOOL_KERNELS(F64, double)
ADAPOOL_KERNELS(F16, Half)
ADAPOOL_KERNELS(BF16, BFloat16)
#undef ADAPOOL_KERNELS

}  // namespace HWY_NAMESPACE
}  // namespace adapool
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace adapool {

HWY_EXPORT(ForwardF32);
HWY_EXPORT(ForwardF64);
HWY_EXPORT(ForwardF16);
HWY_EXPORT(ForwardBF16);
HWY_EXPORT(BackwardF32);
HWY_EXPORT(BackwardF64);
HWY_EXPORT(BackwardF16);
HWY_EXPORT(BackwardBF16);

RowKernel select_kernel(Direction direction, Reduction reduction, DType dtype) {
  if (reduction == Reduction::max) return select_max_kernel(direction, dtype);
  const bool forward = direction == Direction::forward;
  switch (dtype) {
    case DType::f32:
      return forward ? RowKernel{ADAPOOL_ROW_DISPATCH(ForwardF32)}
                     : ADAPOOL_ROW_DISPATCH(BackwardF32);
    case DType::f64:
      return forward ? RowKernel{ADAPOOL_ROW_DISPATCH(ForwardF64)}
                     : ADAPOOL_ROW_DISPATCH(BackwardF64);
    case DType::f16:
      return forward ? RowKernel{ADAPOOL_ROW_DISPATCH(ForwardF16)}
                     : ADAPOOL_ROW_DISPATCH(BackwardF16);
    case DType::bf16:
      return forward ? RowKernel{ADAPOOL_ROW_DISPATCH(ForwardBF16)}
                     : ADAPOOL_ROW_DISPATCH(BackwardBF16);
  }
  return nullptr;  // unreachable: make_plan validated the dtype
}

}  // namespace adapool
#endif  // HWY_ONCE
