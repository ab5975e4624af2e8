// Public activation functions: validate arguments, pick the kernel, split the work across threads.
#include "normcore/activations.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "api/parallel.hpp"
#include "api/common.hpp"

namespace normcore {
namespace {
using detail::kernels;

// Elements per thread below which a thread is not worth waking, by op cost.
std::size_t min_per_thread(Activation op) {
  switch (op) {
    case Activation::relu:
    case Activation::leaky_relu:
      return 32768;  // a 64K relu: ~5 µs on one thread, ~3.3 µs on two (normcore_bench_kernels, Zen 4)
    default:
      return 8192;
  }
}

void check_op(Activation op) {
  const int i = static_cast<int>(op);
  if (i < 0 || i >= static_cast<int>(Activation::count_))
    throw std::invalid_argument("normcore: unknown activation id " + std::to_string(i));
}

void check_pointers(std::size_t n, std::initializer_list<const void*> ptrs) {
  if (n == 0) return;
  for (const void* p : ptrs)
    if (p == nullptr) throw std::invalid_argument("normcore: null pointer for a non-empty array");
}

// Run an elementwise kernel over n elements on the thread pool: kernel(begin, count, hint).
template <class T, class K>
void run_elementwise(Activation op, std::size_t n, K&& kernel) {
  const StoreHint hint = detail::store_hint(n * sizeof(T));
  detail::parallel_ranges(n, min_per_thread(op), detail::kAlignBytes / sizeof(T),
                          [&](std::size_t b, std::size_t e) { kernel(b, e - b, hint); });
}

}  // namespace

const char* activation_name(Activation op) {
  check_op(op);
  static const char* const names[] = {
#define NORMCORE_ACTIVATION_NAME(name) #name,
      NORMCORE_ACTIVATION_LIST(NORMCORE_ACTIVATION_NAME)
#undef NORMCORE_ACTIVATION_NAME
  };
  return names[static_cast<int>(op)];
}

template <class T>
void activation_forward(Activation op, const ActivationParams& p, T* y, const T* x, std::size_t n) {
  check_op(op);
  check_pointers(n, {y, x});
  const auto f = kernels<T>().forward[static_cast<int>(op)];
  run_elementwise<T>(op, n, [&](std::size_t b, std::size_t m, StoreHint h) { f(y + b, x + b, m, p, h); });
}

template <class T>
void activation_backward(Activation op, const ActivationParams& p, T* dx, const T* dy, const T* x,
                         std::size_t n) {
  check_op(op);
  check_pointers(n, {dx, dy, x});
  const auto f = kernels<T>().backward[static_cast<int>(op)];
  run_elementwise<T>(op, n, [&](std::size_t b, std::size_t m, StoreHint h) { f(dx + b, dy + b, x + b, m, p, h); });
}

template <class T>
void activation_backward_from_output(Activation op, const ActivationParams& p, T* dx, const T* dy,
                                     const T* y, std::size_t n) {
  check_op(op);
  check_pointers(n, {dx, dy, y});
  if (op == Activation::leaky_relu && p.a < 0)
    throw std::invalid_argument("leaky_relu_backward: the gradient from the output y needs negative_slope >= 0, got " +
                                std::to_string(p.a));
  const auto f = kernels<T>().backward_from_output[static_cast<int>(op)];
  if (f == nullptr) throw std::invalid_argument("normcore: this activation has no backward from its output");
  run_elementwise<T>(op, n, [&](std::size_t b, std::size_t m, StoreHint h) { f(dx + b, dy + b, y + b, m, p, h); });
}

// ---- named entry points ---------------------------------------------------------------------------

template <class T> void relu(T* y, const T* x, std::size_t n) {
  activation_forward(Activation::relu, {}, y, x, n);
}
template <class T> void relu_backward(T* dx, const T* dy, const T* x, std::size_t n) {
  activation_backward(Activation::relu, {}, dx, dy, x, n);
}
template <class T> void leaky_relu(T* y, const T* x, std::size_t n, double negative_slope) {
  activation_forward(Activation::leaky_relu, {negative_slope}, y, x, n);
}
template <class T>
void leaky_relu_backward(T* dx, const T* dy, const T* x, std::size_t n, double negative_slope) {
  activation_backward(Activation::leaky_relu, {negative_slope}, dx, dy, x, n);
}
template <class T> void sigmoid(T* y, const T* x, std::size_t n) {
  activation_forward(Activation::sigmoid, {}, y, x, n);
}
template <class T> void sigmoid_backward(T* dx, const T* dy, const T* x, std::size_t n) {
  activation_backward(Activation::sigmoid, {}, dx, dy, x, n);
}
template <class T> void sigmoid_backward_from_output(T* dx, const T* dy, const T* y, std::size_t n) {
  activation_backward_from_output(Activation::sigmoid, {}, dx, dy, y, n);
}

#define NORMCORE_INSTANTIATE(T)                                                                              \
  template void activation_forward<T>(Activation, const ActivationParams&, T*, const T*, std::size_t);        \
  template void activation_backward<T>(Activation, const ActivationParams&, T*, const T*, const T*,           \
                                       std::size_t);                                                         \
  template void activation_backward_from_output<T>(Activation, const ActivationParams&, T*, const T*,         \
                                                   const T*, std::size_t);                                   \
  template void relu<T>(T*, const T*, std::size_t);                                                          \
  template void relu_backward<T>(T*, const T*, const T*, std::size_t);                                       \
  template void leaky_relu<T>(T*, const T*, std::size_t, double);                                            \
  template void leaky_relu_backward<T>(T*, const T*, const T*, std::size_t, double);                         \
  template void sigmoid<T>(T*, const T*, std::size_t);                                                       \
  template void sigmoid_backward<T>(T*, const T*, const T*, std::size_t);                                    \
  template void sigmoid_backward_from_output<T>(T*, const T*, const T*, std::size_t);
NORMCORE_INSTANTIATE(float)
NORMCORE_INSTANTIATE(double)
#undef NORMCORE_INSTANTIATE

}  // namespace normcore
