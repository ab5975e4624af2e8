// Elementwise loops over contiguous arrays, generic in the op. Included inside the per-ISA namespace.
//
// Body: whole vectors. Head (when streaming, to reach an aligned destination) and tail: the few leftover
// elements are copied into a zero-padded vector, computed with the same vector code and copied back, so
// every element gets bitwise the same result wherever it sits in the array (and so for any thread split).
// (Loaded with masked loads where the ISA has them; stored by a copy: masked stores were slower on Zen 4.)

// Apply f to the elements [0, m) (m < lanes) through a padded vector.
template <class V, class F, class... In>
inline void apply_partial(scalar_t<V>* out, std::size_t m, F&& f, const In*... in) {
  const V r = f(load_first<V>(in, m)...);
  std::memcpy(out, &r, m * sizeof(scalar_t<V>));
}

// out[i] = f(in0[i], in1[i], ...) for i < n. Lines: the streamed loop reads two or more inputs by whole cache lines
// (load_lines), for ops cheap enough to wait on memory (kMemoryBound in kernels/activation/activations.hpp); one
// input streamed that way ran ~6% slower (relu forward, 16M floats, 1 thread).
template <bool Lines = false, class T, class F, class... In>
inline void elementwise(T* out, std::size_t n, StoreHint hint, F&& f, const In*... in) {
  using V = vec_t<T>;
  constexpr std::size_t W = traits<V>::lanes;
  std::size_t i = 0;
  if (hint.stream) {
    // head: up to the first sizeof(V)-aligned destination
    const std::size_t misalign = reinterpret_cast<std::uintptr_t>(out) % sizeof(V);
    if (misalign % sizeof(T) == 0 && misalign != 0) {
      const std::size_t head = std::min(n, (sizeof(V) - misalign) / sizeof(T));
      apply_partial<V>(out, head, f, in...);
      i = head;
    }
    if (reinterpret_cast<std::uintptr_t>(out + i) % sizeof(V) == 0) {
      if constexpr (Lines && sizeof...(In) >= 2) {
        for (; i + W <= n; i += W) store_stream<V>(out + i, f(load_lines<V>(in + i)...));
      } else {
        for (; i + W <= n; i += W) store_stream<V>(out + i, f(load<V>(in + i)...));
      }
      if (!hint.defer_fence) stream_fence();
    }
  }
  for (; i + W <= n; i += W) store<V>(out + i, f(load<V>(in + i)...));
  if (i < n) {
    const std::size_t m = n - i;
    apply_partial<V>(out + i, m, f, (in + i)...);
  }
}

// Σ x[i] for i < n, in double, in a fixed order (lane-wise partial sums, then lanes in order).
template <class T>
inline double sum_fixed_order(const T* x, std::size_t n) {
  using V = vec_t<double>;
  constexpr std::size_t W = traits<V>::lanes;
  V acc = splat<V>(0.0);
  std::size_t i = 0;
  for (; i + W <= n; i += W) {
    V v;
    for (std::size_t k = 0; k < W; ++k) v[k] = static_cast<double>(x[i + k]);
    acc += v;
  }
  double s = 0.0;
  for (std::size_t k = 0; k < W; ++k) s += acc[k];
  for (; i < n; ++i) s += static_cast<double>(x[i]);
  return s;
}
