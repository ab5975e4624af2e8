// The multi-array norm reduction of gradient clipping: one pass over every array, blocked for determinism.
#include "normcore/setup.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/parallel.hpp"

namespace normcore {
namespace {

constexpr std::size_t kBlock = 4096;

// One block of one array: [begin, end) of arrays[k].
struct Block {
  std::size_t k, begin, end;
};

// max that lets NaN win (std::max would drop a NaN in its second argument).
inline double nan_max(double m, double a) { return (a > m || a != a) ? a : m; }

template <class T, class Term, class Merge>
double reduce(const T* const* arrays, const std::vector<Block>& blocks, Term term, Merge merge) {
  return detail::blocked_reduce(
      blocks.size(), 1, 0.0,
      [&](std::size_t b, std::size_t e) {
        double acc = 0.0;
        for (std::size_t j = b; j < e; ++j) {
          const T* g = arrays[blocks[j].k];
          for (std::size_t i = blocks[j].begin; i < blocks[j].end; ++i)
            acc = merge(acc, term(std::fabs(static_cast<double>(g[i]))));
        }
        return acc;
      },
      merge);
}

}  // namespace

template <class T>
double sum_abs_pow(const T* const* arrays, const std::size_t* sizes, std::size_t count, double p) {
  if (!(p > 0.0)) throw std::invalid_argument("sum_abs_pow: p must be > 0 (or +inf), got " + std::to_string(p));
  if (count > 0 && (arrays == nullptr || sizes == nullptr))
    throw std::invalid_argument("sum_abs_pow: arrays and sizes must not be null");
  std::vector<Block> blocks;
  for (std::size_t k = 0; k < count; ++k)
    for (std::size_t b = 0; b < sizes[k]; b += kBlock) blocks.push_back({k, b, std::min(sizes[k], b + kBlock)});
  const auto add = [](double s, double a) { return s + a; };
  if (std::isinf(p)) return reduce(arrays, blocks, [](double a) { return a; }, nan_max);
  if (p == 1.0) return reduce(arrays, blocks, [](double a) { return a; }, add);
  if (p == 2.0) return reduce(arrays, blocks, [](double a) { return a * a; }, add);
  return reduce(arrays, blocks, [p](double a) { return std::pow(a, p); }, add);
}

template double sum_abs_pow<float>(const float* const*, const std::size_t*, std::size_t, double);
template double sum_abs_pow<double>(const double* const*, const std::size_t*, std::size_t, double);

}  // namespace normcore
