// The inference kernels of one ISA (bodies: kernels/inference/inference.hpp).
#pragma once
#include <cstddef>

#include "normcore/activations.hpp"

namespace normcore {

struct StoreHint;  // kernels/table.hpp

template <class T>
struct InferenceKernels {
  // y = f(x·s + t [+ r]) over a span (a channels-first plane: one scale and shift).  y, x, r: (n,); r may be null
  using Span = void (*)(T* y, const T* x, const T* r, std::size_t n, T s, T t, const ActivationParams& p,
                        StoreHint h);
  // y[i, c] = f(x[i, c]·s[c] + t[c] [+ r[i, c]]) over rows (channels-last).  y, x, r: (rows, C); s, t: (C,)
  using Rows = void (*)(T* y, const T* x, const T* r, std::size_t rows, std::size_t C, const T* s, const T* t,
                        const ActivationParams& p, StoreHint h);
  Span span[static_cast<int>(Activation::count_)];
  Rows rows[static_cast<int>(Activation::count_)];
};

}  // namespace normcore
