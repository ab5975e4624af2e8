// The inference kernels of one ISA (bodies: kernels/inference/inference.hpp).
#pragma once
#include <cstddef>

#include "normcore/activations.hpp"

namespace normcore {

struct StoreHint;  // kernels/table.hpp

template <class T>
struct InferenceKernels {
  // y = f(x·s[c] + t[c] [+ r]) for the flat elements [b, e) of channels-first arrays (plane (n, c) = S contiguous
  // elements), one fence at the end.  y, x, r: (N, C, S); s, t: (C,); r may be null
  using Planes = void (*)(T* y, const T* x, const T* r, std::size_t b, std::size_t e, std::size_t C, std::size_t S,
                          const T* s, const T* t, const ActivationParams& p, StoreHint h);
  // y[i, c] = f(x[i, c]·s[c] + t[c] [+ r[i, c]]) over rows (channels-last).  y, x, r: (rows, C); s, t: (C,)
  using Rows = void (*)(T* y, const T* x, const T* r, std::size_t rows, std::size_t C, const T* s, const T* t,
                        const ActivationParams& p, StoreHint h);
  Planes planes[static_cast<int>(Activation::count_)];
  Rows rows[static_cast<int>(Activation::count_)];
};

}  // namespace normcore
