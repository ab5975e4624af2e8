// normcore setup layer: the reduction behind gradient clipping (torch.nn.utils.clip_grad_norm_).
#pragma once
#include <cstddef>

namespace normcore {

// Σ_k Σ_i |g_k[i]|^p over `count` arrays g_k of sizes[k] elements, accumulated in double; p = +inf gives
// max_k max_i |g_k[i]| (NaN wins). The total p-norm of all gradients is this to the power 1/p (p finite).
// Each array is split into fixed blocks of 4096 elements; the blocks (in array order) are reduced on any
// thread and merged left to right, so the result is bitwise identical for any thread count.
// p = 1 and p = 2 use |g| and g·g; other p use std::pow(|g|, p).
// Throws std::invalid_argument unless p > 0 (NaN refused) and, when count > 0, arrays/sizes are non-null.
template <class T>
double sum_abs_pow(const T* const* arrays, const std::size_t* sizes, std::size_t count, double p);

// Per-column statistics of x: (N, C) row-major, for feature scaling: mean[c] and m2[c] = Σ_n (x[n, c] − mean[c])²
// (so the biased variance is m2/N), in double. Rows are split into fixed blocks (by N only), each reduced in two
// passes (block mean, then squared deviations) and merged with Chan et al.'s formula left to right: bitwise
// identical for any thread count. N = 0 gives NaN means and zero m2. Throws std::invalid_argument for null
// pointers with N·C > 0.
template <class T>
void column_moments(double* mean, double* m2, const T* x, std::size_t N, std::size_t C);

// Per-column minimum and maximum of x: (N, C) row-major, ignoring NaN (scikit-learn's nanmin / nanmax); a column
// without a non-NaN value (or N = 0) gives NaN. Blocked over rows like column_moments. Throws
// std::invalid_argument for null pointers with N·C > 0.
template <class T>
void column_min_max(double* min, double* max, const T* x, std::size_t N, std::size_t C);

}  // namespace normcore
