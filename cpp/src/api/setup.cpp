// The multi-array norm reduction of gradient clipping: one pass over every array, blocked for determinism.
#include "normcore/setup.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
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

namespace {

// Count, mean and M2 of every column over a range of rows.
struct Moments {
  double n = 0;
  std::vector<double> mean, m2;
};

// Chan et al. (1979): merge the statistics of two disjoint sets of rows.
Moments chan_merge(Moments a, const Moments& b) {
  if (b.n == 0) return a;
  if (a.n == 0) return b;
  const double n = a.n + b.n;
  for (std::size_t c = 0; c < a.mean.size(); ++c) {
    const double delta = b.mean[c] - a.mean[c];
    a.mean[c] += delta * (b.n / n);
    a.m2[c] += b.m2[c] + delta * delta * (a.n * b.n / n);
  }
  a.n = n;
  return a;
}

}  // namespace

template <class T>
void column_moments(double* mean, double* m2, const T* x, std::size_t N, std::size_t C) {
  if (C == 0) return;
  if (mean == nullptr || m2 == nullptr || (N > 0 && x == nullptr))
    throw std::invalid_argument("column_moments: null pointer for a non-empty array");
  // Rows per block: at least 256, and few enough blocks that their partial statistics stay small.
  const std::size_t block = std::max<std::size_t>(256, (N + 63) / 64);
  const Moments total = detail::blocked_reduce(
      N, block, Moments{},
      [&](std::size_t b, std::size_t e) {
        Moments m{static_cast<double>(e - b), std::vector<double>(C, 0.0), std::vector<double>(C, 0.0)};
        for (std::size_t r = b; r < e; ++r)
          for (std::size_t c = 0; c < C; ++c) m.mean[c] += static_cast<double>(x[r * C + c]);
        for (std::size_t c = 0; c < C; ++c) m.mean[c] /= m.n;
        for (std::size_t r = b; r < e; ++r)
          for (std::size_t c = 0; c < C; ++c) {
            const double d = static_cast<double>(x[r * C + c]) - m.mean[c];
            m.m2[c] += d * d;
          }
        return m;
      },
      chan_merge);
  for (std::size_t c = 0; c < C; ++c) {
    mean[c] = total.n > 0 ? total.mean[c] : std::nan("");
    m2[c] = total.n > 0 ? total.m2[c] : 0.0;
  }
}

template <class T>
void column_min_max(double* min, double* max, const T* x, std::size_t N, std::size_t C) {
  if (C == 0) return;
  if (min == nullptr || max == nullptr || (N > 0 && x == nullptr))
    throw std::invalid_argument("column_min_max: null pointer for a non-empty array");
  using MinMax = std::vector<double>;  // [min_0..min_{C-1}, max_0..max_{C-1}]
  const double inf = std::numeric_limits<double>::infinity();
  MinMax init(2 * C);
  std::fill(init.begin(), init.begin() + C, inf);
  std::fill(init.begin() + C, init.end(), -inf);
  const std::size_t block = std::max<std::size_t>(256, (N + 63) / 64);
  const MinMax r = detail::blocked_reduce(
      N, block, init,
      [&](std::size_t b, std::size_t e) {
        MinMax m = init;
        for (std::size_t i = b; i < e; ++i)
          for (std::size_t c = 0; c < C; ++c) {
            const double v = static_cast<double>(x[i * C + c]);  // NaN fails both comparisons: ignored
            if (v < m[c]) m[c] = v;
            if (v > m[C + c]) m[C + c] = v;
          }
        return m;
      },
      [C](MinMax a, const MinMax& b) {
        for (std::size_t c = 0; c < C; ++c) {
          a[c] = std::min(a[c], b[c]);
          a[C + c] = std::max(a[C + c], b[C + c]);
        }
        return a;
      });
  for (std::size_t c = 0; c < C; ++c) {
    const bool none = r[c] > r[C + c];  // still (+inf, −inf): no value seen
    min[c] = none ? std::nan("") : r[c];
    max[c] = none ? std::nan("") : r[C + c];
  }
}

template void column_min_max<float>(double*, double*, const float*, std::size_t, std::size_t);
template void column_min_max<double>(double*, double*, const double*, std::size_t, std::size_t);
template void column_moments<float>(double*, double*, const float*, std::size_t, std::size_t);
template void column_moments<double>(double*, double*, const double*, std::size_t, std::size_t);
template double sum_abs_pow<float>(const float* const*, const std::size_t*, std::size_t, double);
template double sum_abs_pow<double>(const double* const*, const std::size_t*, std::size_t, double);

}  // namespace normcore
