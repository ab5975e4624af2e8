// Fused scale-shift-activation, generic in the activation op (the structs of kernels/activation/activations.hpp).
// Included inside the per-ISA namespace after kernels/elementwise.hpp.
//
//   y = f(x·s + t [+ r])   (BatchNorm in eval mode folded to s = w/√(var + eps), t = b − mean·s; r a residual)
// x·s + t may contract to one FMA where the ISA has it.

// One channels-first plane: scalar s, t.
template <class Op, class T>
void ssa_span_kernel(T* y, const T* x, const T* r, std::size_t n, T s, T t, const ActivationParams& q, StoreHint h) {
  const Params<T> p(q);
  using V = vec_t<T>;
  const V sv = splat<V>(s), tv = splat<V>(t);
  if (r)
    elementwise(y, n, h, [&](V xv, V rv) { return Op::forward(V(xv * sv + tv + rv), p); }, x, r);
  else
    elementwise(y, n, h, [&](V xv) { return Op::forward(V(xv * sv + tv), p); }, x);
}

// Channels-last rows: per-column s, t loaded alongside x (the tail of a row through the padded vector).
template <class Op, class T>
void ssa_rows_kernel(T* y, const T* x, const T* r, std::size_t rows, std::size_t C, const T* s, const T* t,
                     const ActivationParams& q, StoreHint h) {
  const Params<T> p(q);
  using V = vec_t<T>;
  for (std::size_t i = 0; i < rows; ++i) {
    const std::size_t o = i * C;
    if (r)
      elementwise(y + o, C, h, [&](V xv, V sv, V tv, V rv) { return Op::forward(V(xv * sv + tv + rv), p); }, x + o,
                  s, t, r + o);
    else
      elementwise(y + o, C, h, [&](V xv, V sv, V tv) { return Op::forward(V(xv * sv + tv), p); }, x + o, s, t);
  }
}

template <class T>
InferenceKernels<T> make_inference_kernels() {
  InferenceKernels<T> k{};
#define NORMCORE_REGISTER_SSA(name)                                              \
  k.span[static_cast<int>(Activation::name)] = &ssa_span_kernel<ops::name, T>; \
  k.rows[static_cast<int>(Activation::name)] = &ssa_rows_kernel<ops::name, T>;
  NORMCORE_ACTIVATION_LIST(NORMCORE_REGISTER_SSA)
#undef NORMCORE_REGISTER_SSA
  return k;
}
