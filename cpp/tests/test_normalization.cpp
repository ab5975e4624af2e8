// C++ tests of the normalization API on every ISA this CPU runs: batch/group/layer norm forward against
// double-precision references computed here from the formulas, backward against central differences, bitwise
// identity for 1 and 2 threads, and the argument checks. No Python involved.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
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

using normcore::Layout;

std::vector<float> randn(std::size_t n, float mean, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(mean, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

// x[n, c, s] of an (N, C, S) array stored in `layout`
std::size_t at(std::size_t n, std::size_t c, std::size_t s, std::size_t C, std::size_t S, Layout layout) {
  return layout == Layout::channels_first ? (n * C + c) * S + s : (n * S + s) * C + c;
}

// batch norm forward in double from the formula
void batch_norm_reference(std::vector<double>& y, const std::vector<float>& x, const std::vector<float>& w,
                          const std::vector<float>& b, std::size_t N, std::size_t C, std::size_t S, Layout layout,
                          double eps) {
  y.assign(x.size(), 0.0);
  for (std::size_t c = 0; c < C; ++c) {
    double mean = 0.0, var = 0.0;
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t s = 0; s < S; ++s) mean += x[at(n, c, s, C, S, layout)];
    mean /= static_cast<double>(N * S);
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t s = 0; s < S; ++s) var += std::pow(x[at(n, c, s, C, S, layout)] - mean, 2);
    var /= static_cast<double>(N * S);
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t s = 0; s < S; ++s) {
        const std::size_t i = at(n, c, s, C, S, layout);
        y[i] = (x[i] - mean) / std::sqrt(var + eps) * w[c] + b[c];
      }
  }
}

void test_batch_norm_forward(const std::string& isa) {
  for (Layout layout : {Layout::channels_first, Layout::channels_last})
    for (std::size_t S : {std::size_t{1}, std::size_t{7}, std::size_t{37}}) {
      const std::size_t N = 3, C = 5;
      const auto x = randn(N * C * S, 1e4f, 1);  // a large mean: float32 accuracy needs exact centering
      std::vector<float> w(C), b(C), y(x.size()), mean(C), rstd(C);
      for (std::size_t c = 0; c < C; ++c) {
        w[c] = 0.5f + 0.25f * static_cast<float>(c);
        b[c] = static_cast<float>(c) - 2.0f;
      }
      normcore::batch_norm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C, S, layout,
                                   1e-5);
      std::vector<double> want;
      batch_norm_reference(want, x, w, b, N, C, S, layout, 1e-5);
      double worst = 0.0;
      for (std::size_t i = 0; i < y.size(); ++i) worst = std::fmax(worst, std::fabs(y[i] - want[i]));
      CHECK(worst < 2e-5, "%s batch_norm S=%zu layout=%d: max error %.3g", isa.c_str(), S, static_cast<int>(layout),
            worst);
    }
}

void test_layer_norm_backward_fd(const std::string& isa) {
  const std::size_t R = 3, D = 19;
  std::vector<double> x(R * D), w(D), b(D), dy(R * D);
  std::mt19937 g(2);
  std::normal_distribution<double> d;
  for (auto& v : x) v = d(g);
  for (auto& v : dy) v = d(g);
  for (std::size_t j = 0; j < D; ++j) {
    w[j] = 1.0 + 0.1 * d(g);
    b[j] = d(g);
  }
  auto loss = [&](const std::vector<double>& xx, const std::vector<double>& ww) {
    std::vector<double> y(R * D);
    normcore::layer_norm_forward(y.data(), static_cast<double*>(nullptr), static_cast<double*>(nullptr), xx.data(),
                                 ww.data(), b.data(), R, D, 1e-3);
    double l = 0.0;
    for (std::size_t i = 0; i < y.size(); ++i) l += y[i] * dy[i];
    return l;
  };
  std::vector<double> y(R * D), mean(R), rstd(R), dx(R * D), dw(D), db(D);
  normcore::layer_norm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), R, D, 1e-3);
  normcore::layer_norm_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), mean.data(), rstd.data(),
                                w.data(), R, D);
  const double h = 1e-6;
  double worst = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    auto xp = x, xm = x;
    xp[i] += h;
    xm[i] -= h;
    worst = std::fmax(worst, std::fabs(dx[i] - (loss(xp, w) - loss(xm, w)) / (2 * h)));
  }
  for (std::size_t j = 0; j < D; ++j) {
    auto wp = w, wm = w;
    wp[j] += h;
    wm[j] -= h;
    worst = std::fmax(worst, std::fabs(dw[j] - (loss(x, wp) - loss(x, wm)) / (2 * h)));
  }
  CHECK(worst < 1e-6, "%s layer_norm_backward vs finite differences: %.3g", isa.c_str(), worst);
}

// Every output of a group norm forward + backward, as one vector.
std::vector<float> group_norm_outputs(Layout layout) {
  const std::size_t N = 4, C = 32, S = 2048, G = 8;
  const auto x = randn(N * C * S, 3.0f, 3), dy = randn(N * C * S, 0.0f, 4);
  std::vector<float> w(C, 1.5f), b(C, -1.0f), y(x.size()), mean(N * G), rstd(N * G), dx(x.size()), dw(C), db(C);
  normcore::group_norm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C, S, G, layout,
                               1e-5);
  normcore::group_norm_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), mean.data(), rstd.data(),
                                w.data(), N, C, S, G, layout);
  std::vector<float> all = y;
  for (const auto* v : {&mean, &rstd, &dx, &dw, &db}) all.insert(all.end(), v->begin(), v->end());
  return all;
}

void test_thread_count_determinism(const std::string& isa) {
  for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
    normcore::set_num_threads(1);
    const auto one = group_norm_outputs(layout);
    normcore::set_num_threads(2);
    const auto two = group_norm_outputs(layout);
    bool same = one.size() == two.size();
    for (std::size_t i = 0; same && i < one.size(); ++i) same = std::memcmp(&one[i], &two[i], sizeof(float)) == 0;
    CHECK(same, "%s group norm layout=%d differs between 1 and 2 threads", isa.c_str(), static_cast<int>(layout));
  }
}

// Group and instance norm outputs large enough to be streamed (8 MiB), written to an aligned y (each span's moments
// in one loop with the previous span's normalization) and to a y one element off (batches): the same bits, and
// within 1e-5 of the double reference; groups alternate between means ±1e5, so a span shifted by a neighbour's
// value would lose float precision.
void test_pipelined_spans(const std::string& isa) {
  const std::size_t N = 32, C = 64, S = 1024, n = N * C * S;
  std::vector<float> x = randn(n, 0.0f, 11), w = randn(C, 1.0f, 12), b = randn(C, 0.0f, 13);
  for (std::size_t i = 0; i < n; ++i) x[i] += (i / (2 * S)) % 2 == 0 ? 1e5f : -1e5f;
  std::vector<float> buf(n + 32), m(N * C), r(N * C);
  float* aligned = buf.data() + (64 - reinterpret_cast<std::uintptr_t>(buf.data()) % 64) % 64 / sizeof(float);
  for (std::size_t G : {C / 2, C}) {  // groups of 2 planes, of one plane
    normcore::group_norm_forward(aligned, m.data(), r.data(), x.data(), w.data(), b.data(), N, C, S, G,
                                 Layout::channels_first, 1e-5);
    const std::vector<float> y(aligned, aligned + n);
    normcore::group_norm_forward(aligned + 1, m.data(), r.data(), x.data(), w.data(), b.data(), N, C, S, G,
                                 Layout::channels_first, 1e-5);
    CHECK(std::memcmp(y.data(), aligned + 1, n * sizeof(float)) == 0, "%s G=%zu pipelined vs batches", isa.c_str(), G);
    const std::size_t span = C / G * S;
    double worst = 0.0;
    for (std::size_t g = 0; g < N * G; ++g) {
      double mean = 0.0, var = 0.0;
      for (std::size_t i = g * span; i < (g + 1) * span; ++i) mean += x[i];
      mean /= static_cast<double>(span);
      for (std::size_t i = g * span; i < (g + 1) * span; ++i) var += (x[i] - mean) * (x[i] - mean);
      const double rs = 1.0 / std::sqrt(var / static_cast<double>(span) + 1e-5);
      for (std::size_t i = g * span; i < (g + 1) * span; ++i) {
        const std::size_t c = i / S % C;
        worst = std::max(worst, std::abs(y[i] - ((x[i] - mean) * rs * w[c] + b[c])));
      }
    }
    CHECK(worst < 1e-5, "%s G=%zu max error %g", isa.c_str(), G, worst);
  }
}

// Group norm of small planes (S = 196: vectors cross plane boundaries) large enough to be streamed (8 MiB): the
// forward's y and the backward's dx written aligned (non-temporal stores) and one element off (regular stores)
// have the same bits, and both are within float rounding of the double reference.
void test_streamed_planes(const std::string& isa) {
  const std::size_t N = 64, C = 256, S = 196, G = 32, n = N * C * S, M = C / G * S;
  const std::vector<float> x = randn(n, 3.0f, 21), dy = randn(n, 0.0f, 22), w = randn(C, 1.0f, 23),
                           b = randn(C, 0.0f, 24);
  std::vector<float> buf(n + 32), m(N * G), r(N * G), dw(C), db(C);
  float* aligned = buf.data() + (64 - reinterpret_cast<std::uintptr_t>(buf.data()) % 64) % 64 / sizeof(float);
  for (bool backward : {false, true}) {
    auto run = [&](float* out) {
      if (backward) {
        normcore::group_norm_backward(out, dw.data(), db.data(), dy.data(), x.data(), m.data(), r.data(), w.data(),
                                      N, C, S, G, Layout::channels_first);
      } else {
        normcore::group_norm_forward(out, m.data(), r.data(), x.data(), w.data(), b.data(), N, C, S, G,
                                     Layout::channels_first, 1e-5);
      }
    };
    run(aligned);
    const std::vector<float> out(aligned, aligned + n);
    run(aligned + 1);
    CHECK(std::memcmp(out.data(), aligned + 1, n * sizeof(float)) == 0, "%s backward=%d streamed vs regular stores",
          isa.c_str(), backward);
    double worst = 0.0;
    for (std::size_t g = 0; g < N * G; ++g) {
      const std::size_t o = g * M;
      double mean = 0.0, var = 0.0, sg = 0.0, sgh = 0.0;
      for (std::size_t i = o; i < o + M; ++i) mean += x[i];
      mean /= static_cast<double>(M);
      for (std::size_t i = o; i < o + M; ++i) var += (x[i] - mean) * (x[i] - mean);
      const double rs = 1.0 / std::sqrt(var / static_cast<double>(M) + 1e-5);
      for (std::size_t i = o; i < o + M; ++i) {
        const double gi = static_cast<double>(dy[i]) * w[i / S % C];
        sg += gi;
        sgh += gi * (x[i] - mean) * rs;
      }
      for (std::size_t i = o; i < o + M; ++i) {
        const std::size_t c = i / S % C;
        const double xh = (x[i] - mean) * rs;
        const double ref = backward ? rs * (dy[i] * static_cast<double>(w[c]) - sg / M - xh * sgh / M)
                                    : xh * w[c] + b[c];
        worst = std::max(worst, std::abs(out[i] - ref));
      }
    }
    CHECK(worst < 2e-5, "%s backward=%d max error %g", isa.c_str(), backward, worst);
  }
}

bool throws(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument&) {
    return true;
  }
  return false;
}

void test_checks() {
  std::vector<float> x(24, 1.0f), y(24), m(8), r(8);
  CHECK(throws([&] {
          normcore::group_norm_forward(y.data(), m.data(), r.data(), x.data(), static_cast<float*>(nullptr),
                                       static_cast<float*>(nullptr), 2, 6, 2, 4, Layout::channels_first, 1e-5);
        }),
        "num_groups not dividing C");
  CHECK(throws([&] {
          normcore::layer_norm_forward(y.data(), m.data(), r.data(), x.data(), static_cast<float*>(nullptr),
                                       static_cast<float*>(nullptr), 4, 6, -1.0);
        }),
        "negative eps");
  CHECK(throws([&] {
          normcore::batch_norm_forward(y.data(), m.data(), r.data(), x.data(), static_cast<float*>(nullptr),
                                       static_cast<float*>(nullptr), 1, 24, 1, Layout::channels_first, 1e-5);
        }),
        "one value per channel in training");
}

}  // namespace

int main() {
  for (const auto& isa : normcore::available_isas()) {
    normcore::set_isa(isa);
    test_batch_norm_forward(isa);
    test_layer_norm_backward_fd(isa);
    test_thread_count_determinism(isa);
    test_pipelined_spans(isa);
    test_streamed_planes(isa);
  }
  test_checks();
  if (g_failures) {
    std::printf("%d failure(s)\n", g_failures);
    return 1;
  }
  std::printf("normalization: all passed\n");
  return 0;
}
