// Normalization kernels (kernels/normalization/kernels.hpp says what each computes), written once over the element
// type T and the vector-or-scalar type V. Included inside the per-ISA namespace after simd/vec.hpp and
// kernels/elementwise.hpp.
//
// Statistics and gradient sums run in double: float lanes are widened (vcvtps2pd), so a float32 reduction keeps
// ~1e-16 relative error per addition. Two exceptions: the unfused LayerNorm/RMSNorm parameter-gradient partials
// add 16 rows in float before they go into double (see rows_param_grads_float), and the backward's span sums of
// float input add float terms, 8 to a partial, before they go into double (see NarrowGradSums).
// Maps (normalize, grad_input) run at T's full vector width through map_block(),
// which treats partial vectors with the same vector code (zero-padded), so an element's result does not depend on
// where it sits. (The generic elementwise() is not used: it fences after every call.)

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

// ---- stores ----------------------------------------------------------------------------------------------------

// Whether a loop writing whole vectors from p on streams them: h asks for it and p is aligned to a vector.
template <class V>
inline bool streams_to(const scalar_t<V>* p, StoreHint h) {
  return h.stream && reinterpret_cast<std::uintptr_t>(p) % sizeof(V) == 0;
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
  if constexpr (std::is_same_v<T, double>) {
    return load_first<vd>(p, m);
  } else {
#if defined(__AVX512F__) && defined(__AVX512VL__)
    return (vd)_mm512_cvtps_pd(_mm256_maskz_loadu_ps(static_cast<__mmask8>((1u << m) - 1), p));
#elif defined(__AVX2__)
    const __m128i k = _mm_cmpgt_epi32(_mm_set1_epi32(static_cast<int>(m)), _mm_setr_epi32(0, 1, 2, 3));
    return (vd)_mm256_cvtps_pd(_mm_maskload_ps(p, k));
#endif
    T buf[kDoubleLanes] = {};
    std::memcpy(buf, p, m * sizeof(T));
    return load_wide(buf);
  }
}

// Stores kDoubleLanes elements of v at p (narrowed to float for float T).
template <class T>
inline void store_wide(T* p, vd v) {
  if constexpr (std::is_same_v<T, double>) {
    store<vd>(p, v);
  } else {
#if defined(__AVX512F__)
    _mm256_storeu_ps(p, _mm512_cvtpd_ps((__m512d)v));
#elif defined(__AVX__)
    _mm_storeu_ps(p, _mm256_cvtpd_ps((__m256d)v));
#else
    for (std::size_t k = 0; k < kDoubleLanes; ++k) p[k] = static_cast<T>(v[k]);
#endif
  }
}

// Every lane the sum of its aligned group of G lanes (G a power of two ≤ the lanes), as a butterfly: lane k +
// lane k ^ h for h = 1, 2, ..., G/2 (the two lanes of a pair add the same values, so a group's lanes agree bit for
// bit).
template <std::size_t G>
inline vd group_sums(vd v) {
  if constexpr (G > 1) {
    v = group_sums<G / 2>(v);
    int_t<vd> swap;
    for (std::size_t k = 0; k < kDoubleLanes; ++k) swap[k] = static_cast<std::int64_t>(k ^ (G / 2));
    v = v + __builtin_shuffle(v, swap);
  }
  return v;
}

// Lane j = the sum of v[j]'s lanes, for kDoubleLanes vectors v (modified): pairs of vectors H apart are folded
// into one, lanes k and k + H of each side by side (fold_mask), for H = half the lanes down to 1, until every
// lane holds one vector's total; a fixed order per lane. One shuffle pair and addition per fold: 7 for 8 vectors,
// against 48 for a butterfly per vector.
template <std::size_t H, bool Lo, std::size_t... K>
constexpr int_t<vd> fold_mask(std::index_sequence<K...>) {
  constexpr std::size_t Wd = kDoubleLanes;
  return int_t<vd>{static_cast<std::int64_t>(K / H % 2 == 0 ? (Lo ? K : K + H) : (Lo ? Wd + K - H : Wd + K))...};
}
template <std::size_t H = kDoubleLanes / 2>
inline vd lane_totals(vd* v) {
  if constexpr (H == 0) {
    return v[0];
  } else {
    constexpr int_t<vd> lo = fold_mask<H, true>(std::make_index_sequence<kDoubleLanes>{});
    constexpr int_t<vd> hi = fold_mask<H, false>(std::make_index_sequence<kDoubleLanes>{});
#pragma GCC unroll 8
    for (std::size_t i = 0; i < H; ++i)
      v[i] = __builtin_shuffle(v[i], v[i + H], lo) + __builtin_shuffle(v[i], v[i + H], hi);
    return lane_totals<H / 2>(v);
  }
}

// The lanes added as a tree, halves first: lane k + lane k + L/2, and so on (8 lanes:
// ((v0 + v4) + (v2 + v6)) + ((v1 + v5) + (v3 + v7))). A sequential sum was a chain of 8 dependent additions per
// reduction, which dominated the gradient sums of small planes.
inline double lane_sum(vd v) {
#if defined(__AVX512F__)
  const __m256d a = _mm256_add_pd(_mm512_castpd512_pd256((__m512d)v), _mm512_extractf64x4_pd((__m512d)v, 1));
  const __m128d b = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
  return b[0] + b[1];
#else
  double w[kDoubleLanes];
  for (std::size_t k = 0; k < kDoubleLanes; ++k) w[k] = v[k];
  for (std::size_t h = kDoubleLanes / 2; h >= 1; h /= 2)
    for (std::size_t k = 0; k < h; ++k) w[k] = w[k] + w[k + h];
  return w[0];
#endif
}

// ---- span reductions -----------------------------------------------------------------------------------------

// Hint: bring the line of element i of p into L2. A prefetch never faults, so i may run past the array (the
// address is formed as an integer). Inline assembly on x86: GCC 12 left no trace of __builtin_prefetch in
// these kernels' object code.
template <class T>
inline void prefetch_l2(const T* p, std::size_t i) {
  const auto* a = reinterpret_cast<const char*>(reinterpret_cast<std::uintptr_t>(p) + i * sizeof(T));
#if defined(__x86_64__) || defined(__i386__)
  asm volatile("prefetcht1 %0" : : "m"(*a));
#else
  __builtin_prefetch(a, 0, 2);
#endif
}

// Spans are read from memory one after another (rows, planes): the lines Ahead bytes ahead of each block of
// reduce_span are brought into L2 for each input p. The hardware prefetchers stop at page boundaries, and a new
// span's first lines then waited on memory. C++ driver, 1 thread, float, 4 KiB ahead against none: instance norm
// (32, 64, 56, 56) backward 1.84–1.86 → 1.62–1.64 ms, group norm G=32 1.70–1.80 → 1.58–1.59 ms; 1 KiB ahead was
// slower than none, 6–8 KiB about the same as 4.
// The forward passes (moments, sums of squares; most normalize the previous span in the same loop) read further
// ahead, kPrefetchFwdBytes: C++ driver, 1 thread, time / copy time, best of 5 runs, 4 KiB → 16 KiB ahead (8 KiB
// in between): LayerNorm (8192, 1024) forward 1.10 → 0.88, RMSNorm 0.94 → 0.88, group norm (32, 64, 3136) G=32
// 1.25 → 0.91, instance norm 1.19 → 0.94, batch norm NCHW 1.66 → 1.52; 2 threads and spans below kPrefetchMinSpan
// unchanged. The backward passes did not gain from 8 or 16 KiB (instance norm's lost 6–15%).
// The pipelined backward (span_grad_sums_input) brought the next span into L1 (prefetcht0) from stop 22 (C++ driver,
// instance norm (32, 64, 3136) backward, 1 thread, time / copy, best of 5: 2.11–2.17 → 1.82–1.86); at stop 24, with
// its sums narrow, into L2 was the faster (C++ driver, medians of 5 alternations, into L1 → L2: instance norm
// (32, 64, 3136) 1 thread 3.12 → 2.28 ms, 2 threads 1.10 → 0.90; group norm G=32 3.11 → 2.68, 1.15 → 1.07).
// Into L1 everywhere cost batch norm's NCHW backward 9% and mixed the forwards' 2-thread times.
// Spans shorter than kPrefetchMinSpan elements are not prefetched: rows of a few hundred elements form one stream the
// hardware follows, and the prefetches only cost (LayerNorm (16384, 128) backward, 1 thread, 0.64 -> 0.68 ms).
inline constexpr std::size_t kPrefetchBytes = 4096, kPrefetchFwdBytes = 16384, kPrefetchMinSpan = 1024;
template <std::size_t Ahead = kPrefetchBytes, class T>
inline void prefetch_ahead(const T* p, std::size_t i, std::size_t bytes) {
  for (std::size_t o = 0; o < bytes; o += 64) prefetch_l2(p, i + (Ahead + o) / sizeof(T));
}

// The whole double vectors of a span reduction: step(a, i) adds the kDoubleLanes elements from i into accumulator a
// of four (interleaved, for latency); callers combine them ((a0 + a1) + (a2 + a3)), add the lanes in order, then the
// scalar tail from n / kDoubleLanes · kDoubleLanes in order: a fixed order for a given n. pf: the inputs read from
// memory, prefetched Ahead bytes ahead.
// block(i) runs after each block of four steps from i (reduce_span_blocks); it returns where the whole blocks ended.
template <std::size_t Ahead = kPrefetchBytes, class Step, class Block, class... P>
inline std::size_t reduce_span_blocks(std::size_t n, Step&& step, Block&& block, const P*... pf) {
  constexpr std::size_t L = kDoubleLanes;
  const bool ahead = n >= kPrefetchMinSpan;
  std::size_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
    if (ahead) (prefetch_ahead<Ahead>(pf, i, 4 * L * sizeof(P)), ...);
    step(0, i);
    step(1, i + L);
    step(2, i + 2 * L);
    step(3, i + 3 * L);
    block(i);
  }
  const std::size_t blocks_end = i;
  for (; i + L <= n; i += L) step(0, i);
  return blocks_end;
}
template <std::size_t Ahead = kPrefetchBytes, class Step, class... P>
inline void reduce_span(std::size_t n, Step&& step, const P*... pf) {
  reduce_span_blocks<Ahead>(n, step, [](std::size_t) {}, pf...);
}

// Moments by shifted sums in double: with d = x − K, mean = K + Σd/n and M2 = Σd² − (Σd)²/n. The shift K decides
// the accuracy (the subtraction cancels Σd²/M2 = 1 + (mean − K)²/var):
//  - double input: K = the mean from a first pass (the corrected two-pass algorithm; Σd ≈ 0 refines the mean);
//  - float input: K = the first value, one pass. Within a set of n values |x − mean| ≤ √(n − 1)·std, so the
//    cancellation factor is at most n and M2's relative error at most ≈ n²·2⁻⁵³: 7e-9 for the n ≤ 8192 of a
//    chunk, below float's 6e-8 (and ~1e-16 for typical data). x − K and (x − K)² are exact in double.
template <class T>
inline constexpr bool kTwoPass = std::is_same_v<T, double>;

// The float shift is a parameter (span_moments_from: first = x[0], read by the caller). Read here, at the start of
// the span, every shifted term waited for the span's first line, and a sweep of rows read from memory ran at half
// speed (C++ driver, (8192, 1024) float rows, moments alone: 290 ns per row with x[0] read here, 140 ns with x[0]
// read a row earlier, 115 ns unshifted; touching the line a row earlier and reading x[0] here did not help).
// planes_moments reads the next plane's first value a plane ahead.
// Σd and Σd² (d = x − K) of a span in double, accumulated as reduce_span steps them (step(a, i): the vector from
// i into accumulator a), then result(n): the accumulators combined, the lanes added, the scalar tail from
// n / kDoubleLanes · kDoubleLanes in order, and the moments.
template <class T>
struct ShiftedSums {
  const T* x;
  double K;
  vd k = splat<vd>(K);
  vd sd[4] = {splat<vd>(0.0), splat<vd>(0.0), splat<vd>(0.0), splat<vd>(0.0)};
  vd q[4] = {splat<vd>(0.0), splat<vd>(0.0), splat<vd>(0.0), splat<vd>(0.0)};
  void step(int a, std::size_t i) {
    const vd d = load_wide(x + i) - k;
    sd[a] += d;
    q[a] += d * d;
  }
  Moments result(std::size_t n) const {
    double sdt = lane_sum((sd[0] + sd[1]) + (sd[2] + sd[3]));
    double qt = lane_sum((q[0] + q[1]) + (q[2] + q[3]));
    for (std::size_t i = n / kDoubleLanes * kDoubleLanes; i < n; ++i) {
      const double d = static_cast<double>(x[i]) - K;
      sdt += d;
      qt += d * d;
    }
    const double dn = static_cast<double>(n);
    return {dn, K + sdt / dn, std::max(0.0, qt - sdt * sdt / dn)};
  }
};

template <class T>
Moments span_moments_from(const T* x, std::size_t n, double first) {
  if (n == 0) return {0.0, 0.0, 0.0};
  double K = first;
  if constexpr (kTwoPass<T>) {
    vd s[4] = {splat<vd>(0.0), splat<vd>(0.0), splat<vd>(0.0), splat<vd>(0.0)};
    reduce_span<kPrefetchFwdBytes>(n, [&](int a, std::size_t i) { s[a] += load_wide(x + i); }, x);
    double sum = lane_sum((s[0] + s[1]) + (s[2] + s[3]));
    for (std::size_t i = n / kDoubleLanes * kDoubleLanes; i < n; ++i) sum += static_cast<double>(x[i]);
    K = sum / static_cast<double>(n);
  }
  ShiftedSums<T> sums{x, K};
  reduce_span<kPrefetchFwdBytes>(n, [&](int a, std::size_t i) { sums.step(a, i); }, x);
  return sums.result(n);
}

template <class T>
Moments span_moments(const T* x, std::size_t n) {
  return span_moments_from(x, n, n > 0 ? static_cast<double>(x[0]) : 0.0);
}

// Σx² of a span in double, accumulated as reduce_span steps it (as ShiftedSums, unshifted and without Σx).
template <class T>
struct SquareSums {
  const T* x;
  vd q[4] = {splat<vd>(0.0), splat<vd>(0.0), splat<vd>(0.0), splat<vd>(0.0)};
  void step(int a, std::size_t i) {
    const vd v = load_wide(x + i);
    q[a] += v * v;
  }
  double result(std::size_t n) const {
    double qt = lane_sum((q[0] + q[1]) + (q[2] + q[3]));
    for (std::size_t i = n / kDoubleLanes * kDoubleLanes; i < n; ++i)
      qt += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    return qt;
  }
};

template <class T>
double span_sum_squares(const T* x, std::size_t n) {
  SquareSums<T> sums{x};
  reduce_span<kPrefetchFwdBytes>(n, [&](int a, std::size_t i) { sums.step(a, i); }, x);
  return sums.result(n);
}

// One element (V = vd or double) of one row of the gradient sums: sg += dy·w, sgd += (dy·d)·w (d = x − m; each
// an FMA). Returns dy·d, which the fused LayerNorm/RMSNorm parameter terms share (fused_param_term). Centered =
// false (RMSNorm): d = x and no Σg.
template <bool HasW, bool Centered = true, class V>
inline V grad_term(V dy, V x, V w, V m, V& sg, V& sgd) {
  const V p = Centered ? dy * (x - m) : dy * x;
  if constexpr (HasW) {
    if constexpr (Centered) sg = sg + dy * w;
    sgd = sgd + p * w;
  } else {
    if constexpr (Centered) sg += dy;
    sgd += p;
  }
  return p;
}

// One element of one row of the parameter-gradient partials: aw += dy·d·r, ab += dy (d = x − m).
template <bool AccW, bool AccB, class V>
inline void param_term(V dy, V x, V m, V r, V& aw, V& ab) {
  if constexpr (AccW) aw = aw + dy * (x - m) * r;
  if constexpr (AccB) ab = ab + dy;
}

// param_term with p = dy·d from grad_term: aw += p·r (one FMA), ab += dy.
template <bool AccW, bool AccB, class V>
inline void fused_param_term(V dy, V p, V r, V& aw, V& ab) {
  if constexpr (AccW) aw = aw + p * r;
  if constexpr (AccB) ab = ab + dy;
}

// ---- narrow gradient sums (float input) -------------------------------------------------------------------

// A float vector of kDoubleLanes lanes (half a vd): the backward's first pass of float input in float terms.
typedef float vfn __attribute__((vector_size(sizeof(vd) / 2)));
inline vfn load_narrow(const float* p) {
  vfn v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline vd widen(vfn v) {
#if defined(__AVX512F__)
  return (vd)_mm512_cvtps_pd((__m256)v);
#else
  return __builtin_convertvector(v, vd);
#endif
}

// The gradient sums of float input with float terms: g = dy·w and g·x̂, x̂ = (x − mh)·r (mh: the mean rounded to
// float, r: rstd; Centered = false: x̂ = x·r), each vector of terms added into one of four float partials, which are
// combined ((p0 + p1) + (p2 + p3)) and added into double every kNarrowBlocks blocks of reduce_span: a partial lane
// adds at most 8 float terms before it goes into double. Widening each dy and x instead (vcvtps2pd, 2 cycles per 8
// values on Zen 4) was most of the backward's first pass. x̂ keeps the terms near the size of dy, far from float's
// overflow and underflow for any scale of x (d = x − mean itself: σ = 1e-20 made dy·d vanish). Error: each term
// within 3 float roundings, each partial within 7 more of its terms' magnitude; Σg·x̂ then carries the relative error
// of a sum of 8-term float partials, against float's own rounding of the dx it feeds (tools/accuracy.py, tests:
// float64 references). The span's scalar tail is in double, as the wide sums.
inline constexpr std::size_t kNarrowBlocks = 2;
template <bool HasW, bool Centered>
struct NarrowGradSums {
  const float *dy, *x, *w;
  vfn mh, r;
  vfn g[4] = {}, p[4] = {};
  vd G = {}, P = {};
  std::size_t blocks = 0;
  NarrowGradSums(const float* dy_, const float* x_, const float* w_, float mh_, float r_)
      : dy(dy_), x(x_), w(w_), mh(vfn{} + mh_), r(vfn{} + r_) {}
  // adds the terms of the vector from i into partial a; returns dy and dy·x̂ (the parameter-gradient terms)
  std::pair<vfn, vfn> step(int a, std::size_t i) {
    const vfn dv = load_narrow(dy + i), xh = (Centered ? load_narrow(x + i) - mh : load_narrow(x + i)) * r;
    const vfn q = dv * xh;
    if constexpr (HasW) {
      const vfn wv = load_narrow(w + i);
      if constexpr (Centered) g[a] += dv * wv;
      p[a] += q * wv;
    } else {
      if constexpr (Centered) g[a] += dv;
      p[a] += q;
    }
    return {dv, q};
  }
  void flush() {
    if constexpr (Centered) G += widen((g[0] + g[1]) + (g[2] + g[3]));
    P += widen((p[0] + p[1]) + (p[2] + p[3]));
    for (int a = 0; a < 4; ++a) g[a] = p[a] = vfn{};
    blocks = 0;
  }
  void block_end() {
    if (++blocks == kNarrowBlocks) flush();
  }
  // Σg and Σg·(x − mean): Σg·(x − mh) = Σg·x̂ / r, less (mean − mh)·Σg
  GradSums result(double mean) {
    flush();
    const double sg = lane_sum(G), sp = lane_sum(P) / static_cast<double>(r[0]);
    return {sg, Centered ? sp - (mean - static_cast<double>(mh[0])) * sg : sp};
  }
};

// Whether the narrow sums serve a span of n elements with this rstd: n of at least kNarrowMinSpan (shorter spans
// spent more on the flushes and the setup than they saved: C++ driver, 1 thread, group norm backward (1024, 64, 4)
// G=32, segments of 8, 295 -> 417 us; instance norm planes of 64 119 -> 137 us, of 128 184 -> 175 us) and rstd a
// normal float (x̂ = (x − mh)·r in float, Σg·x̂ divided by r). Statistics that do not fit the data (x̂ overflowing)
// give non-finite sums, which grad_sums_impl redoes wide.
inline constexpr std::size_t kNarrowMinSpan = 128;
inline bool narrow_span(std::size_t n, double rstd) {
  return n >= kNarrowMinSpan && std::isnormal(static_cast<float>(rstd));
}
inline bool finite_sums(const GradSums& s) { return std::isfinite(s.g) && std::isfinite(s.gd); }

// The scalar tail [from, n) of a span's gradient sums (and parameter terms), in double, in order.
template <class T, bool HasW, bool AccW, bool AccB, bool Centered, class A>
inline void grad_sums_tail(GradSums& s, const T* dy, const T* x, const T* w, std::size_t from, std::size_t n,
                           double mean, double rstd, A* acc_w, A* acc_b) {
  for (std::size_t i = from; i < n; ++i) {
    const double dv = static_cast<double>(dy[i]), xv = static_cast<double>(x[i]);
    const double p = grad_term<HasW, Centered>(dv, xv, HasW ? static_cast<double>(w[i]) : 1.0, mean, s.g, s.gd);
    if constexpr (AccW || AccB) {
      double aw = AccW ? static_cast<double>(acc_w[i]) : 0.0, ab = AccB ? static_cast<double>(acc_b[i]) : 0.0;
      fused_param_term<AccW, AccB>(dv, p, rstd, aw, ab);
      if constexpr (AccW) acc_w[i] = static_cast<A>(aw);
      if constexpr (AccB) acc_b[i] = static_cast<A>(ab);
    }
  }
}

// Σg and Σg·d (g = dy·w, d = x − mean) of one span in double (double input; float input where the narrow sums do
// not serve), whole double vectors in reduce_span's order, then the tail in order. One row per sweep (two rows at
// once ran the LayerNorm backward's first pass ~1.6× slower), both inputs prefetched kPrefetchBytes ahead (see
// reduce_span).
// AccW/AccB: the span is a row of LayerNorm/RMSNorm (or a group norm segment) and its parameter-gradient terms are
// added on the way, acc_w[i] += dy·d·rstd, acc_b[i] += dy, sharing the loaded dy and x; rows_backward says for
// which rows. Centered = false (RMSNorm): mean = 0, Σg not computed (0).
template <class T, bool HasW, bool AccW, bool AccB, bool Centered>
GradSums wide_grad_sums(const T* dy, const T* x, const T* w, std::size_t n, double mean, double rstd, double* acc_w,
                        double* acc_b) {
  constexpr std::size_t L = kDoubleLanes;
  const vd one = splat<vd>(1.0), z = splat<vd>(0.0), mv = splat<vd>(mean), rv = splat<vd>(rstd);
  vd sg[4] = {z, z, z, z}, sgd[4] = {z, z, z, z};
  GradSums s{0.0, 0.0};  // spans of no whole double vector (group norm's tiny planes): the tail alone
  if (n >= L) {
    reduce_span(n, [&](int a, std::size_t i) {
      const vd dv = load_wide(dy + i), xv = load_wide(x + i);
      const vd p = grad_term<HasW, Centered>(dv, xv, HasW ? load_wide(w + i) : one, mv, sg[a], sgd[a]);
      if constexpr (AccW || AccB) {
        vd aw = AccW ? load<vd>(acc_w + i) : z, ab = AccB ? load<vd>(acc_b + i) : z;
        fused_param_term<AccW, AccB>(dv, p, rv, aw, ab);
        if constexpr (AccW) store<vd>(acc_w + i, aw);
        if constexpr (AccB) store<vd>(acc_b + i, ab);
      }
    }, dy, x);
    s = {lane_sum((sg[0] + sg[1]) + (sg[2] + sg[3])), lane_sum((sgd[0] + sgd[1]) + (sgd[2] + sgd[3]))};
  }
  grad_sums_tail<T, HasW, AccW, AccB, Centered>(s, dy, x, w, n / L * L, n, mean, rstd, acc_w, acc_b);
  return s;
}

// The same sums of float input through NarrowGradSums, the parameter terms dy·x̂ and dy added into acc_w, acc_b:
// double accumulators (A = double; the terms widened) or float partials of a few rows (A = float, see
// segments_backward_impl); the scalar tail as wide_grad_sums.
template <class A>
inline void add_terms(A* acc, vfn t) {
  if constexpr (std::is_same_v<A, double>) {
    store<vd>(acc, load<vd>(acc) + widen(t));
  } else {
    const vfn v = load_narrow(acc) + t;
    std::memcpy(acc, &v, sizeof v);
  }
}
template <bool HasW, bool AccW, bool AccB, bool Centered, class A>
GradSums narrow_grad_sums(const float* dy, const float* x, const float* w, std::size_t n, double mean, double rstd,
                          A* acc_w, A* acc_b) {
  NarrowGradSums<HasW, Centered> sums(dy, x, w, Centered ? static_cast<float>(mean) : 0.0f, static_cast<float>(rstd));
  reduce_span_blocks(
      n,
      [&](int a, std::size_t i) {
        const auto [dv, q] = sums.step(a, i);
        if constexpr (AccW) add_terms(acc_w + i, q);
        if constexpr (AccB) add_terms(acc_b + i, dv);
      },
      [&](std::size_t) { sums.block_end(); }, dy, x);
  GradSums s = sums.result(mean);
  grad_sums_tail<float, HasW, AccW, AccB, Centered>(s, dy, x, w, n / kDoubleLanes * kDoubleLanes, n, mean, rstd,
                                                    acc_w, acc_b);
  return s;
}

// The gradient sums of one span: narrow for float input (narrow_span; float partials A: the caller checked), unless its float terms overflowed (then the sums again in double; the parameter terms
// stay as added) or the input holds NaN/Inf (the same NaN either way); wide otherwise.
template <class T, bool HasW, bool AccW = false, bool AccB = false, bool Centered = true, class A = double>
GradSums grad_sums_impl(const T* dy, const T* x, const T* w, std::size_t n, double mean, double rstd,
                        A* acc_w = nullptr, A* acc_b = nullptr) {
  if constexpr (std::is_same_v<T, float>) {
    if (std::is_same_v<A, float> || narrow_span(n, rstd)) {
      const GradSums s = narrow_grad_sums<HasW, AccW, AccB, Centered>(dy, x, w, n, mean, rstd, acc_w, acc_b);
      if (finite_sums(s)) return s;
      return wide_grad_sums<T, HasW, false, false, Centered>(dy, x, w, n, mean, rstd, nullptr, nullptr);
    }
  }
  if constexpr (std::is_same_v<A, double>) return wide_grad_sums<T, HasW, AccW, AccB, Centered>(dy, x, w, n, mean, rstd, acc_w, acc_b);
  __builtin_unreachable();
}

template <class T, bool HasW>
GradSums grad_sums_params_w(const T* dy, const T* x, const T* w, std::size_t n, double mean, double rstd,
                            double* acc_w, double* acc_b, bool centered) {
  if (!centered)  // RMSNorm: no dbias
    return acc_w != nullptr ? grad_sums_impl<T, HasW, true, false, false>(dy, x, w, n, 0.0, rstd, acc_w, acc_b)
                            : grad_sums_impl<T, HasW, false, false, false>(dy, x, w, n, 0.0, rstd);
  if (acc_w != nullptr && acc_b != nullptr)
    return grad_sums_impl<T, HasW, true, true>(dy, x, w, n, mean, rstd, acc_w, acc_b);
  if (acc_w != nullptr) return grad_sums_impl<T, HasW, true, false>(dy, x, w, n, mean, rstd, acc_w, acc_b);
  if (acc_b != nullptr) return grad_sums_impl<T, HasW, false, true>(dy, x, w, n, mean, rstd, acc_w, acc_b);
  return grad_sums_impl<T, HasW>(dy, x, w, n, mean, rstd);
}

template <class T>
GradSums span_grad_sums_params(const T* dy, const T* x, const T* w, std::size_t n, double mean, double rstd,
                               double* acc_w, double* acc_b, bool centered) {
  return w != nullptr ? grad_sums_params_w<T, true>(dy, x, w, n, mean, rstd, acc_w, acc_b, centered)
                      : grad_sums_params_w<T, false>(dy, x, w, n, mean, rstd, acc_w, acc_b, centered);
}

template <class T>
GradSums span_grad_sums(const T* dy, const T* x, const T* w, std::size_t n, double mean, double rstd, bool narrow) {
  // (without parameter terms rstd serves only the narrow sums: 0 turns them off)
  return span_grad_sums_params(dy, x, w, n, mean, narrow ? rstd : 0.0, static_cast<double*>(nullptr),
                               static_cast<double*>(nullptr), true);
}

// The scalar tail [nv, n) of rows_param_grads_impl: one out-of-line copy, so that the compiler contracts (FMA) it
// the same way wherever it is called from.
template <class T, bool AccW, bool AccB>
__attribute__((noinline)) void param_grads_tail(double* acc_w, double* acc_b, const T* dy, const T* x,
                                                std::size_t rows, std::size_t nv, std::size_t n, std::size_t ld,
                                                const double* mean, const double* rstd) {
  for (std::size_t i = nv; i < n; ++i) {
    double aw = AccW ? acc_w[i] : 0.0, ab = AccB ? acc_b[i] : 0.0;
    for (std::size_t q = 0; q < rows; ++q)
      param_term<AccW, AccB>(static_cast<double>(dy[q * ld + i]), static_cast<double>(x[q * ld + i]), mean[q],
                             rstd[q], aw, ab);
    if constexpr (AccW) acc_w[i] = aw;
    if constexpr (AccB) acc_b[i] = ab;
  }
}

// acc_w[i] += dy·(x − mean[q])·rstd[q] and acc_b[i] += dy over rows q in order (a block just read, so from
// cache): each accumulator vector is loaded and stored once per 4 rows (8 rows of two inputs at a 4 KiB stride
// would fill all 8 ways of an L1 set and thrash).
// Float input: the terms in float at full vector width (widening every dy and x, vcvtps2pd at 2 cycles per 8 values
// on Zen 4, was most of this pass), rows in order into float partials of at most kFloatParamRows rows per column,
// each partial then widened and added into the accumulators: ≤ 16 float additions per partial, ~1e-6 of the
// partial's magnitude at worst, then double. Columns in tiles of kParamTile (the partials stay in L1), each tile's
// rows in groups of 4 (8 rows of two inputs at a 4 KiB stride would fill all 8 ways of an L1 set and thrash).
// mean[q] and rstd[q] are float values (the saved statistics), so x − mean[q] and ·rstd[q] are float operations.
inline constexpr std::size_t kFloatParamRows = 16, kParamTile = 512;
template <bool AccW, bool AccB>
void rows_param_grads_float(double* acc_w, double* acc_b, const float* dy, const float* x, std::size_t rows,
                            std::size_t n, std::size_t ld, const double* mean, const double* rstd) {
  constexpr std::size_t W = traits<vf>::lanes, G = 4;
  const std::size_t nv = n / W * W;
  alignas(64) float pw[kParamTile], pb[kParamTile];
  float mf[kFloatParamRows], rf[kFloatParamRows];
  auto flush = [nv](double* acc, const float* part, std::size_t j0, std::size_t je) {
    for (std::size_t i = j0; i < je; i += W) {
      const vd2 a = widen(load<vf>(part + (i - j0)));
      store<vd>(acc + i, load<vd>(acc + i) + a.lo);
      store<vd>(acc + i + W / 2, load<vd>(acc + i + W / 2) + a.hi);
    }
  };
  for (std::size_t r0 = 0; r0 < rows; r0 += kFloatParamRows) {
    const std::size_t nr = std::min(kFloatParamRows, rows - r0);
    for (std::size_t q = 0; q < nr; ++q) {
      mf[q] = static_cast<float>(mean[r0 + q]);
      rf[q] = static_cast<float>(rstd[r0 + q]);
    }
    for (std::size_t j0 = 0; j0 < nv; j0 += kParamTile) {
      const std::size_t je = std::min(nv, j0 + kParamTile);
      for (std::size_t q0 = 0; q0 < nr; q0 += G) {
        const std::size_t qe = std::min(nr, q0 + G);
        for (std::size_t i = j0; i < je; i += W) {
          vf aw = q0 == 0 ? splat<vf>(0.0f) : load<vf>(pw + (i - j0));
          vf ab = q0 == 0 ? splat<vf>(0.0f) : load<vf>(pb + (i - j0));
          for (std::size_t q = q0; q < qe; ++q) {
            const std::size_t o = (r0 + q) * ld + i;
            const vf dv = load<vf>(dy + o);
            if constexpr (AccW) aw += dv * ((load<vf>(x + o) - mf[q]) * rf[q]);
            if constexpr (AccB) ab += dv;
          }
          if constexpr (AccW) store<vf>(pw + (i - j0), aw);
          if constexpr (AccB) store<vf>(pb + (i - j0), ab);
        }
      }
      if constexpr (AccW) flush(acc_w, pw, j0, je);
      if constexpr (AccB) flush(acc_b, pb, j0, je);
    }
  }
  param_grads_tail<float, AccW, AccB>(acc_w, acc_b, dy, x, rows, nv, n, ld, mean, rstd);
}

template <class T, bool AccW, bool AccB>
void rows_param_grads_impl(double* acc_w, double* acc_b, const T* dy, const T* x, std::size_t rows, std::size_t n,
                           std::size_t ld, const double* mean, const double* rstd) {
  if constexpr (std::is_same_v<T, float>) {
    rows_param_grads_float<AccW, AccB>(acc_w, acc_b, dy, x, rows, n, ld, mean, rstd);
    return;
  }
  constexpr std::size_t L = kDoubleLanes;
  const std::size_t nv = n / L * L;
  const vd z = splat<vd>(0.0);
  constexpr std::size_t G = 4;
  for (std::size_t q0 = 0; q0 < rows; q0 += G) {
    const std::size_t qe = std::min(rows, q0 + G);
    for (std::size_t i = 0; i < nv; i += L) {
      vd aw = AccW ? load<vd>(acc_w + i) : z, ab = AccB ? load<vd>(acc_b + i) : z;
      for (std::size_t q = q0; q < qe; ++q)
        param_term<AccW, AccB>(load_wide(dy + q * ld + i), load_wide(x + q * ld + i), splat<vd>(mean[q]),
                               splat<vd>(rstd[q]), aw, ab);
      if constexpr (AccW) store<vd>(acc_w + i, aw);
      if constexpr (AccB) store<vd>(acc_b + i, ab);
    }
  }
  param_grads_tail<T, AccW, AccB>(acc_w, acc_b, dy, x, rows, nv, n, ld, mean, rstd);
}

template <class T>
void rows_param_grads(double* acc_w, double* acc_b, const T* dy, const T* x, std::size_t rows, std::size_t n,
                      std::size_t ld, const double* mean, const double* rstd) {
  if (acc_w != nullptr && acc_b != nullptr) {
    rows_param_grads_impl<T, true, true>(acc_w, acc_b, dy, x, rows, n, ld, mean, rstd);
  } else if (acc_w != nullptr) {
    rows_param_grads_impl<T, true, false>(acc_w, acc_b, dy, x, rows, n, ld, mean, rstd);
  } else if (acc_b != nullptr) {
    rows_param_grads_impl<T, false, true>(acc_w, acc_b, dy, x, rows, n, ld, mean, rstd);
  }
}

// ---- column reductions ---------------------------------------------------------------------------------------

// Columns are reduced in strips of M double vectors (M ≤ 8: the strip's accumulators stay in registers), the
// block's rows swept once per strip in order (the block is re-read from L1/L2 once per strip; pf0, pf1 are the
// inputs whose next block of rows is prefetched meanwhile when the rows are strided, pf1 may be null). A strip of
// fewer than 4 vectors interleaves R = 4/M sets of accumulators over the rows (r ≡ 0, …, R − 1 mod R, combined
// as ((0 + 1) + (2 + 3))) so that at least 4 independent sums are in flight: a fixed order that depends only on
// the sizes. For each vector of columns from j:
//   init(j, at, a)             a = the vector's constant (shift or mean); at(p, r) = the vector at row r of a
//                              (rows, ld) input p, zero-padded past cols
//   step(at_r, a, b, c)        per row r, accumulating into b, c; at_r(p) = at(p, r)
//   done(j, a, b, c)
// f(std::integral_constant<std::size_t, i>) for i < N, unrolled at compile time (so that arrays indexed by i stay
// in registers)
template <class F, std::size_t... I>
inline void static_for_impl(F&& f, std::index_sequence<I...>) {
  (f(std::integral_constant<std::size_t, I>{}), ...);
}
template <std::size_t N, class F>
inline void static_for(F&& f) {
  static_for_impl(f, std::make_index_sequence<N>{});
}

template <class T, std::size_t M, bool Partial, class Init, class Step, class Done>
inline void col_strip(std::size_t rows, std::size_t cols, std::size_t ld, std::size_t j, const T* pf0, const T* pf1,
                      Init&& init, Step&& step, Done&& done) {
  constexpr std::size_t L = kDoubleLanes, R = M >= 4 ? 1 : 4 / M;
  constexpr std::size_t kLineVectors = 64 / (L * sizeof(T)) > 0 ? 64 / (L * sizeof(T)) : 1;
  // strided rows: the strip of the next block of rows (the next task of this thread, or of this tile), a pattern
  // the hardware prefetchers follow badly from DRAM; contiguous rows are one stream they follow well
  const bool prefetch = ld > M * L;
  auto prefetch_row = [&](std::size_t r) {
    for (std::size_t m = 0; m < M; m += kLineVectors) {
      prefetch_l2(pf0, (r + rows) * ld + j + m * L);
      if (pf1 != nullptr) prefetch_l2(pf1, (r + rows) * ld + j + m * L);
    }
  };
  auto at = [&](const T* p, std::size_t r, std::size_t m) {
    const std::size_t c = j + m * L;
    if constexpr (Partial) {
      if (m == M - 1) return load_wide_partial(p + r * ld + c, cols - c);
    }
    return load_wide(p + r * ld + c);
  };
  const vd z = splat<vd>(0.0);
  std::array<vd, M> a;
  std::array<std::array<vd, M>, R> b, c;
  static_for<M>([&](auto m) {
    init(j + m * L, [&](const T* p, std::size_t r) { return at(p, r, m); }, a[m]);
    static_for<R>([&](auto i) { b[i][m] = c[i][m] = z; });
  });
  std::size_t r = 0;
  for (; r + R <= rows; r += R) {
    static_for<R>([&](auto i) {
      if (prefetch) prefetch_row(r + i);
      static_for<M>([&](auto m) { step([&](const T* p) { return at(p, r + i, m); }, a[m], b[i][m], c[i][m]); });
    });
  }
  for (; r < rows; ++r)
    static_for<M>([&](auto m) { step([&](const T* p) { return at(p, r, m); }, a[m], b[0][m], c[0][m]); });
  auto combine = [](const std::array<std::array<vd, M>, R>& s, std::size_t m) {
    if constexpr (R == 4) {
      return (s[0][m] + s[1][m]) + (s[2][m] + s[3][m]);
    } else if constexpr (R == 2) {
      return s[0][m] + s[1][m];
    } else {
      return s[0][m];
    }
  };
  static_for<M>([&](auto m) { done(j + m * L, a[m], combine(b, m), combine(c, m)); });
}

// The columns of a block as strips of 8, 4, 2 and 1 whole vectors, then the partial one.
template <class T, class Init, class Step, class Done>
inline void col_groups(std::size_t rows, std::size_t cols, std::size_t ld, const T* pf0, const T* pf1, Init&& init,
                       Step&& step, Done&& done) {
  constexpr std::size_t L = kDoubleLanes;
  std::size_t j = 0;
  for (; j + 8 * L <= cols; j += 8 * L) col_strip<T, 8, false>(rows, cols, ld, j, pf0, pf1, init, step, done);
  if (j + 4 * L <= cols) {
    col_strip<T, 4, false>(rows, cols, ld, j, pf0, pf1, init, step, done);
    j += 4 * L;
  }
  if (j + 2 * L <= cols) {
    col_strip<T, 2, false>(rows, cols, ld, j, pf0, pf1, init, step, done);
    j += 2 * L;
  }
  if (j + L <= cols) {
    col_strip<T, 1, false>(rows, cols, ld, j, pf0, pf1, init, step, done);
    j += L;
  }
  if (j < cols) col_strip<T, 1, true>(rows, cols, ld, j, pf0, pf1, init, step, done);
}

// columns [j, min(j + L, cols)): stored from / loaded into the lanes of a vector
inline void store_cols(double* out, std::size_t j, std::size_t cols, vd v) {
  for (std::size_t k = 0; k < kDoubleLanes && j + k < cols; ++k) out[j + k] = v[k];
}
inline vd load_cols(const double* in, std::size_t j, std::size_t cols) {
  vd v = splat<vd>(0.0);
  for (std::size_t k = 0; k < kDoubleLanes && j + k < cols; ++k) v[k] = in[j + k];
  return v;
}

template <class T>
void col_moments(double* mean, double* m2, const T* x, std::size_t rows, std::size_t cols, std::size_t ld) {
  if (rows == 0) return;
  const vd n = splat<vd>(static_cast<double>(rows));
  // per vector of columns: k = the shift (span_moments says which), s = Σd, q = Σd², d = x − k
  col_groups<T>(rows, cols, ld, x, nullptr,
      [&](std::size_t, auto at, vd& k) {
        if constexpr (kTwoPass<T>) {
          vd sum = splat<vd>(0.0);
          for (std::size_t r = 0; r < rows; ++r) sum += at(x, r);
          k = sum / n;
        } else {
          k = at(x, 0);
        }
      },
      [&](auto at, const vd& k, vd& s, vd& q) {
        const vd d = at(x) - k;
        s += d;
        q += d * d;
      },
      [&](std::size_t j, vd k, vd s, vd q) {
        store_cols(mean, j, cols, k + s / n);
        const vd v = q - s * s / n;
        store_cols(m2, j, cols, v < 0.0 ? splat<vd>(0.0) : v);
      });
}

template <class T>
void col_grad_sums(double* g, double* gd, const T* dy, const T* x, std::size_t rows, std::size_t cols, std::size_t ld,
                   const double* mean) {
  // per vector of columns: m = mean, sg = Σdy, sgd = Σdy·(x − m)
  col_groups<T>(rows, cols, ld, dy, x,
      [&](std::size_t j, auto, vd& m) { m = load_cols(mean, j, cols); },
      [&](auto at, const vd& m, vd& sg, vd& sgd) {
        const vd d = at(dy);
        sg += d;
        sgd += d * (at(x) - m);
      },
      [&](std::size_t j, vd, vd sg, vd sgd) {
        store_cols(g, j, cols, sg);
        store_cols(gd, j, cols, sgd);
      });
}

// out[i] = f(at, col[i mod cols]...) for i < rows·cols over a contiguous (rows, cols) block, a vector at a time in
// address order: `at(p)` loads the vector at i of another input p of the block's shape; col are per-column arrays,
// extended periodically to cols + kColPad entries (col[c] = col[c mod cols]) so that a vector crossing a row end
// reads the next row's first columns. A span is the block (1, n) (no extension needed: vectors never wrap).
// Partial vectors (the streaming head up to the first aligned element, the tail) compute whole zero-padded vectors
// and store only their elements, so every element gets the same bits wherever it sits. Non-temporal stores when
// h.stream, without a fence: the caller fences once per thread (NormKernels::fence).
// map_block for rows of M whole vectors (cols = M·W): the column coefficients of a row stay in registers, loaded
// once (the generic loop reloads them per vector: the non-temporal stores may alias them). The same f on the same
// values: the same bits. Streamed inputs from memory (h.lines) are read by whole cache lines (load_lines): C++,
// 1 thread, batch norm (32, 64, 56, 56) channels-last forward 2.06–2.14 → 1.46–1.57 ms, backward 3.06–3.16 →
// 2.43–2.78 ms.
template <std::size_t M, class T, class F, class... Col>
inline void map_rows_in_registers(T* out, std::size_t rows, StoreHint h, F&& f, const Col*... col) {
  using V = vec_t<T>;
  constexpr std::size_t W = traits<V>::lanes;
  auto load_row = [](const auto* p) {
    std::array<V, M> a;
    for (std::size_t j = 0; j < M; ++j) a[j] = load<V>(p + j * W);
    return a;
  };
  const auto regs = std::make_tuple(load_row(col)...);
  auto rows_loop = [&](auto ld, auto st) {
    for (std::size_t o = 0; o < rows * M * W; o += M * W)
      for (std::size_t j = 0; j < M; ++j) {
        const std::size_t i = o + j * W;
        st(out + i, std::apply([&](const auto&... a) { return f([i, ld](const T* p) { return ld(p + i); }, a[j]...); },
                               regs));
      }
  };
  if (h.stream && h.lines)
    rows_loop([](const T* p) { return load_lines<V>(p); }, [](T* p, V v) { store_stream<V>(p, v); });
  else if (h.stream)
    rows_loop([](const T* p) { return load<V>(p); }, [](T* p, V v) { store_stream<V>(p, v); });
  else
    rows_loop([](const T* p) { return load<V>(p); }, [](T* p, V v) { store<V>(p, v); });
}

template <class T, class F, class... Col>
inline void map_block(T* out, std::size_t rows, std::size_t cols, StoreHint h, F&& f, const Col*... col) {
  using V = vec_t<T>;
  constexpr std::size_t W = traits<V>::lanes;
  const std::size_t n = rows * cols;
  if constexpr (sizeof...(Col) > 0) {
    const bool aligned = reinterpret_cast<std::uintptr_t>(out) % sizeof(V) == 0;
    if (rows > 1 && cols % W == 0 && (aligned || !h.stream)) {
      switch (cols / W) {
        case 1: return map_rows_in_registers<1>(out, rows, h, f, col...);
        case 2: return map_rows_in_registers<2>(out, rows, h, f, col...);
        case 3: return map_rows_in_registers<3>(out, rows, h, f, col...);
        case 4: return map_rows_in_registers<4>(out, rows, h, f, col...);
        default: break;
      }
    }
  }
  // i = element, c = its column; loop state is passed by value (by-reference captures kept it in memory)
  auto next = [cols](std::size_t c, std::size_t m) {
    c += m;
    while (c >= cols) c -= cols;
    return c;
  };
  auto padded = [](const T* p, std::size_t m) { return load_first<V>(p, m); };
  // captures by value: the non-temporal store intrinsics may alias anything, so state reached through a reference
  // would be reloaded after every store
  auto partial = [&f, out, padded, col...](std::size_t i, [[maybe_unused]] std::size_t c, std::size_t m) {
    const V res = f([i, m, padded](const T* p) { return padded(p + i, m); }, padded(col + c, m)...);
#if defined(__AVX512F__)
    store_first<V>(out + i, res, m);  // AVX-512 masked store: no call to memcpy per partial vector
#else
    std::memcpy(out + i, &res, m * sizeof(T));  // not store_first: AVX2's masked stores were slower on Zen 4
#endif
  };
  // lines: the streaming loop's inputs come from memory (h.lines), read by whole lines
  auto value = [&f, col...](std::size_t i, [[maybe_unused]] std::size_t c, auto lines) {
    return f([i](const T* p) { return decltype(lines)::value ? load_lines<V>(p + i) : load<V>(p + i); },
             load<V>(col + c)...);
  };
  std::size_t i = 0, c = 0;
  if (h.stream) {
    const std::size_t misalign = reinterpret_cast<std::uintptr_t>(out) % sizeof(V);
    if (misalign != 0 && misalign % sizeof(T) == 0 && n >= 16 * W) {
      const std::size_t m = std::min(n, (sizeof(V) - misalign) / sizeof(T));
      partial(0, 0, m);
      i = m;
      c = next(0, m);
    }
    if (reinterpret_cast<std::uintptr_t>(out + i) % sizeof(V) == 0) {
      if (h.lines)
        for (; i + W <= n; i += W, c = next(c, W)) store_stream<V>(out + i, value(i, c, std::true_type{}));
      else
        for (; i + W <= n; i += W, c = next(c, W)) store_stream<V>(out + i, value(i, c, std::false_type{}));
    }
  }
  for (; i + W <= n; i += W, c = next(c, W)) store<V>(out + i, value(i, c, std::false_type{}));
  if (i < n) partial(i, c, n - i);
}

// Span constants are broadcast once, outside the loop.
template <class T>
void span_normalize(T* y, const T* x, const T* w, const T* b, std::size_t n, const SpanAffine<T>& k, StoreHint h) {
  using V = vec_t<T>;
  const V mh = splat<V>(k.mh), ml = splat<V>(k.ml), s = splat<V>(k.s), t = splat<V>(k.t);
  if (w != nullptr && b != nullptr) {
    map_block(y, 1, n, h, [=](auto at, V wv, V bv) { return normalized(at(x), mh, ml, s * wv, bv); }, w, b);
  } else if (w != nullptr) {
    map_block(y, 1, n, h, [=](auto at, V wv) { return normalized(at(x), mh, ml, s * wv, t); }, w);
  } else if (b != nullptr) {
    map_block(y, 1, n, h, [=](auto at, V bv) { return normalized(at(x), mh, ml, s, bv); }, b);
  } else {
    map_block(y, 1, n, h, [=](auto at) { return normalized(at(x), mh, ml, s, t); });
  }
}

template <class T>
void span_grad_input(T* dx, const T* dy, const T* x, const T* w, std::size_t n, const SpanGrad<T>& k, StoreHint h) {
  using V = vec_t<T>;
  const V mh = splat<V>(k.mh), ml = splat<V>(k.ml), a = splat<V>(k.a), b = splat<V>(k.b), c = splat<V>(k.c);
  if (w != nullptr) {
    map_block(dx, 1, n, h, [=](auto at, V wv) { return input_gradient(at(dy), at(x), mh, ml, a * wv, b, c); }, w);
  } else {
    map_block(dx, 1, n, h, [=](auto at) { return input_gradient(at(dy), at(x), mh, ml, a, b, c); });
  }
}

// The forward of short segments (SegmentsForward): per segment, two passes in double lanes (the mean, then
// Σ(x − mean)²); y = (x − mean)·rstd·w + b in double. Segments of a multiple of the lanes go kDoubleLanes at a time:
// each summed over its vectors, the block's sums folded across lanes together (lane_totals: lane j = segment j),
// one square root and division for the block, and each block's statistics before the previous block's y (C++
// driver, 1 thread, group norm (16384, 64) G=8: a butterfly per segment 1450 µs, folded 990, overlapped 940).
// Shorter segments (L dividing the lanes) are several to a vector, summed by butterflies (group_sums).
template <class T, std::size_t G, bool HasW, bool HasB>
[[gnu::flatten]] void segments_forward_impl(const SegmentsForward<T>& a) {
  constexpr std::size_t Wd = kDoubleLanes;
  using I = int_t<vd>;
  T* const y = a.y;
  const T *const x = a.x, *const w = a.w, *const b = a.b;
  double *const mean_out = a.mean, *const m2_out = a.m2, *const rstd_out = a.rstd;
  const std::size_t L = a.L, n = a.rows * a.segs, row = a.segs * a.L;
  const vd len = splat<vd>(static_cast<double>(L)), inv_len = splat<vd>(1.0 / static_cast<double>(L));
  const vd eps = splat<vd>(a.eps), one = splat<vd>(1.0);
  // y of the Wd elements at x + i (row position c) with the lanes' mean and rstd
  auto out = [&](std::size_t i, std::size_t c, vd mean, vd rs) {
    vd v = (load_wide(x + i) - mean) * rs;
    if constexpr (HasW) v = v * load_wide(w + c);
    if constexpr (HasB) v = v + load_wide(b + c);
    store_wide(y + i, v);
  };
  if constexpr (G == Wd) {  // segments of L = k·Wd elements, Wd at a time (lane j: segment s0 + j)
    const std::size_t nv = L / Wd;
    I lane;
    for (std::size_t k = 0; k < Wd; ++k) lane[k] = static_cast<std::int64_t>(k);
    // the statistics of segments [s0, s0 + Wd) (past n: the last segment again, its results unused)
    auto stats = [&](std::size_t s0, vd& mv, vd& rv) {
      const std::size_t ns = std::min(Wd, n - s0);
      const T* seg[Wd];
#pragma GCC unroll 8
      for (std::size_t j = 0; j < Wd; ++j) seg[j] = x + (s0 + std::min(j, ns - 1)) * L;
      vd part[Wd];
#pragma GCC unroll 8
      for (std::size_t j = 0; j < Wd; ++j) {
        part[j] = load_wide(seg[j]);
        for (std::size_t k = 1; k < nv; ++k) part[j] = part[j] + load_wide(seg[j] + k * Wd);
      }
      mv = lane_totals(part) * inv_len;
#pragma GCC unroll 8
      for (std::size_t j = 0; j < Wd; ++j) {
        const vd mean = __builtin_shuffle(mv, lane * 0 + static_cast<std::int64_t>(j));
        part[j] = splat<vd>(0.0);
        for (std::size_t k = 0; k < nv; ++k) {
          const vd d = load_wide(seg[j] + k * Wd) - mean;
          part[j] = fma(d, d, part[j]);
        }
      }
      const vd qv = lane_totals(part);
      rv = one / sqrt(qv / len + eps);
      if (ns == Wd) {
        store<vd>(mean_out + s0, mv);
        store<vd>(m2_out + s0, qv);
        store<vd>(rstd_out + s0, rv);
      } else {
        store_first<vd>(mean_out + s0, mv, ns);
        store_first<vd>(m2_out + s0, qv, ns);
        store_first<vd>(rstd_out + s0, rv, ns);
      }
    };
    // y of those segments, the first at row position c (advanced past them)
    auto emit = [&](std::size_t s0, vd mv, vd rv, std::size_t& c) {
      for (std::size_t j = 0; j < std::min(Wd, n - s0); ++j) {
        const I at = lane * 0 + static_cast<std::int64_t>(j);
        const vd mean = __builtin_shuffle(mv, at), rs = __builtin_shuffle(rv, at);
        for (std::size_t k = 0; k < nv; ++k) out((s0 + j) * L + k * Wd, c + k * Wd, mean, rs);
        c += L;
        if (c == row) c = 0;
      }
    };
    // each block's statistics before the previous block's y: the next block's reductions overlap those stores
    std::size_t c = 0;
    vd mv, rv;
    stats(0, mv, rv);
    for (std::size_t s0 = 0; s0 < n; s0 += Wd) {
      vd mn = mv, rn = rv;
      if (s0 + Wd < n) stats(s0 + Wd, mn, rn);
      emit(s0, mv, rv, c);
      mv = mn;
      rv = rn;
    }
  } else {  // L = G < Wd: Wd / G segments a vector (rows of a multiple of Wd elements)
    std::size_t c = 0;  // the row position of element i
    for (std::size_t i = 0; i < n * L; i += Wd) {
      const vd xv = load_wide(x + i);
      const vd mean = group_sums<G>(xv) * inv_len, d = xv - mean;
      const vd q = group_sums<G>(d * d), rs = one / sqrt(q / len + eps);
      for (std::size_t j = 0; j < Wd; j += G) {
        mean_out[(i + j) / G] = mean[j];
        m2_out[(i + j) / G] = q[j];
        rstd_out[(i + j) / G] = rs[j];
      }
      out(i, c, mean, rs);
      c += Wd;
      if (c == row) c = 0;
    }
  }
}

template <class T, std::size_t G>
void segments_forward_g(const SegmentsForward<T>& a) {
  if (a.w && a.b) return segments_forward_impl<T, G, true, true>(a);
  if (a.w) return segments_forward_impl<T, G, true, false>(a);
  if (a.b) return segments_forward_impl<T, G, false, true>(a);
  segments_forward_impl<T, G, false, false>(a);
}

template <class T>
void segments_forward(const SegmentsForward<T>& a) {
  constexpr std::size_t Wd = kDoubleLanes;
  if (a.L % Wd == 0) return segments_forward_g<T, Wd>(a);
  if constexpr (Wd >= 4) {
    if (a.L == 2) return segments_forward_g<T, 2>(a);
  }
  if constexpr (Wd >= 8) {
    if (a.L == 4) return segments_forward_g<T, 4>(a);
  }
}

// A segment's dx (L elements) from its sums s (a = rstd, b = −rstd³·Σg·d·inv_L, c = −rstd·Σg·inv_L).
template <class T, bool Centered>
inline void segment_grad_input(T* dx, const T* dy, const T* x, const T* w, std::size_t L, T mean, double r,
                               double inv_L, const GradSums& s, StoreHint h) {
  const SpanGrad<T> co{Centered ? mean : T(0), T(0), static_cast<T>(r), static_cast<T>(-r * r * r * s.gd * inv_L),
                       static_cast<T>(Centered ? -r * s.g * inv_L : 0.0)};
  span_grad_input(dx, dy, x, w, L, co, h);
}

// LayerNorm/RMSNorm rows of float input (col_step 0: every segment on the same columns, at most kRowPartialCols):
// the rows' parameter terms into float partials (at most kFloatParamRows rows a column, as rows_param_grads_float),
// added into acc_w, acc_b at the end; a double accumulator loaded and stored per term was most of the fused first
// pass (C++ driver, 1 thread, LayerNorm (64, 1024) backward 24 -> 21 us). Out of line: the partials' 16 KiB of stack
// slowed the short segments of segments_backward_impl by 3-5%.
inline constexpr std::size_t kRowPartialCols = 2048;
template <bool HasW, bool AccW, bool AccB, bool Centered>
[[gnu::noinline, gnu::flatten]] void segments_backward_partials(const SegmentRows<float>& a, StoreHint h) {
  alignas(64) float pw[AccW ? kRowPartialCols : 1], pb[AccB ? kRowPartialCols : 1];
  float* const dx = a.dx;
  const float *const dy = a.dy, *const x = a.x, *const w = a.w, *const mean = a.mean, *const rstd = a.rstd;
  const std::size_t L = a.L, nseg = a.nseg;
  const double inv_L = a.inv_L;
  if constexpr (AccW) std::fill(pw, pw + L, 0.0f);
  if constexpr (AccB) std::fill(pb, pb + L, 0.0f);
  for (std::size_t sg = 0; sg < nseg; ++sg) {
    const std::size_t o = sg * L;
    const double m = Centered ? static_cast<double>(mean[sg]) : 0.0, r = static_cast<double>(rstd[sg]);
    const GradSums s = grad_sums_impl<float, HasW, AccW, AccB, Centered>(dy + o, x + o, w, L, m, r,
                                                                         AccW ? pw : nullptr, AccB ? pb : nullptr);
    segment_grad_input<float, Centered>(dx + o, dy + o, x + o, w, L, Centered ? mean[sg] : 0.0f, r, inv_L, s, h);
  }
  for (std::size_t i = 0; i < L; ++i) {
    if constexpr (AccW) a.acc_w[i] += static_cast<double>(pw[i]);
    if constexpr (AccB) a.acc_b[i] += static_cast<double>(pb[i]);
  }
}

// The LayerNorm/RMSNorm backward of nseg segments of L elements (L ≤ a chunk; see SegmentRows), each with its own
// statistics: its sums (grad_sums_impl, with the parameter terms when acc_w/acc_b are given), then its dx
// (span_grad_input), all inlined (flatten). One call for many segments: with a call per segment, group norm
// (256, 64, 16) G=32 (segments of 32 elements) spent half its time in calls and glue; C++ driver, 1 thread:
// 178 µs, one call a row 127 µs, inlined 93 µs.
// (Narrow: segments of at least kNarrowMinSpan, whose sums may be narrow; shorter ones take the wide sums without the
// narrow code in the loop: inlined there, unused, it cost group norm (16384, 64) G=8 (segments of 8) ~5%.)
template <class T, bool HasW, bool AccW, bool AccB, bool Centered, bool Narrow>
[[gnu::flatten]] void segments_backward_impl(const SegmentRows<T>& a, StoreHint h) {
  const std::size_t L = a.L, nseg = a.nseg, step = a.col_step;
  if constexpr (std::is_same_v<T, float> && (AccW || AccB) && Narrow) {
    if (step == 0 && nseg > 1 && nseg <= kFloatParamRows && L <= kRowPartialCols &&
        std::all_of(a.rstd, a.rstd + nseg, [L](float r) { return narrow_span(L, r); }))
      return segments_backward_partials<HasW, AccW, AccB, Centered>(a, h);
  }
  T* const dx = a.dx;
  const T *const dy = a.dy, *const x = a.x, *const mean = a.mean, *const rstd = a.rstd;
  const double inv_L = a.inv_L;
  const T* w = a.w;
  double *aw = a.acc_w, *ab = a.acc_b;
  for (std::size_t sg = 0; sg < nseg; ++sg, w += HasW ? step : 0, aw += AccW ? step : 0, ab += AccB ? step : 0) {
    const std::size_t o = sg * L;
    const double m = Centered ? static_cast<double>(mean[sg]) : 0.0, r = static_cast<double>(rstd[sg]);
    const GradSums s = Narrow ? grad_sums_impl<T, HasW, AccW, AccB, Centered>(dy + o, x + o, w, L, m, r, aw, ab)
                              : wide_grad_sums<T, HasW, AccW, AccB, Centered>(dy + o, x + o, w, L, m, r, aw, ab);
    segment_grad_input<T, Centered>(dx + o, dy + o, x + o, w, L, Centered ? mean[sg] : T(0), r, inv_L, s, h);
  }
}

template <class T, bool HasW, bool AccW, bool AccB, bool Centered>
void segments_backward_n(const SegmentRows<T>& a, StoreHint h) {
  if (a.L >= kNarrowMinSpan)
    segments_backward_impl<T, HasW, AccW, AccB, Centered, true>(a, h);
  else
    segments_backward_impl<T, HasW, AccW, AccB, Centered, false>(a, h);
}

template <class T, bool HasW>
void segments_backward_w(const SegmentRows<T>& a, bool centered, StoreHint h) {
  const bool aw = a.acc_w != nullptr, ab = a.acc_b != nullptr;
  if (!centered)
    return aw ? segments_backward_n<T, HasW, true, false, false>(a, h)
              : segments_backward_n<T, HasW, false, false, false>(a, h);
  if (aw && ab) return segments_backward_n<T, HasW, true, true, true>(a, h);
  if (aw) return segments_backward_n<T, HasW, true, false, true>(a, h);
  if (ab) return segments_backward_n<T, HasW, false, true, true>(a, h);
  segments_backward_n<T, HasW, false, false, true>(a, h);
}

template <class T>
void segments_backward(const SegmentRows<T>& a, bool centered, StoreHint h) {
  if (a.w != nullptr)
    segments_backward_w<T, true>(a, centered, h);
  else
    segments_backward_w<T, false>(a, centered, h);
}

// The gradient sums of span (dyn, xn) (n elements, mean mean_n, rstd rstd_n; as span_grad_sums without a weight:
// the same bits) while dx of the previous span (dy, x, m elements, coefficients co, no weight) is written (as
// span_grad_input: the same values): when m == n, dx is vector-aligned, the stores stream and the sums are narrow,
// one loop does both, a block of reduce_span's at a time, so that reading the next span from memory overlaps writing
// the previous one (the backward's analogue of span_moments_normalize). Otherwise one after the other.
template <class T>
GradSums span_grad_sums_input(const T* dyn, const T* xn, std::size_t n, double mean_n, double rstd_n, T* dx,
                              const T* dy, const T* x, std::size_t m, const SpanGrad<T>& co, StoreHint h) {
  using V = vec_t<T>;
  constexpr std::size_t L = kDoubleLanes, W = traits<V>::lanes;
  const bool fused = std::is_same_v<T, float> && (4 * L) % W == 0 && m == n && n >= 4 * L && h.stream &&
                     narrow_span(n, rstd_n) && reinterpret_cast<std::uintptr_t>(dx) % sizeof(V) == 0;
  if constexpr (std::is_same_v<T, float>) {
    if (fused) {
      const V mh = splat<V>(co.mh), ml = splat<V>(co.ml), a = splat<V>(co.a), b = splat<V>(co.b), c = splat<V>(co.c);
      NarrowGradSums<false, true> sums(dyn, xn, nullptr, static_cast<float>(mean_n), static_cast<float>(rstd_n));
      const std::size_t end = reduce_span_blocks(  // (prefetching into L2, see prefetch_ahead)
          n, [&](int q, std::size_t i) { sums.step(q, i); },
          [&](std::size_t i) {
            sums.block_end();
            for (std::size_t v = i; v < i + 4 * L; v += W)
              store_stream<V>(dx + v, input_gradient(load<V>(dy + v), load<V>(x + v), mh, ml, a, b, c));
          },
          dyn, xn);
      if (end < m) span_grad_input(dx + end, dy + end, x + end, static_cast<const T*>(nullptr), m - end, co, h);
      GradSums s = sums.result(mean_n);
      grad_sums_tail<T, false, false, false, true, double>(s, dyn, xn, nullptr, n / L * L, n, mean_n, rstd_n,
                                                           nullptr, nullptr);
      return finite_sums(s) ? s : span_grad_sums(dyn, xn, static_cast<const T*>(nullptr), n, mean_n, rstd_n, true);
    }
  }
  if (m > 0) span_grad_input(dx, dy, x, static_cast<const T*>(nullptr), m, co, h);
  return span_grad_sums(dyn, xn, static_cast<const T*>(nullptr), n, mean_n, rstd_n, true);
}

// Planes shorter than a vector (S < lanes), at most 16 of them (a group norm group of tiny planes): whole vectors
// across plane boundaries, each lane's coefficients looked up by its plane (i + lane) / S (lookup16; the division
// in T: (i + lane + ½)/S lies at least ½/S from an integer, far beyond T's rounding for these few lanes). f(at, lut)
// gives a vector of out: at(p) = p's vector there (its last one zero-padded past the end), lut(table) =
// table[plane] lane by lane (table: 16 entries). Each element is computed by the same formula as one span per plane
// (the same bits).
inline constexpr std::size_t kLookupPlanes = 16;
template <class T, class F>
inline void tiny_planes_map(T* out, std::size_t planes, std::size_t S, F&& f) {
  using V = vec_t<T>;
  using I = int_t<V>;
  constexpr std::size_t W = traits<V>::lanes;
  const std::size_t n = planes * S;
  V pos;
  for (std::size_t j = 0; j < W; ++j) pos[j] = static_cast<T>(j) + T(0.5);
  const V inv = splat<V>(T(1) / static_cast<T>(S));
  for (std::size_t i = 0; i < n; i += W, pos += static_cast<T>(W)) {
    const I q = __builtin_convertvector(pos * inv, I);
    const auto lut = [q](const T* table) { return lookup16<V>(table, q); };
    const std::size_t m = std::min(W, n - i);
    if (m == W) {
      store<V>(out + i, f([i](const T* p) { return load<V>(p + i); }, lut));
    } else {
      store_first<V>(out + i, f([i, m](const T* p) { return load_first<V>(p + i, m); }, lut), m);
    }
  }
}
// table (16 entries) = p[0, planes), zeros after
template <class T>
inline void lookup_table(T* table, const T* p, std::size_t planes) {
  for (std::size_t q = 0; q < kLookupPlanes; ++q) table[q] = q < planes ? p[q] : T(0);
}

// Adjacent planes of S ≥ the vector width elements, swept in whole vectors across plane boundaries: a vector
// crosses at most one. f(at, pick) gives a vector of out: at(p) = p's vector there (its last one zero-padded past
// the end), pick(table) = table[plane] lane by lane (the lanes past a boundary take the next plane's). With
// h.stream and out aligned to a vector, whole vectors are stored non-temporally (fenced here unless
// h.defer_fence); otherwise regular stores.
template <class T, class F>
inline void planes_map(T* out, std::size_t planes, std::size_t S, StoreHint h, F&& f) {
  using V = vec_t<T>;
  constexpr std::size_t W = traits<V>::lanes;
  const std::size_t n = planes * S;
  auto run = [&](auto streamed) {
    std::size_t q = 0, end = S;  // the plane of the vector's first lane, and where that plane ends
    for (std::size_t i = 0; i < n; i += W) {
      const std::size_t m = std::min(W, n - i);
      const bool cross = i + m > end;  // lanes from end − i on are in plane q + 1
      const auto pick = [q, cross, before = end - i](const T* table) {
        const V v = splat<V>(table[q]);
        return cross ? (first_lanes<V>(before) ? v : splat<V>(table[q + 1])) : v;
      };
      if (m == W) {
        const V r = f([i](const T* p) { return load<V>(p + i); }, pick);
        if constexpr (decltype(streamed)::value) {
          store_stream<V>(out + i, r);
        } else {
          store<V>(out + i, r);
        }
      } else {
        store_first<V>(out + i, f([i, m](const T* p) { return load_first<V>(p + i, m); }, pick), m);
      }
      if (i + W >= end) {  // the next vector starts in plane q + 1
        ++q;
        end += S;
      }
    }
  };
  if (streams_to<V>(out, h)) {
    run(std::true_type{});
    if (!h.defer_fence) stream_fence();
  } else {
    run(std::false_type{});
  }
}

// y = ((x − mh) − ml)·s[q] + t[q] over the S elements of each of `planes` adjacent planes (one channels-first group
// of group norm: its planes share the mean and differ in their channel's scale and shift), as one pass instead of
// one call per plane (planes_map; shorter planes: looked up, or one span each). The same values as span_normalize
// per plane (the same bits).
template <class T>
void planes_normalize(T* y, const T* x, std::size_t planes, std::size_t S, T mh, T ml, const T* s, const T* t,
                      StoreHint h) {
  using V = vec_t<T>;
  constexpr std::size_t W = traits<V>::lanes;
  const V mhv = splat<V>(mh), mlv = splat<V>(ml);
  if (S == 1)  // one span with per-element coefficients (s·1 = s: the same bits)
    return span_normalize(y, x, s, t, planes, SpanAffine<T>{mh, ml, T(1), T(0)}, StoreHint{});
  if (S < W && planes <= kLookupPlanes && !is_scalar_v<V>) {  // planes shorter than a vector, looked up
    T st[kLookupPlanes], tt[kLookupPlanes];
    lookup_table(st, s, planes);
    lookup_table(tt, t, planes);
    tiny_planes_map(y, planes, S, [&](auto at, auto lut) { return normalized(at(x), mhv, mlv, lut(st), lut(tt)); });
    return;
  }
  if (S < W) {  // planes shorter than a vector: one span each
    for (std::size_t q = 0; q < planes; ++q)
      span_normalize(y + q * S, x + q * S, static_cast<const T*>(nullptr), static_cast<const T*>(nullptr), S,
                     SpanAffine<T>{mh, ml, s[q], t[q]}, StoreHint{});
    return;
  }
  planes_map(y, planes, S, h, [&](auto at, auto pick) { return normalized(at(x), mhv, mlv, pick(s), pick(t)); });
}

// dx = a[q]·dy + (((x − mh) − ml)·b + c) over the S elements of each of `planes` adjacent planes (one channels-first
// group of group norm: b, c and the mean are the group's, a = rstd·weight the plane's channel's), as planes_normalize
// does it; the same bits as span_grad_input per plane.
template <class T>
void planes_grad_input(T* dx, const T* dy, const T* x, std::size_t planes, std::size_t S, T mh, T ml, const T* a,
                       T b, T c, StoreHint h) {
  using V = vec_t<T>;
  constexpr std::size_t W = traits<V>::lanes;
  const V mhv = splat<V>(mh), mlv = splat<V>(ml), bv = splat<V>(b), cv = splat<V>(c);
  if (S == 1)  // one span with per-element coefficients (a·1 = a: the same bits)
    return span_grad_input(dx, dy, x, a, planes, SpanGrad<T>{mh, ml, T(1), b, c}, StoreHint{});
  if (S < W && planes <= kLookupPlanes && !is_scalar_v<V>) {  // planes shorter than a vector, looked up
    T at_[kLookupPlanes];
    lookup_table(at_, a, planes);
    tiny_planes_map(dx, planes, S, [&](auto at, auto lut) {
      return input_gradient(at(dy), at(x), mhv, mlv, lut(at_), bv, cv);
    });
    return;
  }
  if (S < W) {  // planes shorter than a vector: one span each
    for (std::size_t q = 0; q < planes; ++q)
      span_grad_input(dx + q * S, dy + q * S, x + q * S, static_cast<const T*>(nullptr), S,
                      SpanGrad<T>{mh, ml, a[q], b, c}, StoreHint{});
    return;
  }
  planes_map(dx, planes, S, h,
             [&](auto at, auto pick) { return input_gradient(at(dy), at(x), mhv, mlv, pick(a), bv, cv); });
}

// out[q] = span_moments of plane q (the same bits) for `planes` planes of S ≤ one chunk elements, ld apart: one call
// for a batch of instance norm's planes or a batch norm channel's.
template <class T>
void planes_moments(Moments* out, const T* x, std::size_t planes, std::size_t S, std::size_t ld) {
  if (S == 0) {
    for (std::size_t q = 0; q < planes; ++q) out[q] = span_moments(x, 0);
    return;
  }
  // the shift (first value) of plane q + 1 is read before plane q is reduced (span_moments_from says why)
  double first = static_cast<double>(x[0]);
  for (std::size_t q = 0; q < planes; ++q) {
    const double next = q + 1 < planes ? read_early(x + (q + 1) * ld) : 0.0;
    out[q] = span_moments_from(x + q * ld, S, first);
    first = next;
  }
}

// The moments of span xn (n elements, shift `first`) while the previous span is normalized: y = normalized(x) over
// m elements made of planes of S elements, plane j with co[j] (w, b per element of a plane, or null). The same
// values as span_moments_from and span_normalize per plane. Where the previous span is as long as xn, made of one
// plane or of planes of whole blocks, and y is aligned, one loop does both, a block of reduce_span's at a time (its order): reading the next
// span from memory while the previous one is normalized from cache keeps the memory busy. C++ driver, x 16 bytes
// past a line, y aligned, batches -> this: LayerNorm (8192, 1024) forward, 1 thread ~1.9 -> ~1.75 ms, 2 threads
// ~1.45 -> ~1.2 ms; (4096, 512) 345 -> 285 µs; instance norm (32, 64, 3136) 1.36 -> 1.27 ms. Otherwise one after
// the other. (With y 16 bytes past a vector boundary, its first elements made apart, the loop did no better than
// batches; forward() then keeps the batches.)
// The loop of span_moments_normalize over any span sums (ShiftedSums, SquareSums); alone() reduces xn by itself
// where the loop does not apply.
template <class T, class Sums, class Alone>
auto sums_normalize(Sums sums, Alone&& alone, std::size_t n, T* y, const T* x, std::size_t m, std::size_t S,
                    const SpanAffine<T>* co, const T* w, const T* b, StoreHint h) {
  using V = vec_t<T>;
  constexpr std::size_t L = kDoubleLanes, W = traits<V>::lanes;
  const bool fused = !kTwoPass<T> && (4 * L) % W == 0 && m == n && (S == n || S % (4 * L) == 0) && n >= 4 * L &&
                     reinterpret_cast<std::uintptr_t>(y) % sizeof(V) == 0;
  if (!fused) {
    for (std::size_t o = 0, j = 0; o < m; o += S, ++j)
      span_normalize(y + o, x + o, w, b, std::min(S, m - o), co[j], h);
    return alone();
  }
  const T* const xn = sums.x;
  // the coefficients of plane j (several planes: each a whole number of blocks)
  std::size_t j = 0, plane_end = S;
  V mh = splat<V>(co->mh), ml = splat<V>(co->ml), sv = splat<V>(co->s), tv = splat<V>(co->t);
  // span_normalize's value at i (s·w and b per element when given; s·1 = s, so one formula for all four cases)
  auto value = [&](std::size_t i) {
    return normalized(load<V>(x + i), mh, ml, w ? sv * load<V>(w + i) : sv, b ? load<V>(b + i) : tv);
  };
  std::size_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {  // reduce_span's blocks
    if (n >= kPrefetchMinSpan) prefetch_ahead<kPrefetchFwdBytes>(xn, i, 4 * L * sizeof(T));
    sums.step(0, i);
    sums.step(1, i + L);
    sums.step(2, i + 2 * L);
    sums.step(3, i + 3 * L);
    if (i == plane_end) {
      ++j;
      plane_end += S;
      mh = splat<V>(co[j].mh), ml = splat<V>(co[j].ml), sv = splat<V>(co[j].s), tv = splat<V>(co[j].t);
    }
    for (std::size_t v = i; v < i + 4 * L; v += W) {
      if (h.stream)
        store_stream<V>(y + v, value(v));
      else
        store<V>(y + v, value(v));
    }
  }
  span_normalize(y + i, x + i, w ? w + i : nullptr, b ? b + i : nullptr, n - i, co[S == n ? 0 : i / S], h);
  for (; i + L <= n; i += L) sums.step(0, i);
  return sums.result(n);
}

template <class T>
Moments span_moments_normalize(const T* xn, std::size_t n, double first, T* y, const T* x, std::size_t m,
                               std::size_t S, const SpanAffine<T>* co, const T* w, const T* b, StoreHint h) {
  return sums_normalize(ShiftedSums<T>{xn, first}, [&] { return span_moments_from(xn, n, first); }, n, y, x, m, S,
                        co, w, b, h);
}

// span_sum_squares of xn while the previous span (one plane, m elements) is normalized: RMSNorm's forward loop.
template <class T>
double span_sum_squares_normalize(const T* xn, std::size_t n, T* y, const T* x, std::size_t m,
                                  const SpanAffine<T>& co, const T* w, StoreHint h) {
  return sums_normalize(SquareSums<T>{xn}, [&] { return span_sum_squares(xn, n); }, n, y, x, m,
                        std::max<std::size_t>(m, 1), &co, w, static_cast<const T*>(nullptr), h);
}

// out = f(at, k) over `planes` spans of S elements, ld apart, span q with coefficients k = q / per (per spans share
// them: a batch norm channel's planes), span by span as a map_block over the span would do it (the same bits) but
// in one call; regular stores (callers use it for short planes, where map_block would not stream either). at(p) =
// p's vector (zero-padded past the span).
template <class T, class F>
inline void spans_map(T* out, std::size_t planes, std::size_t S, std::size_t ld, std::size_t per, F&& f) {
  using V = vec_t<T>;
  constexpr std::size_t W = traits<V>::lanes;
  std::size_t kq = 0, in_set = 0;
  for (std::size_t q = 0; q < planes; ++q) {
    const std::size_t o = q * ld;
    std::size_t i = 0;
    for (; i + W <= S; i += W) store<V>(out + o + i, f([o, i](const T* p) { return load<V>(p + o + i); }, kq));
    if (i < S) {
      const std::size_t m = S - i;
      store_first<V>(out + o + i, f([o, i, m](const T* p) { return load_first<V>(p + o + i, m); }, kq), m);
    }
    if (++in_set == per) {
      in_set = 0;
      ++kq;
    }
  }
}

template <class T>
void spans_normalize(T* y, const T* x, std::size_t planes, std::size_t S, std::size_t ld, const SpanAffine<T>* k,
                     std::size_t per) {
  using V = vec_t<T>;
  spans_map(y, planes, S, ld, per, [x, k](auto at, std::size_t q) {
    return normalized(at(x), splat<V>(k[q].mh), splat<V>(k[q].ml), splat<V>(k[q].s), splat<V>(k[q].t));
  });
}

template <class T>
void spans_grad_input(T* dx, const T* dy, const T* x, std::size_t planes, std::size_t S, std::size_t ld,
                      const SpanGrad<T>* k, std::size_t per) {
  using V = vec_t<T>;
  spans_map(dx, planes, S, ld, per, [dy, x, k](auto at, std::size_t q) {
    return input_gradient(at(dy), at(x), splat<V>(k[q].mh), splat<V>(k[q].ml), splat<V>(k[q].a), splat<V>(k[q].b),
                          splat<V>(k[q].c));
  });
}

// out[q] = the gradient sums of plane q (as span_grad_sums without a weight, the same bits) for `planes` adjacent
// planes of S ≤ one chunk elements, plane q with mean[q / per] and rstd[q / per] (per planes share them: a group's): one call for a
// batch of groups. (One call per plane from the API returned each pair through the stack, a store-forwarding stall
// per plane.)
// (Narrow as in segments_backward_impl.)
template <class T, bool Narrow>
[[gnu::flatten]] void planes_grad_sums_n(GradSums* out, const T* dy, const T* x, std::size_t planes, std::size_t S,
                                        const double* mean, const double* rstd, std::size_t per) {
  std::size_t g = 0, in_group = 0;
  for (std::size_t q = 0; q < planes; ++q) {
    const T *const dq = dy + q * S, *const xq = x + q * S, *const no_w = nullptr;
    out[q] = Narrow ? grad_sums_impl<T, false>(dq, xq, no_w, S, mean[g], rstd[g])
                    : wide_grad_sums<T, false, false, false, true>(dq, xq, no_w, S, mean[g], rstd[g], nullptr, nullptr);
    if (++in_group == per) {
      in_group = 0;
      ++g;
    }
  }
}
template <class T>
void planes_grad_sums(GradSums* out, const T* dy, const T* x, std::size_t planes, std::size_t S, const double* mean,
                      const double* rstd, std::size_t per, bool narrow) {
  if (narrow && S >= kNarrowMinSpan)
    planes_grad_sums_n<T, true>(out, dy, x, planes, S, mean, rstd, per);
  else
    planes_grad_sums_n<T, false>(out, dy, x, planes, S, mean, rstd, per);
}

// map_block over a (rows, cols) block of many columns in tiles of kColTileBytes of each column array, the tile's
// rows one after another: row by row, the per-column arrays (four or five of them) were read whole for every row,
// from L2 once they outgrew L1 (batch norm's short spans, (32, 256, 4, 4): 4096 columns, 80 KB of coefficients).
// Each element is computed as by map_block over the whole block: the same bits.
inline constexpr std::size_t kColTileBytes = 2048;
template <class T, class F, class... Col>
inline void map_cols(T* out, std::size_t rows, std::size_t cols, StoreHint h, F&& f, const Col*... col) {
  constexpr std::size_t tile = kColTileBytes / sizeof(T);
  if (rows == 1 || cols <= 2 * tile) return map_block(out, rows, cols, h, f, col...);
  for (std::size_t c0 = 0; c0 < cols; c0 += tile)
    for (std::size_t r = 0; r < rows; ++r) {
      const std::size_t off = r * cols + c0;
      map_block(out + off, 1, std::min(tile, cols - c0), h, [&f, off](auto at, auto... cv) {
        return f([at, off](const T* p) { return at(p + off); }, cv...);
      }, (col + c0)...);
    }
}

template <class T>
void cols_normalize(T* y, const T* x, std::size_t rows, std::size_t cols, const ColAffine<T>& k, StoreHint h) {
  using V = vec_t<T>;
  map_cols(y, rows, cols, h, [x](auto at, V mh, V ml, V s, V t) { return normalized(at(x), mh, ml, s, t); },
           k.mh, k.ml, k.s, k.t);
}

template <class T>
void cols_grad_input(T* dx, const T* dy, const T* x, std::size_t rows, std::size_t cols, const ColGrad<T>& k,
                     StoreHint h) {
  using V = vec_t<T>;
  map_cols(dx, rows, cols, h, [dy, x](auto at, V mh, V ml, V a, V b, V c) {
    return input_gradient(at(dy), at(x), mh, ml, a, b, c);
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
  k.normalize_planes = &planes_normalize<T>;
  k.grad_input_planes = &planes_grad_input<T>;
  k.grad_input_spans = &spans_grad_input<T>;
  k.normalize_spans = &spans_normalize<T>;
  k.moments_planes = &planes_moments<T>;
  k.moments_normalize = &span_moments_normalize<T>;
  k.sum_squares_normalize = &span_sum_squares_normalize<T>;
  k.grad_sums_planes = &planes_grad_sums<T>;
  k.grad_sums = &span_grad_sums<T>;
  k.grad_sums_params = &span_grad_sums_params<T>;
  k.segments_backward = &segments_backward<T>;
  k.segments_forward = &segments_forward<T>;
  k.grad_sums_input = &span_grad_sums_input<T>;
  k.rows_param_grads = &rows_param_grads<T>;
  k.col_grad_sums = &col_grad_sums<T>;
  k.grad_input = &span_grad_input<T>;
  k.grad_input_cols = &cols_grad_input<T>;
  k.fence = &stream_fence;
  return k;
}
