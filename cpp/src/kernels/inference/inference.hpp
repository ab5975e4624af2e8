// Fused scale-shift-activation, generic in the activation op (the structs of kernels/activation/activations.hpp).
// Included inside the per-ISA namespace after kernels/elementwise.hpp.
//
//   y = f(x·s + t [+ r])   (BatchNorm in eval mode folded to s = w/√(var + eps), t = b − mean·s; r a residual)
// x·s + t may contract to one FMA where the ISA has it.

// Channels-first planes: scalar s, t per plane; non-temporal stores fenced once, not per plane.
template <class Op, class T>
void ssa_planes_kernel(T* y, const T* x, const T* r, std::size_t b, std::size_t e, std::size_t C, std::size_t S,
                       const T* s, const T* t, const ActivationParams& q, StoreHint h) {
  const Params<T> p(q);
  using V = vec_t<T>;
  StoreHint each = h;
  each.defer_fence = true;
  while (b < e) {
    const std::size_t plane = b / S, end = std::min(e, (plane + 1) * S), c = plane % C;
    const V sv = splat<V>(s[c]), tv = splat<V>(t[c]);
    if (r)
      elementwise(y + b, end - b, each, [&](V xv, V rv) { return Op::forward(V(xv * sv + tv + rv), p); }, x + b,
                  r + b);
    else
      elementwise(y + b, end - b, each, [&](V xv) { return Op::forward(V(xv * sv + tv), p); }, x + b);
    b = end;
  }
  if (h.stream) stream_fence();
}

// Channels-last rows: per-column s, t loaded alongside x (the tail of a row through the padded vector); one fence.
template <class Op, class T>
void ssa_rows_kernel(T* y, const T* x, const T* r, std::size_t rows, std::size_t C, const T* s, const T* t,
                     const ActivationParams& q, StoreHint h) {
  const Params<T> p(q);
  using V = vec_t<T>;
  StoreHint each = h;
  each.defer_fence = true;
  for (std::size_t i = 0; i < rows; ++i) {
    const std::size_t o = i * C;
    if (r)
      elementwise(y + o, C, each, [&](V xv, V sv, V tv, V rv) { return Op::forward(V(xv * sv + tv + rv), p); },
                  x + o, s, t, r + o);
    else
      elementwise(y + o, C, each, [&](V xv, V sv, V tv) { return Op::forward(V(xv * sv + tv), p); }, x + o, s, t);
  }
  if (h.stream) stream_fence();
}

template <class T>
InferenceKernels<T> make_inference_kernels() {
  InferenceKernels<T> k{};
#define NORMCORE_REGISTER_SSA(name)                                              \
  k.planes[static_cast<int>(Activation::name)] = &ssa_planes_kernel<ops::name, T>; \
  k.rows[static_cast<int>(Activation::name)] = &ssa_rows_kernel<ops::name, T>;
  NORMCORE_ACTIVATION_LIST(NORMCORE_REGISTER_SSA)
#undef NORMCORE_REGISTER_SSA
  return k;
}
