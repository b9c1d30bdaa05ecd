// adapool._core: the C++ library for Python. Deliberately thin: tensors
// arrive as (pointer, sizes, strides) from python/adapool, which owns the
// arrays and keeps them alive; everything here validates through the plan.
#include <adapool/adapool.hpp>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>
#include <omp.h>
#include <pthread.h>
#include <sys/mman.h>

#include <atomic>
#include <deque>
#include <iterator>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

namespace nb = nanobind;

namespace {

// Runs a plan's threads on OpenMP's pool. PyTorch's CPU build runs on
// OpenMP (GNU libgomp, soname libgomp.so.1) too, and a process loads one
// library of a soname, so adapool and torch share one pool. With a pool of
// its own, adapool's threads would compete for the cores with torch's,
// which spin for a while after each torch call before they sleep. Inside a
// caller's parallel region OpenMP runs nested regions on one thread, so
// adapool does not oversubscribe the cores there either.
void openmp_executor(int threads, const std::function<void(int)>& share) {
#pragma omp parallel num_threads(threads)
  {
    const int team = omp_get_num_threads();  // may be fewer than asked for
    for (int t = omp_get_thread_num(); t < threads; t += team) share(t);
  }
}

// libgomp's pool does not survive fork(): in a child of a process that used
// it, a parallel region hangs (torch's own ops too). A forked child runs on
// adapool's own workers instead, which start afresh there.
std::atomic<bool> forked{false};

adapool::Options options_for(int threads, bool destination_zeroed = false) {
  adapool::Options options;
  options.threads = threads;
  options.destination_zeroed = destination_zeroed;
  if (!forked.load(std::memory_order_relaxed)) options.executor = openmp_executor;
  return options;
}

adapool::Layout to_layout(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides) {
  adapool::Layout layout = adapool::Layout::contiguous(sizes);  // checks the rank
  if (strides.size() != sizes.size()) {
    throw adapool::Error(adapool::ErrorCode::invalid_argument,
                         "strides has " + std::to_string(strides.size()) + " entries for " +
                             std::to_string(sizes.size()) + " sizes");
  }
  for (size_t d = 0; d < strides.size(); ++d) layout.strides[d] = strides[d];
  return layout;
}

void run(bool forward, int dtype, int spatial_dims, uintptr_t source,
         const std::vector<int64_t>& source_sizes, const std::vector<int64_t>& source_strides,
         uintptr_t destination, const std::vector<int64_t>& destination_sizes,
         const std::vector<int64_t>& destination_strides, int threads) {
  const adapool::Layout source_layout = to_layout(source_sizes, source_strides);
  const adapool::Layout destination_layout = to_layout(destination_sizes, destination_strides);
  const adapool::Options options = options_for(threads);
  const auto type = static_cast<adapool::DType>(dtype);
  nb::gil_scoped_release unlocked;
  const adapool::Plan plan =
      forward
          ? adapool::Plan::forward(type, spatial_dims, source_layout, destination_layout, options)
          : adapool::Plan::backward(type, spatial_dims, source_layout, destination_layout, options);
  plan.run(reinterpret_cast<const void*>(source), reinterpret_cast<void*>(destination));
}

void run_max(bool forward, int dtype, int spatial_dims, uintptr_t source,
             const std::vector<int64_t>& source_sizes, const std::vector<int64_t>& source_strides,
             uintptr_t destination, const std::vector<int64_t>& destination_sizes,
             const std::vector<int64_t>& destination_strides, uintptr_t indices,
             const std::optional<std::vector<int64_t>>& indices_sizes,
             const std::optional<std::vector<int64_t>>& indices_strides, int threads,
             bool destination_zeroed) {
  const adapool::Layout source_layout = to_layout(source_sizes, source_strides);
  const adapool::Layout destination_layout = to_layout(destination_sizes, destination_strides);
  std::optional<adapool::Layout> indices_layout;
  if (indices_sizes || indices_strides) {
    indices_layout = to_layout(indices_sizes.value_or(std::vector<int64_t>{}),
                               indices_strides.value_or(std::vector<int64_t>{}));
  }
  const adapool::Options options = options_for(threads, destination_zeroed);
  const auto type = static_cast<adapool::DType>(dtype);
  auto* index_data = reinterpret_cast<int64_t*>(indices);
  nb::gil_scoped_release unlocked;
  if (forward) {
    const adapool::Plan plan = adapool::Plan::max_forward(
        type, spatial_dims, source_layout, destination_layout, indices_layout, options);
    if (indices_layout) {
      plan.run(reinterpret_cast<const void*>(source), reinterpret_cast<void*>(destination),
               index_data);
    } else {
      plan.run(reinterpret_cast<const void*>(source), reinterpret_cast<void*>(destination));
    }
    return;
  }
  if (!indices_layout) {
    throw adapool::Error(adapool::ErrorCode::invalid_argument,
                         "max pooling backward needs the forward's indices");
  }
  adapool::Plan::max_backward(type, spatial_dims, source_layout, *indices_layout,
                              destination_layout, options)
      .run(reinterpret_cast<const void*>(source), index_data, reinterpret_cast<void*>(destination));
}

// Anonymous memory for results, mapped so that it starts on a huge page,
// in whole huge pages, and advised for transparent huge pages (1/512 of the
// first-touch page faults of 4 KiB pages where the system offers them).
struct Mapping {
  void* base = nullptr;
  size_t length = 0;
  uint8_t* data = nullptr;
  bool fresh = false;    // never handed out before: all zeros
  bool advised = false;  // kept by the pool, advised MADV_FREE
};

constexpr size_t kHugePage = size_t{2} << 20;

// The bytes a block for `bytes` spans: whole huge pages, so that its last
// one is huge too (a 4 KiB tail would pay its faults again after
// MADV_FREE), plus one of slack to start on a huge page.
size_t mapped_length(size_t bytes) {
  return (bytes + kHugePage - 1) / kHugePage * kHugePage + kHugePage;
}

Mapping map_fresh(size_t bytes) {
  const size_t length = mapped_length(bytes);
  void* base = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) throw std::bad_alloc();
  auto* data = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(base) + kHugePage - 1) &
                                          ~(kHugePage - 1));
  madvise(data, length - kHugePage, MADV_HUGEPAGE);  // advice: without THP, 4 KiB pages
  return {base, length, data, true};
}

// A uint8 array over a mapping that Release{} takes back when the array dies.
template <class Release>
nb::ndarray<nb::numpy, uint8_t, nb::ndim<1>> array_over(const Mapping& mapping, size_t bytes) {
  bool capsule_owns = false;  // then the capsule releases it, also when the array fails
  try {
    auto owned = std::make_unique<Mapping>(mapping);
    nb::capsule owner(owned.get(), [](void* p) noexcept {
      auto* held = static_cast<Mapping*>(p);
      Release{}(*held);
      delete held;
    });
    owned.release();
    capsule_owns = true;
    return {mapping.data, {bytes}, owner};
  } catch (...) {
    if (!capsule_owns) Release{}(mapping);
    throw;
  }
}

// Memory of results that died, kept for the next result of the same size
// (in huge pages): what a training loop asks for again and again.
// - A fresh buffer pays its page faults on every call: 0.9 ms of a 1.8 ms
//   backward for 12.8 MB. glibc's malloc hands such sizes back to the
//   system between calls or not, as its thresholds move with the process's
//   history, and maps anything over 32 MiB afresh every time.
// - Fresh huge pages cost more than their faults on these VMs: a fresh
//   process's first writes to 277 MB (PSPNet's gradient) took 78-716 ms on
//   huge pages and about 120 ms on 4 KiB pages, against 26 ms to write the
//   same memory again; two threads faulting at once took 200-400 ms a call
//   for the first 3-5 calls.
// A kept block of at least kAdvisedBytes is advised MADV_FREE once a newer
// block is kept: the system takes its pages back under memory pressure (a
// block then reads zeros, which is as good as any contents), and otherwise
// they stay (0.1 ms to advise 277 MB of huge pages). The newest is not: a
// loop that takes the same block again and again would pay for the advice
// on every call, which at two threads cost 2.7 ms of a 9.9 ms PSPNet
// backward (277 MB; nothing at one thread) and 0.1-0.3 ms a call for
// gradients of 4.8-12.8 MB (Swin-T's max pooling gradient: a 0.14 ms
// kernel took 0.35 ms). Smaller blocks are never advised, and at most
// kUnadvisedLimit bytes of them are kept. The newest blocks are kept, at
// most limit() bytes of them in all (their used bytes: the slack before a
// block is never touched); older ones are unmapped to make room.
class ResultPool {
 public:
  static constexpr size_t kDefaultLimit = size_t{1} << 30;
  static constexpr size_t kAdvisedBytes = size_t{32} << 20;
  static constexpr size_t kUnadvisedLimit = size_t{64} << 20;

  Mapping take(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const size_t length = mapped_length(bytes);
      for (auto it = kept_.rbegin(); it != kept_.rend(); ++it) {
        if (it->length == length) {
          Mapping mapping = *it;
          forget(mapping);
          kept_.erase(std::next(it).base());
          mapping.advised = false;  // writing to it takes the advice back
          return mapping;
        }
      }
    }
    return map_fresh(bytes);
  }

  // noexcept: an array's capsule calls it as it dies.
  void give(Mapping mapping) noexcept {
    mapping.fresh = false;
    std::unique_lock<std::mutex> lock(mutex_);
    // Under the lock: no one takes the block while it is being advised.
    if (!kept_.empty() && large(kept_.back()) && !kept_.back().advised) {
      madvise(kept_.back().data, used(kept_.back()), MADV_FREE);
      kept_.back().advised = true;
    }
    try {
      kept_.push_back(mapping);  // newest last
    } catch (...) {
      lock.unlock();
      munmap(mapping.base, mapping.length);
      return;
    }
    kept_bytes_ += used(mapping);
    if (!large(mapping)) unadvised_bytes_ += used(mapping);
    trim(lock);
  }

  size_t limit() {
    std::lock_guard<std::mutex> lock(mutex_);
    return limit_;
  }

  // Keeps at most `bytes` from now on, unmapping the oldest blocks over it.
  void set_limit(size_t bytes) {
    std::unique_lock<std::mutex> lock(mutex_);
    limit_ = bytes;
    trim(lock);
  }

 private:
  static size_t used(const Mapping& mapping) { return mapping.length - kHugePage; }
  static bool large(const Mapping& mapping) { return used(mapping) >= kAdvisedBytes; }

  void forget(const Mapping& mapping) {
    kept_bytes_ -= used(mapping);
    if (!large(mapping)) unadvised_bytes_ -= used(mapping);
  }

  // Unmaps the oldest blocks over the limits: unadvised ones over theirs,
  // then any over limit_.
  void trim(std::unique_lock<std::mutex>& lock) noexcept {
    for (;;) {
      auto oldest = kept_.begin();
      if (unadvised_bytes_ > kUnadvisedLimit) {
        while (large(*oldest)) ++oldest;
      } else if (kept_bytes_ <= limit_) {
        return;
      }
      const Mapping mapping = *oldest;
      forget(mapping);
      kept_.erase(oldest);
      lock.unlock();
      munmap(mapping.base, mapping.length);
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::deque<Mapping> kept_;
  size_t kept_bytes_ = 0;
  size_t unadvised_bytes_ = 0;  // of blocks under kAdvisedBytes
  size_t limit_ = kDefaultLimit;
};

ResultPool& result_pool() {
  static auto* pool = new ResultPool;  // never destroyed: arrays may die after it would be
  return *pool;
}

struct ReturnToPool {
  void operator()(const Mapping& mapping) const noexcept { result_pool().give(mapping); }
};

// `bytes` for a result, not cleared, and whether they are fresh (zeros):
// memory of a dead result of the same size where the pool has one, else
// fresh.
std::pair<nb::ndarray<nb::numpy, uint8_t, nb::ndim<1>>, bool> pooled_buffer(size_t bytes) {
  const Mapping mapping = result_pool().take(bytes);
  return {array_over<ReturnToPool>(mapping, bytes), mapping.fresh};
}

}  // namespace

// The window conventions: python/src/compare.cpp.
void bind_compare(nanobind::module_& m);

NB_MODULE(_core, m) {
  m.doc() = "adapool's C++ core; use the adapool package, not this module.";
  m.attr("__version__") = ADAPOOL_VERSION_STRING;
  m.attr("FLOAT32") = static_cast<int>(adapool::DType::f32);
  m.attr("FLOAT64") = static_cast<int>(adapool::DType::f64);
  m.attr("FLOAT16") = static_cast<int>(adapool::DType::f16);
  m.attr("BFLOAT16") = static_cast<int>(adapool::DType::bf16);
  bind_compare(m);
  pthread_atfork(nullptr, nullptr, [] { forked.store(true, std::memory_order_relaxed); });

  nb::register_exception_translator([](const std::exception_ptr& error, void*) {
    try {
      std::rethrow_exception(error);
    } catch (const adapool::Error& e) {
      PyErr_SetString(e.code() == adapool::ErrorCode::dtype ? PyExc_TypeError : PyExc_ValueError,
                      e.what());
    }
  });

  m.def("run", &run, nb::arg("forward"), nb::arg("dtype"), nb::arg("spatial_dims"),
        nb::arg("source"), nb::arg("source_sizes"), nb::arg("source_strides"),
        nb::arg("destination"), nb::arg("destination_sizes"), nb::arg("destination_strides"),
        nb::arg("threads"),
        "Pools (forward) or back-propagates (backward) between two strided buffers, given as "
        "addresses with sizes and strides in elements. The GIL is released while it runs.");

  m.def("run_max", &run_max, nb::arg("forward"), nb::arg("dtype"), nb::arg("spatial_dims"),
        nb::arg("source"), nb::arg("source_sizes"), nb::arg("source_strides"),
        nb::arg("destination"), nb::arg("destination_sizes"), nb::arg("destination_strides"),
        nb::arg("indices"), nb::arg("indices_sizes").none(), nb::arg("indices_strides").none(),
        nb::arg("threads"), nb::arg("destination_zeroed") = false,
        "Max pooling between strided buffers: forward writes the maxima and, when "
        "indices_sizes/indices_strides are given, their int64 indices at address `indices`; "
        "backward (source = grad_output, destination = grad_input) reads the indices and, with "
        "destination_zeroed, adds to grad_input, which must hold zeros. The GIL is released while "
        "it runs.");

  m.def("pooled_buffer", &pooled_buffer, nb::arg("bytes"),
        "bytes for a result, not cleared, and whether they are fresh (zeros): the memory of a "
        "dead pooled_buffer of the same size in huge pages where one is kept, else fresh.");
  m.def(
      "result_pool_limit", [] { return result_pool().limit(); },
      "The most bytes of dead pooled_buffer blocks kept for reuse (1 GiB unless set).");
  m.def(
      "set_result_pool_limit", [](size_t bytes) { result_pool().set_limit(bytes); },
      nb::arg("bytes"),
      "Keeps at most this many bytes of dead blocks from now on (0: none), unmapping the oldest "
      "over it.");

  m.def(
      "is_channels_last",
      [](const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides, int spatial_dims) {
        return adapool::is_channels_last(to_layout(sizes, strides), spatial_dims);
      },
      nb::arg("sizes"), nb::arg("strides"), nb::arg("spatial_dims"));

  m.def(
      "windows",
      [](int64_t in, int64_t out) {
        if (in < 1 || out < 0 || !adapool::window_arithmetic_fits(in, out)) {
          throw adapool::Error(adapool::ErrorCode::invalid_argument,
                               "windows of " + std::to_string(in) + " -> " + std::to_string(out) +
                                   ": expected in_size >= 1, out_size >= 0, in * out < 2^63");
        }
        std::vector<std::pair<int64_t, int64_t>> result;
        for (const adapool::Window& w : adapool::windows(in, out))
          result.emplace_back(w.begin, w.end);
        return result;
      },
      nb::arg("in_size"), nb::arg("out_size"));

  m.def(
      "fixed_pool_equivalent",
      [](int64_t in, int64_t out) -> std::optional<std::pair<int64_t, int64_t>> {
        if (in < 1 || out < 1) {
          throw adapool::Error(adapool::ErrorCode::invalid_argument,
                               "fixed_pool_equivalent of " + std::to_string(in) + " -> " +
                                   std::to_string(out) + ": expected sizes >= 1");
        }
        const auto pool = adapool::fixed_pool_equivalent(in, out);
        if (!pool) return std::nullopt;
        return std::pair{pool->kernel, pool->stride};
      },
      nb::arg("in_size"), nb::arg("out_size"));
}
