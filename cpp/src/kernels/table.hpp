// The kernel table: one per ISA, filled by kernels/isa_kernels.inl, chosen by dispatch/.
#pragma once
#include <cstddef>

#include "kernels/normalization/kernels.hpp"
#include "normcore/activations.hpp"

namespace normcore {

// How an elementwise kernel writes its output: `stream` = non-temporal stores (large outputs that would
// only evict the cache), otherwise ordinary stores.
struct StoreHint {
  bool stream = false;
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

struct KernelTable {
  const char* isa;
  ElementwiseKernels<float> f32;
  ElementwiseKernels<double> f64;
  NormKernels<float> norm_f32;
  NormKernels<double> norm_f64;
};

namespace baseline { const KernelTable& kernel_table(); }
namespace avx2 { const KernelTable& kernel_table(); }
namespace avx512 { const KernelTable& kernel_table(); }

}  // namespace normcore
