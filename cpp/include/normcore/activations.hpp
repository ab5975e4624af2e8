// normcore activations: elementwise forward and backward kernels over contiguous arrays.
//
// Conventions (llm.c): outputs first, then inputs, then sizes, then parameters; backward mirrors forward
// (`dx` where `x` was). Every function exists for float and double, works in place (y == x, dx == dy),
// splits large arrays across normcore's threads and gives bitwise-identical results for any thread count.
#pragma once
#include <cstddef>

namespace normcore {

// The activation catalog, listed once: the enum, the names and the kernel registration are made from it.
// Parameters travel in ActivationParams; each entry says what a/b/c mean.
#define NORMCORE_ACTIVATION_LIST(X)                                                     \
  X(identity)         /* x                                                         */ \
  X(binary_step)      /* x >= a ? 1 : 0               a = threshold                */ \
  X(relu)             /* max(0, x)                                                 */ \
  X(hardtanh)         /* clamp(x, a, b)               a = min_val, b = max_val     */ \
  X(leaky_relu)       /* x > 0 ? x : a·x              a = negative_slope           */ \
  X(thresholded_relu) /* x > a ? x : 0                a = alpha                    */ \
  X(elu)              /* x > 0 ? b·x : b·a·(e^{c·x} − 1)  a = alpha, b = scale, c = input_scale */ \
  X(gelu)             /* x·Φ(x) (erf form)                                         */ \
  X(gelu_tanh)        /* ½x(1 + tanh(√(2/π)(x + 0.044715x³)))                      */ \
  X(swish)            /* x·σ(a·x)                     a = beta                     */ \
  X(mish)             /* x·tanh(softplus(x))                                       */ \
  X(sigmoid)          /* 1 / (1 + e^{−x})                                          */ \
  X(log_sigmoid)      /* log σ(x)                                                  */ \
  X(hardsigmoid)      /* clamp(a·x + b, 0, 1)         a = alpha, b = beta          */ \
  X(tanh)             /* tanh(x)                                                   */ \
  X(hardswish)        /* x·min(max(x + 3, 0), 6)/6                                 */ \
  X(softplus)         /* log(1 + e^{a·x})/a, x where a·x > b   a = beta, b = threshold */ \
  X(softsign)         /* x / (1 + |x|)                                             */ \
  X(isru)             /* x / √(1 + a·x²)              a = alpha                    */ \
  X(isrlu)            /* x ≥ 0 ? x : isru(x)          a = alpha                    */ \
  X(sqnl)             /* square non-linearity                                      */ \
  X(arctan)           /* atan(x)                                                   */ \
  X(sinc)             /* sin(x)/x, 1 at 0                                          */

enum class Activation : int {
#define NORMCORE_ACTIVATION_ENUM(name) name,
  NORMCORE_ACTIVATION_LIST(NORMCORE_ACTIVATION_ENUM)
#undef NORMCORE_ACTIVATION_ENUM
  count_
};

// "relu", "leaky_relu", ...; throws std::invalid_argument for an id outside the catalog.
const char* activation_name(Activation op);

struct ActivationParams {
  double a = 0.0;
  double b = 0.0;
  double c = 0.0;
};

// y[i] = f(x[i]) for i < n.  x, y: (n,)
template <class T>
void activation_forward(Activation op, const ActivationParams& p, T* y, const T* x, std::size_t n);

// dx[i] = dy[i] · f'(x[i]).  dx, dy, x: (n,)
template <class T>
void activation_backward(Activation op, const ActivationParams& p, T* dx, const T* dy, const T* x,
                         std::size_t n);

// dx[i] = dy[i] · f'(x[i]) computed from the forward's output y = f(x) (PyTorch's form for relu,
// leaky_relu with a positive slope, sigmoid).  dx, dy, y: (n,)
template <class T>
void activation_backward_from_output(Activation op, const ActivationParams& p, T* dx, const T* dy,
                                     const T* y, std::size_t n);

// ---- named entry points -------------------------------------------------------------------------

// relu: y = max(0, x); NaN propagates.  Backward: dy where x > 0, else 0 (PyTorch: 0 at x = 0).
template <class T> void relu(T* y, const T* x, std::size_t n);
template <class T> void relu_backward(T* dx, const T* dy, const T* x, std::size_t n);

// leaky_relu: y = x > 0 ? x : slope·x.  Backward: dy where x > 0, else slope·dy (PyTorch: slope at 0).
template <class T> void leaky_relu(T* y, const T* x, std::size_t n, double negative_slope = 0.01);
template <class T>
void leaky_relu_backward(T* dx, const T* dy, const T* x, std::size_t n, double negative_slope = 0.01);

// sigmoid: y = 1 / (1 + e^{-x}), sigmoid(+inf) = 1, sigmoid(-inf) = 0.
// Backward from x: dy·σ(x)·σ(−x) (exact in both tails); from y: dy·y·(1 − y) (PyTorch's form).
template <class T> void sigmoid(T* y, const T* x, std::size_t n);
template <class T> void sigmoid_backward(T* dx, const T* dy, const T* x, std::size_t n);
template <class T> void sigmoid_backward_from_output(T* dx, const T* dy, const T* y, std::size_t n);

}  // namespace normcore
