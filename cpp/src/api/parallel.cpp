#include "api/parallel.hpp"

#include <atomic>
#include <stdexcept>
#include <string>

#include "normcore/runtime.hpp"

namespace normcore {
namespace {
// 0 = not set: use OpenMP's default (OMP_NUM_THREADS or the number of cores).
std::atomic<int> g_threads{0};
}  // namespace

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("set_num_threads: n must be >= 1, got " + std::to_string(n));
  g_threads.store(n);
}

int get_num_threads() {
  const int n = g_threads.load();
  if (n > 0) return n;
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

namespace detail {
int max_threads() { return get_num_threads(); }
}  // namespace detail

}  // namespace normcore
