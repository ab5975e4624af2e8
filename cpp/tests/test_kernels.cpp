// C++ tests of the kernels on every ISA this CPU runs: against double-precision references built from
// <cmath>, awkward sizes, in place, special values, thread-count determinism. No Python involved.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__unix__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "api/internal.hpp"
#include "api/scratch.hpp"
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

double sigmoid_ref(double x) { return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x)); }

// |got − want| in units of the last place of T at want (subnormal spacing below the normal range).
template <class T>
double ulp_error(T got, double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0.0 : INFINITY;
  if (std::isinf(want)) return static_cast<double>(got) == want ? 0.0 : INFINITY;
  const double w = std::fabs(want);
  int e = 0;
  std::frexp(w < std::numeric_limits<T>::min() ? std::numeric_limits<T>::min() : w, &e);
  const double ulp = std::ldexp(1.0, e - std::numeric_limits<T>::digits);
  return std::fabs(static_cast<double>(got) - want) / ulp;
}

template <class T>
std::vector<T> test_inputs(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-30.0, 30.0);
  std::vector<T> x(n);
  const T specials[] = {T(0), -T(0), std::numeric_limits<T>::infinity(), -std::numeric_limits<T>::infinity(),
                        std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::denorm_min(),
                        -std::numeric_limits<T>::denorm_min(), T(1), T(-1), T(-100), T(100)};
  for (std::size_t i = 0; i < n; ++i) x[i] = i < sizeof(specials) / sizeof(T) && (seed & 1) ? specials[i] : T(u(rng));
  return x;
}

template <class T>
void test_type(const std::string& isa) {
  const char* tname = sizeof(T) == 4 ? "float" : "double";
  const double max_ulp = sizeof(T) == 4 ? 4.0 : 64.0;
  const double slope = 0.2;
  for (std::size_t n : {0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 100003}) {
    for (unsigned seed : {1u, 2u}) {
      const std::vector<T> x = test_inputs<T>(n, seed);
      std::vector<T> dy = test_inputs<T>(n, seed + 10);
      for (auto& v : dy) v = std::isfinite(v) ? v : T(0.5);
      std::vector<T> y(n), dx(n), dx2(n);

      normcore::relu(y.data(), x.data(), n);
      normcore::relu_backward(dx.data(), dy.data(), x.data(), n);
      for (std::size_t i = 0; i < n; ++i) {
        const T want = std::isnan(x[i]) ? x[i] : (x[i] < 0 ? T(0) : x[i]);
        CHECK((std::isnan(want) && std::isnan(y[i])) || y[i] == want, "%s %s relu(%g) = %g", isa.c_str(), tname,
              double(x[i]), double(y[i]));
        const T g = x[i] <= 0 ? T(0) : dy[i];
        CHECK(dx[i] == g, "%s %s relu' at %g", isa.c_str(), tname, double(x[i]));
      }

      normcore::leaky_relu(y.data(), x.data(), n, slope);
      normcore::leaky_relu_backward(dx.data(), dy.data(), x.data(), n, slope);
      for (std::size_t i = 0; i < n; ++i) {
        const T want = x[i] > 0 ? x[i] : x[i] * T(slope);
        CHECK((std::isnan(want) && std::isnan(y[i])) || y[i] == want, "%s %s leaky_relu(%g)", isa.c_str(), tname,
              double(x[i]));
        const T g = x[i] > 0 ? dy[i] : dy[i] * T(slope);
        CHECK(dx[i] == g, "%s %s leaky_relu' at %g", isa.c_str(), tname, double(x[i]));
      }

      normcore::sigmoid(y.data(), x.data(), n);
      normcore::sigmoid_backward(dx.data(), dy.data(), x.data(), n);
      normcore::sigmoid_backward_from_output(dx2.data(), dy.data(), y.data(), n);
      for (std::size_t i = 0; i < n; ++i) {
        const double s = sigmoid_ref(double(x[i]));
        const double e = ulp_error(y[i], s);
        CHECK(e <= max_ulp, "%s %s sigmoid(%.9g) = %.9g, want %.17g (%.1f ulp)", isa.c_str(), tname, double(x[i]),
              double(y[i]), s, e);
        const double g = double(dy[i]) * s * sigmoid_ref(-double(x[i]));  // no 1 − s cancellation
        const double tol = 4 * std::numeric_limits<T>::epsilon() * std::fabs(g) +
                           (std::fabs(double(dy[i])) + 1) * std::numeric_limits<T>::denorm_min();  // subnormal e^{-|x|}
        CHECK(std::isnan(g) ? std::isnan(dx[i]) : std::fabs(dx[i] - g) <= tol, "%s %s sigmoid'(%g) = %g, want %g",
              isa.c_str(), tname, double(x[i]), double(dx[i]), g);
        const double g2 = double(dy[i]) * double(y[i]) * (1 - double(y[i]));
        CHECK(std::isnan(g2) ? std::isnan(dx2[i]) : std::fabs(dx2[i] - g2) <= 4 * std::numeric_limits<T>::epsilon() * std::fabs(g2) + std::numeric_limits<T>::denorm_min(),
              "%s %s sigmoid' from y=%g dy=%g: %g want %g", isa.c_str(), tname, double(y[i]), double(dy[i]), double(dx2[i]), g2);
      }

      // in place gives the same bits
      std::vector<T> z = x;
      normcore::sigmoid(z.data(), z.data(), n);
      normcore::sigmoid(y.data(), x.data(), n);
      CHECK(std::memcmp(z.data(), y.data(), n * sizeof(T)) == 0, "%s %s sigmoid in place", isa.c_str(), tname);
    }
  }
}

// The structured activations through the C++ API against naive double references: softmax / log_softmax along
// the middle axis (contiguous long rows, short gathered rows, strided columns), prelu's weight gradient, maxout.
template <class T>
void test_structured(const std::string& isa) {
  const char* tname = sizeof(T) == 4 ? "float" : "double";
  // relative: a few float ulp; for double the reference's own rounding of x − m (~|x − m|·2^-53) dominates
  const double tol = sizeof(T) == 4 ? 4e-7 : 1e-14;
  struct Shape {
    std::size_t outer, C, inner;
  };
  for (const Shape sh : {Shape{3, 40, 1}, Shape{37, 5, 1}, Shape{2, 7, 19}, Shape{1, 1, 1}}) {
    const std::size_t n = sh.outer * sh.C * sh.inner;
    std::vector<T> x = test_inputs<T>(n, 4), y(n), ly(n);
    for (auto& v : x) v = std::isfinite(v) ? v / T(3) : T(0.25);
    normcore::softmax(y.data(), x.data(), sh.outer, sh.C, sh.inner);
    normcore::log_softmax(ly.data(), x.data(), sh.outer, sh.C, sh.inner);
    for (std::size_t o = 0; o < sh.outer; ++o)
      for (std::size_t i = 0; i < sh.inner; ++i) {
        const auto at = [&](std::size_t c) { return (o * sh.C + c) * sh.inner + i; };
        double m = -INFINITY, s = 0;
        for (std::size_t c = 0; c < sh.C; ++c) m = std::fmax(m, double(x[at(c)]));
        for (std::size_t c = 0; c < sh.C; ++c) s += std::exp(double(x[at(c)]) - m);
        for (std::size_t c = 0; c < sh.C; ++c) {
          const double p = std::exp(double(x[at(c)]) - m) / s, lp = double(x[at(c)]) - m - std::log(s);
          CHECK(std::fabs(y[at(c)] - p) <= tol * p, "%s %s softmax (%zu,%zu,%zu) at %zu: %.17g want %.17g", isa.c_str(),
                tname, sh.outer, sh.C, sh.inner, at(c), double(y[at(c)]), p);
          CHECK(std::fabs(ly[at(c)] - lp) <= tol * (std::fabs(lp) + std::log(double(sh.C)) + 1), "%s %s log_softmax",
                isa.c_str(), tname);
        }
      }
  }
  // prelu's weight gradient: Σ over the channel of (x > 0 ? 0 : x·dy)
  const std::size_t outer = 5, C = 3, inner = 11, n = outer * C * inner;
  std::vector<T> x = test_inputs<T>(n, 6), dy = test_inputs<T>(n, 8), w = {T(0.25), T(-0.5), T(2)}, dx(n), dw(C);
  for (auto& v : x) v = std::isfinite(v) ? v : T(-1);
  for (auto& v : dy) v = std::isfinite(v) ? v : T(0.5);
  normcore::prelu_backward(dx.data(), dw.data(), dy.data(), x.data(), w.data(), outer, C, inner);
  for (std::size_t c = 0; c < C; ++c) {
    double want = 0, scale = 0;
    for (std::size_t o = 0; o < outer; ++o)
      for (std::size_t i = 0; i < inner; ++i) {
        const std::size_t k = (o * C + c) * inner + i;
        if (!(x[k] > 0)) want += double(x[k]) * double(dy[k]);
        scale += std::fabs(double(x[k]) * double(dy[k]));
        CHECK(dx[k] == (x[k] > 0 ? dy[k] : w[c] * dy[k]), "%s %s prelu dx", isa.c_str(), tname);
      }
    CHECK(std::fabs(dw[c] - want) <= tol * scale, "%s %s prelu dweight[%zu] = %g, want %g", isa.c_str(), tname, c,
          double(dw[c]), want);
  }
  // maxout over pieces of 3 along the middle axis
  std::vector<T> xm = test_inputs<T>(outer * 6 * inner, 10), ym(outer * 2 * inner);
  for (auto& v : xm) v = std::isnan(v) ? T(1) : v;
  normcore::maxout(ym.data(), xm.data(), outer, 6, inner, 3);
  for (std::size_t o = 0; o < outer; ++o)
    for (std::size_t j = 0; j < 2; ++j)
      for (std::size_t i = 0; i < inner; ++i) {
        T want = xm[(o * 6 + j * 3) * inner + i];
        for (std::size_t p = 1; p < 3; ++p) want = std::max(want, xm[(o * 6 + j * 3 + p) * inner + i]);
        CHECK(ym[(o * 2 + j) * inner + i] == want, "%s %s maxout", isa.c_str(), tname);
      }
  bool threw = false;
  try {
    normcore::maxout(ym.data(), xm.data(), outer, 6, inner, 4);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw, "maxout with 6 channels and 4 pieces must throw");
}

void test_structured_threads_deterministic() {
  const std::size_t outer = 64, C = 8, inner = 4096, n = outer * C * inner;
  std::vector<float> x = test_inputs<float>(n, 12), dy = test_inputs<float>(n, 14), w(C, 0.25f), dx(n), y1(n), y2(n);
  for (auto& v : x) v = std::isfinite(v) ? v : 0.5f;
  for (auto& v : dy) v = std::isfinite(v) ? v : 0.5f;
  std::vector<float> dw1(C), dw2(C);
  normcore::set_num_threads(1);
  normcore::prelu_backward(dx.data(), dw1.data(), dy.data(), x.data(), w.data(), outer, C, inner);
  normcore::softmax(y1.data(), x.data(), outer, C, inner);
  normcore::set_num_threads(2);
  normcore::prelu_backward(dx.data(), dw2.data(), dy.data(), x.data(), w.data(), outer, C, inner);
  normcore::softmax(y2.data(), x.data(), outer, C, inner);
  CHECK(std::memcmp(dw1.data(), dw2.data(), C * sizeof(float)) == 0, "prelu dweight differs between 1 and 2 threads");
  CHECK(std::memcmp(y1.data(), y2.data(), n * sizeof(float)) == 0, "softmax differs between 1 and 2 threads");
}

void test_threads_deterministic() {
  const std::size_t n = (std::size_t{1} << 22) + 77;  // large enough to stream and to split
  std::vector<float> x = test_inputs<float>(n, 3), y1(n), y2(n);
  normcore::set_num_threads(1);
  normcore::sigmoid(y1.data(), x.data(), n);
  const double s1 = normcore::detail::blocked_sum(x.data() + 16, n - 16);
  normcore::set_num_threads(2);
  normcore::sigmoid(y2.data(), x.data(), n);
  const double s2 = normcore::detail::blocked_sum(x.data() + 16, n - 16);
  CHECK(std::memcmp(y1.data(), y2.data(), n * sizeof(float)) == 0, "sigmoid differs between 1 and 2 threads");
  CHECK(std::memcmp(&s1, &s2, sizeof s1) == 0, "blocked sum differs between 1 and 2 threads: %.17g vs %.17g", s1, s2);
  double naive = 0;
  for (std::size_t i = 16; i < n; ++i) naive += x[i];
  CHECK(std::fabs(s1 - naive) <= 1e-9 * std::fabs(naive) + 1e-6, "blocked sum %.17g vs %.17g", s1, naive);
  bool threw = false;
  try {
    normcore::set_num_threads(0);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw, "set_num_threads(0) must throw");
}

// fold_batchnorm (a grouped transposed convolution) and scale_shift_act (relu, both layouts) against double loops.
template <class T>
void test_inference(const std::string& isa) {
  const char* tname = sizeof(T) == 4 ? "f32" : "f64";
  // ConvTranspose weight (C_in = 4, C_out/groups = 3, K = 2), groups = 2: C_out = 6
  const std::size_t d0 = 4, d1 = 3, K = 2, G = 2, Cout = 6;
  std::vector<T> w(d0 * d1 * K), b(Cout), m(Cout), v(Cout), g(Cout), be(Cout), fw(w.size()), fb(Cout);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = T(0.25) * T(i % 7) - T(0.5);
  for (std::size_t c = 0; c < Cout; ++c) {
    b[c] = T(c) / 8, m[c] = T(c) - 2, v[c] = T(0.5) + T(c) / 4, g[c] = T(1) - T(c) / 5, be[c] = T(c) / 3;
  }
  normcore::fold_batchnorm<T>(fw.data(), fb.data(), w.data(), b.data(), m.data(), v.data(), g.data(), be.data(), d0,
                              d1, K, normcore::FoldKind::conv_transpose, G, normcore::FoldPosition::after, 1e-5);
  for (std::size_t i = 0; i < d0; ++i)
    for (std::size_t j = 0; j < d1; ++j) {
      const std::size_t c = (i / (d0 / G)) * d1 + j;
      const double s = double(g[c]) / std::sqrt(double(v[c]) + 1e-5);
      for (std::size_t k = 0; k < K; ++k)
        CHECK(fw[(i * d1 + j) * K + k] == T(double(w[(i * d1 + j) * K + k]) * s), "%s fold conv_transpose", tname);
    }
  for (std::size_t c = 0; c < Cout; ++c) {
    const double s = double(g[c]) / std::sqrt(double(v[c]) + 1e-5);
    const double want = double(b[c]) * s + (double(be[c]) - double(m[c]) * s);
    const double tol = 2 * std::numeric_limits<T>::epsilon() *
                       (std::fabs(double(b[c]) * s) + std::fabs(double(be[c])) + std::fabs(double(m[c]) * s));
    CHECK(std::fabs(double(fb[c]) - want) <= tol, "%s fold bias[%zu]", tname, c);
  }
  // y = relu(x·s + t + r), (N = 2, C = 3, S = 37) channels-first and (2, 37, 3) channels-last
  const std::size_t N = 2, C = 3, S = 37, n = N * C * S;
  std::vector<T> x(n), r(n), y(n), sc{T(0.5), T(-2), T(1.5)}, sh{T(0.25), T(1), T(-3)};
  for (std::size_t i = 0; i < n; ++i) x[i] = T(std::sin(double(i))) * 4, r[i] = T(std::cos(double(i)));
  for (int cl = 0; cl < 2; ++cl) {
    const auto layout = cl ? normcore::Layout::channels_last : normcore::Layout::channels_first;
    normcore::scale_shift_act<T>(normcore::Activation::relu, {}, y.data(), x.data(), r.data(), sc.data(), sh.data(),
                                 N, C, S, layout);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t c = cl ? i % C : (i / S) % C;
      const double z = double(x[i]) * double(sc[c]) + double(sh[c]) + double(r[i]);
      const double tol = 4 * std::numeric_limits<T>::epsilon() * (std::fabs(double(x[i]) * double(sc[c])) +
                                                                  std::fabs(double(sh[c])) + std::fabs(double(r[i])));
      CHECK(std::fabs(double(y[i]) - (z > 0 ? z : 0.0)) <= tol, "%s %s scale_shift_act layout %d at %zu", isa.c_str(),
            tname, cl, i);
    }
  }
}

}  // namespace


// The temporaries' per-thread block cache: aligned, disjoint blocks whatever the sizes and the order of release; a
// block given back serves the next request of its size; more blocks or bytes than the cache keeps are freed.
#if defined(__unix__)
// A block of `bytes` bytes whose end touches an inaccessible page (a read past it faults), unmapped at scope exit.
struct Guarded {
  unsigned char* base = nullptr;
  std::size_t len = 0;
  unsigned char* end = nullptr;
  explicit Guarded(std::size_t bytes) {
    const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    len = (bytes + page - 1) / page * page + page;
    base = static_cast<unsigned char*>(mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    mprotect(base + len - page, page, PROT_NONE);
    end = base + len - page;
  }
  ~Guarded() { munmap(base, len); }
};

// Streamed inputs are read by whole cache lines (load_lines): at every element offset within a line, arrays that
// end at an inaccessible page give the same results as arrays elsewhere (the lines read are the elements' own).
// relu_backward (two streamed inputs) against its definition; batch norm's input gradient (a second pass over dy
// and x) bitwise against the same data in ordinary vectors.
template <class T>
void test_streamed_inputs_at_page_end(const std::string& isa) {
  const std::size_t n0 = (std::size_t{9} << 20) / sizeof(T), D = 1024;  // over the 8 MiB streaming threshold
  const std::size_t lanes = 64 / sizeof(T);
  Guarded gx((n0 + D) * sizeof(T)), gd((n0 + D) * sizeof(T));
  for (std::size_t k = 0; k < lanes; k += (k < 2 ? 1 : 3)) {
    const std::size_t rows = n0 / D, n = rows * D;  // whole rows, ending k elements before the guard page
    T* x = reinterpret_cast<T*>(gx.end) - n - k;
    T* dy = reinterpret_cast<T*>(gd.end) - n - k;
    const std::size_t offset = (reinterpret_cast<std::uintptr_t>(x) % 64) / sizeof(T);
    std::mt19937 rng(static_cast<unsigned>(k));
    std::normal_distribution<double> g(0.0, 1.0);
    for (std::size_t i = 0; i < n; ++i) {
      x[i] = static_cast<T>(g(rng));
      dy[i] = static_cast<T>(g(rng));
    }
    std::vector<T> dx(n);
    normcore::relu_backward(dx.data(), dy, x, n);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < n; ++i) bad += dx[i] != (x[i] <= 0 ? T(0) : dy[i]);
    CHECK(bad == 0, "%s %s relu_backward at line offset %zu: %zu wrong", isa.c_str(), sizeof(T) == 4 ? "float" : "double",
          offset, bad);
    for (const auto layout : {normcore::Layout::channels_first, normcore::Layout::channels_last}) {
      const std::size_t C = 64, S = 16, N = n / (C * S);  // n is a multiple of C·S
      std::vector<T> mean(C), rstd(C), y(n), dx2(n), xv(x, x + n), dyv(dy, dy + n);
      normcore::batch_norm_forward<T>(y.data(), mean.data(), rstd.data(), x, nullptr, nullptr, N, C, S, layout, 1e-5);
      normcore::batch_norm_backward<T>(dx.data(), nullptr, nullptr, dy, x, mean.data(), rstd.data(), nullptr, N, C, S,
                                       layout);
      normcore::batch_norm_backward<T>(dx2.data(), nullptr, nullptr, dyv.data(), xv.data(), mean.data(), rstd.data(),
                                       nullptr, N, C, S, layout);
      CHECK(std::memcmp(dx.data(), dx2.data(), n * sizeof(T)) == 0, "%s batch_norm_backward at line offset %zu",
            isa.c_str(), offset);
    }
  }
}
#endif

void test_scratch() {
  using normcore::detail::scratch_allocate;
  using normcore::detail::scratch_release;
  const std::size_t sizes[] = {1, 64, 100, 4095, 4096, 5000, 70000, 131072, 1 << 20, 3 << 20, 20 << 20};
  for (int round = 0; round < 3; ++round) {
    std::vector<std::pair<unsigned char*, std::size_t>> live;
    for (std::size_t i = 0; i < 40; ++i) {
      const std::size_t n = sizes[(i * 7 + round) % (sizeof(sizes) / sizeof(sizes[0]))];
      auto* p = static_cast<unsigned char*>(scratch_allocate(n));
      CHECK(reinterpret_cast<std::uintptr_t>(p) % 64 == 0, "scratch block of %zu bytes not 64-byte aligned", n);
      std::memset(p, static_cast<int>(i), n);
      live.emplace_back(p, n);
    }
    for (std::size_t i = 0; i < live.size(); ++i) {
      bool same = true;
      for (std::size_t j = 0; j < live[i].second; ++j) same = same && live[i].first[j] == static_cast<unsigned char>(i);
      CHECK(same, "scratch block %zu (%zu bytes) overwritten by another", i, live[i].second);
    }
    // released in an order that is neither allocation order nor its reverse
    for (std::size_t i = 0; i < live.size(); ++i) {
      const std::size_t k = (i * 13) % live.size();
      scratch_release(live[k].first, live[k].second);
    }
  }
  void* a = scratch_allocate(100000);
  scratch_release(a, 100000);
  void* b = scratch_allocate(90000);  // the same size class (128 KiB)
  CHECK(a == b, "a released block must serve the next request of its size");
  normcore::vec<double> v(5000, 1.5);
  v.resize(70000, 2.5);
  CHECK(v[4999] == 1.5 && v[69999] == 2.5, "scratch_vector keeps its values when it grows");
  scratch_release(b, 90000);
}

int main() {
  std::printf("normcore %s, default ISA %s\n", normcore::version(), normcore::active_isa());
  const auto isas = normcore::available_isas();
  CHECK(!isas.empty() && isas.front() == "baseline", "baseline must always be available");
  for (const auto& isa : isas) {
    normcore::set_isa(isa);
    CHECK(isa == normcore::active_isa(), "set_isa(%s)", isa.c_str());
    test_type<float>(isa);
    test_type<double>(isa);
    test_structured<float>(isa);
    test_structured<double>(isa);
    test_inference<float>(isa);
    test_inference<double>(isa);
#if defined(__unix__)
    test_streamed_inputs_at_page_end<float>(isa);
    test_streamed_inputs_at_page_end<double>(isa);
#endif
    std::printf("checked %s\n", isa.c_str());
  }
  bool threw = false;
  try {
    normcore::set_isa("no-such-isa");
  } catch (const std::invalid_argument& e) {
    threw = std::string(e.what()).find("baseline") != std::string::npos;
  }
  CHECK(threw, "set_isa of an unknown name must throw naming the available ones");
  test_threads_deterministic();
  test_structured_threads_deterministic();
  test_scratch();
  std::printf("%s\n", g_failures == 0 ? "all passed" : "FAILED");
  return g_failures == 0 ? 0 : 1;
}
