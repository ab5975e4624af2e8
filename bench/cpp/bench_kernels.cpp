// C++ microbenchmark of the elementwise kernels, no Python: every ISA × op × size × thread count, median of
// repeats, reported next to a plain copy of the same bytes. Usage: normcore_bench_kernels [filter-substring]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "api/internal.hpp"
#include "normcore/normcore.hpp"

namespace {

double median_ms(const std::function<void()>& f, int repeats) {
  f();  // warm up (page faults, thread pool)
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    const auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
  }
  std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const std::string filter = argc > 1 ? argv[1] : "";
  const int max_threads = normcore::get_num_threads();
  std::printf("%-8s %-22s %10s %3s %10s %10s %8s\n", "isa", "kernel", "n", "thr", "ms", "copy ms", "x copy");
  for (std::size_t n : {std::size_t{1} << 16, std::size_t{16} << 20}) {
    std::vector<float> x(n), dy(n, 1.0f), y(n);
    std::mt19937 rng(1);
    std::normal_distribution<float> g(0.0f, 3.0f);
    for (auto& v : x) v = g(rng);
    const int repeats = n < 1000000 ? 2000 : 30;
    std::vector<std::pair<std::string, std::function<void()>>> kernels = {
        {"sigmoid_backward(y)", [&] { normcore::sigmoid_backward_from_output(y.data(), dy.data(), x.data(), n); }},
    };
    // every op of the catalog, forward and backward from x, with parameters valid for all of them
    for (int i = 0; i < static_cast<int>(normcore::Activation::count_); ++i) {
      const auto op = static_cast<normcore::Activation>(i);
      const std::string name = normcore::activation_name(op);
      normcore::ActivationParams p{1.0, 1.0, 1.0};
      if (name == "hardtanh") p = {-1.0, 1.0, 0.0};
      if (name == "softplus") p = {1.0, 20.0, 0.0};
      if (name == "hardsigmoid") p = {1.0 / 6, 0.5, 0.0};
      if (name == "leaky_relu") p = {0.01, 0.0, 0.0};
      kernels.emplace_back(name, [&, op, p] { normcore::activation_forward(op, p, y.data(), x.data(), n); });
      kernels.emplace_back(name + "_backward",
                           [&, op, p] { normcore::activation_backward(op, p, y.data(), dy.data(), x.data(), n); });
    }
    for (const auto& isa : normcore::available_isas()) {
      normcore::set_isa(isa);
      for (int threads = 1; threads <= max_threads; threads = threads == 1 && max_threads > 1 ? max_threads : threads + max_threads) {
        normcore::set_num_threads(threads);
        const double copy = median_ms([&] { normcore::detail::copy(y.data(), x.data(), n); }, repeats);
        for (const auto& [name, f] : kernels) {
          if (name.find(filter) == std::string::npos) continue;
          const double ms = median_ms(f, repeats);
          // backward kernels move 3 streams, forward 2: scale the copy (2 streams) accordingly
          const double streams = name.find("backward") != std::string::npos ? 3.0 : 2.0;
          std::printf("%-8s %-22s %10zu %3d %10.4f %10.4f %8.2f\n", isa.c_str(), name.c_str(), n, threads, ms,
                      copy * streams / 2, ms / (copy * streams / 2));
        }
      }
    }
  }
  return 0;
}
