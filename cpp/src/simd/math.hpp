// Vector math written once over V (vector or scalar, see vec.hpp): exp and what builds on it.
// Included inside the per-ISA namespace after vec.hpp.

// Constants of the exponential per element type.
template <class T> struct exp_consts;

// float: Cody–Waite reduction x = n·ln2 + r, |r| ≤ ln2/2, and Cephes' degree-6 minimax polynomial for
// e^r = 1 + r + r²·P(r) (Moshier, Cephes expf.c), about 1 ulp.
template <> struct exp_consts<float> {
  static constexpr float lo = -104.0f;                 // e^lo < smallest subnormal / 2: result 0
  static constexpr float hi = 89.0f;                   // e^hi > FLT_MAX: result inf
  static constexpr float log2e = 1.44269504088896341f;
  static constexpr float ln2_hi = 0.693359375f;        // 9 significant bits: n·ln2_hi is exact
  static constexpr float ln2_lo = -2.12194440e-4f;
  static constexpr float round_magic = 0x1.8p23f;      // adding it rounds to an integer held in the low bits
  static constexpr int exp_bias = 127;
  static constexpr int mant_bits = 23;
  static constexpr float poly[] = {1.9875691500E-4f, 1.3981999507E-3f, 8.3334519073E-3f,
                                   4.1665795894E-2f, 1.6666665459E-1f, 5.0000001201E-1f};
};

// double: the same reduction with fdlibm's split of ln2, and the Taylor series of e^r − 1 − r to r^13
// (truncation error < 4e-18 for |r| ≤ ln2/2).
template <> struct exp_consts<double> {
  static constexpr double lo = -746.0;
  static constexpr double hi = 710.0;
  static constexpr double log2e = 1.44269504088896340736;
  static constexpr double ln2_hi = 6.93147180369123816490e-01;  // 32 significant bits
  static constexpr double ln2_lo = 1.90821492927058770002e-10;
  static constexpr double round_magic = 0x1.8p52;
  static constexpr int exp_bias = 1023;
  static constexpr int mant_bits = 52;
  static constexpr double poly[] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0,
                                    1.0 / 3628800.0,    1.0 / 362880.0,    1.0 / 40320.0,
                                    1.0 / 5040.0,       1.0 / 720.0,       1.0 / 120.0,
                                    1.0 / 24.0,         1.0 / 6.0,         1.0 / 2.0};
};

// 2^k for integer lanes k in the normal exponent range.
template <class V>
inline V pow2i(int_t<V> k) {
  using C = exp_consts<scalar_t<V>>;
  return bit_cast<V>((k + C::exp_bias) << C::mant_bits);
}

// p · 2^n for n given as a float (nf) and as an integer (n), with one rounding into the subnormal range and
// overflow to inf: AVX-512's vscalef does exactly this in one instruction; elsewhere the scaling is split in
// two halves so that each factor 2^(n/2) stays in the normal exponent range.
template <class V>
inline V scale_pow2(V p, V nf, int_t<V> n) {
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, float>) return (V)_mm512_scalef_ps((__m512)p, (__m512)nf);
  if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, double>) return (V)_mm512_scalef_pd((__m512d)p, (__m512d)nf);
#endif
  (void)nf;
  const int_t<V> n1 = n >> 1;
  return p * pow2i<V>(n1) * pow2i<V>(n - n1);
}

// e^x, ~1 ulp; e^(−inf) = 0, e^(+inf) = inf, NaN → NaN, subnormal results rounded once.
// nonpositive = true: the caller guarantees x ≤ 0 (or NaN), and the upper clamp is skipped.
template <class V, bool nonpositive = false>
inline V exp(V x) {
  using T = scalar_t<V>;
  using I = int_t<V>;
  using C = exp_consts<T>;
  // clamp to where the reduction stays finite; NaN passes unchanged
  x = max_nan_passes(splat<V>(C::lo), x);
  if constexpr (!nonpositive) x = min_nan_passes(splat<V>(C::hi), x);
  // n = round(x·log2e), as a float (nf) and as an integer (n) from the low bits of t
  const V t = x * C::log2e + C::round_magic;
  const V nf = t - C::round_magic;
  const I n = bit_cast<I>(t) - bit_cast<I>(splat<V>(C::round_magic));
  // r = x − n·ln2 in two steps
  V r = x - nf * C::ln2_hi;
  r = r - nf * C::ln2_lo;
  // e^r = 1 + r + r²·P(r)
  V p = splat<V>(C::poly[0]);
  for (std::size_t k = 1; k < sizeof(C::poly) / sizeof(C::poly[0]); ++k) p = p * r + C::poly[k];
  const V er = (p * (r * r) + r) + T(1);
  return scale_pow2(er, nf, n);
}

// σ(x) = 1 / (1 + e^{−x}), written with e = e^{−|x|} ∈ (0, 1] so neither tail overflows or cancels:
// σ(|x|) = 1 / (1 + e), σ(−|x|) = e / (1 + e).
template <class V>
inline V sigmoid(V x) {
  const V e = exp<V, true>(-abs(x));
  const V s = scalar_t<V>(1) / (e + scalar_t<V>(1));
  return x >= scalar_t<V>(0) ? s : e * s;  // NaN: e·s = NaN
}

// σ'(x) = σ(x)·σ(−x) = e / (1 + e)² with e = e^{−|x|}: exact in both tails (no 1 − σ cancellation).
template <class V>
inline V sigmoid_derivative(V x) {
  const V e = exp<V, true>(-abs(x));
  const V s = scalar_t<V>(1) / (e + scalar_t<V>(1));
  return (e * s) * s;
}
