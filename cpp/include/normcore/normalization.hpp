// normcore normalization: batch, layer, group, instance and RMS normalization, forward and backward, over
// contiguous arrays, with PyTorch's semantics (biased variance inside the normalization, rstd = 1/√(var + eps)).
//
// Conventions (llm.c): outputs first, then saved statistics, then inputs, then sizes, then parameters; backward
// mirrors forward (`dx` where `x` was). Forward passes save `mean` and `rstd` (not the variance); backward passes
// take them and recompute x̂ = (x − mean)·rstd. Every function exists for float and double.
//
// Shapes. Batch, group and instance norm see x as (N, C, S) — Layout::channels_first, S = the product of the
// spatial sizes (1 for an (N, C) input) — or as (N, S, C) — Layout::channels_last. Layer and RMS norm see x as
// (rows, D), D = the product of the normalized trailing dimensions. weight / bias (the affine parameters) may be
// null (then 1 / 0), and so may the gradient outputs dweight / dbias (then they are not computed).
//
// Numerics. Statistics by two passes per cache-sized block in double (float inputs widened) and Chan's merge of
// the blocks; the mean is used as a (hi, lo) pair so that x − mean is exact for |mean| ≫ std; gradient sums in
// double. Blocks depend only on the sizes and are merged in a fixed order, so every output is bitwise identical
// for any number of threads. A constant channel / row gives x − mean = 0 exactly, hence y = bias, never NaN.
//
// Errors: std::invalid_argument for eps < 0 or NaN, num_groups not dividing C, batch-statistics training with one
// value per channel (N·S == 1), and null pointers for non-empty arrays.
#pragma once
#include <cstddef>

namespace normcore {

enum class Layout : int { channels_first = 0, channels_last = 1 };

// Running statistics updated in place by a training forward: r ← (1 − momentum)·r + momentum·batch, the variance
// unbiased (·n/(n − 1), PyTorch) or biased (ONNX, Keras). mean, var: (C,); null pointers leave them alone.
template <class T>
struct RunningStats {
  T* mean = nullptr;
  T* var = nullptr;
  double momentum = 0.1;
  bool unbiased_var = true;
};

// ---- batch norm: statistics per channel over N and S ---------------------------------------------------------

// Training forward: mean[c], var[c] of the batch, rstd = 1/√(var + eps), y = (x − mean)·rstd·weight + bias.
// y, x: (N, C, S) or (N, S, C); mean, rstd, weight, bias: (C,) (mean, rstd may be null)
template <class T>
void batch_norm_forward(T* y, T* mean, T* rstd, const T* x, const T* weight, const T* bias, std::size_t N,
                        std::size_t C, std::size_t S, Layout layout, double eps,
                        const RunningStats<T>& running = RunningStats<T>{});

// Inference: y = (x − running_mean)/√(running_var + eps)·weight + bias.  running_mean, running_var: (C,)
template <class T>
void batch_norm_inference(T* y, const T* x, const T* running_mean, const T* running_var, const T* weight,
                          const T* bias, std::size_t N, std::size_t C, std::size_t S, Layout layout, double eps);

// Backward of the training forward (M = N·S values per channel, g = dy):
//   dbias[c] = Σ dy,  dweight[c] = Σ dy·x̂,  dx = weight·rstd·(dy − dbias/M − x̂·dweight/M)
template <class T>
void batch_norm_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* mean, const T* rstd,
                         const T* weight, std::size_t N, std::size_t C, std::size_t S, Layout layout);

// ---- group norm: statistics per (sample, group of C/G consecutive channels) ---------------------------------

// mean, rstd: (N, G); weight, bias: (C,)
template <class T>
void group_norm_forward(T* y, T* mean, T* rstd, const T* x, const T* weight, const T* bias, std::size_t N,
                        std::size_t C, std::size_t S, std::size_t groups, Layout layout, double eps);

// g = dy·weight; per (n, group) of M = (C/G)·S values: dx = rstd·(g − Σg/M − x̂·Σ(g·x̂)/M);
// dweight[c] = Σ_{n,s} dy·x̂, dbias[c] = Σ_{n,s} dy
template <class T>
void group_norm_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* mean, const T* rstd,
                         const T* weight, std::size_t N, std::size_t C, std::size_t S, std::size_t groups,
                         Layout layout);

// ---- instance norm: statistics per (sample, channel) over S --------------------------------------------------

// mean, rstd: (N, C). With running statistics, r ← (1 − m)·r + m·(mean over n of the per-instance statistic)
// (PyTorch). S == 1 is refused (one value per instance).
template <class T>
void instance_norm_forward(T* y, T* mean, T* rstd, const T* x, const T* weight, const T* bias, std::size_t N,
                           std::size_t C, std::size_t S, Layout layout, double eps,
                           const RunningStats<T>& running = RunningStats<T>{});

template <class T>
void instance_norm_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* mean, const T* rstd,
                            const T* weight, std::size_t N, std::size_t C, std::size_t S, Layout layout);

// ---- layer norm: statistics per row over D -------------------------------------------------------------------

// y = (x − mean)·rstd·weight + bias.  y, x: (rows, D); mean, rstd: (rows,) (may be null); weight, bias: (D,)
template <class T>
void layer_norm_forward(T* y, T* mean, T* rstd, const T* x, const T* weight, const T* bias, std::size_t rows,
                        std::size_t D, double eps);

// g = dy·weight: dx = rstd·(g − Σg/D − x̂·Σ(g·x̂)/D); dweight = Σ_rows dy·x̂, dbias = Σ_rows dy.
template <class T>
void layer_norm_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* mean, const T* rstd,
                         const T* weight, std::size_t rows, std::size_t D);

// ---- RMS norm: rstd = 1/√(mean(x²) + eps) per row ------------------------------------------------------------

// y = x·rstd·weight.  y, x: (rows, D); rstd: (rows,) (may be null); weight: (D,)
template <class T>
void rms_norm_forward(T* y, T* rstd, const T* x, const T* weight, std::size_t rows, std::size_t D, double eps);

// g = dy·weight: dx = rstd·(g − x̂·Σ(g·x̂)/D); dweight = Σ_rows dy·x̂.
template <class T>
void rms_norm_backward(T* dx, T* dweight, const T* dy, const T* x, const T* rstd, const T* weight, std::size_t rows,
                       std::size_t D);

}  // namespace normcore
