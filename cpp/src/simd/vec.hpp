// The portable vector type: GCC/Clang vector extensions at the native width of the ISA this translation
// unit is compiled for (64 bytes with AVX-512, 32 with AVX/AVX2, 16 otherwise: SSE2, NEON, ...).
//
// Generic code is written against a type V that is either such a vector or a plain scalar (float/double):
// arithmetic, comparisons and `mask ? a : b` mean the same lane by lane for both, and the helpers below
// (splat, bit_cast, load/store, abs, ...) are overloaded for both. This header is included inside the
// per-ISA namespace normcore::NORMCORE_ISA_NS (see kernels/isa_kernels.inl), so every ISA gets its own types.
//
// Requires <cstdint>, <cstring>, <cstddef>, <type_traits> and the ISA's <immintrin.h> to be included first.

#if defined(__AVX512F__)
inline constexpr std::size_t kVectorBytes = 64;
#elif defined(__AVX__)
inline constexpr std::size_t kVectorBytes = 32;
#else
inline constexpr std::size_t kVectorBytes = 16;
#endif

typedef float vf __attribute__((vector_size(kVectorBytes)));
typedef double vd __attribute__((vector_size(kVectorBytes)));
typedef std::int32_t vi32 __attribute__((vector_size(kVectorBytes)));
typedef std::int64_t vi64 __attribute__((vector_size(kVectorBytes)));

// traits<V>: scalar element type T, same-width integer type I (scalar or vector), lane count.
template <class V> struct traits;
template <> struct traits<float> { using T = float; using I = std::int32_t; static constexpr std::size_t lanes = 1; };
template <> struct traits<double> { using T = double; using I = std::int64_t; static constexpr std::size_t lanes = 1; };
template <> struct traits<vf> { using T = float; using I = vi32; static constexpr std::size_t lanes = kVectorBytes / 4; };
template <> struct traits<vd> { using T = double; using I = vi64; static constexpr std::size_t lanes = kVectorBytes / 8; };

template <class V> using scalar_t = typename traits<V>::T;
template <class V> using int_t = typename traits<V>::I;
template <class V> inline constexpr bool is_scalar_v = traits<V>::lanes == 1;

// The native vector of element type T.
template <class T> struct vec_of;
template <> struct vec_of<float> { using type = vf; };
template <> struct vec_of<double> { using type = vd; };
template <class T> using vec_t = typename vec_of<T>::type;

template <class To, class From>
inline To bit_cast(const From& from) {
  static_assert(sizeof(To) == sizeof(From), "bit_cast needs equal sizes");
  To to;
  std::memcpy(&to, &from, sizeof(To));
  return to;
}

// All lanes = c (the scalar itself when V is a scalar).
// c − 0 (vector) is one broadcast instruction even for a value known only at run time (a lane-by-lane fill
// compiles to a chain of inserts there), and exactly c, −0 and NaN included.
template <class V>
inline V splat(scalar_t<V> c) {
  if constexpr (is_scalar_v<V>) {
    return c;
  } else {
    return c - V{};
  }
}

template <class V>
inline V load(const scalar_t<V>* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}

template <class V>
inline void store(scalar_t<V>* p, V v) {
  std::memcpy(p, &v, sizeof(V));
}

// Lanes j < m set (all lanes of a scalar), in V's integer type.
template <class V>
inline auto first_lanes(std::size_t m) {
  if constexpr (is_scalar_v<V>) {
    return m > 0;
  } else {
    using I = int_t<V>;
    using E = std::remove_reference_t<decltype(I{}[0])>;
    I index;
    for (std::size_t j = 0; j < traits<V>::lanes; ++j) index[j] = static_cast<E>(j);
    return index < static_cast<E>(m);
  }
}

// The first m < lanes elements at p in a vector, the other lanes 0, and the first m lanes of v stored to p: masked
// loads and stores where the ISA has them (no access past p + m, and no store-forwarding stall of a narrow copy
// through the stack).
template <class V>
inline V load_first(const scalar_t<V>* p, std::size_t m) {
  using T = scalar_t<V>;
  if constexpr (is_scalar_v<V>) {
    return m > 0 ? *p : T(0);
  } else {
#if defined(__AVX512F__)
    if constexpr (sizeof(V) == 64) {
      const auto k = static_cast<std::uint32_t>((std::uint64_t{1} << m) - 1);
      if constexpr (std::is_same_v<T, float>) return (V)_mm512_maskz_loadu_ps(static_cast<__mmask16>(k), p);
      else return (V)_mm512_maskz_loadu_pd(static_cast<__mmask8>(k), p);
    }
#endif
#if defined(__AVX2__)
    if constexpr (sizeof(V) == 32) {
      const auto k = first_lanes<V>(m);
      if constexpr (std::is_same_v<T, float>) return (V)_mm256_maskload_ps(p, (__m256i)k);
      else return (V)_mm256_maskload_pd(p, (__m256i)k);
    }
#endif
    V v = splat<V>(T(0));
    std::memcpy(&v, p, m * sizeof(T));
    return v;
  }
}

template <class V>
inline void store_first(scalar_t<V>* p, V v, std::size_t m) {
  using T = scalar_t<V>;
  if constexpr (is_scalar_v<V>) {
    if (m > 0) *p = v;
  } else {
#if defined(__AVX512F__)
    if constexpr (sizeof(V) == 64) {
      const auto k = static_cast<std::uint32_t>((std::uint64_t{1} << m) - 1);
      if constexpr (std::is_same_v<T, float>) _mm512_mask_storeu_ps(p, static_cast<__mmask16>(k), (__m512)v);
      else _mm512_mask_storeu_pd(p, static_cast<__mmask8>(k), (__m512d)v);
      return;
    }
#endif
#if defined(__AVX2__)
    if constexpr (sizeof(V) == 32) {
      const auto k = first_lanes<V>(m);
      if constexpr (std::is_same_v<T, float>) _mm256_maskstore_ps(p, (__m256i)k, (__m256)v);
      else _mm256_maskstore_pd(p, (__m256i)k, (__m256d)v);
      return;
    }
#endif
    std::memcpy(p, &v, m * sizeof(T));
  }
}

// Non-temporal store to a sizeof(V)-aligned address (bypasses the cache: no read-for-ownership of the
// destination lines). Plain store where the ISA has no such instruction for V.
template <class V>
inline void store_stream(scalar_t<V>* p, V v) {
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, float>) { _mm512_stream_ps(p, (__m512)v); return; }
  if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, double>) { _mm512_stream_pd(p, (__m512d)v); return; }
#endif
#if defined(__AVX__)
  if constexpr (sizeof(V) == 32 && std::is_same_v<scalar_t<V>, float>) { _mm256_stream_ps(p, (__m256)v); return; }
  if constexpr (sizeof(V) == 32 && std::is_same_v<scalar_t<V>, double>) { _mm256_stream_pd(p, (__m256d)v); return; }
#endif
#if defined(__SSE2__)
  if constexpr (sizeof(V) == 16 && std::is_same_v<scalar_t<V>, float>) { _mm_stream_ps(p, (__m128)v); return; }
  if constexpr (sizeof(V) == 16 && std::is_same_v<scalar_t<V>, double>) { _mm_stream_pd(p, (__m128d)v); return; }
#endif
  store<V>(p, v);
}

// The vector at p (any element alignment) from the one or two aligned cache lines it lies on, joined by a permute
// (AVX-512; elsewhere a plain load). Zen 4 streams inputs from memory markedly slower through 512-bit loads that
// straddle two lines (NumPy's data sits 16 bytes into a line): C++ microbenchmark, 64 MB of floats, 1 thread, a
// reduction of one stream 3.1–3.2 ms with straddling loads against 1.8–2.2 ms aligned, a map of two streams with
// non-temporal stores ~12% faster. The same value as load<V>(p); never reads a line that holds none of p's elements.
template <class V>
inline V load_lines(const scalar_t<V>* p) {
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64) {
    using T = scalar_t<V>;
    const std::uintptr_t a = reinterpret_cast<std::uintptr_t>(p), off = a & 63;
    const auto* lo = reinterpret_cast<const T*>(a - off);
    const auto* hi = reinterpret_cast<const T*>(a - off + (off != 0 ? 64 : 0));
    if constexpr (std::is_same_v<T, float>) {
      const __m512i idx = _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(static_cast<int>(off / 4)));
      return (V)_mm512_permutex2var_ps(_mm512_load_ps(lo), idx, _mm512_load_ps(hi));
    } else {
      const __m512i idx = _mm512_add_epi64(_mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7),
                                           _mm512_set1_epi64(static_cast<long long>(off / 8)));
      return (V)_mm512_permutex2var_pd(_mm512_load_pd(lo), idx, _mm512_load_pd(hi));
    }
  }
#endif
  return load<V>(p);
}

inline void stream_fence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

// |x| by clearing the sign bit (so |−0| = +0 and NaN stays NaN).
template <class V>
inline V abs(V x) {
  using I = int_t<V>;
  using T = scalar_t<V>;
  const auto mask = bit_cast<I>(splat<V>(T(-0.0)));
  return bit_cast<V>(bit_cast<I>(x) & ~mask);
}

// −|x| by setting the sign bit (one op; NaN stays NaN).
template <class V>
inline V neg_abs(V x) {
  using I = int_t<V>;
  return bit_cast<V>(bit_cast<I>(x) | bit_cast<I>(splat<V>(scalar_t<V>(-0.0))));
}

// x < lo ? lo : x and x > hi ? hi : x, lane by lane: NaN x passes through. These are exactly x86's
// maxps(lo, x) / minps(hi, x) (which return the second operand when unordered); GCC does not emit them
// from the conditional without -ffinite-math-only, so they are spelled out where the ISA has them.
template <class V>
inline V max_nan_passes(V lo, V x) {
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, float>) return (V)_mm512_max_ps((__m512)lo, (__m512)x);
  if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, double>) return (V)_mm512_max_pd((__m512d)lo, (__m512d)x);
#endif
#if defined(__AVX__)
  if constexpr (sizeof(V) == 32 && std::is_same_v<scalar_t<V>, float>) return (V)_mm256_max_ps((__m256)lo, (__m256)x);
  if constexpr (sizeof(V) == 32 && std::is_same_v<scalar_t<V>, double>) return (V)_mm256_max_pd((__m256d)lo, (__m256d)x);
#endif
  return x < lo ? lo : x;
}
template <class V>
inline V min_nan_passes(V hi, V x) {
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, float>) return (V)_mm512_min_ps((__m512)hi, (__m512)x);
  if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, double>) return (V)_mm512_min_pd((__m512d)hi, (__m512d)x);
#endif
#if defined(__AVX__)
  if constexpr (sizeof(V) == 32 && std::is_same_v<scalar_t<V>, float>) return (V)_mm256_min_ps((__m256)hi, (__m256)x);
  if constexpr (sizeof(V) == 32 && std::is_same_v<scalar_t<V>, double>) return (V)_mm256_min_pd((__m256d)hi, (__m256d)x);
#endif
  return x > hi ? hi : x;
}

// min(|x|, c) and x clamped to [−c, c] (c ≥ 0), for callers that propagate a NaN x themselves: a NaN x gives c
// on AVX-512, where each is one vrangeps (min-abs, the sign cleared / the sign of x), and NaN elsewhere
// (abs/neg_abs and min/max: two ops).
template <class V>
inline V abs_min(V x, scalar_t<V> c) {
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, float>) return (V)_mm512_range_ps((__m512)x, _mm512_set1_ps(c), 0b1010);
  if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, double>) return (V)_mm512_range_pd((__m512d)x, _mm512_set1_pd(c), 0b1010);
#endif
  return min_nan_passes(splat<V>(c), abs(x));
}
template <class V>
inline V clamp_abs(V x, scalar_t<V> c) {
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, float>) return (V)_mm512_range_ps((__m512)x, _mm512_set1_ps(c), 0b0010);
  if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, double>) return (V)_mm512_range_pd((__m512d)x, _mm512_set1_pd(c), 0b0010);
#endif
  return max_nan_passes(splat<V>(-c), min_nan_passes(splat<V>(c), x));
}

// a − (t − mw): the residual of a ≥ 0 on the grid of width w = 2^−M (0 ≤ M ≤ 15), given t = a + mw with mw =
// magic·w (a rounded to the grid by that addition, to nearest even), exact. AVX-512: one vreduce on a (the same
// bits for finite a ≥ 0; t is only the caller's index).
template <int M, class V>
inline V grid_residual(V a, V t, scalar_t<V> mw) {
  static_assert(M >= 0 && M <= 15);
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, float>) return (V)_mm512_reduce_ps((__m512)a, (M << 4) | 8);
  if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, double>) return (V)_mm512_reduce_pd((__m512d)a, (M << 4) | 8);
#endif
  return a - (t - mw);
}

// True when no lane of x is below bound (NaN lanes are not): for a branch per vector around a rare slow path.
// AVX-512 compares straight into a mask register and tests it (a vector mask would cost two more ops).
template <class V>
inline bool none_below(V x, scalar_t<V> bound) {
  if constexpr (is_scalar_v<V>) {
    return !(x < bound);
  } else {
#if defined(__AVX512F__)
    if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, float>)
      return _mm512_cmp_ps_mask((__m512)x, _mm512_set1_ps(bound), _CMP_LT_OQ) == 0;
    if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, double>)
      return _mm512_cmp_pd_mask((__m512d)x, _mm512_set1_pd(bound), _CMP_LT_OQ) == 0;
#endif
    const auto m = x < bound;
#if defined(__AVX__)
    if constexpr (sizeof(V) == 32) return _mm256_testz_si256((__m256i)m, (__m256i)m) != 0;
#endif
#if defined(__SSE2__)
    if constexpr (sizeof(V) == 16) return _mm_movemask_epi8((__m128i)m) == 0;
#endif
    bool any = false;
    for (std::size_t i = 0; i < sizeof(V) / sizeof(x[0]); ++i) any |= m[i] != 0;
    return !any;
  }
}

// True when every lane of x is below bound (a NaN lane is not): for a branch per vector around a rare slow path.
template <class V>
inline bool all_below(V x, scalar_t<V> bound) {
  if constexpr (is_scalar_v<V>) {
    return x < bound;
  } else {
#if defined(__AVX512F__)
    if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, float>)
      return _mm512_cmp_ps_mask((__m512)x, _mm512_set1_ps(bound), _CMP_NLT_UQ) == 0;
#endif
    const auto m = x < bound;
    bool all = true;
    for (std::size_t i = 0; i < sizeof(V) / sizeof(x[0]); ++i) all &= m[i] != 0;
    return all;
  }
}

// max(x, 0) lanes: NaN propagates, since NaN < 0 is false.
template <class V>
inline V max0(V x) {
  return x < scalar_t<V>(0) ? splat<V>(0) : x;
}

// Integer lanes → floating lanes of the same width (small integers: exponents).
template <class V>
inline V int_to_float(int_t<V> k) {
  if constexpr (is_scalar_v<V>) {
    return static_cast<V>(k);
  } else {
    return __builtin_convertvector(k, V);
  }
}

// √x lane by lane (IEEE: √−0 = −0, √(x<0) = NaN).
template <class V>
inline V sqrt(V x) {
  if constexpr (is_scalar_v<V>) {
    return std::sqrt(x);
  } else {
#if defined(__AVX512F__)
    if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, float>) return (V)_mm512_sqrt_ps((__m512)x);
    if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, double>) return (V)_mm512_sqrt_pd((__m512d)x);
#endif
#if defined(__AVX__)
    if constexpr (sizeof(V) == 32 && std::is_same_v<scalar_t<V>, float>) return (V)_mm256_sqrt_ps((__m256)x);
    if constexpr (sizeof(V) == 32 && std::is_same_v<scalar_t<V>, double>) return (V)_mm256_sqrt_pd((__m256d)x);
#endif
#if defined(__SSE2__)
    if constexpr (sizeof(V) == 16 && std::is_same_v<scalar_t<V>, float>) return (V)_mm_sqrt_ps((__m128)x);
    if constexpr (sizeof(V) == 16 && std::is_same_v<scalar_t<V>, double>) return (V)_mm_sqrt_pd((__m128d)x);
#endif
    V r;
    for (std::size_t i = 0; i < traits<V>::lanes; ++i) r[i] = std::sqrt(x[i]);
    return r;
  }
}

// v, rounded and held here: the compiler may not fuse the product it comes from into a later addition (FMA
// contraction) nor merge it with a differently rounded twin, so that two code paths meant to give the same bits do.
template <class V>
inline V opaque(V v) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  asm("" : "+v"(v));
#elif defined(__GNUC__) && defined(__aarch64__)
  asm("" : "+w"(v));
#endif
  return v;
}

// a·b + c with one rounding (only called where the ISA has FMA, i.e. __FMA__ is defined).
template <class V>
inline V fma(V a, V b, V c) {
  if constexpr (is_scalar_v<V>) {
    return std::fma(a, b, c);
  } else {
#if defined(__AVX512F__)
    if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, float>) return (V)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
    if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, double>) return (V)_mm512_fmadd_pd((__m512d)a, (__m512d)b, (__m512d)c);
#endif
#if defined(__FMA__)
    if constexpr (sizeof(V) == 32 && std::is_same_v<scalar_t<V>, float>) return (V)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
    if constexpr (sizeof(V) == 32 && std::is_same_v<scalar_t<V>, double>) return (V)_mm256_fmadd_pd((__m256d)a, (__m256d)b, (__m256d)c);
    if constexpr (sizeof(V) == 16 && std::is_same_v<scalar_t<V>, float>) return (V)_mm_fmadd_ps((__m128)a, (__m128)b, (__m128)c);
    if constexpr (sizeof(V) == 16 && std::is_same_v<scalar_t<V>, double>) return (V)_mm_fmadd_pd((__m128d)a, (__m128d)b, (__m128d)c);
#endif
    V r;
    for (std::size_t i = 0; i < traits<V>::lanes; ++i) r[i] = std::fma(a[i], b[i], c[i]);
    return r;
  }
}

// table[idx] lane by lane from a 16-entry table (only the low 4 bits of idx are used): one register permute
// where the ISA has it (AVX-512: vpermps, vpermt2pd; AVX2: two vpermps and a blend), else lane by lane.
template <class V>
inline V lookup16(const scalar_t<V>* table, int_t<V> idx) {
  using T [[maybe_unused]] = scalar_t<V>;
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64 && std::is_same_v<T, float>)
    return (V)_mm512_permutexvar_ps((__m512i)idx, _mm512_loadu_ps(table));
  if constexpr (sizeof(V) == 64 && std::is_same_v<T, double>)
    return (V)_mm512_permutex2var_pd(_mm512_loadu_pd(table), (__m512i)idx, _mm512_loadu_pd(table + 8));
#endif
#if defined(__AVX2__)
  if constexpr (sizeof(V) == 32 && std::is_same_v<T, float>) {
    const V lo = (V)_mm256_permutevar8x32_ps(_mm256_loadu_ps(table), (__m256i)idx);
    const V hi = (V)_mm256_permutevar8x32_ps(_mm256_loadu_ps(table + 8), (__m256i)idx);
    return (idx & 8) != 0 ? hi : lo;
  }
#endif
  if constexpr (is_scalar_v<V>) {
    return table[idx & 15];
  } else {
    V v;
    for (std::size_t i = 0; i < traits<V>::lanes; ++i) v[i] = table[idx[i] & 15];
    return v;
  }
}

// table[idx] lane by lane from a 32-entry table (only the low 5 bits of idx are used): AVX-512 float, one
// two-register permute (vpermt2ps); elsewhere lane by lane.
template <class V>
inline V lookup32(const scalar_t<V>* table, int_t<V> idx) {
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, float>)
    return (V)_mm512_permutex2var_ps(_mm512_loadu_ps(table), (__m512i)idx, _mm512_loadu_ps(table + 16));
#endif
  if constexpr (is_scalar_v<V>) {
    return table[idx & 31];
  } else {
    V v;
    for (std::size_t i = 0; i < traits<V>::lanes; ++i) v[i] = table[idx[i] & 31];
    return v;
  }
}

// The bytes of W interleaved 3-byte pixels (3W bytes at p, W = float lanes), zero-extended to 32-bit lanes and
// split by channel: c[k][j] = p[3j + k]. AVX-512 / AVX2: a masked load of exactly 3W bytes, a dword permute that
// gives each 128-bit lane 4 pixels (12 bytes), one in-lane byte shuffle per channel. (No other ISA has it.)
#if defined(__AVX2__)
inline void load_rgb_bytes(const std::uint8_t* p, vi32 c[3]) {
#if defined(__AVX512F__)
  const __m512i v = _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 1, 2, 0, 3, 4, 5, 0, 6, 7, 8, 0, 9, 10, 11, 0),
                                             _mm512_maskz_loadu_epi32(0x0fff, p));
  for (int k = 0; k < 3; ++k) {
    const __m128i lane = _mm_setr_epi8(k, -1, -1, -1, 3 + k, -1, -1, -1, 6 + k, -1, -1, -1, 9 + k, -1, -1, -1);
    c[k] = (vi32)_mm512_shuffle_epi8(v, _mm512_broadcast_i32x4(lane));
  }
#elif defined(__AVX2__)
  const __m256i v = _mm256_permutevar8x32_epi32(
      _mm256_maskload_epi32(reinterpret_cast<const int*>(p), _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0)),
      _mm256_setr_epi32(0, 1, 2, 0, 3, 4, 5, 0));
  for (int k = 0; k < 3; ++k) {
    const __m128i lane = _mm_setr_epi8(k, -1, -1, -1, 3 + k, -1, -1, -1, 6 + k, -1, -1, -1, 9 + k, -1, -1, -1);
    c[k] = (vi32)_mm256_shuffle_epi8(v, _mm256_broadcastsi128_si256(lane));
  }
#endif
}
#endif

// An unevaluated sum hi + lo, |lo| ≤ ulp(hi)/2.
template <class V>
struct TwoSum {
  V hi, lo;
};

// f applied lane by lane in double precision (the scalar libm route, for the rare functions not worth a vector
// algorithm): the result rounded to the lane type.
template <class V, class F>
inline V map_lanes(V x, F&& f) {
  if constexpr (is_scalar_v<V>) {
    return static_cast<V>(f(static_cast<double>(x)));
  } else {
    V r;
    for (std::size_t i = 0; i < traits<V>::lanes; ++i) r[i] = static_cast<scalar_t<V>>(f(static_cast<double>(x[i])));
    return r;
  }
}

// Two double vectors holding the low and high halves of a float vector's lanes.
struct vd2 {
  vd lo, hi;
};
inline vd2 operator+(vd2 a, vd2 b) { return {a.lo + b.lo, a.hi + b.hi}; }
inline vd2 operator-(vd2 a, vd2 b) { return {a.lo - b.lo, a.hi - b.hi}; }
inline vd2 operator*(vd2 a, vd2 b) { return {a.lo * b.lo, a.hi * b.hi}; }
inline vd2 operator/(vd2 a, vd2 b) { return {a.lo / b.lo, a.hi / b.hi}; }

// wide_t<V>: V's lanes in double (double for a scalar, V for a double vector, vd2 for a float vector).
template <class V> struct wide_of { using type = double; };
template <> struct wide_of<vd> { using type = vd; };
template <> struct wide_of<vf> { using type = vd2; };
template <class V> using wide_t = typename wide_of<V>::type;

// float lanes → double lanes and back, the halves split and joined with the ISA's own instructions.
template <class V>
inline wide_t<V> widen(V v) {
  if constexpr (std::is_same_v<V, vf>) {
#if defined(__AVX512F__)
    return {(vd)_mm512_cvtps_pd(_mm512_castps512_ps256((__m512)v)),
            (vd)_mm512_cvtps_pd(_mm512_extractf32x8_ps((__m512)v, 1))};
#elif defined(__AVX__)
    return {(vd)_mm256_cvtps_pd(_mm256_castps256_ps128((__m256)v)),
            (vd)_mm256_cvtps_pd(_mm256_extractf128_ps((__m256)v, 1))};
#elif defined(__SSE2__)
    return {(vd)_mm_cvtps_pd((__m128)v), (vd)_mm_cvtps_pd(_mm_movehl_ps((__m128)v, (__m128)v))};
#else
    vd2 w;
    for (std::size_t j = 0; j < traits<vd>::lanes; ++j) {
      w.lo[j] = v[j];
      w.hi[j] = v[j + traits<vd>::lanes];
    }
    return w;
#endif
  } else {
    return static_cast<wide_t<V>>(v);
  }
}

template <class V>
inline V narrow(wide_t<V> w) {
  if constexpr (std::is_same_v<V, vf>) {
#if defined(__AVX512F__)
    return (V)_mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps((__m512d)w.lo)),
                                 _mm512_cvtpd_ps((__m512d)w.hi), 1);
#elif defined(__AVX__)
    return (V)_mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps((__m256d)w.lo)),
                                   _mm256_cvtpd_ps((__m256d)w.hi), 1);
#elif defined(__SSE2__)
    return (V)_mm_movelh_ps(_mm_cvtpd_ps((__m128d)w.lo), _mm_cvtpd_ps((__m128d)w.hi));
#else
    V v;
    for (std::size_t j = 0; j < traits<vd>::lanes; ++j) {
      v[j] = static_cast<float>(w.lo[j]);
      v[j + traits<vd>::lanes] = static_cast<float>(w.hi[j]);
    }
    return v;
#endif
  } else {
    return static_cast<V>(w);
  }
}

