// Temporaries of the public functions (per-plane statistics, coefficients, partial sums) from a per-thread cache of
// blocks kept from call to call. Freshly allocated, a temporary of 128 KiB or more came from mmap and went back to
// the system at every call (glibc's default thresholds, which a program that never frees a large block keeps), and
// each call paid its page faults: batch norm (16, 512, 4, 4) forward, C++, 2 threads, 193 us against 40 us with the
// blocks kept. (Python processes hardly saw it: NumPy's frees of large arrays raise glibc's thresholds.)
#pragma once
#include <cstddef>
#include <new>
#include <vector>

namespace normcore::detail {

// At least `bytes` bytes, 64-byte aligned: a block of the calling thread's cache, or a new one.
void* scratch_allocate(std::size_t bytes);
// Gives back a block from scratch_allocate(bytes) (on any thread), to the calling thread's cache: at most 16 blocks
// and 32 MiB (the oldest go first; a block over 16 MiB is freed).
void scratch_release(void* p, std::size_t bytes) noexcept;
// Whether a block of `bytes` bytes is kept in the cache when released (not freed: no page faults the next time).
bool scratch_cached(std::size_t bytes) noexcept;

template <class T>
struct ScratchAllocator {
  using value_type = T;
  ScratchAllocator() = default;
  template <class U>
  ScratchAllocator(const ScratchAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(scratch_allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { scratch_release(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const ScratchAllocator<U>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const ScratchAllocator<U>&) const noexcept { return false; }
};

template <class T>
using scratch_vector = std::vector<T, ScratchAllocator<T>>;

}  // namespace normcore::detail

namespace normcore {
// the temporaries' vector
template <class T>
using vec = detail::scratch_vector<T>;
}  // namespace normcore
