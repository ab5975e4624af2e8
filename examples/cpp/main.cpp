// Uses the installed normcore: sigmoid and its gradient over a small array, checked against std::exp.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <vector>

#include <normcore/normcore.hpp>

int main() {
  std::cout << "normcore " << normcore::version() << " on " << normcore::active_isa() << "\n";
  std::vector<float> x(1000), y(x.size()), dx(x.size()), ones(x.size(), 1.0f);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = -10.0f + 20.0f * static_cast<float>(i) / 999.0f;
  normcore::sigmoid(y.data(), x.data(), x.size());
  normcore::sigmoid_backward(dx.data(), ones.data(), x.data(), x.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double s = 1.0 / (1.0 + std::exp(-static_cast<double>(x[i])));
    worst = std::fmax(worst, std::fabs(y[i] - s) / s);
    worst = std::fmax(worst, std::fabs(dx[i] - s * (1 - s)) / (s * (1 - s)));
  }
  std::printf("max relative error vs std::exp: %.3g\n", worst);
  return worst < 1e-6 ? 0 : 1;
}
