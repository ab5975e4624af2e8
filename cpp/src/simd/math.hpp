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

// The reduction shared by exp and expm1: x = n·ln2 + r, |r| ≤ ln2/2, for x already clamped to [lo, hi].
template <class V>
struct ExpReduced {
  V nf;        // n as a float
  int_t<V> n;  // n as an integer
  V r;
};

// log2_arg: x in units of ln2 (2^x), x_lo its correction: n = round(x), r = ((x − n) + x_lo)·ln2 (x − n exact, ln2
// as hi + lo). Otherwise x_lo is left to the caller.
template <class V, bool log2_arg = false>
inline ExpReduced<V> exp_reduce(V x, V x_lo = V{}) {
  using T = scalar_t<V>;
  using C = exp_consts<T>;
  // n = round(x·log2e) (log2_arg: round(x)), as a float (nf) and as an integer (n), from the low bits of t
  const V t = log2_arg ? x + C::round_magic : x * C::log2e + C::round_magic;
  const V nf = t - C::round_magic;
  const int_t<V> n = bit_cast<int_t<V>>(t) - bit_cast<int_t<V>>(splat<V>(C::round_magic));
  if constexpr (log2_arg) {
    constexpr double ln2 = 0.6931471805599453;
    const V r2 = (x - nf) + x_lo;
    return {nf, n, r2 * T(ln2) + r2 * T(ln2 - double(T(ln2)))};
  }
  // r = x − n·ln2 in two steps
  V r = x - nf * C::ln2_hi;
  r = r - nf * C::ln2_lo;
  return {nf, n, r};
}

// e^r − 1 = r + r²·P(r) for |r| ≤ ln2/2 (no cancellation near 0).
template <class V>
inline V expm1_poly(V r) {
  using C = exp_consts<scalar_t<V>>;
  V p = splat<V>(C::poly[0]);
  for (std::size_t k = 1; k < sizeof(C::poly) / sizeof(C::poly[0]); ++k) p = p * r + C::poly[k];
  return p * (r * r) + r;
}

// float e^x for AVX-512: x = (16n + j)·ln2/16 + r, |r| ≤ ln2/32, e^x = 2^n·2^(j/16)·e^r with 2^(j/16) from a
// 16-entry table as hi + lo (one register permute each: vpermps) and e^r − 1 = r + r²(½ + r/6) (truncation
// < 1e-8): three fewer FMAs than the degree-7 polynomial over |r| ≤ ln2/2, on cores where FMAs are the
// bottleneck of every exp-based activation, and ~0.55 ulp. x already clamped; the result is scaled by 2^K.
struct exp2_sixteenths {
  // hi[j] = float(2^(j/16)), lo[j] = float(2^(j/16) − hi[j])
  static constexpr float hi[16] = {1.0f, 1.0442737340927124f, 1.0905077457427979f, 1.1387885808944702f,
                                   1.1892070770263672f, 1.2418577671051025f, 1.2968395948410034f,
                                   1.3542555570602417f, 1.4142135381698608f, 1.4768261909484863f,
                                   1.5422108173370361f, 1.610490322113037f, 1.6817928552627563f,
                                   1.7562521696090698f, 1.8340080976486206f, 1.9152065515518188f};
  static constexpr float lo[16] = {0.0f, 4.8334701574503924e-08f, -1.3077539939843064e-08f, 5.386222312608879e-08f,
                                   3.797635272917432e-08f, 4.496838101886169e-08f, -4.018999533172973e-08f,
                                   -1.0123349269974824e-08f, 2.4203234971764687e-08f, -4.500898853621038e-08f,
                                   8.070904833346049e-09f, 9.836217174097328e-09f, -2.4755326677450284e-08f,
                                   -9.235770370707996e-09f, -1.1239277952768134e-08f, 9.845328108326612e-09f};
};

// e^x = 2^⌊mf⌋·(th + tl)·(1 + p), the parts exp_sixteenths puts together (callers that multiply by something on
// the way, like gauss_exp_mul, put them together themselves with exp16_scale).
template <class V>
struct Exp16 {
  V mf;           // m/16, m = round(16x/ln2)
  int_t<V> bits;  // the bit pattern of mf + 1.5·2^19: its low 4 bits are j = m mod 16 (the table index)
  V th, tl;       // 2^(j/16) as hi + lo
  V p;            // e^r − 1, r = x − m·ln2/16
};

template <class V>
inline int_t<V> exp16_magic_bits() {
  return bit_cast<int_t<V>>(splat<V>(scalar_t<V>(0x1.8p19)));
}

// The parts of 2^x in units of ln2 from t = x rounded by adding the magic 1.5·2^19 (its low 4 bits: j), mf = m/16
// and r = x − m/16: 2^r − 1 = r·(ln2 + r·(ln2²/2 + r·ln2³/6)).
template <class V>
inline Exp16<V> exp2_16_parts(V t, V mf, V r) {
  using T = scalar_t<V>;
  using E = exp2_sixteenths;
  constexpr double ln2 = 0.6931471805599453;
  const V p = r * ((r * T(ln2 * ln2 * ln2 / 6) + T(ln2 * ln2 / 2)) * r + T(ln2));
  const int_t<V> bits = bit_cast<int_t<V>>(t);
  return {mf, bits, lookup16<V>(E::hi, bits), lookup16<V>(E::lo, bits), p};
}

// x_lo (has_lo): a small correction added to x (|x_lo| ≤ ulp-sized, finite), folded into r.
// log2_arg: the parts of 2^(x + x_lo) (callers whose argument is a product fold log2e into its constants): m/16 is
// x rounded to sixteenths by the addition alone, r2 = x − m/16 is exact, and 2^r2 − 1 = r2·(ln2 + r2·(ln2²/2 +
// r2·ln2³/6)): no multiplication in the reduction, three FMAs fewer than the natural argument's.
template <class V, bool has_lo = false, bool log2_arg = false>
inline Exp16<V> exp16_parts(V x, V x_lo = V{}) {
  using T = scalar_t<V>;
  using C = exp_consts<T>;
  using E = exp2_sixteenths;
  if constexpr (log2_arg) {
    const V t = x + T(0x1.8p19);
    const V mf = t - T(0x1.8p19);
    V r = x - mf;
    if constexpr (has_lo) r = r + x_lo;
    return exp2_16_parts(t, mf, r);
  }
  // m = round(16x/ln2) as m/16 in a float (mf: the rounding constant's ulp is 1/16, so t − magic = m/16 exactly);
  // the constant's low 4 bits are 0, so those of t are j = m mod 16, which the table lookups take as they are
  // (the permutes read only those bits: no integer subtraction); n = ⌊m/16⌋, which vscalef takes straight from
  // mf (it scales by 2^⌊mf⌋): no multiply by 1/16 on the FMA pipes
  constexpr T magic = T(0x1.8p19);
  const V t = x * C::log2e + magic;
  const V mf = t - magic;
  const int_t<V> bits = bit_cast<int_t<V>>(t);
  V r = x - mf * C::ln2_hi;  // exact: ln2_hi has 9 bits, 16·mf = m has fewer than 12
  r = r - mf * C::ln2_lo;
  if constexpr (has_lo) r = r + x_lo;
  const V p = (r * r) * (r * T(1.0 / 6) + T(0.5)) + r;
  return {mf, bits, lookup16<V>(E::hi, bits), lookup16<V>(E::lo, bits), p};
}

// The parts of e^{−a²/2} for 0 ≤ a with a² ≤ 218: m/16 = round(−a²·log2e/2·16)/16 from a² rounded (mf is only
// the reduction's choice), and r' = −2r = a² + mf·2ln2 with mf·2ln2_hi exact (9 + 12 bits) and a² added in the
// same FMA (the exact square, one rounding of a small result: no two-product of a², no addition of its low part),
// mf·2ln2_lo in one more; e^r − 1 = r'·(−½ + r'·(1/8 − r'/48)).
template <class V>
inline Exp16<V> exp16_gauss_parts(V a) {
  using T = scalar_t<V>;
  using C = exp_consts<T>;
  using E = exp2_sixteenths;
  constexpr T magic = T(0x1.8p19);
  const V t = (a * a) * (C::log2e / T(-2)) + magic;
  const V mf = t - magic;
  const int_t<V> bits = bit_cast<int_t<V>>(t);
  V r = fma(a, a, mf * (C::ln2_hi * T(2)));
  r = fma(mf, splat<V>(C::ln2_lo * T(2)), r);
  const V p = r * ((r * T(-1.0 / 48) + T(1.0 / 8)) * r + T(-0.5));
  return {mf, bits, lookup16<V>(E::hi, bits), lookup16<V>(E::lo, bits), p};
}

// v·2^(⌊mf⌋ + K) for the exponent of e (one vscalef on AVX-512).
template <class V, int K = 0>
inline V exp16_scale(V v, const Exp16<V>& e) {
  using T = scalar_t<V>;
  const int_t<V> n = ((e.bits - exp16_magic_bits<V>()) >> 4) + K;  // dead where vscalef takes mf
  return scale_pow2(v, K == 0 ? e.mf : e.mf + T(K), n);
}

template <class V, int K, bool has_lo, bool log2_arg>
inline V exp_sixteenths(V x, V x_lo) {
  const Exp16<V> e = exp16_parts<V, has_lo, log2_arg>(x, x_lo);
  return exp16_scale<V, K>((e.th * e.p + e.tl) + e.th, e);
}

// What a caller of exp / expm1 guarantees about the argument (NaN is always allowed), so that the clamps it
// makes unnecessary are skipped: any value; no_overflow: x ≤ the upper clamp (x ≤ 0, say); in_range: also x ≥
// the lower clamp (exp: −104 float / −746 double, less K·ln2; expm1: −87 / −708).
enum class ExpArg { any, no_overflow, in_range };

// e^x·2^K, ~1 ulp; e^(−inf) = 0, e^(+inf) = inf, NaN → NaN, subnormal results rounded once.
// K > 0 keeps tiny results normal for callers that multiply them back into range (see x_sigmoid).
// has_lo: e^{x + x_lo} for a small finite correction x_lo (the rounding error of x), added to the reduced
// argument. log2_arg: 2^(x + x_lo) instead (x and x_lo in units of ln2; the clamps scaled to match).
template <class V, ExpArg arg = ExpArg::any, int K = 0, bool has_lo = false, bool log2_arg = false>
inline V exp(V x, V x_lo = V{}) {
  using T = scalar_t<V>;
  using C = exp_consts<T>;
  constexpr double unit = log2_arg ? 1.4426950408889634 : 1.0;  // log2e: the clamps in the argument's units
  // clamp to where the reduction stays finite (and e^lo·2^K still rounds to 0); NaN passes unchanged
  if constexpr (arg != ExpArg::in_range) x = max_nan_passes(splat<V>(T((C::lo - K * 0.6931471805599453) * unit)), x);
  if constexpr (arg == ExpArg::any) x = min_nan_passes(splat<V>(T(C::hi * unit)), x);
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64 && std::is_same_v<T, float>) return exp_sixteenths<V, K, has_lo, log2_arg>(x, x_lo);
#endif
  ExpReduced<V> e = exp_reduce<V, log2_arg>(x, has_lo && log2_arg ? x_lo : V{});
  if constexpr (has_lo && !log2_arg) e.r = e.r + x_lo;
  return scale_pow2(expm1_poly(e.r) + T(1), e.nf + T(K), e.n + K);
}

// e^x − 1, ~1 ulp, exact near 0: with q = e^r − 1, e^x − 1 = q·2^n + (2^n − 1), one rounding in an FMA.
// The clamp keeps 2^n normal (below it the result is −1 to the last bit). Past the upper clamp (arg = any
// only) the result is exp(x).
template <class V, ExpArg arg = ExpArg::any>
inline V expm1(V x) {
  using T = scalar_t<V>;
  constexpr T lo = sizeof(T) == 4 ? T(-87) : T(-708);   // e^lo < ulp(1)/4: result −1
  constexpr T hi = sizeof(T) == 4 ? T(88) : T(709);     // above: e^x − 1 = e^x in T
  V xc = x;
  if constexpr (arg != ExpArg::in_range) xc = max_nan_passes(splat<V>(lo), xc);
  if constexpr (arg == ExpArg::any) xc = min_nan_passes(splat<V>(hi), xc);
  const ExpReduced<V> e = exp_reduce(xc);
  const V two_n = pow2i<V>(e.n);
  const V em1 = expm1_poly(e.r) * two_n + (two_n - T(1));
  if constexpr (arg == ExpArg::any) {
    return x > hi ? exp(x) : em1;
  } else {
    return em1;
  }
}

// The logistic pair for z: s = σ(z) and sc = σ(−z) = 1 − s, both without cancellation, from one exponential
// e = e^{−|z|} ∈ (0, 1]: σ(|z|) = 1/(1 + e), σ(−|z|) = e/(1 + e); and their product ss = σ(z)σ(−z) (the same
// bits as s·sc, without the sign's selects). NaN z gives NaN in all three.
template <class V>
struct Logistic {
  V s, sc, ss;
};

template <class V>
inline Logistic<V> logistic(V z) {
  using T = scalar_t<V>;
  const V e = exp<V, ExpArg::no_overflow>(neg_abs(z));
  const V d = T(1) / (e + T(1));  // σ(|z|)
  const V ed = e * d;             // σ(−|z|)
  const auto pos = z >= T(0);     // NaN: false → ed = NaN
  return {pos ? d : ed, pos ? ed : d, d * ed};
}

// (hi, lo) with hi + lo = a·b exactly (hi = a·b rounded): FMA where the ISA has it, else Dekker's product.
template <class V>
struct TwoProd {
  V hi, lo;
};
template <class V>
inline TwoProd<V> two_prod(V a, V b) {
  const V hi = a * b;
#if defined(__FMA__)
  return {hi, fma(a, b, -hi)};
#else
  using T = scalar_t<V>;
  // Veltkamp splitting into halves of ⌈p/2⌉ bits (no FMA here, so nothing is contracted)
  constexpr T split = sizeof(T) == 4 ? T(4097) : T(134217729);  // 2^12 + 1, 2^27 + 1
  const auto halves = [](V v) {
    const V c = split * v;
    const V h = c - (c - v);
    return TwoProd<V>{h, v - h};
  };
  const TwoProd<V> A = halves(a), B = halves(b);
  return {hi, ((A.hi * B.hi - hi) + A.hi * B.lo + A.lo * B.hi) + A.lo * B.lo};
#endif
}

// σ(x) alone: 1/(1 + e) for x ≥ 0, e/(1 + e) below (e = e^{−|x|}), one division (logistic's reciprocal and
// product, when both sides are wanted, round twice). NaN → NaN, σ(±inf) = 1, 0.
template <class V>
inline V sigmoid(V x) {
  using T = scalar_t<V>;
  const V e = exp<V, ExpArg::no_overflow>(neg_abs(x));
  return (x >= T(0) ? splat<V>(T(1)) : e) / (e + T(1));  // NaN x: e is NaN
}

// σ'(x) = σ(x)·σ(−x): exact in both tails (no 1 − σ cancellation).
template <class V>
inline V sigmoid_derivative(V x) {
  return logistic(x).ss;
}

// |mag| with the sign of sgn (bitwise; −0 and NaN signs included).
template <class V>
inline V copysign(V mag, V sgn) {
  using I = int_t<V>;
  const I sign = bit_cast<I>(splat<V>(scalar_t<V>(-0.0)));
  return bit_cast<V>((bit_cast<I>(mag) & ~sign) | (bit_cast<I>(sgn) & sign));
}

// x·σ(z) from nz = −|z| and the lanes where z ≥ 0 (pos), with exp_k(K) = e^{−|z|}·2^K (K = 0 or 64, an
// std::integral_constant): the small side is computed scaled by 2^K where a lane is in the far negative tail
// (nz < tail), so that σ(−|z|) is not rounded to a subnormal before x multiplies it back up. At z = ±inf the limits
// x and 0 (not inf·0).
template <class V, class M, class ExpK>
inline V x_sigmoid_core(V x, M pos, V nz, scalar_t<V> tail, ExpK&& exp_k) {
  using T = scalar_t<V>;
  constexpr int K = 64;
  constexpr T big = std::numeric_limits<T>::max();
  // The common case, no lane in the far negative tail: σ(−|z|) and x·σ(−|z|) are normal numbers and need no
  // scaling (callers have |x| ≤ |z| there or a larger product). NaN z too.
  if (none_below(nz, tail)) {
    // x·σ(|z|) = x/(1 + e) and x·σ(−|z|) = x·e/(1 + e): one division of the numerator (no reciprocal and product:
    // one multiplication and one rounding fewer)
    const V e = exp_k(std::integral_constant<int, 0>{});
    return (pos ? x : x * e) / (e + T(1));
  }
  const V ec = exp_k(std::integral_constant<int, K>{});  // e^{−|z|}·2^K
  const V den = ec * T(0x1p-64) + T(1);  // 1 + e^{−|z|}; e^{−|z|} may be subnormal here: only used next to 1
  // the same quotients as above (the numerator scaled by 2^K, exactly), so a lane's bits do not depend on its
  // vector having a far-tail lane; x·σ(−|z|) rounded once into range; x capped to finite so that x = ±inf, e = 0
  // gives the limit ±0
  const V xf = min_nan_passes(splat<V>(big), max_nan_passes(splat<V>(-big), x));
  const V q = (pos ? x : xf * ec) / den;
  return pos ? q : q * T(0x1p-64);  // NaN z: e is NaN
}

// The far negative tail of x_sigmoid_core: −|z| below −80 (float) / −700 (double), in units of ln2 with log2_arg.
template <class T, bool log2_arg>
inline constexpr T kSigmoidTail = T((sizeof(T) == 4 ? -80.0 : -700.0) * (log2_arg ? 1.4426950408889634 : 1.0));

// x·σ(z) from nz = −|z| given as an unevaluated sum nz + nz_lo (nz_lo finite, |nz_lo| ≤ ulp(nz)) and the lanes
// where z ≥ 0 (pos): e^{−|z|} loses |z|·ulp when z is rounded, so callers whose z is a product pass its
// rounding error, which the exponential adds to its reduced argument (has_lo).
// log2_arg: nz, nz_lo in units of ln2 (−|z|·log2e: see exp16_parts).
template <class V, bool has_lo, bool log2_arg = false, class M>
inline V x_sigmoid_parts(V x, M pos, V nz, V nz_lo) {
  return x_sigmoid_core(x, pos, nz, kSigmoidTail<scalar_t<V>, log2_arg>, [&](auto K) {
    constexpr int k = decltype(K)::value;
    return exp<V, k == 0 ? ExpArg::in_range : ExpArg::no_overflow, k, has_lo, log2_arg>(nz, nz_lo);
  });
}

// x/(1 + e^s) = x·σ(−s) for either sign of s, given e^s as v·2^⌊mf⌋ (AVX-512: one vscalef), with no select of
// a side and no multiplication by the small one. Lanes marked far (e^s may overflow there: any_far when some lane
// is) take numerator and denominator scaled by 2^-64 (exactly, for callers whose |x| is large on those lanes), the
// same quotient, so that a lane's bits do not depend on its vector; x capped to finite there (±inf: the limit ±0).
template <class V, class M>
inline V x_over_1p_exp(V x, V v, V mf, bool any_far, M far) {
  using T = scalar_t<V>;
  if (!any_far) return x / (scale_pow2(v, mf, int_t<V>{}) + T(1));
  constexpr T big = std::numeric_limits<T>::max();
  const V one = far ? splat<V>(T(0x1p-64)) : splat<V>(T(1));
  const V xs = far ? min_nan_passes(splat<V>(big), max_nan_passes(splat<V>(-big), x)) * T(0x1p-64) : x;
  return xs / (scale_pow2(v, far ? mf - T(64) : mf, int_t<V>{}) + one);
}

// x·σ(z) with z = c·(wh + wl) in units of ln2 (|wl| ≤ ulp(wh), |c·wh| below 2^18; c·w decreasing below c = tail,
// where z < −95 or so): the product need not be formed as hi + lo. On AVX-512 float, x·σ(z) = x/(1 + 2^s), s =
// −z, for either sign (no cancellation: 2^s > 0; no select of the side, no multiplication by the small side) and
// the exponential's reduction takes −c·(wh + wl) directly: m/16 = −c·wh rounded to sixteenths in one FMA (adding
// the magic), r = −c·wh − m/16 in one FMA (exact product, one rounding of a small result), −c·wl in one more.
// 2^(j/16) from its table's high part alone (th·(1 + p): the low part's 2^-25 or so costs 0.3 ulp here, 2.21
// against 1.92, and two ops of ~25: 64K 11.9 -> 11.0 us, 16M 3.25 -> 3.02 ms, C++ bench_kernels, 1 thread).
// Lanes with c < tail are x_over_1p_exp's far ones (|x| is large there). Elsewhere c·(wh + wl) as hi + lo and
// x_sigmoid_parts.
template <class V>
inline V x_sigmoid_product(V x, V c, V wh, V wl, scalar_t<V> tail) {
  using T = scalar_t<V>;
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64 && std::is_same_v<T, float>) {
    const V cn = -c;
    const V t = fma(cn, wh, splat<V>(T(0x1.8p19)));
    const V mf = t - T(0x1.8p19);
    const Exp16<V> e = exp2_16_parts(t, mf, fma(cn, wl, fma(cn, wh, -mf)));
    return x_over_1p_exp(x, fma(e.th, e.p, e.th), mf, !none_below(c, tail), c < tail);
  }
#endif
  (void)tail;
  const V xn = neg_abs(c);
  const TwoProd<V> z = two_prod(xn, wh);
  return x_sigmoid_parts<V, true, true>(x, c >= T(0), z.hi, z.lo + xn * wl);
}

// x·σ(z + z_lo) for z given as an unevaluated sum (|z_lo| ≤ ulp(z); z_lo is dropped where it is not finite, at
// z = ±inf): −|z + z_lo| = −|z| − sign(z)·z_lo.
template <class V>
inline V x_sigmoid(V x, V z, V z_lo) {
  using T = scalar_t<V>;
  using I = int_t<V>;
  const I sign = bit_cast<I>(splat<V>(T(-0.0)));
  const V flipped = bit_cast<V>(bit_cast<I>(z_lo) ^ (~bit_cast<I>(z) & sign));  // z_lo, negated where z ≥ 0
  return x_sigmoid_parts<V, true>(x, z >= T(0), neg_abs(z), abs(z_lo) <= T(1) ? flipped : splat<V>(T(0)));
}

// x·σ(z) for an exact z. AVX-512 float: x/(1 + e^{−z}) (x_over_1p_exp) for z capped to [−200, 200] (beyond,
// x·σ(z) is x or ±0 for every finite x, callers' |x| ≥ |z| on the far side), far below z = −80 (e^{−z} > 2^115).
template <class V>
inline V x_sigmoid(V x, V z) {
#if defined(__AVX512F__)
  using T = scalar_t<V>;
  if constexpr (sizeof(V) == 64 && std::is_same_v<T, float>) {
    // NaN z: max/min pass it (vrange would not)
    const V zc = max_nan_passes(splat<V>(T(-200)), min_nan_passes(splat<V>(T(200)), z));
    const Exp16<V> e = exp16_parts<V>(-zc);
    return x_over_1p_exp(x, (e.th * e.p + e.tl) + e.th, e.mf, !none_below(z, T(-80)), z < T(-80));
  }
#endif
  return x_sigmoid_parts<V, false>(x, z >= scalar_t<V>(0), neg_abs(z), V{});
}

// The Gaussian tail Φ(−a) = e^{−a²/2}·R(a) for a ≥ 0, R(a) = e^{a²/2}·Φ(−a) = erfcx(a/√2)/2: R is smooth and
// slowly varying, so it is a polynomial in u = a − i·w around each centre i·w (i = round(a/w), 15 (float) or 16
// (double) intervals up to a cap), whose coefficients tools/fit_special.py fits and writes to
// special_tables.inc; the fast decay is all in the exponential. No cancellation anywhere: Φ(x) for x ≥ 0 is
// 1 − Φ(−x), never 1 + erf of a negative number.
template <class T> struct normal_tail_consts;
template <class T> struct atan_consts;
template <class T> struct log1p_consts;
#include "simd/special_tables.inc"

// min(a, cap), where cap = normal_tail_consts<T>::cap: beyond it a·Φ(−a) and e^{−a²/2}·R(a)·a are below half the
// smallest subnormal. NaN → NaN.
template <class V>
inline V normal_tail_cap(V a) {
  return min_nan_passes(splat<V>(normal_tail_consts<scalar_t<V>>::cap), a);
}

// A function of a ≥ 0 as piecewise polynomials from a table C (special_tables.inc, written by
// tools/fit_special.py): N = 16 or 32 intervals of C::width centred at i·width, i = round(a/width), a polynomial
// in u = a − i·width on each, for a below (N − ½)·width; coef[j] holds the coefficient of u^(degree − j) of
// every interval, so one degree is one register permute (N = 16) or one two-register permute (N = 32, vpermt2ps).
// i costs one rounding (adding a constant whose low bits are then i: the lookups read only those bits) and
// u = a − i·w is exact.
// A width that is a power of two (at most 1) takes no multiplication: adding magic·width rounds a to a multiple of
// the width (the same i: a·inv_width is exact), and u = a − (t − magic·width) is exact (grid_residual: one vreduce
// on AVX-512): two FMAs fewer, the same bits.
template <class C, int N, class V>
inline V piecewise_poly(V a) {
  using T = scalar_t<V>;
  constexpr T magic = exp_consts<T>::round_magic;
  // M with width = 2^−M, or −1 if the width is no such power of two
  constexpr int M = [] {
    double w = C::width;
    int m = 0;
    while (w < 1 && m < 16) w *= 2, ++m;
    return w == 1 && m < 16 ? m : -1;
  }();
  constexpr bool pow2 = M >= 0;
  constexpr T mw = pow2 ? magic * C::width : magic;
  const V t = pow2 ? a + mw : a * C::inv_width + magic;
  const int_t<V> i = bit_cast<int_t<V>>(t);
  V u;
  if constexpr (pow2) {
    u = grid_residual<M>(a, t, mw);
  } else {
    u = a - (t - magic) * C::width;
  }
  const auto coef = [&](std::size_t j) {
    if constexpr (N == 16) return lookup16<V>(C::coef[j], i);
    else return lookup32<V>(C::coef[j], i);
  };
  constexpr std::size_t terms = sizeof(C::coef) / sizeof(C::coef[0]);
  V p = coef(0);
  for (std::size_t j = 1; j < terms; ++j) p = p * u + coef(j);
  return p;
}

// Whether V takes the 32-interval float tables (AVX-512 float: their lookups are one vpermt2ps).
template <class V>
inline constexpr bool kPiecewise32 =
#if defined(__AVX512F__)
    sizeof(V) == 64 && std::is_same_v<scalar_t<V>, float>;
#else
    false;
#endif

// R(a) for a ∈ [0, cap] (see normal_tail_cap), ~1 ulp: 32 intervals of degree 5 on AVX-512 float, else 16 (float:
// degree 7, double: 20). NaN → NaN.
template <class V>
inline V normal_tail_ratio(V a) {
  if constexpr (kPiecewise32<V>) {
    static_assert(normal_tail_ratio32::limit > normal_tail_consts<float>::cap);
    return piecewise_poly<normal_tail_ratio32, 32>(a);
  } else {
    return piecewise_poly<normal_tail_consts<scalar_t<V>>, 16>(a);
  }
}

// e^{−a²/2}·m for a ≥ 0 with a² split exactly (a² = hi + lo, lo added to the reduced argument of the
// exponential), so the large exponent loses nothing to the rounding of a², and with one rounding at the end:
// e^{−a²/2} = 2^n·(1 + s) and m·(1 + s) = fma(m, s, m) is scaled by 2^n last (one rounding into the subnormal
// range on AVX-512), so tiny results keep their bits. NaN → NaN.
// capped = true: the caller guarantees a ≤ normal_tail_consts<T>::cap (and |m| ≤ 64); otherwise a is capped at
// 64 and the exponent clamped 5 below where e^{−a²/2} < 2^{−150} (float) / 2^{−1075} (double), so that any
// |m| ≤ 64 gives exactly 0 there.
template <class V, bool capped = false>
inline V gauss_exp_mul(V a, V m) {
  using T = scalar_t<V>;
  using C = exp_consts<T>;
  // beyond 64, e^{−a²/2} is far below the clamp: capping keeps lo small (≤ 2^−12) and never NaN
  // below the cap −a²/2 ≥ −105.0 (float) / −749.3 (double), above the clamp
  static_assert(normal_tail_consts<float>::cap * normal_tail_consts<float>::cap / 2 < -(exp_consts<float>::lo - 5));
  static_assert(normal_tail_consts<double>::cap * normal_tail_consts<double>::cap / 2 <
                -(exp_consts<double>::lo - 5));
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64 && std::is_same_v<T, float>) {
    // e^{−a²/2} = 2^n·(th + tl)·(1 + p) (exp16_gauss_parts); an uncapped a is capped where −a²/2 is the clamp
    constexpr T a_max = T(14.7648230602334);  // √(−2(lo − 5)) = √218, rounded down
    static_assert(double(a_max) * double(a_max) <= -2.0 * (double(C::lo) - 5));
    const Exp16<V> e = exp16_gauss_parts(capped ? a : min_nan_passes(splat<V>(a_max), a));
    return exp16_scale(m * ((e.th * e.p + e.tl) + e.th), e);
  }
#endif
  const V ab = capped ? a : min_nan_passes(splat<V>(T(64)), a);
  const TwoProd<V> sq = two_prod(ab, ab * T(-0.5));  // −a²/2 = hi + lo exactly (the halving is exact)
  const V h = capped ? sq.hi : max_nan_passes(splat<V>(C::lo - T(5)), sq.hi);
  ExpReduced<V> e = exp_reduce(h);
  e.r = e.r + sq.lo;
  return scale_pow2(m * expm1_poly(e.r) + m, e.nf, e.n);
}

// c − m·e^{−a²/2} for 0 ≤ a ≤ normal_tail_consts<T>::cap and 0 ≤ m ≤ 1. On AVX-512 float e = e^{−a²/2} is scaled
// into range first (m ≤ 1, so wherever c − m·e is normal or c = −0 gives a normal result, e is normal) and m·e
// subtracted in one FMA: one rounding and one op fewer than c − gauss_exp_mul(a, m) (which rounds m·(th + ...)
// and then the difference); elsewhere that. 2^(j/16) is its table's high part alone (th·(1 + p)): gelu's max error
// 2.82 -> 3.44 ulp for two ops of ~31 (64K 12.6 -> 11.6 us, 16M 3.28 -> 3.12 ms, C++ bench_kernels, 1 thread),
// which the 16M forward needed to stay within 1.5× a copy (1.42–1.51× before, 1.35–1.38× after).
template <class V>
inline V gauss_exp_fnma(V a, V m, V c) {
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64 && std::is_same_v<scalar_t<V>, float>) {
    const Exp16<V> e = exp16_gauss_parts(a);
    return fma(-m, exp16_scale(fma(e.th, e.p, e.th), e), c);
  }
#endif
  return c - gauss_exp_mul<V, true>(a, m);
}

// atan(x), ~1 ulp: |x| is reduced to |t| ≤ tan(π/8) through atan|x| = π/2 + atan(−1/|x|) (|x| > tan(3π/8))
// or π/4 + atan((|x| − 1)/(|x| + 1)) (|x| > tan(π/8)), then atan(t) = t + t·z·G(z), z = t², G fitted by
// tools/fit_special.py; the offset is added as hi + lo. atan(±inf) = ±π/2, atan(−0) = −0, NaN → NaN.
template <class V>
inline V atan(V x) {
  using T = scalar_t<V>;
  using C = atan_consts<T>;
  constexpr double pi2 = 1.5707963267948966, pi4 = 0.7853981633974483;
  constexpr T pi2_hi = T(pi2), pi4_hi = T(pi4);
  constexpr T pi2_lo = T((pi2 - double(pi2_hi)) + (sizeof(T) == 8 ? 6.123233995736766e-17 : 0.0));
  constexpr T pi4_lo = T((pi4 - double(pi4_hi)) + (sizeof(T) == 8 ? 3.061616997868383e-17 : 0.0));
  const V a = abs(x);
  const auto big = a > T(2.414213562373095);     // tan(3π/8)
  const auto mid = a > T(0.41421356237309503);   // tan(π/8)
  const V one = splat<V>(T(1));
  const V t = (big ? -one : (mid ? a - T(1) : a)) / (big ? a : (mid ? a + T(1) : one));
  const V zero = splat<V>(T(0));
  const V off_hi = big ? splat<V>(pi2_hi) : (mid ? splat<V>(pi4_hi) : zero);
  const V off_lo = big ? splat<V>(pi2_lo) : (mid ? splat<V>(pi4_lo) : zero);
  const V z = t * t;
  V p = splat<V>(C::poly[0]);
  for (std::size_t j = 1; j < sizeof(C::poly) / sizeof(C::poly[0]); ++j) p = p * z + C::poly[j];
  return copysign(off_hi + (t + (t * (z * p) + off_lo)), x);
}

// tanh(x) = sign(x)·q/(q + 2) with q = e^{2|x|} − 1 (exact near 0, no cancellation); |x| is capped where
// tanh rounds to 1 in T (9 for float, 19.1 for double) so q stays finite. AVX-512 float: tanh|x| from its
// 32-interval table (no exponential, no division; relative precision kept near 0), 1 past the table (tanh rounds
// to 1 from 9.01). NaN → NaN, tanh(−0) = −0.
template <class V>
inline V tanh(V x) {
  using T = scalar_t<V>;
  if constexpr (kPiecewise32<V>) {
    const V a = abs(x);
    // the table holds a < limit (at the limit the index rounds to 32, interval 0's); NaN: not ≥, the polynomial's NaN
    return copysign(a >= tanh32::limit ? splat<V>(T(1)) : piecewise_poly<tanh32, 32>(a), x);
  }
  constexpr T cap = sizeof(T) == 4 ? T(9) : T(19.1);
  const V a = min_nan_passes(splat<V>(cap), abs(x));
  const V q = expm1<V, ExpArg::in_range>(a + a);  // 0 ≤ 2a ≤ 2·cap
  return copysign(q / (q + T(2)), x);
}

// sech²(x) = 1 − tanh²(x) = 4e/(1 + e)² with e = e^{−2|x|}: exact in the tails (no 1 − t² cancellation).
template <class V>
inline V sech2(V x) {
  using T = scalar_t<V>;
  const V a = abs(x);
  const V e = exp<V, ExpArg::no_overflow>(-(a + a));
  const V d = T(1) / (e + T(1));
  return (T(4) * e) * (d * d);
}

// Natural logarithm of w > 0 finite and normal (no special cases): w = 2^k·m with m ∈ [√½, √2), f = m − 1.
// float: log(1 + f) = f − f²/2 + f³·P(f), Cephes logf's degree-8 polynomial (Moshier). double: fdlibm's
// e_log.c, s = f/(2 + f), log(1 + f) = f − (hf² − s(hf² + R(s²))), R of degree 7 (Lg1..Lg7).
template <class T> struct log_consts;
template <> struct log_consts<float> {
  static constexpr std::int32_t sqrt_half_bits = 0x3f3504f3;  // √½
  static constexpr std::int32_t mant_mask = 0x007fffff;
  static constexpr float poly[] = {7.0376836292E-2f, -1.1514610310E-1f, 1.1676998740E-1f,
                                   -1.2420140846E-1f, 1.4249322787E-1f, -1.6668057665E-1f,
                                   2.0000714765E-1f, -2.4999993993E-1f, 3.3333331174E-1f};
  static constexpr float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
};
template <> struct log_consts<double> {
  static constexpr std::int64_t sqrt_half_bits = 0x3fe6a09e667f3bcdLL;
  static constexpr std::int64_t mant_mask = 0x000fffffffffffffLL;
  static constexpr double poly[] = {1.479819860511658591e-01, 1.531383769920937332e-01, 1.818357216161805012e-01,
                                    2.222219843214978396e-01, 2.857142874366239149e-01, 3.999999999940941908e-01,
                                    6.666666666666735130e-01};  // Lg7 .. Lg1
  static constexpr double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
};

template <class V>
inline V log_normal(V w) {
  using T = scalar_t<V>;
  using I = int_t<V>;
  using C = log_consts<T>;
  // w = 2^k·m: subtracting the bits of √½ moves the exponent boundary to √½
  const I ix = bit_cast<I>(w) - C::sqrt_half_bits;
  const V kf = int_to_float<V>(ix >> exp_consts<T>::mant_bits);
  const V f = bit_cast<V>((ix & C::mant_mask) + C::sqrt_half_bits) - T(1);
  const auto horner = [](V t) {
    V p = splat<V>(C::poly[0]);
    for (std::size_t i = 1; i < sizeof(C::poly) / sizeof(C::poly[0]); ++i) p = p * t + C::poly[i];
    return p;
  };
  if constexpr (sizeof(T) == 4) {
    // log(1 + f) = f − f²/2 + f³·P(f)
    const V f2 = f * f;
    const V y = (f2 * f * horner(f) + kf * C::ln2_lo) - T(0.5) * f2;
    return (f + y) + kf * C::ln2_hi;
  } else {
    // log(1 + f) = f − (hf² − s·(hf² + R)), s = f/(2 + f), R = z·P(z), z = s²
    const V s = f / (T(2) + f);
    const V z = s * s;
    const V hfsq = T(0.5) * f * f;
    return kf * C::ln2_hi + (f - (hfsq - (s * (hfsq + z * horner(z)) + kf * C::ln2_lo)));
  }
}

// log(1 + u) for u ≥ 0 finite (w = 1 + u is then normal): log(w) plus the rounding error of w,
// c = (u − (w − 1))/w, so tiny u give u exactly.
template <class V>
inline V log1p_nonneg(V u) {
  using T = scalar_t<V>;
  const V w = u + T(1);
  const V c = (u - (w - T(1))) / w;
  return log_normal(w) + c;
}

// log(1 + t) for t ∈ [0, 1] (NaN → NaN): t − t²·K(t) with K(t) = (t − log1p(t))/t² ∈ [1 − ln 2, ½] one
// polynomial (tools/fit_special.py: log1p_consts): no logarithm's argument reduction, no division. K's error
// enters damped by t²/log1p(t) ≤ 0.44; tiny t give t exactly.
template <class V>
inline V log1p_unit(V t) {
  using C = log1p_consts<scalar_t<V>>;
  V k = splat<V>(C::poly[0]);
  for (std::size_t i = 1; i < sizeof(C::poly) / sizeof(C::poly[0]); ++i) k = k * t + C::poly[i];
  return t - (t * t) * k;
}

// near(q) with q = Table's f(a) (a 32-interval float table, see piecewise_poly) on lanes where a < Table::limit,
// far() on the others (and NaN): a vector whose lanes are all below the limit computes near alone, else both
// are blended, so a lane's bits do not depend on its neighbours. Where the ISA has no such table
// (kPiecewise32), far() everywhere.
template <class Table, class V, class Near, class Far>
inline V piecewise_or(V a, Near near, Far far) {
  if constexpr (!kPiecewise32<V>) {
    return far();
  } else {
    const V v = near(piecewise_poly<Table, 32>(a));
    if (all_below(a, Table::limit)) return v;
    return a < Table::limit ? v : far();
  }
}

// softplus0(z) = log(1 + e^z) = max(z, 0) + log1p(e^{−|z|}): never overflows, exact in both tails.
template <class V>
inline V log1p_exp(V z) {
  return piecewise_or<log1p_exp_tail32>(
      abs(z), [&](V q) { return max0(z) + q; },
      [&] { return max0(z) + log1p_unit(exp<V, ExpArg::no_overflow>(neg_abs(z))); });
}

// sin x and cos x for double lanes with |x| ≤ kTrigMax: x = k·π/2 + r, |r| ≤ π/4, with π/2 in four parts of 33,
// 33, 53 and 53 bits (fdlibm's pio2_1, pio2_2, pio2_3, pio2_3t: k·pio2_1 and k·pio2_2 are exact for k < 2^20, and
// the rest leaves an error below k·2^-170, so r keeps its relative precision even at the double nearest a zero of
// sin: without pio2_3t, 7e-13 at x = −336075.0157), then fdlibm's polynomials (k_sin.c, k_cos.c, Sun Microsystems;
// < 1 ulp on |r| ≤ π/4) and the quadrant k mod 4. NaN → NaN; larger |x| is the caller's (libm's) to reduce.
inline constexpr double kTrigMax = 1e6;
template <class V>
struct SinCos {
  V s, c;
};
template <class V>
inline SinCos<V> sincos(V x) {
  static_assert(std::is_same_v<scalar_t<V>, double>, "double lanes");
  constexpr double sin_poly[] = {1.58969099521155010221e-10,  -2.50507602534068634195e-08, 2.75573137070700676789e-06,
                                 -1.98412698298579493134e-04, 8.33333333332248946124e-03,  -1.66666666666666324348e-01};
  constexpr double cos_poly[] = {-1.13596475577881948265e-11, 2.08757232129817482790e-09,  -2.75573143513906633035e-07,
                                 2.48015872894767294178e-05,  -1.38888888888741095749e-03, 4.16666666666666019037e-02};
  constexpr double pio2_1 = 1.57079632673412561417e+00, pio2_2 = 6.07710050630396597660e-11,
                   pio2_3 = 2.02226624871116645580e-21, pio2_3t = 8.47842766036889956997e-32,
                   two_over_pi = 6.36619772367581382433e-01;
  constexpr double magic = 0x1.8p52;  // adding it rounds to an integer held in the low bits
  const V t = x * two_over_pi + magic;
  const V kf = t - magic;
  const int_t<V> q = bit_cast<int_t<V>>(t) & 3;  // k mod 4
  const V r = (((x - kf * pio2_1) - kf * pio2_2) - kf * pio2_3) - kf * pio2_3t;
  const V z = r * r;
  V ps = splat<V>(sin_poly[0]), pc = splat<V>(cos_poly[0]);
  for (std::size_t j = 1; j < 6; ++j) {
    ps = ps * z + sin_poly[j];
    pc = pc * z + cos_poly[j];
  }
  const V sr = r + (z * r) * ps;                 // sin r = r + r³·S(r²)
  const V cr = 1.0 - (0.5 * z - (z * z) * pc);   // cos r = 1 − r²/2 + r⁴·C(r²)
  const auto odd = (q & 1) != 0;                 // quadrants 1, 3: sin x = ±cos r, cos x = ∓sin r
  const V s = odd ? cr : sr, c = odd ? sr : cr;
  return {(q & 2) != 0 ? -s : s, ((q + 1) & 2) != 0 ? -c : c};
}

// f over V's lanes in double (f takes and returns double lanes: vd, or double for a scalar), rounded back to V.
template <class V, class F>
inline V via_double(V x, F&& f) {
  const wide_t<V> w = widen(x);
  if constexpr (std::is_same_v<V, vf>) {
    return narrow<V>(vd2{f(w.lo), f(w.hi)});
  } else {
    return narrow<V>(f(w));
  }
}
