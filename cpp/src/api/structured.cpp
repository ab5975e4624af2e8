// Public structured activations: validate sizes and parameters, cut the (outer, C, inner) array into tiles, run the
// kernels on the thread pool and merge the per-tile sums in a fixed order.
#include "normcore/structured.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/common.hpp"
#include "api/parallel.hpp"
#include "api/scratch.hpp"

namespace normcore {
namespace {
using detail::structured_kernels;

// Elements per tile: reductions use small fixed tiles (their sums depend on the tiling, which depends only on the
// shape, so never on the thread count); maps use larger ones. A thread gets at least kMinPerThread elements.
constexpr std::size_t kReduceTile = 8192;
constexpr std::size_t kMapTile = 32768;
constexpr std::size_t kMinPerThread = 32768;
// Reductions keep one partial sum per channel per (row block, column block): at most this many row blocks.
constexpr std::size_t kMaxRowBlocks = 64;

std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

// An (outer, C, inner) array cut into tiles of ot rows × ct channels × it columns.
struct Tiling {
  std::size_t outer, C, inner;
  std::size_t ot, ct, it;
  std::size_t nob, ncb, nib;

  Tiling(std::size_t outer_, std::size_t C_, std::size_t inner_, std::size_t target, bool bounded)
      : outer(outer_), C(C_), inner(inner_) {
    it = std::min(inner, target);
    ct = std::min(C, std::max<std::size_t>(1, target / it));
    ot = std::min(outer, std::max<std::size_t>(1, target / (ct * it)));
    if (bounded) ot = std::max(ot, ceil_div(outer, kMaxRowBlocks));
    nob = ceil_div(outer, ot);
    ncb = ceil_div(C, ct);
    nib = ceil_div(inner, it);
  }
  std::size_t count() const { return nob * ncb * nib; }
  std::size_t elements() const { return ot * ct * it; }
  // tile k, in row-major order of (row block, channel block, column block)
  Tile tile(std::size_t k) const {
    const std::size_t ib = k % nib, cb = k / nib % ncb, ob = k / (nib * ncb);
    return Tile{C, inner, ob * ot, std::min(outer, (ob + 1) * ot), cb * ct, std::min(C, (cb + 1) * ct),
                ib * it, std::min(inner, (ib + 1) * it)};
  }
  // where tile k keeps its partial sums (one slot of C per row block and column block)
  std::size_t slot(std::size_t k) const { return k / (nib * ncb) * nib + k % nib; }
};

void check_pointers(std::size_t n, const char* fname, std::initializer_list<const void*> ptrs) {
  if (n == 0) return;
  for (const void* p : ptrs)
    if (p == nullptr) throw std::invalid_argument(std::string(fname) + ": null pointer for a non-empty array");
}

// The channel op over the whole array: out = map(a, b, p_c, q_c) and, when sums is not null,
// sums[c] = Σ_{o,i} reduce(a, b, p_c) (per tile, then tiles in order).  sums: (C,)
template <class T>
void run_channel(ChannelOp op, T* out, double* sums, const T* a, const T* b, const T* p, const T* q,
                 std::size_t outer, std::size_t C, std::size_t inner) {
  const auto f = structured_kernels<T>().channel[static_cast<int>(op)];
  if (sums != nullptr) std::fill(sums, sums + C, 0.0);
  if (outer * C * inner == 0) return;
  const Tiling tl(outer, C, inner, sums != nullptr ? kReduceTile : kMapTile, sums != nullptr);
  vec<double> partial(sums != nullptr ? tl.nob * tl.nib * C : 0, 0.0);
  detail::parallel_ranges(tl.count(), std::max<std::size_t>(1, kMinPerThread / tl.elements()), 1,
                          [&](std::size_t begin, std::size_t end) {
                            for (std::size_t k = begin; k < end; ++k)
                              f(out, sums != nullptr ? partial.data() + tl.slot(k) * C : nullptr, a, b, p, q,
                                tl.tile(k));
                          });
  if (sums == nullptr) return;
  for (std::size_t s = 0; s < tl.nob * tl.nib; ++s)
    for (std::size_t c = 0; c < C; ++c) sums[c] += partial[s * C + c];
}

// kernel(tile) over all rows and columns of an (outer, C, inner) array, for ops along C: whole rows when
// inner == 1, else one row by chunks of columns.
template <class K>
void run_along(std::size_t outer, std::size_t C, std::size_t inner, K&& kernel) {
  if (outer * C * inner == 0) return;
  if (inner == 1) {
    detail::parallel_ranges(outer, std::max<std::size_t>(1, kMinPerThread / C), 1,
                            [&](std::size_t o0, std::size_t o1) { kernel(Tile{C, 1, o0, o1, 0, C, 0, 1}); });
    return;
  }
  const std::size_t chunk = std::min(inner, std::max<std::size_t>(64, kReduceTile / C / 64 * 64));
  const std::size_t nck = ceil_div(inner, chunk);
  detail::parallel_ranges(outer * nck, std::max<std::size_t>(1, kMinPerThread / (C * chunk)), 1,
                          [&](std::size_t begin, std::size_t end) {
                            for (std::size_t k = begin; k < end; ++k) {
                              const std::size_t o = k / nck, i0 = k % nck * chunk;
                              kernel(Tile{C, inner, o, o + 1, 0, C, i0, std::min(inner, i0 + chunk)});
                            }
                          });
}

template <class T>
void run_softmax(SoftmaxOp op, const char* fname, T* out, const T* a, const T* b, std::size_t outer, std::size_t C,
                 std::size_t inner) {
  check_pointers(outer * C * inner, fname, {out, a, b});
  const auto f = structured_kernels<T>().softmax[static_cast<int>(op)];
  run_along(outer, C, inner, [&](const Tile& t) { f(out, a, b, t); });
}

void check_pieces(const char* fname, std::size_t C, std::size_t pieces) {
  if (pieces < 1) throw std::invalid_argument(std::string(fname) + ": pieces must be >= 1, got 0");
  if (C % pieces != 0)
    throw std::invalid_argument(std::string(fname) + ": the axis has " + std::to_string(C) +
                                " channels, which is not a multiple of pieces = " + std::to_string(pieces));
}

// +1 on even channels, −1 on odd ones.
template <class T>
vec<T> bipolar_signs(std::size_t C) {
  vec<T> s(C);
  for (std::size_t c = 0; c < C; ++c) s[c] = c % 2 == 0 ? T(1) : T(-1);
  return s;
}

// β_n = α·mean(x[n]) for the N samples of M elements of x, rounded once to T.
template <class T>
vec<T> abrelu_bias(const T* x, std::size_t N, std::size_t M, double alpha) {
  vec<double> sums(N);
  run_channel<T>(ChannelOp::sum, nullptr, sums.data(), x, nullptr, nullptr, nullptr, 1, N, M);
  vec<T> beta(N);
  for (std::size_t n = 0; n < N; ++n) beta[n] = static_cast<T>(alpha * (sums[n] / static_cast<double>(M)));
  return beta;
}

}  // namespace

template <class T>
void prelu(T* y, const T* x, const T* weight, std::size_t outer, std::size_t C, std::size_t inner) {
  check_pointers(outer * C * inner, "prelu", {y, x, weight});
  run_channel<T>(ChannelOp::prelu, y, nullptr, x, nullptr, weight, nullptr, outer, C, inner);
}

template <class T>
void prelu_backward(T* dx, T* dweight, const T* dy, const T* x, const T* weight, std::size_t outer, std::size_t C,
                    std::size_t inner) {
  check_pointers(outer * C * inner, "prelu_backward", {dx, dy, x, weight});
  check_pointers(C, "prelu_backward", {dweight});
  vec<double> sums(C);
  run_channel<T>(ChannelOp::prelu_backward, dx, sums.data(), x, dy, weight, nullptr, outer, C, inner);
  for (std::size_t c = 0; c < C; ++c) dweight[c] = static_cast<T>(sums[c]);
}

template <class T>
void rrelu_with_noise(T* y, T* noise, const T* x, std::size_t n, double lower, double upper) {
  if (!(lower <= upper))
    throw std::invalid_argument("rrelu: lower (" + std::to_string(lower) + ") must not exceed upper (" +
                                std::to_string(upper) + ")");
  check_pointers(n, "rrelu", {y, noise, x});
  const T lo = static_cast<T>(lower), hi = static_cast<T>(upper);
  // a plain loop in the library's own flags (not a per-ISA kernel): the same draws give the same factors
  // whichever instruction set is active
  detail::parallel_ranges(n, 65536, 16, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      const T r = std::min(hi, std::max(lo, static_cast<T>(lower + (upper - lower) * static_cast<double>(noise[i]))));
      noise[i] = x[i] <= T(0) ? r : T(1);
      y[i] = x[i] * noise[i];
    }
  });
}

template <class T>
void rrelu_with_noise_backward(T* dx, const T* dy, const T* noise, std::size_t n) {
  check_pointers(n, "rrelu_backward", {dx, dy, noise});
  detail::parallel_ranges(n, 65536, 16, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) dx[i] = dy[i] * noise[i];
  });
}

template <class T>
void bipolar_relu(T* y, const T* x, std::size_t outer, std::size_t C, std::size_t inner) {
  check_pointers(outer * C * inner, "bipolar_relu", {y, x});
  const vec<T> s = bipolar_signs<T>(C);
  run_channel<T>(ChannelOp::bipolar_relu, y, nullptr, x, nullptr, s.data(), nullptr, outer, C, inner);
}

template <class T>
void bipolar_relu_backward(T* dx, const T* dy, const T* x, std::size_t outer, std::size_t C, std::size_t inner) {
  check_pointers(outer * C * inner, "bipolar_relu_backward", {dx, dy, x});
  const vec<T> s = bipolar_signs<T>(C);
  run_channel<T>(ChannelOp::bipolar_relu_backward, dx, nullptr, x, dy, s.data(), nullptr, outer, C, inner);
}

// abrelu views x as (1, N, M): the samples are the channels.
template <class T>
void abrelu(T* y, const T* x, std::size_t N, std::size_t M, double alpha) {
  check_pointers(N * M, "abrelu", {y, x});
  if (N * M == 0) return;
  const vec<T> beta = abrelu_bias(x, N, M, alpha);
  run_channel<T>(ChannelOp::abrelu, y, nullptr, x, nullptr, beta.data(), nullptr, 1, N, M);
}

template <class T>
void abrelu_backward(T* dx, const T* dy, const T* x, std::size_t N, std::size_t M, double alpha) {
  check_pointers(N * M, "abrelu_backward", {dx, dy, x});
  if (N * M == 0) return;
  const vec<T> beta = abrelu_bias(x, N, M, alpha);
  // Σ_j g_j per sample, then dx = g − (α/M)·Σ g
  vec<double> active(N);
  run_channel<T>(ChannelOp::abrelu_active_sum, nullptr, active.data(), x, dy, beta.data(), nullptr, 1, N, M);
  vec<T> q(N);
  for (std::size_t n = 0; n < N; ++n) q[n] = static_cast<T>(alpha / static_cast<double>(M) * active[n]);
  run_channel<T>(ChannelOp::abrelu_backward, dx, nullptr, x, dy, beta.data(), q.data(), 1, N, M);
}

template <class T>
void maxout(T* y, const T* x, std::size_t outer, std::size_t C, std::size_t inner, std::size_t pieces) {
  check_pieces("maxout", C, pieces);
  check_pointers(outer * C * inner, "maxout", {y, x});
  const auto f = structured_kernels<T>().maxout;
  run_along(outer, C, inner, [&](const Tile& t) { f(y, x, pieces, t); });
}

template <class T>
void maxout_backward(T* dx, const T* dy, const T* x, std::size_t outer, std::size_t C, std::size_t inner,
                     std::size_t pieces) {
  check_pieces("maxout_backward", C, pieces);
  check_pointers(outer * C * inner, "maxout_backward", {dx, dy, x});
  const auto f = structured_kernels<T>().maxout_backward;
  run_along(outer, C, inner, [&](const Tile& t) { f(dx, dy, x, pieces, t); });
}

template <class T>
void softmax(T* y, const T* x, std::size_t outer, std::size_t C, std::size_t inner) {
  run_softmax<T>(SoftmaxOp::softmax, "softmax", y, x, x, outer, C, inner);
}
template <class T>
void log_softmax(T* y, const T* x, std::size_t outer, std::size_t C, std::size_t inner) {
  run_softmax<T>(SoftmaxOp::log_softmax, "log_softmax", y, x, x, outer, C, inner);
}
template <class T>
void softmax_backward(T* dx, const T* dy, const T* x, std::size_t outer, std::size_t C, std::size_t inner) {
  run_softmax<T>(SoftmaxOp::softmax_backward, "softmax_backward", dx, dy, x, outer, C, inner);
}
template <class T>
void softmax_backward_from_output(T* dx, const T* dy, const T* y, std::size_t outer, std::size_t C,
                                  std::size_t inner) {
  run_softmax<T>(SoftmaxOp::softmax_backward_from_output, "softmax_backward", dx, dy, y, outer, C, inner);
}
template <class T>
void log_softmax_backward(T* dx, const T* dy, const T* x, std::size_t outer, std::size_t C, std::size_t inner) {
  run_softmax<T>(SoftmaxOp::log_softmax_backward, "log_softmax_backward", dx, dy, x, outer, C, inner);
}
template <class T>
void log_softmax_backward_from_output(T* dx, const T* dy, const T* y, std::size_t outer, std::size_t C,
                                      std::size_t inner) {
  run_softmax<T>(SoftmaxOp::log_softmax_backward_from_output, "log_softmax_backward", dx, dy, y, outer, C, inner);
}

#define NORMCORE_INSTANTIATE(T)                                                                                   \
  template void prelu<T>(T*, const T*, const T*, std::size_t, std::size_t, std::size_t);                          \
  template void prelu_backward<T>(T*, T*, const T*, const T*, const T*, std::size_t, std::size_t, std::size_t);   \
  template void rrelu_with_noise<T>(T*, T*, const T*, std::size_t, double, double);                               \
  template void rrelu_with_noise_backward<T>(T*, const T*, const T*, std::size_t);                                \
  template void bipolar_relu<T>(T*, const T*, std::size_t, std::size_t, std::size_t);                             \
  template void bipolar_relu_backward<T>(T*, const T*, const T*, std::size_t, std::size_t, std::size_t);          \
  template void abrelu<T>(T*, const T*, std::size_t, std::size_t, double);                                        \
  template void abrelu_backward<T>(T*, const T*, const T*, std::size_t, std::size_t, double);                     \
  template void maxout<T>(T*, const T*, std::size_t, std::size_t, std::size_t, std::size_t);                      \
  template void maxout_backward<T>(T*, const T*, const T*, std::size_t, std::size_t, std::size_t, std::size_t);   \
  template void softmax<T>(T*, const T*, std::size_t, std::size_t, std::size_t);                                  \
  template void log_softmax<T>(T*, const T*, std::size_t, std::size_t, std::size_t);                              \
  template void softmax_backward<T>(T*, const T*, const T*, std::size_t, std::size_t, std::size_t);               \
  template void softmax_backward_from_output<T>(T*, const T*, const T*, std::size_t, std::size_t, std::size_t);   \
  template void log_softmax_backward<T>(T*, const T*, const T*, std::size_t, std::size_t, std::size_t);           \
  template void log_softmax_backward_from_output<T>(T*, const T*, const T*, std::size_t, std::size_t, std::size_t);
NORMCORE_INSTANTIATE(float)
NORMCORE_INSTANTIATE(double)
#undef NORMCORE_INSTANTIATE

}  // namespace normcore
