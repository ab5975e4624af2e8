// The generic kernel source, compiled once per ISA by kernels/isa_<name>.cpp, which defines
// NORMCORE_ISA_NS (the namespace, = the ISA name) before including this file with that ISA's flags.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <tuple>
#include <type_traits>
#include <utility>
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's AVX-512 intrinsics (e.g. _mm512_scalef_ps) expand to _mm512_undefined_ps(), which it then reports as
// maybe-uninitialized: a false positive in the compiler's own header.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#include <immintrin.h>
#endif

#include "kernels/table.hpp"

#ifndef NORMCORE_ISA_NS
#error "define NORMCORE_ISA_NS before including isa_kernels.inl"
#endif
#define NORMCORE_STR2(x) #x
#define NORMCORE_STR(x) NORMCORE_STR2(x)

namespace normcore {
namespace NORMCORE_ISA_NS {
namespace {

#include "simd/vec.hpp"
#include "simd/math.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/activation/activations.hpp"
#include "kernels/structured/structured.hpp"
#include "kernels/normalization/normalization.hpp"
#include "kernels/inference/inference.hpp"

template <class Op, class T>
void forward_kernel(T* y, const T* x, std::size_t n, const ActivationParams& q, StoreHint h) {
  const Params<T> p(q);
  elementwise<kMemoryBound<Op>>(y, n, h, [&p](auto xv) { return Op::forward(xv, p); }, x);
}

template <class Op, class T>
void backward_kernel(T* dx, const T* dy, const T* x, std::size_t n, const ActivationParams& q, StoreHint h) {
  const Params<T> p(q);
  elementwise<kMemoryBound<Op>>(dx, n, h, [&p](auto dyv, auto xv) { return Op::backward(dyv, xv, p); }, dy, x);
}

template <class Op, class T>
void backward_from_output_kernel(T* dx, const T* dy, const T* y, std::size_t n, const ActivationParams& q,
                                 StoreHint h) {
  const Params<T> p(q);
  elementwise<kMemoryBound<Op>>(dx, n, h, [&p](auto dyv, auto yv) { return Op::backward_from_output(dyv, yv, p); }, dy, y);
}

template <class T>
void copy_kernel(T* y, const T* x, std::size_t n, StoreHint h) {
  elementwise(y, n, h, [](auto v) { return v; }, x);
}

template <class T>
double sum_kernel(const T* x, std::size_t n) {
  return sum_fixed_order(x, n);
}

// Ops without a backward from the output leave that entry null.
template <class Op, class T, class = void>
struct from_output_kernel {
  static constexpr typename ElementwiseKernels<T>::Backward value = nullptr;
};
template <class Op, class T>
struct from_output_kernel<Op, T, std::void_t<decltype(&Op::template backward_from_output<T>)>> {
  static constexpr typename ElementwiseKernels<T>::Backward value = &backward_from_output_kernel<Op, T>;
};

template <class T>
ElementwiseKernels<T> make_kernels() {
  ElementwiseKernels<T> k{};
#define NORMCORE_REGISTER(name)                                                       \
  k.forward[static_cast<int>(Activation::name)] = &forward_kernel<ops::name, T>;   \
  k.backward[static_cast<int>(Activation::name)] = &backward_kernel<ops::name, T>; \
  k.backward_from_output[static_cast<int>(Activation::name)] = from_output_kernel<ops::name, T>::value;
  NORMCORE_ACTIVATION_LIST(NORMCORE_REGISTER)
#undef NORMCORE_REGISTER
  k.copy = &copy_kernel<T>;
  k.sum = &sum_kernel<T>;
  return k;
}

}  // namespace

const KernelTable& kernel_table() {
  static const KernelTable table{NORMCORE_STR(NORMCORE_ISA_NS), make_kernels<float>(), make_kernels<double>(),
                                 make_structured_kernels<float>(), make_structured_kernels<double>(),
                                 make_norm_kernels<float>(), make_norm_kernels<double>(),
                                 make_inference_kernels<float>(), make_inference_kernels<double>()};
  return table;
}

}  // namespace NORMCORE_ISA_NS
}  // namespace normcore
