// The activation catalog: each op's math written once over V (vector or scalar).
// Included inside the per-ISA namespace after simd/vec.hpp and simd/math.hpp.
//
// An op is a struct in namespace ops named as in NORMCORE_ACTIVATION_LIST (activations.hpp) with
//   forward(x, p)                 y = f(x)
//   backward(dy, x, p)            dx = dy · f'(x)
//   backward_from_output(dy, y, p) (optional) dx = dy · f'(x) expressed through y = f(x)
// where p holds the op's parameters already converted to the element type.

template <class T>
struct Params {
  T a, b, c;
  explicit Params(const ActivationParams& q) : a(T(q.a)), b(T(q.b)), c(T(q.c)) {}
};

namespace ops {

// relu(x) = max(0, x). PyTorch's subgradient at 0 is 0 (threshold_backward: x <= 0 → 0), NaN x passes dy.
struct relu {
  template <class V> static V forward(V x, const Params<scalar_t<V>>&) { return max0(x); }
  template <class V> static V backward(V dy, V x, const Params<scalar_t<V>>&) {
    return x <= scalar_t<V>(0) ? splat<V>(0) : dy;
  }
  template <class V> static V backward_from_output(V dy, V y, const Params<scalar_t<V>>& p) {
    return backward(dy, y, p);  // y > 0 exactly where x > 0
  }
};

// leaky_relu(x) = x > 0 ? x : a·x  (a = negative_slope). PyTorch's subgradient at 0 is a.
struct leaky_relu {
  template <class V> static V forward(V x, const Params<scalar_t<V>>& p) {
    return x > scalar_t<V>(0) ? x : x * p.a;
  }
  template <class V> static V backward(V dy, V x, const Params<scalar_t<V>>& p) {
    return x > scalar_t<V>(0) ? dy : dy * p.a;
  }
  // y > 0 exactly where x > 0 when a ≥ 0 (the API refuses a < 0 for this form).
  template <class V> static V backward_from_output(V dy, V y, const Params<scalar_t<V>>& p) {
    return backward(dy, y, p);
  }
};

// sigmoid(x) = 1 / (1 + e^{−x}); σ' = σ(x)·σ(−x), from the output: y·(1 − y) (PyTorch).
struct sigmoid {
  template <class V> static V forward(V x, const Params<scalar_t<V>>&) { return normcore::NORMCORE_ISA_NS::sigmoid(x); }
  template <class V> static V backward(V dy, V x, const Params<scalar_t<V>>&) {
    return dy * sigmoid_derivative(x);
  }
  template <class V> static V backward_from_output(V dy, V y, const Params<scalar_t<V>>&) {
    return dy * (y * (scalar_t<V>(1) - y));
  }
};

}  // namespace ops
