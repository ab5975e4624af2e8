// Threads: OpenMP on outer loops only, with a minimum amount of work per thread so that small arrays
// stay on the calling thread, and a blocked reduction whose result does not depend on the thread count.
#pragma once
#include <algorithm>
#include <cstddef>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace normcore::detail {

// Threads normcore may use (normcore::get_num_threads()).
int max_threads();

// Split [0, n) into one contiguous range per thread, each of at least `min_per_thread` elements (fewer
// threads when n is small: below 2·min_per_thread everything runs on the caller) and with boundaries on
// multiples of `align` elements; calls f(begin, end) once per range.
template <class F>
void parallel_ranges(std::size_t n, std::size_t min_per_thread, std::size_t align, F&& f) {
  const std::size_t most = static_cast<std::size_t>(max_threads());
  const std::size_t by_size = n / std::max<std::size_t>(min_per_thread, 1);
  const std::size_t nt = std::max<std::size_t>(1, std::min(most, by_size));
  if (nt == 1) {
    f(std::size_t{0}, n);
    return;
  }
  const std::size_t units = (n + align - 1) / align;
#pragma omp parallel num_threads(static_cast<int>(nt))
  {
#ifdef _OPENMP
    const std::size_t t = static_cast<std::size_t>(omp_get_thread_num());
    const std::size_t count = static_cast<std::size_t>(omp_get_num_threads());
#else
    const std::size_t t = 0, count = 1;
#endif
    const std::size_t b = std::min(n, units * t / count * align);
    const std::size_t e = std::min(n, units * (t + 1) / count * align);
    if (b < e) f(b, e);
  }
}

// Reduction over [0, n) split into fixed blocks of `block` elements: partial = f(begin, end) per block
// (computed on any thread), then merged left to right on the caller: merge(merge(init, p0), p1)...
// The blocks and the merge order depend only on n and block, so the result is bitwise identical for any
// number of threads.
template <class Acc, class BlockFn, class Merge>
Acc blocked_reduce(std::size_t n, std::size_t block, Acc init, BlockFn&& f, Merge&& merge) {
  block = std::max<std::size_t>(block, 1);
  const std::size_t nblocks = (n + block - 1) / block;
  std::vector<Acc> partial(nblocks);
  parallel_ranges(nblocks, 1, 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) partial[i] = f(i * block, std::min(n, (i + 1) * block));
  });
  for (std::size_t i = 0; i < nblocks; ++i) init = merge(init, partial[i]);
  return init;
}

}  // namespace normcore::detail
