// C++ tests of the setup layer's sum_abs_pow (the norm behind clip_grad_norm_): values against a direct
// double loop, bitwise identity for 1, 2 and 5 threads, NaN in the max, and the argument checks. No Python.
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "normcore/normcore.hpp"

namespace {

int g_failures = 0;

#define CHECK(cond, ...)                                            \
  do {                                                              \
    if (!(cond)) {                                                  \
      ++g_failures;                                                 \
      std::printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);  \
      std::printf(__VA_ARGS__);                                     \
      std::printf("\n");                                            \
    }                                                               \
  } while (0)

template <class T>
void test_values_and_threads() {
  std::mt19937 g(7);
  std::normal_distribution<double> d(0.0, 2.0);
  std::vector<std::vector<T>> arrays = {std::vector<T>(100003), std::vector<T>(0), std::vector<T>(1),
                                        std::vector<T>(4096), std::vector<T>(8193)};
  for (auto& a : arrays)
    for (auto& x : a) x = static_cast<T>(d(g));
  std::vector<const T*> ptrs;
  std::vector<std::size_t> sizes;
  for (auto& a : arrays) {
    ptrs.push_back(a.data());
    sizes.push_back(a.size());
  }
  const double inf = std::numeric_limits<double>::infinity();
  for (double p : {1.0, 2.0, 3.0, inf}) {
    double ref = 0.0;
    for (auto& a : arrays)
      for (T x : a) {
        const double ax = std::fabs(static_cast<double>(x));
        ref = std::isinf(p) ? std::max(ref, ax) : ref + std::pow(ax, p);
      }
    normcore::set_num_threads(1);
    const double one = normcore::sum_abs_pow<T>(ptrs.data(), sizes.data(), ptrs.size(), p);
    CHECK(std::fabs(one - ref) <= 1e-12 * ref, "p=%g: %.17g vs %.17g", p, one, ref);
    for (int n : {2, 5}) {
      normcore::set_num_threads(n);
      const double r = normcore::sum_abs_pow<T>(ptrs.data(), sizes.data(), ptrs.size(), p);
      CHECK(r == one, "p=%g, %d threads: %.17g vs 1 thread %.17g", p, n, r, one);
    }
  }
  arrays[3][17] = static_cast<T>(NAN);
  CHECK(std::isnan(normcore::sum_abs_pow<T>(ptrs.data(), sizes.data(), ptrs.size(), inf)), "NaN must win the max");
  CHECK(std::isnan(normcore::sum_abs_pow<T>(ptrs.data(), sizes.data(), ptrs.size(), 2.0)), "NaN in, NaN out");
  CHECK(normcore::sum_abs_pow<T>(nullptr, nullptr, 0, 2.0) == 0.0, "no arrays: 0");
}

void test_checks() {
  const float x[1] = {1.0f};
  const float* p[1] = {x};
  const std::size_t n[1] = {1};
  for (double bad : {0.0, -1.0, std::nan("")}) {
    bool threw = false;
    try {
      normcore::sum_abs_pow<float>(p, n, 1, bad);
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    CHECK(threw, "p=%g must throw", bad);
  }
  bool threw = false;
  try {
    normcore::sum_abs_pow<float>(nullptr, n, 1, 2.0);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw, "null arrays must throw");
}

// column_moments / column_min_max against direct double loops; bitwise identical for 1 and 3 threads.
template <class T>
void test_columns() {
  const std::size_t N = 20011, C = 7;
  std::mt19937 g(11);
  std::normal_distribution<double> d(1000.0, 3.0);
  std::vector<T> x(N * C);
  for (auto& v : x) v = static_cast<T>(d(g));
  std::vector<double> mean(C), m2(C), mn(C), mx(C), mean2(C), m22(C), mn2(C), mx2(C);
  normcore::set_num_threads(1);
  normcore::column_moments<T>(mean.data(), m2.data(), x.data(), N, C);
  normcore::column_min_max<T>(mn.data(), mx.data(), x.data(), N, C);
  normcore::set_num_threads(3);
  normcore::column_moments<T>(mean2.data(), m22.data(), x.data(), N, C);
  normcore::column_min_max<T>(mn2.data(), mx2.data(), x.data(), N, C);
  for (std::size_t c = 0; c < C; ++c) {
    double s = 0, lo = INFINITY, hi = -INFINITY;
    for (std::size_t r = 0; r < N; ++r) {
      const double v = static_cast<double>(x[r * C + c]);
      s += v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    const double m = s / static_cast<double>(N);
    double q = 0;
    for (std::size_t r = 0; r < N; ++r) q += (static_cast<double>(x[r * C + c]) - m) * (static_cast<double>(x[r * C + c]) - m);
    CHECK(std::fabs(mean[c] - m) <= 1e-13 * std::fabs(m), "mean[%zu] %.17g vs %.17g", c, mean[c], m);
    CHECK(std::fabs(m2[c] - q) <= 1e-10 * q, "m2[%zu] %.17g vs %.17g", c, m2[c], q);
    CHECK(mn[c] == lo && mx[c] == hi, "min/max[%zu]", c);
    CHECK(mean[c] == mean2[c] && m2[c] == m22[c] && mn[c] == mn2[c] && mx[c] == mx2[c], "threads changed column %zu", c);
  }
}

}  // namespace

int main() {
  const int saved = normcore::get_num_threads();
  test_values_and_threads<float>();
  test_values_and_threads<double>();
  test_checks();
  test_columns<float>();
  test_columns<double>();
  normcore::set_num_threads(saved);
  if (g_failures) std::printf("%d failure(s)\n", g_failures);
  else std::printf("all setup tests passed\n");
  return g_failures ? 1 : 0;
}
