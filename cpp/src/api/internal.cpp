#include "api/internal.hpp"

#include "api/parallel.hpp"
#include "api/common.hpp"

namespace normcore::detail {
namespace {
constexpr std::size_t kReduceBlock = 4096;
}  // namespace

template <class T> void copy(T* y, const T* x, std::size_t n) {
  const auto f = kernels<T>().copy;
  const StoreHint hint = store_hint(n * sizeof(T));
  parallel_ranges(n, 32768, kAlignBytes / sizeof(T), [&](std::size_t b, std::size_t e) { f(y + b, x + b, e - b, hint); });
}

template <class T> double blocked_sum(const T* x, std::size_t n) {
  const auto f = kernels<T>().sum;
  return blocked_reduce(
      n, kReduceBlock, 0.0, [&](std::size_t b, std::size_t e) { return f(x + b, e - b); },
      [](double a, double b) { return a + b; });
}

template void copy<float>(float*, const float*, std::size_t);
template void copy<double>(double*, const double*, std::size_t);
template double blocked_sum<float>(const float*, std::size_t);
template double blocked_sum<double>(const double*, std::size_t);

}  // namespace normcore::detail
