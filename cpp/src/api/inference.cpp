// The inference path: BatchNorm folding (plain double loops: weights are small and folded once).
#include "normcore/inference.hpp"

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace normcore {
namespace {

std::string str(std::size_t v) { return std::to_string(v); }

// s[c] = bn_weight/√(var + eps), t[c] = bn_bias − mean·s, in double.
template <class T>
void bn_affine(std::vector<double>& s, std::vector<double>& t, const T* mean, const T* var, const T* w, const T* b,
               std::size_t C, double eps) {
  s.resize(C);
  t.resize(C);
  for (std::size_t c = 0; c < C; ++c) {
    s[c] = (w ? static_cast<double>(w[c]) : 1.0) / std::sqrt(static_cast<double>(var[c]) + eps);
    t[c] = (b ? static_cast<double>(b[c]) : 0.0) - static_cast<double>(mean[c]) * s[c];
  }
}

}  // namespace

template <class T>
void fold_batchnorm(T* fused_weight, T* fused_bias, const T* weight, const T* bias, const T* running_mean,
                    const T* running_var, const T* bn_weight, const T* bn_bias, std::size_t d0, std::size_t d1,
                    std::size_t K, FoldKind kind, std::size_t groups, FoldPosition position, double eps) {
  const char* f = "fold_batchnorm: ";
  if (!(eps >= 0.0)) throw std::invalid_argument(std::string(f) + "eps must be >= 0");
  if (kind != FoldKind::conv && kind != FoldKind::conv_transpose && kind != FoldKind::linear)
    throw std::invalid_argument(std::string(f) + "unknown kind");
  if (groups == 0) throw std::invalid_argument(std::string(f) + "groups must be >= 1");
  if (kind == FoldKind::linear && (groups != 1 || K != 1))
    throw std::invalid_argument(std::string(f) + "a linear weight is (out, in): groups must be 1 and K 1");
  if (kind == FoldKind::conv_transpose && d0 % groups != 0)
    throw std::invalid_argument(std::string(f) + "groups (" + str(groups) + ") must divide the input channels (" +
                                str(d0) + ") of a transposed convolution weight");
  if (position != FoldPosition::after && position != FoldPosition::before)
    throw std::invalid_argument(std::string(f) + "unknown position");
  if (position == FoldPosition::before && kind != FoldKind::linear)
    throw std::invalid_argument(std::string(f) +
                                "position 'before' is only exact for a linear layer (a convolution's zero padding "
                                "would not see the BatchNorm's shift)");
  const std::size_t n = d0 * d1 * K;
  if (n && (!fused_weight || !weight)) throw std::invalid_argument(std::string(f) + "null weight");
  if (!fused_bias || !running_mean || !running_var) throw std::invalid_argument(std::string(f) + "null pointer");

  std::vector<double> s, t;
  if (position == FoldPosition::before) {
    // BN over the d1 inputs, then the linear layer.
    bn_affine(s, t, running_mean, running_var, bn_weight, bn_bias, d1, eps);
    for (std::size_t o = 0; o < d0; ++o) {
      double acc = bias ? static_cast<double>(bias[o]) : 0.0;
      for (std::size_t i = 0; i < d1; ++i) {
        const double w = static_cast<double>(weight[o * d1 + i]);
        fused_weight[o * d1 + i] = static_cast<T>(w * s[i]);
        acc += w * t[i];
      }
      fused_bias[o] = static_cast<T>(acc);
    }
    return;
  }
  const std::size_t C = kind == FoldKind::conv_transpose ? d1 * groups : d0;
  bn_affine(s, t, running_mean, running_var, bn_weight, bn_bias, C, eps);
  const std::size_t in_per_group = kind == FoldKind::conv_transpose ? d0 / groups : 0;
  for (std::size_t a = 0; a < d0; ++a)
    for (std::size_t j = 0; j < d1; ++j) {
      // the output channel of W[a, j, :]
      const std::size_t c = kind == FoldKind::conv_transpose ? (a / in_per_group) * d1 + j : a;
      const std::size_t base = (a * d1 + j) * K;
      for (std::size_t k = 0; k < K; ++k)
        fused_weight[base + k] = static_cast<T>(static_cast<double>(weight[base + k]) * s[c]);
    }
  for (std::size_t c = 0; c < C; ++c)
    fused_bias[c] = static_cast<T>((bias ? static_cast<double>(bias[c]) : 0.0) * s[c] + t[c]);
}

#define NORMCORE_INSTANTIATE(T)                                                                                 \
  template void fold_batchnorm<T>(T*, T*, const T*, const T*, const T*, const T*, const T*, const T*, std::size_t, \
                                  std::size_t, std::size_t, FoldKind, std::size_t, FoldPosition, double);
NORMCORE_INSTANTIATE(float)
NORMCORE_INSTANTIATE(double)
#undef NORMCORE_INSTANTIATE

}  // namespace normcore
