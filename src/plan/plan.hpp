// What a plan holds: everything that depends only on shapes, strides, dtype
// and thread count. Built once by make_plan(); kernels only read it.
#pragma once

#include <adapool/adapool.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace adapool {

// Max pooling backward: the first index found outside its plane. Each plane group is checked by one
// thread in a fixed order and a thread stops at its first fault, so the earliest group's fault is
// the same for every thread count.
struct IndexFault {
  std::mutex mutex;
  bool found = false;
  int64_t group = 0;
  int64_t plane = 0;              // within the group
  std::array<int64_t, 3> cell{};  // od, oh, ow
  int64_t value = 0;
  void record(int64_t fault_group, int64_t fault_plane, std::array<int64_t, 3> fault_cell,
              int64_t fault_value) {
    std::lock_guard<std::mutex> lock(mutex);
    if (found && group <= fault_group) return;
    found = true;
    group = fault_group;
    plane = fault_plane;
    cell = fault_cell;
    value = fault_value;
  }
};

// The data of one run. `indices`: max pooling's, written by the forward,
// read by the backward; null when the plan has none. `fault`: where max
// pooling's backward reports a bad index.
struct Buffers {
  const void* source;
  void* destination;
  int64_t* indices;
  IndexFault* fault = nullptr;
};

// Processes rows [first, last) of a plan (see PlanData::rows) with
// PlanData::workspace_per_thread doubles of scratch space.
using RowKernel = void (*)(const PlanData& plan, const Buffers& buffers, int64_t first,
                           int64_t last, double* workspace);

// Scratch space owned by a plan, so a run allocates nothing. A second caller
// running the same plan at the same time finds it busy and uses its own.
// Scratch memory, not cleared: every kernel writes what it reads first.
// Clearing it cost more than small runs (5 us of a plan for 128 KiB), and
// the Python extension makes a plan per call. Sanitizer builds fill it with
// NaN instead (ADAPOOL_POISON_WORKSPACE), so that a kernel reading what it
// did not write shows in the tests' results.
struct Workspace {
  std::unique_ptr<double[]> values;
  size_t size = 0;  // doubles
  std::unique_ptr<std::mutex> busy = std::make_unique<std::mutex>();
};

std::unique_ptr<double[]> scratch(size_t doubles);

// Byte offsets, relative to the data pointer, of the lowest and one past the
// highest byte a view touches. Empty when the view has no elements.
struct ByteSpan {
  int64_t low = 0;
  int64_t high = 0;
  bool empty() const { return high <= low; }
};

struct PlanData {
  Direction direction = Direction::forward;
  Reduction reduction = Reduction::average;
  DType dtype = DType::f32;
  int spatial_dims = 0;
  Layout source;       // input (forward) or grad_output (backward), as given
  Layout destination;  // output (forward) or grad_input (backward), as given

  // Every view normalised to (N, C, D, H, W): a missing batch dimension and
  // unused pooled dimensions have size 1 and stride 0, so one kernel serves
  // 1-d, 2-d and 3-d, batched and unbatched.
  int64_t batch = 1;
  int64_t channels = 1;
  std::array<int64_t, 3> in_sizes{1, 1, 1};   // D, H, W of the input
  std::array<int64_t, 3> out_sizes{1, 1, 1};  // D, H, W of the output
  std::array<int64_t, 5> source_strides{};
  std::array<int64_t, 5> destination_strides{};
  // Max pooling's indices (the output's shape), when there are any.
  bool has_indices = false;
  Layout indices;
  std::array<int64_t, 5> indices_strides{};

  // Forward keeps no tables: it steps through its windows in order.
  // Backward: inverse[d][i], the output cells whose windows hold input cell
  // i, and counts[d][o], the size of output cell o's window. Only for
  // dimensions up to kMaxTableEntries: grad_output may be a broadcast view of
  // any size, and longer dimensions take their ranges from the rule itself.
  std::array<std::vector<Window>, 3> inverse;
  std::array<std::vector<int64_t>, 3> counts;

  // Kernels work on groups of up to group_planes planes (consecutive
  // channels of one batch entry) at once, with the planes as vector lanes.
  int64_t group_planes = 1;
  // Backward along dx rows, one plane at a time (see make_plan).
  bool along_rows = false;
  // Max backward: grad_input holds zeros already (Options::destination_zeroed).
  bool destination_zeroed = false;
  // Backward into a grad_input of more than Options::stream_bytes: it cannot
  // stay in the caches, so average pooling's channels-last cells and NCHW
  // global pooling's rows (one value each) and max pooling's zeroing bypass
  // them (non-temporal stores). Writing 277 MB at one thread: 26 ms with
  // plain stores (each line read before it is written), 11 ms streamed.
  // Other NCHW average pooling does not stream: its rows' sums, not memory,
  // bound it (8x2048 planes, 65 -> 6: 36 ms with plain stores, 43 ms
  // streamed through a stage of row blocks), and rows streamed one by one
  // took 89 ms (each row's ends share cache lines with rows written long
  // before or after).
  bool stream = false;
  int64_t groups_per_batch = 1;
  // Columns per chunk: a chunk of a row for every plane of a group fits the
  // workspace, whatever the row length.
  int64_t chunk_columns = 1;

  // Max backward with fewer plane groups than threads, where a cell's
  // planes lie side by side (a few channels-last planes): each group's
  // plane cells split in `bands` ranges of flat index. A band reads all of
  // the group's outputs and adds those whose index lies in its range, in
  // output order, so the bits do not change.
  int64_t bands = 1;

  // The work: `rows` rows of the destination for one plane group, each a
  // full line along W. Forward rows are (group, od, oh); backward rows are
  // (group, d, h), except for max pooling, whose backward rows are whole
  // plane groups, or (group, band).
  int64_t rows = 0;
  RowKernel kernel = nullptr;
  int threads = 1;
  std::vector<int64_t> split;        // threads + 1 row boundaries
  int64_t workspace_per_thread = 0;  // doubles
  // Where the threads run: Options::executor, or adapool's workers if empty.
  std::function<void(int, const std::function<void(int)>&)> executor;
  mutable Workspace workspace;

  ByteSpan source_bytes;
  ByteSpan destination_bytes;
  ByteSpan indices_bytes;
};

// One group of planes (see PlanData::group_planes): how many, and where its
// data starts in each buffer.
struct Group {
  int64_t planes;
  int64_t source_offset;
  int64_t destination_offset;
  int64_t indices_offset;
};

// An empty source is never read, and its strides (and a backward's indices'
// strides) are unchecked: its offsets are 0 then, never formed from them.
inline Group group_of(const PlanData& plan, int64_t group) {
  const int64_t n = group / plan.groups_per_batch;
  const int64_t c = (group % plan.groups_per_batch) * plan.group_planes;
  const auto& s = plan.source_strides;
  const auto& t = plan.destination_strides;
  const auto& i = plan.indices_strides;
  const bool reads = !plan.source_bytes.empty();
  const bool indexed = plan.has_indices && !plan.indices_bytes.empty();
  return {std::min(plan.group_planes, plan.channels - c), reads ? n * s[0] + c * s[1] : 0,
          n * t[0] + c * t[1], indexed ? n * i[0] + c * i[1] : 0};
}

// `indices`: max pooling's, or null.
PlanData make_plan(Direction direction, Reduction reduction, DType dtype, int spatial_dims,
                   const Layout& source, const Layout& destination, const Layout* indices,
                   Options options);

// The Error for a bad index of max pooling's backward.
[[noreturn]] void fail_index(const PlanData& plan, const IndexFault& fault);

// Number of elements of a validated layout.
int64_t element_count(const Layout& layout);

}  // namespace adapool
