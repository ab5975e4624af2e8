// Normalization kernels (kernels/normalization/kernels.hpp says what each computes), written once over the element
// type T and the vector-or-scalar type V. Included inside the per-ISA namespace after simd/vec.hpp and
// kernels/elementwise.hpp.
//
// Statistics and gradient sums run in double: float lanes are widened (vcvtps2pd), so a float32 reduction over
// millions of elements keeps ~1e-16 relative error per addition. Maps (normalize, grad_input) run at T's full
// vector width through elementwise(), which treats the tail with the same vector code (padded), so an element's
// result does not depend on where it sits.

// ---- formulas (one definition each, V = vector or scalar) -----------------------------------------------------

// x̂·s + t with x − mean = (x − mh) − ml: exact to T's precision for |mean| ≫ std (Sterbenz: x − mh is exact when
// x and mh are within a factor 2; ml carries the part of the mean below T's precision).
template <class V>
inline V normalized(V x, V mh, V ml, V s, V t) {
  return ((x - mh) - ml) * s + t;
}

// dx = a·dy + d·b + c, d = (x − mh) − ml: every norm's input gradient, with
//   a = rstd·w,  b = −rstd³·Σ(g·d)/M,  c = −rstd·Σg/M   (g = dy·w, M = elements per statistic; RMSNorm: d = x, c = 0)
template <class V>
inline V input_gradient(V dy, V x, V mh, V ml, V a, V b, V c) {
  return a * dy + (((x - mh) - ml) * b + c);
}

// ---- double lanes ---------------------------------------------------------------------------------------------

inline constexpr std::size_t kDoubleLanes = traits<vd>::lanes;
// kDoubleLanes elements of p as doubles (one vcvtps2pd from memory for float).
template <class T>
inline vd load_wide(const T* p) {
  if constexpr (std::is_same_v<T, double>) {
    return load<vd>(p);
  } else {
#if defined(__AVX512F__)
    return (vd)_mm512_cvtps_pd(_mm256_loadu_ps(p));
#elif defined(__AVX__)
    return (vd)_mm256_cvtps_pd(_mm_loadu_ps(p));
#elif defined(__SSE2__)
    return (vd)_mm_cvtps_pd(_mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(p))));
#else
    vd v;
    for (std::size_t k = 0; k < kDoubleLanes; ++k) v[k] = static_cast<double>(p[k]);
    return v;
#endif
  }
}

// m < kDoubleLanes elements of p as doubles, the rest 0.
template <class T>
inline vd load_wide_partial(const T* p, std::size_t m) {
  T buf[kDoubleLanes] = {};
  std::memcpy(buf, p, m * sizeof(T));
  return load_wide(buf);
}

// lanes added in order
inline double lane_sum(vd v) {
  double s = 0.0;
  for (std::size_t k = 0; k < kDoubleLanes; ++k) s += v[k];
  return s;
}

// ---- span reductions -----------------------------------------------------------------------------------------

// Σ f(x[i], ...) in double for i < n: four vector accumulators (f(V...) adds into them), combined ((a0 + a1) +
// (a2 + a3)), lanes in order, then the scalar tail in order. `f(acc, i)` adds element block i (width of acc).
template <class Step>
inline void reduce_span(std::size_t n, Step&& step) {
  constexpr std::size_t L = kDoubleLanes;
  std::size_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
    step(0, i);
    step(1, i + L);
    step(2, i + 2 * L);
    step(3, i + 3 * L);
  }
  for (; i + L <= n; i += L) step(0, i);
}

template <class T>
Moments span_moments(const T* x, std::size_t n) {
  constexpr std::size_t L = kDoubleLanes;
  const std::size_t nv = n / L * L;  // elements in whole vectors
  const double dn = static_cast<double>(n);
  // pass 1: Σx → mean
  vd s[4] = {splat<vd>(0.0), splat<vd>(0.0), splat<vd>(0.0), splat<vd>(0.0)};
  reduce_span(n, [&](int a, std::size_t i) { s[a] += load_wide(x + i); });
  double sum = lane_sum((s[0] + s[1]) + (s[2] + s[3]));
  for (std::size_t i = nv; i < n; ++i) sum += static_cast<double>(x[i]);
  const double mean = sum / dn;
  // pass 2: Σd and Σd², d = x − mean
  const vd m = splat<vd>(mean);
  vd sd[4] = {splat<vd>(0.0), splat<vd>(0.0), splat<vd>(0.0), splat<vd>(0.0)};
  vd q[4] = {splat<vd>(0.0), splat<vd>(0.0), splat<vd>(0.0), splat<vd>(0.0)};
  reduce_span(n, [&](int a, std::size_t i) {
    const vd d = load_wide(x + i) - m;
    sd[a] += d;
    q[a] += d * d;
  });
  double sdt = lane_sum((sd[0] + sd[1]) + (sd[2] + sd[3]));
  double qt = lane_sum((q[0] + q[1]) + (q[2] + q[3]));
  for (std::size_t i = nv; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - mean;
    sdt += d;
    qt += d * d;
  }
  // corrected two-pass: Σ(x − mean')² = Σd² − (Σd)²/n with mean' = mean + Σd/n
  return {dn, mean + sdt / dn, std::max(0.0, qt - sdt * sdt / dn)};
}

template <class T>
double span_sum_squares(const T* x, std::size_t n) {
  constexpr std::size_t L = kDoubleLanes;
  vd q[4] = {splat<vd>(0.0), splat<vd>(0.0), splat<vd>(0.0), splat<vd>(0.0)};
  reduce_span(n, [&](int a, std::size_t i) {
    const vd v = load_wide(x + i);
    q[a] += v * v;
  });
  double qt = lane_sum((q[0] + q[1]) + (q[2] + q[3]));
  for (std::size_t i = n / L * L; i < n; ++i) qt += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  return qt;
}

// Σg and Σg·d (g = dy·w, d = x − mean); optionally acc_w[i] += dy·d·rstd, acc_b[i] += dy.
template <class T, bool HasW, bool AccW, bool AccB>
GradSums span_grad_sums_impl(const T* dy, const T* x, const T* w, std::size_t n, double mean, double rstd,
                             double* acc_w, double* acc_b) {
  constexpr std::size_t L = kDoubleLanes;
  const std::size_t nv = n / L * L;
  // one element block: V = vd with loads, or double for the tail; aw, ab point at the block's accumulators
  auto term = [&](auto dyv, auto xv, auto wv, auto m, auto r, double* aw, double* ab, auto& sg, auto& sgd) {
    using V = decltype(dyv);
    const V d = xv - m;
    V g = dyv;
    if constexpr (HasW) g = dyv * wv;
    sg += g;
    sgd += g * d;
    if constexpr (AccW) {
      if constexpr (is_scalar_v<V>) *aw += dyv * d * r; else store<V>(aw, load<V>(aw) + dyv * d * r);
    }
    if constexpr (AccB) {
      if constexpr (is_scalar_v<V>) *ab += dyv; else store<V>(ab, load<V>(ab) + dyv);
    }
  };
  auto at = [](double* p, std::size_t i) { return p == nullptr ? p : p + i; };
  const vd mv = splat<vd>(mean), rv = splat<vd>(rstd), one = splat<vd>(1.0);
  vd sg[4] = {splat<vd>(0.0), splat<vd>(0.0), splat<vd>(0.0), splat<vd>(0.0)};
  vd sgd[4] = {splat<vd>(0.0), splat<vd>(0.0), splat<vd>(0.0), splat<vd>(0.0)};
  reduce_span(n, [&](int a, std::size_t i) {
    term(load_wide(dy + i), load_wide(x + i), HasW ? load_wide(w + i) : one, mv, rv, at(acc_w, i), at(acc_b, i),
         sg[a], sgd[a]);
  });
  GradSums r{lane_sum((sg[0] + sg[1]) + (sg[2] + sg[3])), lane_sum((sgd[0] + sgd[1]) + (sgd[2] + sgd[3]))};
  for (std::size_t i = nv; i < n; ++i)
    term(static_cast<double>(dy[i]), static_cast<double>(x[i]), HasW ? static_cast<double>(w[i]) : 1.0, mean, rstd,
         at(acc_w, i), at(acc_b, i), r.g, r.gd);
  return r;
}

template <class T>
GradSums span_grad_sums(const T* dy, const T* x, const T* w, std::size_t n, double mean, double rstd, double* acc_w,
                        double* acc_b) {
  const int kind = (w != nullptr ? 4 : 0) + (acc_w != nullptr ? 2 : 0) + (acc_b != nullptr ? 1 : 0);
  switch (kind) {
    case 0: return span_grad_sums_impl<T, false, false, false>(dy, x, w, n, mean, rstd, acc_w, acc_b);
    case 1: return span_grad_sums_impl<T, false, false, true>(dy, x, w, n, mean, rstd, acc_w, acc_b);
    case 2: return span_grad_sums_impl<T, false, true, false>(dy, x, w, n, mean, rstd, acc_w, acc_b);
    case 3: return span_grad_sums_impl<T, false, true, true>(dy, x, w, n, mean, rstd, acc_w, acc_b);
    case 4: return span_grad_sums_impl<T, true, false, false>(dy, x, w, n, mean, rstd, acc_w, acc_b);
    case 5: return span_grad_sums_impl<T, true, false, true>(dy, x, w, n, mean, rstd, acc_w, acc_b);
    case 6: return span_grad_sums_impl<T, true, true, false>(dy, x, w, n, mean, rstd, acc_w, acc_b);
    default: return span_grad_sums_impl<T, true, true, true>(dy, x, w, n, mean, rstd, acc_w, acc_b);
  }
}

// ---- column reductions ---------------------------------------------------------------------------------------

// For each row r < rows: f(row pointer, j, v) for the double blocks j = 0, L, ... of the row's first cols
// elements (the last block zero-padded).
template <class T, class F>
inline void for_column_blocks(const T* x, std::size_t rows, std::size_t cols, std::size_t ld, F&& f) {
  constexpr std::size_t L = kDoubleLanes;
  const std::size_t full = cols / L * L;
  for (std::size_t r = 0; r < rows; ++r) {
    const T* row = x + r * ld;
    for (std::size_t j = 0; j < full; j += L) f(r, j, load_wide(row + j));
    if (full < cols) f(r, full, load_wide_partial(row + full, cols - full));
  }
}

template <class T>
void col_moments(double* mean, double* m2, const T* x, std::size_t rows, std::size_t cols, std::size_t ld,
                 double* scratch) {
  constexpr std::size_t L = kDoubleLanes;
  const std::size_t P = (cols + L - 1) / L * L;  // padded columns
  double* s = scratch;
  double* q = scratch + P;
  double* mu = scratch + 2 * P;
  const double dn = static_cast<double>(rows);
  // pass 1: Σx per column → mean
  std::fill(s, s + P, 0.0);
  for_column_blocks(x, rows, cols, ld, [&](std::size_t, std::size_t j, vd v) { store<vd>(s + j, load<vd>(s + j) + v); });
  for (std::size_t j = 0; j < P; ++j) mu[j] = s[j] / dn;
  // pass 2: Σd, Σd² per column
  std::fill(s, s + P, 0.0);
  std::fill(q, q + P, 0.0);
  for_column_blocks(x, rows, cols, ld, [&](std::size_t, std::size_t j, vd v) {
    const vd d = v - load<vd>(mu + j);
    store<vd>(s + j, load<vd>(s + j) + d);
    store<vd>(q + j, load<vd>(q + j) + d * d);
  });
  for (std::size_t c = 0; c < cols; ++c) {
    mean[c] = mu[c] + s[c] / dn;
    m2[c] = std::max(0.0, q[c] - s[c] * s[c] / dn);
  }
}

template <class T>
void col_grad_sums(double* g, double* gd, const T* dy, const T* x, std::size_t rows, std::size_t cols, std::size_t ld,
                   const double* mean, double* scratch) {
  constexpr std::size_t L = kDoubleLanes;
  const std::size_t P = (cols + L - 1) / L * L;
  double* sg = scratch;
  double* sgd = scratch + P;
  double* mu = scratch + 2 * P;
  std::fill(sg, sg + 2 * P, 0.0);
  std::fill(mu, mu + P, 0.0);
  std::copy(mean, mean + cols, mu);
  const std::size_t full = cols / L * L;
  for (std::size_t r = 0; r < rows; ++r) {
    const T* dyr = dy + r * ld;
    const T* xr = x + r * ld;
    auto step = [&](std::size_t j, vd dyv, vd xv) {
      store<vd>(sg + j, load<vd>(sg + j) + dyv);
      store<vd>(sgd + j, load<vd>(sgd + j) + dyv * (xv - load<vd>(mu + j)));
    };
    for (std::size_t j = 0; j < full; j += L) step(j, load_wide(dyr + j), load_wide(xr + j));
    if (full < cols) step(full, load_wide_partial(dyr + full, cols - full), load_wide_partial(xr + full, cols - full));
  }
  std::copy(sg, sg + cols, g);
  std::copy(sgd, sgd + cols, gd);
}

// ---- maps -----------------------------------------------------------------------------------------------------

// The span constants are broadcast once, outside the loop (elementwise() hands the lambda whole vectors only: the
// tail is a zero-padded vector).
template <class T>
void span_normalize(T* y, const T* x, const T* w, const T* b, std::size_t n, const SpanAffine<T>& k, StoreHint h) {
  using V = vec_t<T>;
  const V mh = splat<V>(k.mh), ml = splat<V>(k.ml), s = splat<V>(k.s), t = splat<V>(k.t);
  if (w != nullptr && b != nullptr) {
    elementwise(y, n, h, [&](V xv, V wv, V bv) { return normalized(xv, mh, ml, s * wv, bv); }, x, w, b);
  } else if (w != nullptr) {
    elementwise(y, n, h, [&](V xv, V wv) { return normalized(xv, mh, ml, s * wv, t); }, x, w);
  } else if (b != nullptr) {
    elementwise(y, n, h, [&](V xv, V bv) { return normalized(xv, mh, ml, s, bv); }, x, b);
  } else {
    elementwise(y, n, h, [&](V xv) { return normalized(xv, mh, ml, s, t); }, x);
  }
}

template <class T>
void span_grad_input(T* dx, const T* dy, const T* x, const T* w, std::size_t n, const SpanGrad<T>& k, StoreHint h) {
  using V = vec_t<T>;
  const V mh = splat<V>(k.mh), ml = splat<V>(k.ml), a = splat<V>(k.a), b = splat<V>(k.b), c = splat<V>(k.c);
  if (w != nullptr) {
    elementwise(dx, n, h, [&](V dyv, V xv, V wv) { return input_gradient(dyv, xv, mh, ml, a * wv, b, c); }, dy, x, w);
  } else {
    elementwise(dx, n, h, [&](V dyv, V xv) { return input_gradient(dyv, xv, mh, ml, a, b, c); }, dy, x);
  }
}

// Rows of a (rows, cols) block with per-column coefficient arrays: whole vectors, then the row's zero-padded tail.
// Non-temporal stores where the row is aligned to the vector (a fence at the end).
template <class T, class F, class... Coef>
inline void map_cols(T* out, std::size_t rows, std::size_t cols, std::size_t ld, StoreHint h, F&& f,
                     const Coef*... coef) {
  using V = vec_t<T>;
  constexpr std::size_t W = traits<V>::lanes;
  const std::size_t full = cols / W * W;
  bool streamed = false;
  for (std::size_t r = 0; r < rows; ++r) {
    T* o = out + r * ld;
    if (h.stream && reinterpret_cast<std::uintptr_t>(o) % sizeof(V) == 0) {
      for (std::size_t j = 0; j < full; j += W) store_stream<V>(o + j, f(r, j, load<V>(coef + j)...));
      streamed = true;
    } else {
      for (std::size_t j = 0; j < full; j += W) store<V>(o + j, f(r, j, load<V>(coef + j)...));
    }
    if (full < cols) {
      const std::size_t m = cols - full;
      auto pad = [m](const T* p) {
        V v = splat<V>(T(0));
        std::memcpy(&v, p, m * sizeof(T));
        return v;
      };
      const V res = f(r, full, pad(coef + full)...);
      std::memcpy(o + full, &res, m * sizeof(T));
    }
  }
  if (streamed) stream_fence();
}

// the row r's vector at column j of a (rows, ld) array, zero-padded past cols
template <class T>
inline vec_t<T> load_at(const T* p, std::size_t r, std::size_t j, std::size_t cols, std::size_t ld) {
  using V = vec_t<T>;
  const T* q = p + r * ld + j;
  if (j + traits<V>::lanes <= cols) return load<V>(q);
  V v = splat<V>(T(0));
  std::memcpy(&v, q, (cols - j) * sizeof(T));
  return v;
}

template <class T>
void cols_normalize(T* y, const T* x, std::size_t rows, std::size_t cols, std::size_t ld, const ColAffine<T>& k,
                    StoreHint h) {
  using V = vec_t<T>;
  map_cols(y, rows, cols, ld, h, [&](std::size_t r, std::size_t j, V mh, V ml, V s, V t) {
    return normalized(load_at(x, r, j, cols, ld), mh, ml, s, t);
  }, k.mh, k.ml, k.s, k.t);
}

template <class T>
void cols_grad_input(T* dx, const T* dy, const T* x, std::size_t rows, std::size_t cols, std::size_t ld,
                     const ColGrad<T>& k, StoreHint h) {
  using V = vec_t<T>;
  map_cols(dx, rows, cols, ld, h, [&](std::size_t r, std::size_t j, V mh, V ml, V a, V b, V c) {
    return input_gradient(load_at(dy, r, j, cols, ld), load_at(x, r, j, cols, ld), mh, ml, a, b, c);
  }, k.mh, k.ml, k.a, k.b, k.c);
}

template <class T>
NormKernels<T> make_norm_kernels() {
  NormKernels<T> k{};
  k.moments = &span_moments<T>;
  k.sum_squares = &span_sum_squares<T>;
  k.col_moments = &col_moments<T>;
  k.normalize = &span_normalize<T>;
  k.normalize_cols = &cols_normalize<T>;
  k.grad_sums = &span_grad_sums<T>;
  k.col_grad_sums = &col_grad_sums<T>;
  k.grad_input = &span_grad_input<T>;
  k.grad_input_cols = &cols_grad_input<T>;
  return k;
}
