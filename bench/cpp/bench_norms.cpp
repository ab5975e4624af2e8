// C++ microbenchmark of the normalization layers, no Python: float32 forward and backward of the shapes and
// of small-plane group/instance norm, on the best ISA, 1 thread and all threads; min and median of repeats, next to
// a plain copy of the input. Python timings of the same calls move with where NumPy places the arrays (see
// docs/performance.md); here the buffers are 2 MiB aligned, the inputs offset by 16 bytes as NumPy's usually are.
// Usage: normcore_bench_norms [filter-substring]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "api/internal.hpp"
#include "normcore/normcore.hpp"

namespace {

using normcore::Layout;

struct Timing {
  double min_ms, median_ms;
};

Timing time_ms(const std::function<void()>& f, int repeats) {
  f();  // warm up (page faults, thread pool)
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    const auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return {t.front(), t[t.size() / 2]};
}

// n floats, 2 MiB aligned plus `offset` floats, freed at exit
float* buffer(std::size_t n, std::size_t offset) {
  constexpr std::size_t align = std::size_t{2} << 20;
  const std::size_t bytes = ((n + offset) * sizeof(float) + align - 1) / align * align;
  auto* p = static_cast<float*>(std::aligned_alloc(align, bytes));
  std::memset(p, 0, bytes);
  return p + offset;
}

struct Case {
  std::string name;
  std::size_t n;  // elements of x
  std::function<void()> run;
  std::function<void()> prepare = {};  // a backward's forward: the mean and rstd of its input
};

}  // namespace

int main(int argc, char** argv) {
  const std::string filter = argc > 1 ? argv[1] : "";
  constexpr std::size_t kMax = std::size_t{8} << 20;  // the largest input: 8M floats
  float* x = buffer(kMax, 4);
  float* dy = buffer(kMax, 4);
  float* y = buffer(kMax, 0);
  std::mt19937 rng(1);
  std::normal_distribution<float> g(3.0f, 2.0f);
  for (std::size_t i = 0; i < kMax; ++i) {
    x[i] = g(rng);
    dy[i] = g(rng) - 3.0f;
  }
  std::vector<float> w(4096), b(4096), dw(4096), db(4096), mean(1 << 20), rstd(1 << 20);
  for (std::size_t i = 0; i < w.size(); ++i) {
    w[i] = 0.5f + static_cast<float>(i % 7) / 7.0f;
    b[i] = static_cast<float>(i % 5) / 5.0f - 0.4f;
  }
  std::vector<Case> cases;
  auto rows_cases = [&](std::size_t rows, std::size_t D) {
    const std::string s = "(" + std::to_string(rows) + "," + std::to_string(D) + ")";
    auto ln = [=, &w, &b, &mean, &rstd] {
      normcore::layer_norm_forward<float>(y, mean.data(), rstd.data(), x, w.data(), b.data(), rows, D, 1e-5);
    };
    auto rms = [=, &w, &rstd] { normcore::rms_norm_forward<float>(y, rstd.data(), x, w.data(), rows, D, 1e-6); };
    cases.push_back({"layer_norm fwd " + s, rows * D, ln});
    cases.push_back({"layer_norm bwd " + s, rows * D, [=, &w, &dw, &db, &mean, &rstd] {
                       normcore::layer_norm_backward<float>(y, dw.data(), db.data(), dy, x, mean.data(), rstd.data(),
                                                            w.data(), rows, D);
                     }, ln});
    cases.push_back({"layer_norm bwd no params " + s, rows * D, [=, &mean, &rstd] {
                       normcore::layer_norm_backward<float>(y, nullptr, nullptr, dy, x, mean.data(), rstd.data(),
                                                            nullptr, rows, D);
                     }, ln});
    cases.push_back({"rms_norm fwd " + s, rows * D, rms});
    cases.push_back({"rms_norm bwd " + s, rows * D, [=, &w, &dw, &rstd] {
                       normcore::rms_norm_backward<float>(y, dw.data(), dy, x, rstd.data(), w.data(), rows, D);
                     }, rms});
  };
  auto group_cases = [&](std::size_t N, std::size_t C, std::size_t S, std::size_t G) {
    const std::string s = "(" + std::to_string(N) + "," + std::to_string(C) + "," + std::to_string(S) + ")";
    const std::string gs = " G=" + std::to_string(G);
    auto gn = [=, &w, &b, &mean, &rstd] {
      normcore::group_norm_forward<float>(y, mean.data(), rstd.data(), x, w.data(), b.data(), N, C, S, G,
                                          Layout::channels_first, 1e-5);
    };
    cases.push_back({"group_norm fwd " + s + gs, N * C * S, gn});
    cases.push_back({"group_norm bwd " + s + gs, N * C * S, [=, &w, &dw, &db, &mean, &rstd] {
                       normcore::group_norm_backward<float>(y, dw.data(), db.data(), dy, x, mean.data(), rstd.data(),
                                                            w.data(), N, C, S, G, Layout::channels_first);
                     }, gn});
  };
  auto plane_cases = [&](std::size_t N, std::size_t C, std::size_t S, std::size_t G) {
    const std::string s = "(" + std::to_string(N) + "," + std::to_string(C) + "," + std::to_string(S) + ")";
    group_cases(N, C, S, G);
    auto in = [=, &w, &b, &mean, &rstd] {
      normcore::instance_norm_forward<float>(y, mean.data(), rstd.data(), x, w.data(), b.data(), N, C, S,
                                             Layout::channels_first, 1e-5);
    };
    cases.push_back({"instance_norm fwd " + s, N * C * S, in});
    cases.push_back({"instance_norm bwd " + s, N * C * S, [=, &w, &dw, &db, &mean, &rstd] {
                       normcore::instance_norm_backward<float>(y, dw.data(), db.data(), dy, x, mean.data(),
                                                               rstd.data(), w.data(), N, C, S, Layout::channels_first);
                     }, in});
    for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
      const std::string l = layout == Layout::channels_first ? " NCHW" : " NHWC";
      auto bn = [=, &w, &b, &mean, &rstd] {
        normcore::batch_norm_forward<float>(y, mean.data(), rstd.data(), x, w.data(), b.data(), N, C, S, layout,
                                            1e-5);
      };
      cases.push_back({"batch_norm train fwd " + s + l, N * C * S, bn});
      cases.push_back({"batch_norm train bwd " + s + l, N * C * S, [=, &w, &dw, &db, &mean, &rstd] {
                         normcore::batch_norm_backward<float>(y, dw.data(), db.data(), dy, x, mean.data(),
                                                              rstd.data(), w.data(), N, C, S, layout);
                       }, bn});
    }
  };
  rows_cases(8192, 1024);
  plane_cases(32, 64, 56 * 56, 32);  // the benchmark suite's shape
  plane_cases(64, 512, 7 * 7, 32);   // small planes
  plane_cases(256, 64, 4 * 4, 32);
  plane_cases(32, 256, 4 * 4, 32);   // group norm: groups of 8 tiny planes
  group_cases(16384, 64, 1, 8);      // group norm of (N, C) input: planes of one element
  group_cases(4096, 64, 4, 8);
  group_cases(64, 512, 9, 32);  // 3x3 planes
  const int max_threads = normcore::get_num_threads();
  std::printf("%-44s %9s %3s %10s %10s %10s %8s\n", "case", "n", "thr", "min ms", "median ms", "copy ms",
              "x copy");
  for (int threads : {1, max_threads}) {
    normcore::set_num_threads(threads);
    for (const Case& c : cases) {
      if (c.name.find(filter) == std::string::npos) continue;
      const int repeats = c.n >= (std::size_t{1} << 20) ? 40 : 400;
      if (c.prepare) c.prepare();
      const Timing t = time_ms(c.run, repeats);
      const Timing copy = time_ms([&] { normcore::detail::copy(y, x, c.n); }, repeats);
      std::printf("%-44s %9zu %3d %10.4f %10.4f %10.4f %8.2f\n", c.name.c_str(), c.n, threads, t.min_ms,
                  t.median_ms, copy.min_ms, t.min_ms / copy.min_ms);
    }
    if (max_threads == 1) break;
  }
}
