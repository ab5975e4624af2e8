// The inference kernels of one ISA (bodies: kernels/inference/inference.hpp).
#pragma once
#include <cstddef>
#include <cstdint>

#include "normcore/activations.hpp"

namespace normcore {

struct StoreHint;  // kernels/table.hpp

template <class T>
struct InferenceKernels {
  // y = f((x − u[c])·s[c] + t[c] [+ r]) for the flat elements [b, e) of channels-first arrays (plane (n, c) = S
  // contiguous elements), one fence at the end.  y, x, r: (N, C, S); s, t, u: (C,); r may be null
  using Planes = void (*)(T* y, const T* x, const T* r, std::size_t b, std::size_t e, std::size_t C, std::size_t S,
                          const T* s, const T* t, const T* u, const ActivationParams& p, StoreHint h);
  // y[i, c] = f((x[i, c] − u[c])·s[c] + t[c] [+ r[i, c]]) over rows (channels-last).  y, x, r: (rows, C); s, t, u: (C,)
  using Rows = void (*)(T* y, const T* x, const T* r, std::size_t rows, std::size_t C, const T* s, const T* t,
                        const T* u, const ActivationParams& p, StoreHint h);
  // Interleaved 3-channel uint8 pixels x (n, 3) to three planes: r[p] = tab[x[p, 0]], g[p] = tab[256 + x[p, 1]],
  // b[p] = tab[512 + x[p, 2]] for p < n; tab: (3, 256). With affine = (A0, A1, A2, B0, B1, B2) (float only), the
  // whole vectors compute T(v·A[c] + B[c]) in double instead: the caller has checked that it equals the table.
  using RgbPlanes = void (*)(T* r, T* g, T* b, const std::uint8_t* x, std::size_t n, const T* tab,
                             const double* affine, StoreHint h);
  Planes planes[static_cast<int>(Activation::count_)];
  Rows rows[static_cast<int>(Activation::count_)];
  RgbPlanes rgb_planes;
};

}  // namespace normcore
