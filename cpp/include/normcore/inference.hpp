// normcore inference path: BatchNorm folded into the weights of the layer next to it, and the per-channel affine
// map + activation that remains when it cannot be folded, run as one pass.
//
// Conventions (llm.c): outputs first, then inputs, then sizes, then parameters. Every function exists for float and
// double. Errors: std::invalid_argument naming what is wrong.
#pragma once
#include <cstddef>
#include <cstdint>

#include "normcore/activations.hpp"
#include "normcore/normalization.hpp"

namespace normcore {

// Which layer the BatchNorm is folded into, and on which side of it the BatchNorm sits.
enum class FoldKind : int { conv = 0, conv_transpose = 1, linear = 2 };
enum class FoldPosition : int { after = 0, before = 1 };

// BatchNorm in eval mode is y = x·s[c] + t[c] with s = bn_weight/√(running_var + eps), t = bn_bias − running_mean·s.
//
// position = after (layer → BN), the weight seen as (d0, d1, K), K = the product of the kernel sizes (1 for linear):
//   conv            weight (C_out = d0, C_in/groups = d1, K):   W'[o, i, k] = W[o, i, k]·s[o]
//   linear          weight (out = d0, in = d1, K = 1):           the same
//   conv_transpose  weight (C_in = d0, C_out/groups = d1, K):   W'[i, j, k] = W[i, j, k]·s[g·d1 + j], g = i/(d0/groups)
//   b'[c] = (bias[c] or 0)·s[c] + t[c]                           (C = d0, or d1·groups for conv_transpose)
// position = before (BN → linear), weight (out = d0, in = d1):
//   W'[o, i] = W[o, i]·s[i],  b'[o] = (bias[o] or 0) + Σ_i W[o, i]·t[i]
// Everything in double, rounded to T once. bias, bn_weight, bn_bias may be null (0, 1, 0).
// fused_weight: like weight; fused_bias: (C_out,); running_mean, running_var, bn_weight, bn_bias: (C,) with C the
// BatchNorm's channels (C_out after, in before).
template <class T>
void fold_batchnorm(T* fused_weight, T* fused_bias, const T* weight, const T* bias, const T* running_mean,
                    const T* running_var, const T* bn_weight, const T* bn_bias, std::size_t d0, std::size_t d1,
                    std::size_t K, FoldKind kind, std::size_t groups, FoldPosition position, double eps);

// Fused scale-shift-activation: y = f((x − center[c])·scale[c] + shift[c] [+ residual]) in one pass, f any
// activation of the catalog (parameters p as in activation_forward). x seen as (N, C, S) channels-first or (N, S, C)
// channels-last. y, x, residual: (N, C, S) or (N, S, C), residual may be null, y may be x (or residual); scale,
// shift, center: (C,); center null = 0 (x − 0 is x: the same bits as without it). With center = a BatchNorm's
// running mean, scale = weight/√(var + eps) and shift = bias it is BatchNorm in eval mode without the cancellation
// of x·scale + (bias − mean·scale) when |mean| ≫ std. Bitwise identical for any number of threads.
template <class T>
void scale_shift_act(Activation op, const ActivationParams& p, T* y, const T* x, const T* residual, const T* scale,
                     const T* shift, std::size_t N, std::size_t C, std::size_t S, Layout layout,
                     const T* center = nullptr);

// Image preprocessing (ToTensor + Normalize in one pass): images (N, H, W, C) of uint8, float or double →
//   y[n, c, h, w] (ImageLayout::nchw) or y[n, h, w, c] (ImageLayout::nhwc) = (x[n, h, w, c]·scale − mean[c]) / std[c]
// computed in double and rounded once to Out (float or double). HW = H·W. mean, std: (C,); std[c] ≠ 0.
// y must not overlap x.
enum class ImageLayout : int { nchw = 0, nhwc = 1 };

template <class In, class Out>
void normalize_image(Out* y, const In* x, std::size_t N, std::size_t HW, std::size_t C, const double* mean,
                     const double* std, double scale, ImageLayout out_layout);

}  // namespace normcore
