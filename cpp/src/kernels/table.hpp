// The kernel table: one per ISA, filled by kernels/isa_kernels.inl, chosen by dispatch/.
#pragma once
#include <cstddef>

#include "kernels/inference/kernels.hpp"
#include "kernels/normalization/kernels.hpp"
#include "normcore/activations.hpp"

namespace normcore {

// How an elementwise kernel writes its output: `stream` = non-temporal stores (large outputs that would
// only evict the cache), otherwise ordinary stores.
struct StoreHint {
  bool stream = false;
  // The caller fences once after many calls (the loop then does not fence its own non-temporal stores).
  bool defer_fence = false;
  // The inputs come from memory (a pass over a whole tensor already read once): streamed maps read them by whole
  // cache lines (load_lines). Not for inputs just read into cache (a group's or row's second pass), where the
  // permute only adds work: LayerNorm (16384, 128) backward, 1 thread, 0.67 -> 0.88 ms with it.
  bool lines = false;
};

template <class T>
struct ElementwiseKernels {
  // y = f(x).  y, x: (n,)
  using Forward = void (*)(T* y, const T* x, std::size_t n, const ActivationParams& p, StoreHint h);
  // dx = dy · f'(x)  (or from y = f(x)).  dx, dy, in: (n,)
  using Backward = void (*)(T* dx, const T* dy, const T* in, std::size_t n, const ActivationParams& p,
                            StoreHint h);
  Forward forward[static_cast<int>(Activation::count_)];
  Backward backward[static_cast<int>(Activation::count_)];             // from x
  Backward backward_from_output[static_cast<int>(Activation::count_)]; // from y; null where undefined
  // y = x: the memory-copy roofline with the same loop and threads.
  void (*copy)(T* y, const T* x, std::size_t n, StoreHint h);
  // Σ x in a fixed order (blocked reductions test and example).  x: (n,)
  double (*sum)(const T* x, std::size_t n);
};

// A block of an array viewed as (outer, C, inner) (element (o, c, i) at (o·C + c)·inner + i): rows o ∈ [o0, o1),
// channels c ∈ [c0, c1), columns i ∈ [i0, i1). Kernels that work along C (softmax, maxout) take all channels.
struct Tile {
  std::size_t C, inner;
  std::size_t o0, o1, c0, c1, i0, i1;
};

// Ops with one parameter per channel (kernels/structured/structured.hpp says what each computes).
enum class ChannelOp : int {
  prelu,
  prelu_backward,
  bipolar_relu,
  bipolar_relu_backward,
  abrelu,
  abrelu_backward,
  abrelu_active_sum,
  sum,
  count_
};

// Ops along C.
enum class SoftmaxOp : int {
  softmax,
  log_softmax,
  softmax_backward,
  log_softmax_backward,
  softmax_backward_from_output,
  log_softmax_backward_from_output,
  count_
};

template <class T>
struct StructuredKernels {
  // Over tile t of (outer, C, inner) arrays (all pointers at element (0, 0, 0)): out = f(a, b, p_c, q_c) where the
  // op maps, acc[c] += Σ_{o,i} g(a, b, p_c) in double where it reduces.  out, a, b: (outer, C, inner); p, q: (C,);
  // acc: (C,). Unused pointers may be null.
  using Channel = void (*)(T* out, double* acc, const T* a, const T* b, const T* p, const T* q, const Tile& t);
  // Along C, for the rows and columns of t: forward a = x; backward a = dy, b = x or y.  out, a, b: (outer, C, inner)
  using Softmax = void (*)(T* out, const T* a, const T* b, const Tile& t);
  Channel channel[static_cast<int>(ChannelOp::count_)];
  Softmax softmax[static_cast<int>(SoftmaxOp::count_)];
  // y(o, j, i) = max_p x(o, j·pieces + p, i) for the rows and columns of t (t.C = the input's channels).
  void (*maxout)(T* y, const T* x, std::size_t pieces, const Tile& t);
  // dx(o, j·pieces + p, i) = dy(o, j, i) at the first maximal p, else 0.
  void (*maxout_backward)(T* dx, const T* dy, const T* x, std::size_t pieces, const Tile& t);
};

struct KernelTable {
  const char* isa;
  ElementwiseKernels<float> f32;
  ElementwiseKernels<double> f64;
  StructuredKernels<float> structured_f32;
  StructuredKernels<double> structured_f64;
  NormKernels<float> norm_f32;
  NormKernels<double> norm_f64;
  InferenceKernels<float> infer_f32;
  InferenceKernels<double> infer_f64;
};

namespace baseline { const KernelTable& kernel_table(); }
namespace avx2 { const KernelTable& kernel_table(); }
namespace avx512 { const KernelTable& kernel_table(); }

}  // namespace normcore
