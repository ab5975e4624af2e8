// normcore structured activations: the ones that need an axis, a per-channel parameter or a reduction
// (prelu, rrelu, bipolar_relu, abrelu, maxout, softmax, log_softmax), forward and backward.
//
// Shapes: a C-contiguous array is viewed as (outer, C, inner) — the axis the op works along, of length C,
// in the middle; outer = the product of the dimensions before it, inner = of those after it. Element
// (o, c, i) is at o·C·inner + c·inner + i.
//
// Conventions (llm.c): outputs first, then inputs, then sizes, then parameters; backward mirrors forward
// (`dx` where `x` was). Every function exists for float and double, works in place where the shapes allow
// (y == x, dx == dy; dx == x for maxout), splits the work across normcore's threads and gives bitwise-identical
// results for any thread count (reductions run over fixed blocks merged in a fixed order, in double).
// Invalid sizes or parameters throw std::invalid_argument. At kinks the subgradient is PyTorch's.
#pragma once
#include <cstddef>

namespace normcore {

// prelu: y = x > 0 ? x : w_c·x (PyTorch's rule: −0 and +0 take the slope). x, y: (outer, C, inner); weight: (C,).
// A weight shared by all channels is the view (1, 1, n).
template <class T>
void prelu(T* y, const T* x, const T* weight, std::size_t outer, std::size_t C, std::size_t inner);
// dx = x > 0 ? dy : w_c·dy;  dweight_c = Σ_{o,i} (x > 0 ? 0 : x·dy), summed in double in a fixed order.
// dx, dy, x: (outer, C, inner); dweight, weight: (C,).
template <class T>
void prelu_backward(T* dx, T* dweight, const T* dy, const T* x, const T* weight, std::size_t outer, std::size_t C,
                    std::size_t inner);

// rrelu in training (PyTorch's rrelu_with_noise): noise = x ≤ 0 ? r : 1 with r = lower + (upper − lower)·u,
// y = x·noise. On entry noise holds the caller's uniform draws u ∈ [0, 1), one per element; on exit the factors
// used (r is computed in double, rounded once and kept within [lower, upper]). lower ≤ upper.
// (In evaluation rrelu is leaky_relu with slope (lower + upper)/2.)  y, noise, x: (n,)
template <class T>
void rrelu_with_noise(T* y, T* noise, const T* x, std::size_t n, double lower, double upper);
// dx = dy·noise (training).  dx, dy, noise: (n,)
template <class T>
void rrelu_with_noise_backward(T* dx, const T* dy, const T* noise, std::size_t n);

// bipolar_relu (Eidnes & Nøkland 2017): relu(x) on even channels c, −relu(−x) = min(x, 0) on odd ones.
// Backward: dy where the channel's relu is active (x > 0 even, x < 0 odd), else 0 (0 at x = 0, as relu).
template <class T>
void bipolar_relu(T* y, const T* x, std::size_t outer, std::size_t C, std::size_t inner);
template <class T>
void bipolar_relu_backward(T* dx, const T* dy, const T* x, std::size_t outer, std::size_t C, std::size_t inner);

// abrelu (average-biased ReLU): y = max(x − β_n, 0), β_n = α·mean(x[n]) over the M elements of sample n.
// Backward through β: g = x − β > 0 ? dy : 0,  dx = g − (α/M)·Σ_{j∈n} g_j.  x, y, dx, dy: (N, M)
template <class T>
void abrelu(T* y, const T* x, std::size_t N, std::size_t M, double alpha);
template <class T>
void abrelu_backward(T* dx, const T* dy, const T* x, std::size_t N, std::size_t M, double alpha);

// maxout (Goodfellow et al. 2013): y(o, j, i) = max_{p < pieces} x(o, j·pieces + p, i).  x: (outer, C, inner),
// y: (outer, C/pieces, inner); C % pieces == 0, pieces ≥ 1. A NaN counts as the maximum (it propagates).
// Backward: dy goes to the first maximal piece (the first NaN if any), 0 to the others.
template <class T>
void maxout(T* y, const T* x, std::size_t outer, std::size_t C, std::size_t inner, std::size_t pieces);
template <class T>
void maxout_backward(T* dx, const T* dy, const T* x, std::size_t outer, std::size_t C, std::size_t inner,
                     std::size_t pieces);

// softmax along C: y = e^{x − m} / Σ e^{x − m}, m = max x (a row holding NaN or +inf, or only −inf, is NaN, as
// in PyTorch). log_softmax: y = (x − m) − log Σ e^{x − m}.  x, y: (outer, C, inner)
template <class T>
void softmax(T* y, const T* x, std::size_t outer, std::size_t C, std::size_t inner);
template <class T>
void log_softmax(T* y, const T* x, std::size_t outer, std::size_t C, std::size_t inner);
// softmax: dx = y·(dy − Σ_C dy·y);  log_softmax: dx = dy − e^y·Σ_C dy.  From x, y is recomputed on the fly;
// _from_output takes the forward's y (PyTorch's form).  dx, dy, x/y: (outer, C, inner)
template <class T>
void softmax_backward(T* dx, const T* dy, const T* x, std::size_t outer, std::size_t C, std::size_t inner);
template <class T>
void softmax_backward_from_output(T* dx, const T* dy, const T* y, std::size_t outer, std::size_t C,
                                  std::size_t inner);
template <class T>
void log_softmax_backward(T* dx, const T* dy, const T* x, std::size_t outer, std::size_t C, std::size_t inner);
template <class T>
void log_softmax_backward_from_output(T* dx, const T* dy, const T* y, std::size_t outer, std::size_t C,
                                      std::size_t inner);

}  // namespace normcore
