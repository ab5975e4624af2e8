// The inference path: BatchNorm folding (plain double loops: weights are small and folded once).
#include "normcore/inference.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "api/common.hpp"
#include "api/parallel.hpp"
#include "dispatch/dispatch.hpp"

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

// ---- scale_shift_act ------------------------------------------------------------------------------------------

namespace {

template <class T>
const InferenceKernels<T>& infer_kernels() {
  if constexpr (std::is_same_v<T, float>) {
    return dispatch::table().infer_f32;
  } else {
    return dispatch::table().infer_f64;
  }
}

// A thread is woken for at least this many elements.
constexpr std::size_t kMinPerThread = 32768;

}  // namespace

template <class T>
void scale_shift_act(Activation op, const ActivationParams& p, T* y, const T* x, const T* residual, const T* scale,
                     const T* shift, std::size_t N, std::size_t C, std::size_t S, Layout layout, const T* center) {
  const int id = static_cast<int>(op);
  if (id < 0 || id >= static_cast<int>(Activation::count_))
    throw std::invalid_argument("scale_shift_act: unknown activation id " + std::to_string(id));
  if (layout != Layout::channels_first && layout != Layout::channels_last)
    throw std::invalid_argument("scale_shift_act: unknown layout");
  const std::size_t n = N * C * S;
  if (n == 0) return;
  if (!y || !x || !scale || !shift) throw std::invalid_argument("scale_shift_act: null pointer");
  const InferenceKernels<T>& k = infer_kernels<T>();
  std::vector<T> zeros;
  if (!center) {
    zeros.assign(C, T(0));
    center = zeros.data();
  }
  // channels-first planes of one element, (N, C, 1) or the (N, C) of BatchNorm1d, are channels-last rows in memory
  // (the planes kernel took 45× longer on (100352, 64) floats)
  if (layout == Layout::channels_first && S > 1) {
    const auto planes = k.planes[id];
    const StoreHint h = detail::store_hint(n * sizeof(T));
    // any split of the flat range gives the same bits: each element's result does not depend on its position
    detail::parallel_ranges(n, kMinPerThread, detail::kAlignBytes / sizeof(T), [&](std::size_t b, std::size_t e) {
      planes(y, x, residual, b, e, C, S, scale, shift, center, p, h);
    });
  } else {
    const auto rows = k.rows[id];
    const StoreHint h = detail::store_hint(n * sizeof(T));
    detail::parallel_ranges(N * S, std::max<std::size_t>(1, kMinPerThread / C), 1, [&](std::size_t b, std::size_t e) {
      rows(y + b * C, x + b * C, residual ? residual + b * C : nullptr, e - b, C, scale, shift, center, p, h);
    });
  }
}

// ---- normalize_image ------------------------------------------------------------------------------------------
// uint8 input goes through a per-channel table of the 256 results, so every value is the correctly rounded double
// result. RGB uint8 → NCHW (the common case) runs the per-ISA gather kernel; the rest is one portable body.

namespace {

// (x·scale − mean)/std, the one formula (double).
inline double normalized(double v, double scale, double mean, double stdev) { return (v * scale - mean) / stdev; }

template <class In, class Out, class Map>
void image_pixels(Out* y, const In* x, std::size_t N, std::size_t HW, std::size_t C, ImageLayout layout, Map&& map) {
  const std::size_t total = N * HW;
  detail::parallel_ranges(total, std::max<std::size_t>(1, kMinPerThread / C), 16, [&](std::size_t b, std::size_t e) {
    while (b < e) {
      const std::size_t n = b / HW, p0 = b % HW, p1 = std::min(HW, p0 + (e - b));
      const In* xs = x + (n * HW) * C;
      if (layout == ImageLayout::nhwc) {
        Out* ys = y + (n * HW) * C;
        for (std::size_t p = p0; p < p1; ++p)
          for (std::size_t c = 0; c < C; ++c) ys[p * C + c] = map(c, xs[p * C + c]);
      } else {
        Out* ys = y + n * C * HW;
        if (C == 3) {  // RGB: three output planes written side by side
          Out *r = ys, *g = ys + HW, *bl = ys + 2 * HW;
          for (std::size_t p = p0; p < p1; ++p) {
            r[p] = map(0, xs[3 * p]);
            g[p] = map(1, xs[3 * p + 1]);
            bl[p] = map(2, xs[3 * p + 2]);
          }
        } else {
          for (std::size_t p = p0; p < p1; ++p)
            for (std::size_t c = 0; c < C; ++c) ys[c * HW + p] = map(c, xs[p * C + c]);
        }
      }
      b += p1 - p0;
    }
  });
}

}  // namespace

template <class In, class Out>
void normalize_image(Out* y, const In* x, std::size_t N, std::size_t HW, std::size_t C, const double* mean,
                     const double* stdev, double scale, ImageLayout out_layout) {
  const char* f = "normalize_image: ";
  if (out_layout != ImageLayout::nchw && out_layout != ImageLayout::nhwc)
    throw std::invalid_argument(std::string(f) + "unknown layout");
  if (C == 0) throw std::invalid_argument(std::string(f) + "images need at least one channel");
  if (!mean || !stdev) throw std::invalid_argument(std::string(f) + "null mean or std");
  for (std::size_t c = 0; c < C; ++c)
    if (stdev[c] == 0.0 || std::isnan(stdev[c]))
      throw std::invalid_argument(std::string(f) + "std[" + str(c) + "] must be nonzero");
  if (N * HW == 0) return;
  if (!y || !x) throw std::invalid_argument(std::string(f) + "null pointer");
  if constexpr (std::is_same_v<In, std::uint8_t>) {
    std::vector<Out> table(C * 256);
    for (std::size_t c = 0; c < C; ++c)
      for (int v = 0; v < 256; ++v) table[c * 256 + v] = static_cast<Out>(normalized(v, scale, mean[c], stdev[c]));
    const Out* t = table.data();
    if (C == 3 && out_layout == ImageLayout::nchw) {
      const auto planes = infer_kernels<Out>().rgb_planes;
      // v·A + B in double (A = scale/std, B = −mean/std) replaces the table where it gives the table's 768 values
      // through this ISA's own kernel: an image of every byte value in every channel is run and compared.
      double affine[6];
      for (std::size_t c = 0; c < 3; ++c) {
        affine[c] = scale / stdev[c];
        affine[3 + c] = -mean[c] / stdev[c];
      }
      constexpr std::size_t kProbe = 256;  // a multiple of every vector width: no scalar tail
      std::vector<std::uint8_t> probe(3 * kProbe);
      for (std::size_t i = 0; i < probe.size(); ++i) probe[i] = static_cast<std::uint8_t>(i / 3);
      std::vector<Out> got(3 * kProbe);
      planes(got.data(), got.data() + kProbe, got.data() + 2 * kProbe, probe.data(), kProbe, t, affine, StoreHint{});
      bool same = true;
      for (std::size_t c = 0; c < 3; ++c)
        for (std::size_t v = 0; v < 256; ++v) same = same && got[c * kProbe + v] == t[c * 256 + v];
      const double* use = same ? affine : nullptr;
      const StoreHint h = detail::store_hint(N * HW * C * sizeof(Out));
      detail::parallel_ranges(N * HW, kMinPerThread / C, 16, [&](std::size_t b, std::size_t e) {
        while (b < e) {
          const std::size_t n = b / HW, p0 = b % HW, p1 = std::min(HW, p0 + (e - b));
          Out* ys = y + n * C * HW + p0;
          planes(ys, ys + HW, ys + 2 * HW, x + (n * HW + p0) * C, p1 - p0, t, use, h);
          b += p1 - p0;
        }
      });
      return;
    }
    image_pixels(y, x, N, HW, C, out_layout, [t](std::size_t c, std::uint8_t v) { return t[c * 256 + v]; });
  } else {
    image_pixels(y, x, N, HW, C, out_layout, [=](std::size_t c, In v) {
      return static_cast<Out>(normalized(static_cast<double>(v), scale, mean[c], stdev[c]));
    });
  }
}

template void normalize_image<std::uint8_t, float>(float*, const std::uint8_t*, std::size_t, std::size_t, std::size_t,
                                                   const double*, const double*, double, ImageLayout);
template void normalize_image<std::uint8_t, double>(double*, const std::uint8_t*, std::size_t, std::size_t,
                                                    std::size_t, const double*, const double*, double, ImageLayout);
template void normalize_image<float, float>(float*, const float*, std::size_t, std::size_t, std::size_t, const double*,
                                            const double*, double, ImageLayout);
template void normalize_image<float, double>(double*, const float*, std::size_t, std::size_t, std::size_t,
                                             const double*, const double*, double, ImageLayout);
template void normalize_image<double, float>(float*, const double*, std::size_t, std::size_t, std::size_t,
                                             const double*, const double*, double, ImageLayout);
template void normalize_image<double, double>(double*, const double*, std::size_t, std::size_t, std::size_t,
                                              const double*, const double*, double, ImageLayout);

#define NORMCORE_INSTANTIATE(T)                                                                                 \
  template void fold_batchnorm<T>(T*, T*, const T*, const T*, const T*, const T*, const T*, const T*, std::size_t, \
                                  std::size_t, std::size_t, FoldKind, std::size_t, FoldPosition, double); \
  template void scale_shift_act<T>(Activation, const ActivationParams&, T*, const T*, const T*, const T*, const T*, \
                                   std::size_t, std::size_t, std::size_t, Layout, const T*);
NORMCORE_INSTANTIATE(float)
NORMCORE_INSTANTIATE(double)
#undef NORMCORE_INSTANTIATE

}  // namespace normcore
