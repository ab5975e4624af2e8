#include "bindings/output_cache.hpp"

#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace normcore::bindings {
namespace {

using namespace pybind11::literals;

constexpr std::size_t kMinCached = std::size_t{1} << 20;  // smaller outputs: NumPy's allocator
constexpr std::size_t kGranule = std::size_t{2} << 20;    // capacities and alignment: one huge page
constexpr std::size_t kDefaultLimit = std::size_t{512} << 20;

void* allocate(std::size_t bytes) {
  void* p = nullptr;
#if defined(_WIN32)
  p = _aligned_malloc(bytes, kGranule);
#else
  if (posix_memalign(&p, kGranule, bytes) != 0) p = nullptr;
#endif
  if (p == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  madvise(p, bytes, MADV_HUGEPAGE);  // a hint: failure changes nothing but speed
#endif
  return p;
}

void deallocate(void* p) {
#if defined(_WIN32)
  _aligned_free(p);
#else
  std::free(p);
#endif
}

std::size_t limit_from_env() {
  const char* s = std::getenv("NORMCORE_OUTPUT_CACHE_BYTES");
  if (s == nullptr || *s == '\0') return kDefaultLimit;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, 10);
  return (end != nullptr && *end == '\0') ? static_cast<std::size_t>(v) : kDefaultLimit;
}

// Buffers in use (address → capacity) and free ones (oldest first), under one mutex: arrays may be freed from
// any Python thread.
class Cache {
 public:
  void* acquire(std::size_t cap) {
    std::lock_guard<std::mutex> lock(mu_);
    void* p = nullptr;
    for (std::size_t k = free_.size(); k-- > 0;) {  // newest first: the likeliest still in cache
      if (free_[k].first == cap) {
        p = free_[k].second;
        free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(k));
        cached_ -= cap;
        ++hits_;
        break;
      }
    }
    if (p == nullptr) {
      p = allocate(cap);
      ++misses_;
    }
    live_.emplace(p, cap);
    live_bytes_ += cap;
    return p;
  }

  void release(void* p) noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = live_.find(p);
    if (it == live_.end()) return;  // never handed out here: not ours to free
    const std::size_t cap = it->second;
    live_.erase(it);
    live_bytes_ -= cap;
    if (cap > limit_) {
      deallocate(p);
      return;
    }
    free_.emplace_back(cap, p);
    cached_ += cap;
    trim();
  }

  void set_limit(std::size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    limit_ = bytes;
    trim();
  }

  void clear() { set_limit_and_restore(0); }

  py::dict info() {
    std::lock_guard<std::mutex> lock(mu_);
    return py::dict("limit_bytes"_a = limit_, "cached_bytes"_a = cached_, "cached_buffers"_a = free_.size(),
                    "live_bytes"_a = live_bytes_, "hits"_a = hits_, "misses"_a = misses_);
  }

 private:
  void set_limit_and_restore(std::size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::size_t keep = limit_;
    limit_ = bytes;
    trim();
    limit_ = keep;
  }

  // free the oldest buffers until the cached bytes fit the limit
  void trim() noexcept {
    std::size_t drop = 0;
    while (cached_ > limit_ && drop < free_.size()) {
      deallocate(free_[drop].second);
      cached_ -= free_[drop].first;
      ++drop;
    }
    free_.erase(free_.begin(), free_.begin() + static_cast<std::ptrdiff_t>(drop));
  }

  std::mutex mu_;
  std::size_t limit_ = limit_from_env();
  std::size_t cached_ = 0, live_bytes_ = 0, hits_ = 0, misses_ = 0;
  std::vector<std::pair<std::size_t, void*>> free_;
  std::unordered_map<void*, std::size_t> live_;
};

// Never destroyed: arrays may outlive the module's teardown.
Cache& cache() {
  static Cache* c = new Cache();
  return *c;
}

}  // namespace

py::array new_array(const py::dtype& dt, const std::vector<py::ssize_t>& shape) {
  std::size_t bytes = static_cast<std::size_t>(dt.itemsize());
  for (py::ssize_t d : shape) bytes *= static_cast<std::size_t>(d);
  if (bytes < kMinCached) return py::array(dt, shape);
  const std::size_t cap = (bytes + kGranule - 1) / kGranule * kGranule;
  void* p = cache().acquire(cap);
  py::capsule owner(p, [](void* q) { cache().release(q); });
  return py::array(dt, shape, std::vector<py::ssize_t>{}, p, owner);
}

void register_output_cache(py::module_& m) {
  m.def("set_output_cache_limit", [](std::size_t bytes) { cache().set_limit(bytes); }, "bytes"_a,
        "Keep at most this many bytes of freed output buffers for reuse (0: none).");
  m.def("output_cache_info", [] { return cache().info(); },
        "The output cache's limit, cached and live bytes, cached buffer count, hits and misses.");
  m.def("empty_output_cache", [] { cache().clear(); }, "Free every cached output buffer (the limit stays).");
}

}  // namespace normcore::bindings
